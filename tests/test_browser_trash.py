"""Undo, moderation and deleting a cotonoma in a real browser (issue 16): a deleted
coto's "Deleted · Undo" notice brings it back in place, on the author's page and
live on a member's; the owner of a cotonoma removes a member's post (Delete, never
Edit); an empty cotonoma is deleted from its page and a full one is refused with
what it still holds."""

from conftest import unique_address
from playwright.sync_api import expect
from test_browser import chromium, page_of, post  # noqa: F401  (fixtures, shared)
from test_browser_cotonomas import create_cotonoma, signed_in_page
from test_browser_live import LIVE_MS, shared_cotonoma


def delete_coto(page, text: str) -> None:
    coto = page.locator("#timeline .coto", has_text=text)
    coto.locator(".coto-delete, .coto-moderate").click()
    coto.locator(".coto-delete-confirm").click()
    expect(page.locator("#timeline .coto", has_text=text)).to_have_count(0)


def test_undo_within_the_notice_restores_the_coto_in_place(stack, mailbox, page_of):  # noqa: F811
    page = signed_in_page(stack, mailbox, page_of, unique_address("undo"))
    for text in ("oldest", "by mistake", "newest"):
        post(page, text)
    contents = page.locator("#timeline .coto-content")
    delete_coto(page, "by mistake")
    notice = page.get_by_role("status").filter(has_text="Deleted")
    expect(notice).to_be_visible()
    undo = notice.get_by_role("button", name="Undo")
    expect(undo).to_be_focused()  # reachable from the keyboard at once
    page.keyboard.press("Enter")
    expect(contents).to_have_text(["newest", "by mistake", "oldest"])
    expect(notice).to_have_count(0)
    expect(page.locator("#timeline .coto", has_text="by mistake").locator(".coto-delete")).to_be_focused()
    page.reload()
    expect(contents).to_have_text(["newest", "by mistake", "oldest"])

    # Left alone, the notice goes after a few seconds, and the coto stays in the trash.
    delete_coto(page, "oldest")
    expect(notice).to_be_visible()
    expect(notice).to_have_count(0, timeout=9000)
    expect(contents).to_have_text(["newest", "by mistake"])


def test_the_anonymous_pad_deletes_for_good(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/")
    post(page, "scribble")
    delete_coto(page, "scribble")
    notice = page.get_by_role("status").filter(has_text="Deleted for good")
    expect(notice).to_be_visible()
    expect(notice.get_by_role("button", name="Undo")).to_have_count(0)


def test_a_restored_coto_reappears_for_members_in_place(stack, mailbox, page_of):  # noqa: F811
    owner, member, _, _, _ = shared_cotonoma(stack, mailbox, page_of, "Undo room")
    for text in ("first", "second", "third"):
        post(owner, text)
    member_contents = member.locator("#timeline .coto-content")
    expect(member_contents).to_have_text(["third", "second", "first"], timeout=LIVE_MS)
    delete_coto(owner, "second")
    expect(member_contents).to_have_text(["third", "first"], timeout=LIVE_MS)
    owner.get_by_role("button", name="Undo").click()
    expect(owner.locator("#timeline .coto-content")).to_have_text(["third", "second", "first"])
    expect(member_contents).to_have_text(["third", "second", "first"], timeout=LIVE_MS)


def test_the_owner_removes_a_members_post(stack, mailbox, page_of):  # noqa: F811
    owner, member, _, _, _ = shared_cotonoma(stack, mailbox, page_of, "Moderated room")
    post(member, "off topic")
    post(owner, "on topic")
    theirs = owner.locator("#timeline .coto", has_text="off topic")
    expect(theirs).to_have_count(1, timeout=LIVE_MS)
    expect(theirs.locator(".coto-edit")).to_have_count(0)
    expect(theirs.locator(".coto-moderate")).to_be_visible()
    # Others' cotos are not the member's to remove.
    expect(member.locator("#timeline .coto", has_text="on topic").locator(".coto-moderate")).to_be_hidden()
    theirs.locator(".coto-moderate").click()
    expect(theirs.locator(".coto-confirm-question")).to_have_text("Delete this coto? Its author cannot restore it.")
    theirs.locator(".coto-delete-confirm").click()
    expect(owner.locator("#timeline .coto-content")).to_have_text(["on topic"])
    notice = owner.get_by_role("status").filter(has_text="Deleted for good")
    expect(notice).to_be_visible()
    expect(notice.get_by_role("button", name="Undo")).to_have_count(0)
    expect(member.locator("#timeline .coto-content")).to_have_text(["on topic"], timeout=LIVE_MS)
    member.reload()
    expect(member.locator("#timeline .coto-content")).to_have_text(["on topic"])
    # Opened afresh, the owner's page shows Delete on others' cotos once it knows whose the cotonoma is.
    owner.reload()
    post(member, "another")
    expect(owner.locator("#timeline .coto", has_text="another").locator(".coto-moderate")).to_be_visible(
        timeout=LIVE_MS
    )


def test_an_empty_cotonoma_is_deleted_and_a_full_one_is_refused_with_the_reason(stack, mailbox, page_of):  # noqa: F811
    page = signed_in_page(stack, mailbox, page_of, unique_address("tidy"))
    key = create_cotonoma(page, "Short-lived")
    page.goto(f"{stack.url}/cotonomas/{key}")
    expect(page.locator("#cotonoma-title")).to_have_text("Short-lived")
    post(page, "a coto inside")

    page.get_by_role("button", name="Delete", exact=True).click()
    dialog = page.get_by_role("dialog", name="Delete cotonoma")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Delete “Short-lived”?")
    dialog.get_by_role("button", name="Delete cotonoma").click()
    expect(dialog.get_by_role("alert")).to_contain_text("It still holds 1 coto.")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#cotonoma-title")).to_have_text("Short-lived")

    delete_coto(page, "a coto inside")
    page.get_by_role("button", name="Delete", exact=True).click()
    dialog.get_by_role("button", name="Delete cotonoma").click()
    expect(dialog).to_be_hidden()
    expect(page).to_have_url(stack.url + "/")
    expect(page.locator("#timeline .coto-cotonoma-link", has_text="Short-lived")).to_have_count(0)
    expect(page.locator(f"#sidebar a[href='/cotonomas/{key}']")).to_have_count(0)
    page.goto(f"{stack.url}/cotonomas/{key}")
    expect(page.locator("#cotonoma-not-found")).to_be_visible()


def test_a_deleted_sub_cotonoma_leaves_the_parents_page_live(stack, mailbox, page_of):  # noqa: F811
    owner, member, parent, _, _ = shared_cotonoma(stack, mailbox, page_of, "Parent room")
    create_cotonoma(owner, "Child room")  # in the parent, whose page the member has open
    children = member.locator("#sub-cotonoma-list")
    expect(children).to_contain_text("Child room", timeout=LIVE_MS)

    owner.locator("#sub-cotonoma-list a", has_text="Child room").click()
    expect(owner.locator("#cotonoma-title")).to_have_text("Child room")
    owner.get_by_role("button", name="Delete", exact=True).click()
    owner.get_by_role("dialog", name="Delete cotonoma").get_by_role("button", name="Delete cotonoma").click()
    expect(owner).to_have_url(f"{stack.url}/cotonomas/{parent}")  # back in the parent

    expect(children).not_to_contain_text("Child room", timeout=5000)
    expect(member.locator("#cotonoma-title")).to_have_text("Parent room")
