"""Search in a real browser: the box in the header ("/" focuses it, Esc puts the
page back), results with the text found marked and where each coto was posted,
a result opening its cotonoma or home at that coto (an older one at a cursor
just newer than it), "More results", an empty result, the anonymous pad's own
search, and a phone's header."""

import re
from typing import Any

from conftest import Person, unique_address
from playwright.sync_api import expect
from test_browser import chromium, page_of, post  # noqa: F401  (fixtures, shared)
from test_browser_cotonomas import name_of, signed_in_page

# A phone: the header's box folds into a button.
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
IS_TARGET = re.compile(r"\bis-target\b")


def search(page, text: str) -> None:
    """Types TEXT into the header's box and submits it; waits for the answer."""
    page.fill("#search-input", text)
    page.press("#search-input", "Enter")
    expect(page.locator("#search-heading")).to_have_text(f"Results for “{text}”")
    expect(page.locator("#search-results")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#search-status")).not_to_have_text("Searching…")


def results(page):
    return page.locator("#search-list .search-result")


def expect_opened_at(page, coto_id: str) -> None:
    """The timeline shows the coto: in view, highlighted, focused."""
    coto = page.locator(f"#timeline .coto[data-id='{coto_id}']")
    expect(coto).to_be_in_viewport()
    expect(coto).to_have_class(IS_TARGET)
    expect(coto).to_be_focused()
    expect(page.locator("#search-results")).to_be_hidden()
    expect(page.locator("#search-input")).to_have_value("")


def test_slash_focuses_the_box_and_japanese_and_any_case_are_found(stack, mailbox, page_of):  # noqa: F811
    person = Person(stack, mailbox, "finder")
    room = person.create("Plans")
    japanese = person.post("新しいコトノマを作る")
    english = person.post("Notes on the Cotonoma design", room["key"])
    person.post("nothing to see here")
    page = signed_in_page(stack, mailbox, page_of, person.address)
    expect(page.locator("#timeline .coto")).to_have_count(4)  # the room's coto too

    # "/" anywhere but a text field: the box takes the focus, and the "/" is not typed.
    page.evaluate("document.activeElement?.blur()")
    page.keyboard.press("/")
    expect(page.locator("#search-input")).to_be_focused()
    expect(page.locator("#search-input")).to_have_value("")
    expect(page.get_by_role("search").get_by_role("searchbox", name="Search cotos")).to_be_focused()
    # In a text field, "/" is a character.
    page.click("#coto-input")
    page.keyboard.press("/")
    expect(page.locator("#coto-input")).to_have_value("/")
    expect(page.locator("#coto-input")).to_be_focused()
    page.fill("#coto-input", "")

    # A Japanese substring, without spaces.
    search(page, "コトノマ")
    expect(page.locator("#search-status")).to_have_text("1 coto found.")
    found = results(page)
    expect(found).to_have_count(1)
    expect(found.locator(".search-result-text")).to_have_text("新しいコトノマを作る")
    expect(found.locator("mark")).to_have_text(["コトノマ"])
    expect(found.locator(".search-result-place")).to_have_text("Home")
    expect(found.locator(".coto-author-name")).to_have_text(name_of(person.address))
    expect(found.locator("a")).to_have_attribute("href", f"/#coto-{japanese['id']}")
    expect(page.locator("#timeline")).to_be_hidden()  # the results stand in for the page

    # English in another case: every occurrence marked, as written in the coto; where it was posted.
    search(page, "COTONOMA")
    expect(found).to_have_count(1)
    note = found.filter(has_text="Notes on the Cotonoma design")
    expect(note.locator("mark")).to_have_text(["Cotonoma"])
    expect(note.locator(".search-result-place")).to_have_text("Plans")
    expect(note.locator("a")).to_have_attribute("href", f"/cotonomas/{room['key']}#coto-{english['id']}")

    # Esc: the page as it was, the box empty, the focus back where it was before searching.
    page.press("#search-input", "Escape")
    expect(page.locator("#search-results")).to_be_hidden()
    expect(page.locator("#timeline .coto")).to_have_count(4)
    expect(page.locator("#search-input")).to_have_value("")
    expect(page.locator("#coto-input")).to_be_focused()


def test_a_result_in_a_shared_cotonoma_opens_it_at_the_coto(stack, mailbox, page_of, owner):  # noqa: F811
    member_address = unique_address("member")
    member = signed_in_page(stack, mailbox, page_of, member_address)
    room = owner.create("Garden notes")
    added = owner.call("POST", f"/api/cotonomas/{room['key']}/members", json={"email": member_address})
    assert added.status_code == 201, added.text
    wanted = owner.post("The zephyrine roses need shade by July.", room["key"])
    for n in range(14):  # enough below the top that it must be scrolled to
        owner.post(f"garden chore {n}\nwith a second line", room["key"])

    search(member, "Zephyrine")
    found = results(member)
    expect(found).to_have_count(1)
    expect(found.locator(".search-result-place")).to_have_text("Garden notes")
    expect(found.locator(".coto-author-name")).to_have_text(name_of(owner.address))
    expect(found.locator("mark")).to_have_text(["zephyrine"])
    expect(found.locator("time")).to_have_attribute("datetime", wanted["created_at"])

    found.get_by_role("link").click()
    expect(member).to_have_url(f"{stack.url}/cotonomas/{room['key']}#coto-{wanted['id']}")
    expect(member.locator("#cotonoma-title")).to_have_text("Garden notes")
    expect_opened_at(member, wanted["id"])
    expect(member.locator("#timeline .coto")).to_have_count(15)  # the newest page, as always
    expect(member.locator("#timeline-anchor")).to_be_hidden()

    # The same search for a stranger finds nothing, and says so.
    stranger = signed_in_page(stack, mailbox, page_of, unique_address("stranger"))
    search(stranger, "zephyrine")
    expect(results(stranger)).to_have_count(0)
    expect(stranger.locator("#search-status")).to_contain_text("No cotos contain “zephyrine”.")


def test_older_results_page_and_open_at_the_coto(stack, mailbox, page_of, owner):  # noqa: F811
    oldest = owner.post("the oldest of them: a quokka")
    fillers = [owner.post(f"filler {n}") for n in range(59)]
    page = signed_in_page(stack, mailbox, page_of, owner.address)
    expect(page.locator("#timeline .coto")).to_have_count(50)

    # More results: a page at a time, the focus on the first of the next page.
    search(page, "filler")
    expect(results(page)).to_have_count(50)
    expect(page.locator("#search-status")).to_have_text("50 cotos shown; there are more.")
    expect(results(page).first.locator(".search-result-text")).to_have_text("filler 58")
    page.get_by_role("button", name="More results").focus()
    page.keyboard.press("Enter")
    expect(results(page)).to_have_count(59)
    expect(page.locator("#search-status")).to_have_text("59 cotos found.")
    expect(page.get_by_role("button", name="More results")).to_be_hidden()
    expect(results(page).nth(50).get_by_role("link")).to_be_focused()
    expect(results(page).last.locator(".search-result-text")).to_have_text("filler 0")

    # The oldest, beyond the first page: the timeline opens at it, with a way back to the newest.
    search(page, "quokka")
    results(page).get_by_role("link").click()
    expect(page).to_have_url(f"{stack.url}/#coto-{oldest['id']}")
    expect_opened_at(page, oldest["id"])
    expect(page.locator("#timeline .coto").first).to_have_attribute("data-id", oldest["id"])
    expect(page.locator("#timeline-anchor")).to_be_visible()

    newest = page.get_by_role("link", name="Show the newest")
    newest.click()
    expect(page).to_have_url(f"{stack.url}/")
    expect(page.locator("#timeline-anchor")).to_be_hidden()
    expect(page.locator("#timeline .coto")).to_have_count(50)
    expect(page.locator("#timeline .coto").first).to_have_attribute("data-id", fillers[-1]["id"])

    # Posting from a timeline opened at an older coto: back to the newest, where the new coto is.
    page.go_back()
    expect(page).to_have_url(f"{stack.url}/#coto-{oldest['id']}")
    expect(page.locator("#timeline .coto").first).to_have_attribute("data-id", oldest["id"])
    page.fill("#coto-input", "posted while reading old ones")
    page.click("#post-button")
    expect(page.locator("#timeline .coto-content").first).to_have_text("posted while reading old ones")
    expect(page.locator("#timeline-anchor")).to_be_hidden()
    expect(page).to_have_url(f"{stack.url}/")
    expect(page.locator("#timeline .coto").nth(1)).to_have_attribute("data-id", fillers[-1]["id"])


def test_the_anonymous_pad_searches_itself(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/")
    post(page, "新しいコトノマを作る")
    post(page, "another thought")
    other = page_of(stack.url + "/")
    post(other, "新しいコトノマ in another browser")

    page.locator("#timeline .coto-edit").first.focus()  # a button, not a text field
    page.keyboard.press("/")
    expect(page.locator("#search-input")).to_be_focused()
    search(page, "コトノマ")
    found = results(page)
    expect(found).to_have_count(1)  # the other browser's pad is its own
    expect(found.locator("mark")).to_have_text(["コトノマ"])
    expect(found.locator(".search-result-place")).to_have_text("Home")
    expect(found.locator(".coto-author")).to_have_count(0)  # a pad's cotos have no author
    coto_id = found.get_attribute("data-id")
    found.get_by_role("link").click()
    expect(page).to_have_url(f"{stack.url}/#coto-{coto_id}")
    expect_opened_at(page, coto_id)

    # Nothing found: said so; Esc from the results puts the page back.
    search(page, "no such words")
    expect(results(page)).to_have_count(0)
    expect(page.locator("#search-status")).to_contain_text("No cotos contain “no such words”.")
    expect(page.get_by_role("button", name="More results")).to_be_hidden()
    page.locator("#search-heading").press("Escape")
    expect(page.locator("#search-results")).to_be_hidden()
    expect(page.locator("#timeline .coto")).to_have_count(2)


def test_a_failed_search_says_why(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/")
    page.route(
        re.compile(r"/api/search\?"),
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body='{"title": "Service unavailable", "description": "Searching is resting for a moment."}',
        ),
    )
    search(page, "anything")
    expect(page.locator("#error-area .error")).to_be_visible()
    expect(page.locator("#error-area .error-description")).to_have_text("Searching is resting for a moment.")
    expect(page.locator("#search-status")).to_have_text("The search could not be done.")


def test_search_on_a_phone(stack, mailbox, page_of, owner):  # noqa: F811
    owner.post("a long line to wrap on a small screen: " + "pneumonoultramicroscopic " * 20 + "kiwi")
    page = signed_in_page(stack, mailbox, page_of, owner.address, **PHONE)
    toggle = page.get_by_role("button", name="Search cotos")
    expect(toggle).to_be_visible()
    expect(page.locator("#search-input")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the header fits"

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#search-input")).to_be_focused()
    box = page.locator("#search-field").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    search(page, "kiwi")
    found = results(page)
    expect(found).to_have_count(1)
    expect(found.locator("mark")).to_have_text(["kiwi"])
    expect(found.locator(".search-result-text")).to_contain_text("…")  # clipped around the match
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing overflows sideways"
    card = found.bounding_box()
    assert card and card["x"] + card["width"] <= 390

    # Closed: the box folds back into its button, which has the focus.
    page.get_by_role("button", name="Close the search").click()
    expect(page.locator("#search-results")).to_be_hidden()
    expect(page.locator("#search-input")).to_be_hidden()
    expect(toggle).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
