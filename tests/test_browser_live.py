"""Live rooms in a real browser: two people in a shared cotonoma, each in a
Chromium context of their own. What one posts, edits, deletes and renames the
other sees without reloading, once each; who has it open shows in its header;
a reader scrolled down keeps their place and gets an "N new" pill; taken out
of the cotonoma, the other leaves it with a message. A dropped stream says
"Reconnecting…" and misses nothing; one refused for an expired access token
refreshes the session; home follows one's own cotos on another device; an
anonymous pad opens no stream; the newest page read again (a stream's resync)
names the page held and an unchanged one comes as a 304."""

import re

from conftest import unique_address
from playwright.sync_api import expect
from test_browser import chromium, page_of, post  # noqa: F401  (fixtures, shared)
from test_browser_cotonomas import PHONE, add_member, create_cotonoma, name_of, signed_in_page

from cotoami_common.web import ACCESS_COOKIE

LIVE_MS = 1000  # a change shows on the other page within this, without a reload
PRESENCE_MS = 5000  # who is here, and losing access, within this (contract)


def shared_cotonoma(stack, mailbox, page_of, name: str):  # noqa: F811
    """An owner and a member, both on the page of a cotonoma the owner shared with the member, both connected
    (each sees the other in the header)."""
    owner_address, member_address = unique_address("owner"), unique_address("member")
    owner = signed_in_page(stack, mailbox, page_of, owner_address)
    key = create_cotonoma(owner, name)
    owner.goto(f"{stack.url}/cotonomas/{key}")
    expect(owner.locator("#cotonoma-title")).to_have_text(name)
    add_member(owner, mailbox, member_address)
    member = signed_in_page(stack, mailbox, page_of, member_address, f"/cotonomas/{key}")
    expect(member.locator("#cotonoma-title")).to_have_text(name)
    for page, other in ((member, owner_address), (owner, member_address)):
        here = page.get_by_role("list", name="Here now")
        expect(here.get_by_role("listitem").filter(has_text=name_of(other))).to_have_count(1, timeout=PRESENCE_MS)
    return owner, member, key, owner_address, member_address


def test_a_member_sees_each_change_live_and_leaves_when_removed(stack, mailbox, page_of):  # noqa: F811
    owner, member, key, owner_address, member_address = shared_cotonoma(stack, mailbox, page_of, "Live room")
    member_timeline = member.locator("#timeline .coto-content")

    # The reader is in the list too, said as such.
    here = member.get_by_role("list", name="Here now").get_by_role("listitem")
    expect(here).to_have_count(2)
    expect(here.first).to_have_accessible_name(f"{name_of(member_address)} (you)")
    expect(here.filter(has_text=name_of(owner_address))).to_have_attribute("title", name_of(owner_address))

    # Posted: on the other page at once, at the top, highlighted, announced; no pill at the top of the page.
    post(owner, "hello, live")
    expect(member_timeline).to_have_text(["hello, live"], timeout=LIVE_MS)
    arrived = member.locator("#timeline .coto").first
    expect(arrived).to_have_class(re.compile(r"\bis-arrived\b"))
    expect(arrived.locator(".coto-edit, .coto-delete")).to_have_count(0)  # not the reader's to change
    expect(member.locator("#live-announcer")).to_have_text(f"New coto from {name_of(owner_address)}.")
    expect(member.locator("#new-cotos")).to_be_hidden()

    # Edited: replaced in place, still once.
    mine = owner.locator("#timeline .coto").first
    mine.locator(".coto-edit").click()
    mine.locator("textarea").fill("hello, live (edited)")
    mine.locator(".coto-save").click()
    expect(owner.locator("#timeline .coto-content")).to_have_text(["hello, live (edited)"])
    expect(member_timeline).to_have_text(["hello, live (edited)"], timeout=LIVE_MS)
    expect(member.locator("#timeline .coto-edited")).to_have_count(1)

    # The member's own coto: once on their page (from the POST and from the stream), live on the owner's.
    post(member, "a reply")
    expect(owner.locator("#timeline .coto-content")).to_have_text(["a reply", "hello, live (edited)"], timeout=LIVE_MS)
    expect(member_timeline).to_have_text(["a reply", "hello, live (edited)"])

    # Deleted: gone from the other page.
    mine = owner.locator("#timeline .coto", has_text="hello, live (edited)")
    mine.locator(".coto-delete").click()
    mine.locator(".coto-delete-confirm").click()
    expect(owner.locator("#timeline .coto-content")).to_have_text(["a reply"])
    expect(member_timeline).to_have_text(["a reply"], timeout=LIVE_MS)

    # Renamed by its owner: the member's header, breadcrumbs and composer follow.
    owner.click("#rename-cotonoma")
    owner.fill("#rename-name", "Live room, renamed")
    owner.press("#rename-name", "Enter")
    expect(owner.locator("#cotonoma-title")).to_have_text("Live room, renamed")
    expect(member.locator("#cotonoma-title")).to_have_text("Live room, renamed", timeout=LIVE_MS)
    expect(member.locator("#breadcrumbs a")).to_have_text(["Home", "Live room, renamed"])
    expect(member.locator("#composer-label")).to_have_text("New coto in Live room, renamed")
    expect(member).to_have_title("Live room, renamed — Cotoami")

    # A sub-cotonoma made inside: its coto on the member's timeline, and among the sub-cotonomas.
    sub = create_cotonoma(owner, "Chapter one")
    expect(member_timeline).to_have_text(["Chapter one", "a reply"], timeout=LIVE_MS)
    expect(member.locator(f"#sub-cotonomas a[data-key='{sub}']")).to_have_text("Chapter one")

    # Taken out: the member leaves the cotonoma with a message, and the owner sees them go.
    owner.locator("#member-list .member", has_text=member_address).locator(".member-remove").click()
    expect(owner.locator("#member-list .member")).to_have_count(0)
    expect(member.locator("#not-found-title")).to_have_text(
        "This cotonoma is no longer shared with you", timeout=PRESENCE_MS
    )
    expect(member.locator("#not-found-title")).to_be_focused()
    expect(member.locator("#pad")).to_be_hidden()
    expect(member.locator(f"#shared-cotonomas .cotonoma-link[data-key='{key}']")).to_have_count(0)
    owner_here = owner.get_by_role("list", name="Here now").get_by_role("listitem")
    expect(owner_here).to_have_count(1, timeout=PRESENCE_MS)
    expect(owner_here).to_have_accessible_name(f"{name_of(owner_address)} (you)")


def test_a_reader_scrolled_down_keeps_their_place_and_gets_a_pill(stack, mailbox, page_of):  # noqa: F811
    owner, member, key, _, _ = shared_cotonoma(stack, mailbox, page_of, "Long room")
    for n in range(14):
        answer = owner.request.post(
            f"{stack.url}/api/cotos",
            data={"content": f"older note {n}\n\nwith\nsome\nlines", "cotonoma_key": key},
            headers={"Origin": stack.url},
        )
        assert answer.status == 201, answer.text()
    for page in (owner, member):
        expect(page.locator("#timeline .coto")).to_have_count(14, timeout=LIVE_MS * 5)

    # Scrolled down to a coto in the middle: a new one arrives above, and what is read stays put.
    reading = member.locator("#timeline .coto", has_text="older note 6")
    reading.scroll_into_view_if_needed()
    member.evaluate("window.scrollBy(0, 200)")
    top_before = reading.bounding_box()["y"]
    post(owner, "news from above")
    pill = member.get_by_role("button", name=re.compile(r"^1 new coto\b"))
    expect(pill).to_be_visible(timeout=LIVE_MS)
    expect(member.locator("#timeline .coto")).to_have_count(15)
    assert abs(reading.bounding_box()["y"] - top_before) <= 2, "the coto being read did not move"
    post(owner, "more news")
    expect(member.get_by_role("button", name=re.compile(r"^2 new cotos\b"))).to_be_visible(timeout=LIVE_MS)
    assert abs(reading.bounding_box()["y"] - top_before) <= 2
    expect(member.locator("#live-announcer")).to_contain_text("new coto")

    # The pill goes up to the newest, which takes the focus, and is gone.
    member.get_by_role("button", name=re.compile(r"new cotos")).click()
    newest = member.locator("#timeline .coto").first
    expect(newest).to_contain_text("more news")
    expect(newest).to_be_focused()
    expect(newest).to_be_in_viewport()
    expect(member.locator("#new-cotos")).to_be_hidden()


def test_a_stream_that_drops_says_reconnecting_and_misses_nothing(stack, mailbox, page_of, stopped):  # noqa: F811
    owner, member, _, owner_address, _ = shared_cotonoma(stack, mailbox, page_of, "Flaky room")
    member_timeline = member.locator("#timeline .coto-content")
    post(owner, "before the drop")
    expect(member_timeline).to_have_text(["before the drop"], timeout=LIVE_MS)

    # live is stopped (its streams end with retry:, then the gateway answers 502): the page says so.
    stopped("live")
    expect(member.get_by_role("status").filter(has_text="Reconnecting…")).to_be_visible(timeout=PRESENCE_MS)
    expect(member.get_by_role("list", name="Here now")).to_be_hidden()
    post(owner, "while it was down")
    stack.supervisorctl("start", "live:*")
    stack.wait_until(lambda: stack.ready("live"), 30, "live ready again")

    # Back: what was missed is there, once, and the stream carries what comes next.
    expect(member_timeline).to_have_text(["while it was down", "before the drop"], timeout=30_000)
    expect(member.locator("#live-status")).to_be_hidden()
    here = member.get_by_role("list", name="Here now").get_by_role("listitem")
    expect(here.filter(has_text=name_of(owner_address))).to_have_count(1, timeout=PRESENCE_MS)
    post(owner, "after it came back")
    expect(member_timeline).to_have_text(
        ["after it came back", "while it was down", "before the drop"], timeout=LIVE_MS
    )


def test_home_follows_the_persons_own_cotos_on_another_device(stack, mailbox, page_of):  # noqa: F811
    address = unique_address("devices")
    laptop = signed_in_page(stack, mailbox, page_of, address)
    phone = signed_in_page(stack, mailbox, page_of, address, reduced_motion="reduce", **PHONE)
    post(laptop, "from the laptop")
    expect(phone.locator("#timeline .coto-content")).to_have_text(["from the laptop"], timeout=LIVE_MS)
    expect(phone.locator("#live-announcer")).to_have_text("New coto.")
    # Less motion asked for: the highlight neither slides in nor fades, and still goes.
    arrived = phone.locator("#timeline .coto").first
    assert arrived.evaluate("li => [getComputedStyle(li).animationName, getComputedStyle(li).transitionDuration]") == [
        "none",
        "0s",
    ]
    expect(arrived).not_to_have_class(re.compile(r"\bis-arrived\b"), timeout=PRESENCE_MS + 2000)

    coto = phone.locator("#timeline .coto").first
    coto.locator(".coto-edit").click()
    coto.locator("textarea").fill("from the laptop, edited on the phone")
    coto.locator(".coto-save").click()
    expect(laptop.locator("#timeline .coto-content")).to_have_text(
        ["from the laptop, edited on the phone"], timeout=LIVE_MS
    )


def test_an_anonymous_pad_opens_no_stream(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/favicon.svg")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(stack.url + "/")
    post(page, "a thought of nobody in particular")
    page.reload()
    expect(page.locator("#timeline .coto-content")).to_have_text(["a thought of nobody in particular"])
    assert [url for url in asked if "/api/live/" in url] == []


def test_a_stream_refused_for_an_expired_access_token_refreshes_the_session(stack, mailbox, page_of, stopped):  # noqa: F811
    owner, member, _, owner_address, _ = shared_cotonoma(stack, mailbox, page_of, "Long read")
    # The access token is gone (as when it expires); the refresh token is kept.
    member.context.clear_cookies(name=ACCESS_COOKIE)
    stopped("live")
    expect(member.get_by_role("status").filter(has_text="Reconnecting…")).to_be_visible(timeout=PRESENCE_MS)
    stack.supervisorctl("start", "live:*")
    stack.wait_until(lambda: stack.ready("live"), 30, "live ready again")

    # Refused (401), the page refreshes the session once and follows the cotonoma again.
    here = member.get_by_role("list", name="Here now").get_by_role("listitem")
    expect(here.filter(has_text=name_of(owner_address))).to_have_count(1, timeout=30_000)
    assert any(c["name"] == ACCESS_COOKIE for c in member.context.cookies())
    post(owner, "after the refresh")
    expect(member.locator("#timeline .coto-content")).to_have_text(["after the refresh"], timeout=LIVE_MS)
    expect(member.locator("#live-status")).to_be_hidden()


def test_the_newest_page_read_again_unchanged_comes_as_a_304_and_reads_the_same(stack, mailbox, page_of):  # noqa: F811
    # What a stream opened anew does (timeline.js resync): the first page asked again, naming the one it holds.
    page = signed_in_page(stack, mailbox, page_of, unique_address("again"))
    post(page, "read twice")
    answers: list[tuple[int, str | None]] = []

    def heard(response) -> None:
        # The page's own reads (its stream's resync may come at any moment) ask for /api/cotos; these name a limit.
        if response.request.method == "GET" and response.url == f"{stack.url}/api/cotos?limit=50":
            answers.append((response.status, response.request.headers.get("if-none-match")))

    page.on("response", heard)
    read = "async () => (await import('/api.js')).listCotos(null, 50)"
    first, again = page.evaluate(read), page.evaluate(read)
    assert [coto["content"] for coto in again["cotos"]] == ["read twice"] and again == first
    assert [status for status, _ in answers] == [200, 304], answers
    assert answers[0][1] is None and answers[1][1], "the second names the page the first brought"
    post(page, "then another")
    changed = page.evaluate(read)
    assert [coto["content"] for coto in changed["cotos"]] == ["then another", "read twice"]
    assert answers[-1][0] == 200
