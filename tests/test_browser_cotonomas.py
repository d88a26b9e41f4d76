"""Cotonomas in a real browser: the (+) button, the
cotonoma page with its breadcrumbs, sub-cotonomas and timeline, sharing by
email from the members panel, the list of "My cotonomas" and "Shared with me",
the invitation landing, and the page strangers get."""

import re
from typing import Any
from urllib.parse import urlsplit

import requests
from conftest import sign_in, unique_address
from playwright.sync_api import expect
from test_browser import chromium, page_of, post  # noqa: F401  (fixtures, shared)

# Playwright context options of a phone (values of several types).
PHONE: dict[str, Any] = {"viewport": {"width": 375, "height": 740}, "is_mobile": True, "has_touch": True}


def name_of(address: str) -> str:
    """The display name an address gets without a Gravatar: its local part."""
    return address.split("@")[0]


def signed_in_page(stack, mailbox, page_of, address: str, path: str = "/", **context_options):  # noqa: F811
    """A browser of its own, signed in as `address`: the cookies of a sign-in by mail made with requests."""
    with requests.Session() as session:
        session.headers["Origin"] = stack.url
        sign_in(stack, mailbox, session, address)
        cookies = [
            {
                "name": c.name,
                "value": c.value,
                "domain": urlsplit(stack.url).hostname,
                "path": c.path,
                "httpOnly": True,
                "secure": False,
                "sameSite": "Lax",
            }
            for c in session.cookies
        ]
    page = page_of(stack.url + "/favicon.svg", **context_options)
    page.context.add_cookies(cookies)
    page.goto(stack.url + path)
    expect(page.locator("#identity .amishi-name")).to_have_text(name_of(address))
    return page


def create_cotonoma(page, name: str) -> str:
    """The (+) button where the page is; returns the new cotonoma's key, read from its coto on the timeline."""
    page.click("#new-cotonoma-button")
    expect(page.locator("#cotonoma-dialog")).to_be_visible()
    expect(page.locator("#cotonoma-name")).to_be_focused()
    page.fill("#cotonoma-name", name)
    page.click("#cotonoma-create")
    expect(page.locator("#cotonoma-dialog")).to_be_hidden()
    # Its one coto, on top. (Not a count of the timeline before and after: read just after
    # a navigation, the count could be taken before the first page arrived, CI saw 2 for 1.)
    named = page.locator("#timeline .coto-cotonoma-link", has_text=re.compile(rf"^{re.escape(name)}$"))
    expect(named).to_have_count(1)
    link = page.locator("#timeline .coto").first.locator(".coto-cotonoma-link")
    expect(link).to_have_text(name)
    key: str | None = link.get_attribute("data-key")
    assert key and re.fullmatch(r"[A-Za-z0-9_-]{11,64}", key), key
    return key


def expect_cotonoma_page(page, stack, key: str, name: str, crumbs: list[str]) -> None:
    expect(page).to_have_url(f"{stack.url}/cotonomas/{key}")
    expect(page.locator("#cotonoma-title")).to_have_text(name)
    expect(page.locator("#breadcrumbs a")).to_have_text(crumbs)
    expect(page.locator("#breadcrumbs a").last).to_have_attribute("aria-current", "page")
    expect(page).to_have_title(f"{name} — Cotoami")
    expect(page.locator("#composer-label")).to_have_text(f"New coto in {name}")


def add_member(page, mailbox, address: str) -> None:
    """Shares the cotonoma on the page with `address`, and waits for the invitation mail to be delivered
    (so that a sign-in mail to the same address later is never mistaken for it)."""
    count = page.locator("#member-list .member").count()
    mails = len(mailbox.mails_to(address))
    page.fill("#member-email", address)
    page.click("#member-add")
    expect(page.locator("#member-list .member")).to_have_count(count + 1)
    expect(page.locator("#member-list .member-email").last).to_have_text(address)
    expect(page.locator("#member-error")).to_be_empty()
    expect(page.locator("#member-email")).to_have_value("")
    mailbox.wait_for(address, mails + 1)


def test_an_owner_shares_a_cotonoma_and_its_sub_cotonoma_with_a_member(stack, mailbox, page_of):  # noqa: F811
    owner_address, member_address = unique_address("owner"), unique_address("member")
    owner_name, member_name = name_of(owner_address), name_of(member_address)
    owner = signed_in_page(stack, mailbox, page_of, owner_address)

    # (+) at home: its coto tops the home timeline, as a link, and it is in "My cotonomas".
    key = create_cotonoma(owner, "Reading notes")
    room = owner.locator("#timeline .coto").first
    expect(room).to_have_class(re.compile(r"\bcoto-cotonoma\b"))
    expect(room.locator(".coto-author-name")).to_have_text(owner_name)
    expect(room.locator(".coto-edit, .coto-delete")).to_have_count(0)  # renamed on its page, never edited as a coto
    expect(owner.locator(f"#my-cotonomas .cotonoma-link[data-key='{key}']")).to_have_text("Reading notes")
    expect(owner.locator("#shared-cotonomas .cotonoma-link")).to_have_count(0)

    # The same name twice in one place: the dialog says so and stays open.
    owner.click("#new-cotonoma-button")
    owner.fill("#cotonoma-name", "Reading notes")
    owner.click("#cotonoma-create")
    expect(owner.locator("#cotonoma-error")).not_to_be_empty()
    expect(owner.locator("#cotonoma-dialog")).to_be_visible()
    owner.keyboard.press("Escape")
    expect(owner.locator("#cotonoma-dialog")).to_be_hidden()
    expect(owner.locator("#timeline .coto")).to_have_count(1)

    # Into it, through its coto's link.
    room.locator(".coto-cotonoma-link").click()
    expect_cotonoma_page(owner, stack, key, "Reading notes", ["Home", "Reading notes"])
    expect(owner.locator(f"#my-cotonomas .cotonoma-link[data-key='{key}']")).to_have_attribute("aria-current", "page")
    expect(owner.locator("#cotonoma-meta")).to_contain_text(owner_name)
    expect(owner.locator("#rename-cotonoma")).to_be_visible()
    expect(owner.locator("#timeline-status")).to_contain_text("Nothing here yet")
    post(owner, "a note in the room")
    expect(owner.locator("#timeline .coto-posted-in")).to_have_count(0)  # no "in Reading notes" inside Reading notes

    # A sub-cotonoma inside: its coto in this timeline, its link among the sub-cotonomas.
    sub = create_cotonoma(owner, "Chapter one")
    expect(owner.locator(f"#sub-cotonomas a[data-key='{sub}']")).to_have_text("Chapter one")
    expect(owner.locator("#timeline .coto-content")).to_have_text(["Chapter one", "a note in the room"])
    expect(owner.locator("#timeline .coto").nth(1).locator(".coto-edit")).to_have_count(1)

    # Sharing: the members panel, open while nobody is in it, with what it refuses said in it.
    expect(owner.locator("#members-panel")).to_be_visible()
    expect(owner.locator("#members-toggle")).to_have_text("Only you")
    expect(owner.locator("#members-toggle")).to_have_attribute("aria-expanded", "true")
    add_member(owner, mailbox, member_address)
    expect(owner.locator("#members-toggle")).to_have_text("Shared with 1 person")
    for refused in (member_address, owner_address, "not an address"):
        owner.fill("#member-email", refused)
        owner.click("#member-add")
        expect(owner.locator("#member-error")).not_to_be_empty()
        expect(owner.locator("#member-list .member")).to_have_count(1)

    # The member finds it under "Shared with me", with its owner's name, and reads the owner's cotos.
    member = signed_in_page(stack, mailbox, page_of, member_address)
    shared = member.locator(f"#shared-cotonomas .cotonoma-link[data-key='{key}']")
    expect(shared).to_contain_text("Reading notes")
    expect(shared).to_contain_text(f"by {owner_name}")
    expect(member.locator("#my-cotonomas .cotonoma-link")).to_have_count(0)
    shared.click()
    expect_cotonoma_page(member, stack, key, "Reading notes", ["Home", "Reading notes"])
    expect(member.locator("#cotonoma-shared")).to_have_text("Shared with you")
    expect(member.locator("#members-panel")).to_be_hidden()
    expect(member.locator("#members-toggle")).to_be_hidden()
    expect(member.locator("#rename-cotonoma")).to_be_hidden()
    expect(member.locator("#timeline .coto-content")).to_have_text(["Chapter one", "a note in the room"])
    expect(member.locator("#timeline .coto-author-name")).to_have_text([owner_name, owner_name])
    expect(member.locator("#timeline .coto-edit, #timeline .coto-delete")).to_have_count(0)  # not theirs
    post(member, "a member's reply")
    mine = member.locator("#timeline .coto").first
    expect(mine.locator(".coto-author-name")).to_have_text(member_name)
    expect(mine.locator(".coto-edit")).to_have_count(1)

    # The owner reloads: the member's post, with the member's name.
    owner.reload()
    expect_cotonoma_page(owner, stack, key, "Reading notes", ["Home", "Reading notes"])
    expect(owner.locator("#timeline .coto-content")).to_have_text(
        ["a member's reply", "Chapter one", "a note in the room"]
    )
    expect(owner.locator("#timeline .coto-author-name")).to_have_text([member_name, owner_name, owner_name])
    expect(owner.locator("#timeline .coto").first.locator(".coto-edit, .coto-delete")).to_have_count(0)
    expect(owner.locator("#member-list .member-email")).to_have_text([member_address])

    # Membership reaches down: the member opens the sub-cotonoma too, and posts there.
    member.locator(f"#sub-cotonomas a[data-key='{sub}']").click()
    expect_cotonoma_page(member, stack, sub, "Chapter one", ["Home", "Reading notes", "Chapter one"])
    expect(member.locator("#timeline-status")).to_contain_text("Nothing here yet")
    post(member, "deeper down")
    member.go_back()
    expect_cotonoma_page(member, stack, key, "Reading notes", ["Home", "Reading notes"])
    member.locator("#breadcrumbs a", has_text="Home").click()
    expect(member).to_have_url(stack.url + "/")
    expect(member.locator("#timeline .coto-content")).to_have_text(["deeper down", "a member's reply"])
    expect(member.locator("#timeline .coto-posted-in")).to_have_text(["in Chapter one", "in Reading notes"])

    # The owner's home: everything they posted anywhere, each coto posted inside labelled with its cotonoma.
    owner.locator("#breadcrumbs a", has_text="Home").click()
    expect(owner).to_have_url(stack.url + "/")
    expect(owner.locator("#timeline .coto-content")).to_have_text(
        ["Chapter one", "a note in the room", "Reading notes"]
    )
    note = owner.locator("#timeline .coto", has_text="a note in the room")
    expect(note.locator(".coto-posted-in")).to_have_text("in Reading notes")
    expect(note.locator(".coto-author-name")).to_have_text(owner_name)
    chapter = owner.locator("#timeline .coto").first
    expect(chapter.locator(".coto-cotonoma-link")).to_have_attribute("data-key", sub)
    expect(chapter.locator(".coto-posted-in")).to_have_text("in Reading notes")
    expect(owner.locator("#timeline .coto").last.locator(".coto-posted-in")).to_have_count(0)  # made at home
    note.locator(".coto-posted-in").click()
    expect_cotonoma_page(owner, stack, key, "Reading notes", ["Home", "Reading notes"])


def test_an_invitation_leads_into_the_cotonoma_after_signing_in(stack, mailbox, page_of):  # noqa: F811
    owner_address, invitee = unique_address("host"), unique_address("guest")
    owner = signed_in_page(stack, mailbox, page_of, owner_address)
    key = create_cotonoma(owner, "Trip plans")
    owner.locator("#timeline .coto-cotonoma-link").first.click()
    expect_cotonoma_page(owner, stack, key, "Trip plans", ["Home", "Trip plans"])
    post(owner, "book the train")
    add_member(owner, mailbox, invitee)

    invitation = mailbox.wait_for(invitee)[-1]
    found = re.search(re.escape(stack.url) + r"/cotonomas/[A-Za-z0-9_-]+", invitation["text"])
    assert found, invitation["text"]
    link = found.group(0)
    assert link == f"{stack.url}/cotonomas/{key}"

    # Opened before signing in: an invitation to sign in, and nothing of the cotonoma itself.
    guest = page_of(link)
    expect(guest.locator("#cotonoma-signin")).to_be_visible()
    expect(guest.locator("#cotonoma-signin")).to_contain_text("Sign in to open this cotonoma")
    expect(guest.locator("#composer")).to_be_hidden()
    expect(guest.locator("#main")).not_to_contain_text("Trip plans")

    def ask_for_link():
        guest.click("#cotonoma-signin-button")
        expect(guest.locator("#signin-dialog")).to_be_visible()
        expect(guest.locator("#signin-note")).to_be_visible()
        guest.fill("#signin-email", invitee)
        guest.press("#signin-email", "Enter")
        expect(guest.locator("#signin-sent")).to_be_visible()

    token = mailbox.new_link_token(invitee, ask_for_link)
    guest.keyboard.press("Escape")
    guest.goto(f"{stack.url}/signin/{token}")
    guest.click("#confirm-button")
    # Signed in, the person is back where the invitation led.
    expect(guest.locator("#identity .amishi-name")).to_have_text(name_of(invitee))
    expect_cotonoma_page(guest, stack, key, "Trip plans", ["Home", "Trip plans"])
    expect(guest.locator("#timeline .coto-content")).to_have_text(["book the train"])
    expect(guest.locator(f"#shared-cotonomas .cotonoma-link[data-key='{key}']")).to_contain_text("Trip plans")


def test_the_owner_renames_and_stops_sharing(stack, mailbox, page_of):  # noqa: F811
    owner_address, member_address = unique_address("lead"), unique_address("mate")
    owner = signed_in_page(stack, mailbox, page_of, owner_address)
    create_cotonoma(owner, "Other room")
    key = create_cotonoma(owner, "Draft name")
    owner.goto(f"{stack.url}/cotonomas/{key}")  # a full load of the address works too
    expect_cotonoma_page(owner, stack, key, "Draft name", ["Home", "Draft name"])
    add_member(owner, mailbox, member_address)

    member = signed_in_page(stack, mailbox, page_of, member_address, f"/cotonomas/{key}")
    expect_cotonoma_page(member, stack, key, "Draft name", ["Home", "Draft name"])
    post(member, "hello from the mate")

    # A clash with another of the owner's cotonomas in the same place is said in the form.
    owner.click("#rename-cotonoma")
    expect(owner.locator("#rename-name")).to_have_value("Draft name")
    owner.fill("#rename-name", "Other room")
    owner.press("#rename-name", "Enter")
    expect(owner.locator("#rename-error")).not_to_be_empty()
    owner.fill("#rename-name", "Final name")
    owner.press("#rename-name", "Enter")
    expect(owner.locator("#rename-form")).to_be_hidden()
    expect_cotonoma_page(owner, stack, key, "Final name", ["Home", "Final name"])
    expect(owner.locator(f"#my-cotonomas .cotonoma-link[data-key='{key}']")).to_have_text("Final name")
    owner.locator("#breadcrumbs a", has_text="Home").click()
    expect(owner.locator(f"#timeline .coto-cotonoma-link[data-key='{key}']")).to_have_text("Final name")

    # The new name shows everywhere at once: the member's page and their "in NAME" labels.
    member.reload()
    expect_cotonoma_page(member, stack, key, "Final name", ["Home", "Final name"])
    member.goto(stack.url + "/")
    expect(member.locator("#timeline .coto-posted-in")).to_have_text(["in Final name"])
    expect(member.locator("#timeline .coto-edit")).to_have_count(1)  # their own, on a full load of home

    # Removed, the member finds nothing there any more. Shared, the members are behind their button.
    owner.goto(f"{stack.url}/cotonomas/{key}")
    expect(owner.locator("#members-toggle")).to_have_text("Shared with 1 person")
    expect(owner.locator("#members-panel")).to_be_hidden()
    owner.click("#members-toggle")
    owner.locator("#member-list .member", has_text=member_address).locator(".member-remove").click()
    expect(owner.locator("#member-list .member")).to_have_count(0)
    expect(owner.locator("#members-toggle")).to_have_text("Only you")
    member.goto(f"{stack.url}/cotonomas/{key}")
    expect(member.locator("#cotonoma-not-found")).to_be_visible()
    expect(member.locator("#main")).not_to_contain_text("Final name")
    expect(member.locator(f"#shared-cotonomas .cotonoma-link[data-key='{key}']")).to_have_count(0)


def test_others_find_nothing_and_anonymous_people_are_asked_to_sign_in(stack, mailbox, page_of):  # noqa: F811
    owner = signed_in_page(stack, mailbox, page_of, unique_address("keeper"))
    key = create_cotonoma(owner, "Private plans")
    owner.locator("#timeline .coto-cotonoma-link").first.click()
    post(owner, "secret detail")

    # Someone else, signed in: the same page for "not shared with you" as for "no such cotonoma".
    stranger_address = unique_address("stranger")
    stranger = signed_in_page(stack, mailbox, page_of, stranger_address, f"/cotonomas/{key}")
    for path in (f"/cotonomas/{key}", "/cotonomas/NoSuchCotonoma00"):
        stranger.goto(stack.url + path)
        expect(stranger.locator("#cotonoma-not-found")).to_be_visible()
        expect(stranger.locator("#cotonoma-not-found")).to_contain_text("Not found, or not shared with you")
        expect(stranger.locator("#cotonoma-not-found")).to_contain_text(stranger_address)
        expect(stranger.locator("#composer")).to_be_hidden()
        expect(stranger.locator("#main")).not_to_contain_text("Private plans")
        expect(stranger.locator("#main")).not_to_contain_text("secret detail")
    expect(stranger.locator("#shared-cotonomas-empty")).to_be_visible()
    stranger.locator("#cotonoma-not-found a", has_text="Go home").click()
    expect(stranger).to_have_url(stack.url + "/")
    expect(stranger.locator("#composer")).to_be_visible()

    # Anonymous: no list, and the (+) asks for an account.
    anonymous = page_of(stack.url + "/")
    expect(anonymous.locator("#anonymous-notice")).to_be_visible()
    expect(anonymous.locator("#cotonoma-list")).to_be_hidden()
    anonymous.click("#new-cotonoma-button")
    expect(anonymous.locator("#signin-dialog")).to_be_visible()
    expect(anonymous.locator("#signin-note")).to_contain_text("Cotonomas need an account")
    expect(anonymous.locator("#cotonoma-dialog")).to_be_hidden()
    anonymous.keyboard.press("Escape")
    # The plain sign-in button says nothing about cotonomas.
    anonymous.click("#signin-button")
    expect(anonymous.locator("#signin-note")).to_be_hidden()


def test_on_a_phone_the_list_is_a_drawer(stack, mailbox, page_of):  # noqa: F811
    phone = signed_in_page(stack, mailbox, page_of, unique_address("phone"), **PHONE)
    key = create_cotonoma(phone, "Pocket notes: a rather long name for a phone")
    expect(phone.locator("#cotonoma-list")).to_be_hidden()  # the drawer is closed
    phone.click("#drawer-toggle")
    expect(phone.locator("#drawer-toggle")).to_have_attribute("aria-expanded", "true")
    link = phone.locator(f"#my-cotonomas .cotonoma-link[data-key='{key}']")
    expect(link).to_be_visible()
    expect(phone.locator("#sidebar")).to_have_css("transform", "none")  # slid all the way in
    assert phone.locator("#sidebar").bounding_box()["width"] <= 375
    link.click()
    expect(phone.locator("#cotonoma-list")).to_be_hidden()  # closed again on the way
    expect_cotonoma_page(
        phone,
        stack,
        key,
        "Pocket notes: a rather long name for a phone",
        ["Home", "Pocket notes: a rather long name for a phone"],
    )
    post(phone, "typed on the phone", how="button")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375, "nothing overflows sideways"
    phone.click("#drawer-toggle")
    phone.keyboard.press("Escape")
    expect(phone.locator("#cotonoma-list")).to_be_hidden()
    expect(phone.locator("#drawer-toggle")).to_be_focused()
