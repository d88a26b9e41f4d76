"""A phone's screen (390 by 844, touch), in a real browser: inside a shared
cotonoma the note box is on the first screen, for its owner and for a member;
the members panel is behind its "Shared with N" button (open on entering only
while nobody is in it); every control a finger presses is at least 44 px
square, and the (+) button is named; a desktop keeps its compact controls."""

from typing import Any

from conftest import Person, unique_address
from playwright.sync_api import expect
from test_browser import chromium, page_of, post  # noqa: F401  (fixtures, shared)
from test_browser_cotonomas import create_cotonoma, signed_in_page

PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
TOUCH = 44  # px, each way


def at_least_a_fingertip(locator) -> None:
    for n in range(locator.count()):
        box = locator.nth(n).bounding_box()
        assert box, f"{locator} {n} is on screen"
        assert box["width"] >= TOUCH and box["height"] >= TOUCH, f"{locator} {n}: {box}"


def expect_note_box_on_first_screen(page) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    box = page.locator("#coto-input").bounding_box()
    assert box, "the note box is shown"
    height = page.viewport_size["height"]
    assert box["y"] >= 0 and box["y"] + box["height"] <= height, f"the note box {box} within the first {height}px"


def test_a_shared_cotonoma_on_a_phone(stack, mailbox, page_of, owner: Person):  # noqa: F811
    member_address = unique_address("member")
    project = owner.create("Home projects")
    garden = owner.create("Garden plans for the spring and summer", project["key"])
    for name in ("Seeds", "Tools", "Compost"):
        owner.create(name, garden["key"])
    for address in (member_address, unique_address("neighbour")):
        added = owner.call("POST", f"/api/cotonomas/{garden['key']}/members", json={"email": address})
        assert added.status_code == 201, added.text
    owner.post("Order the seeds before March.", garden["key"])

    # The owner: the header, the members behind their button, the note box, all on the first screen.
    phone = signed_in_page(stack, mailbox, page_of, owner.address, f"/cotonomas/{garden['key']}", **PHONE)
    expect(phone.locator("#cotonoma-title")).to_have_text(garden["name"])
    toggle = phone.locator("#members-toggle")
    expect(toggle).to_have_text("Shared with 2 people")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(toggle).to_have_attribute("aria-controls", "members-panel")
    expect(phone.locator("#members-panel")).to_be_hidden()
    expect(phone.locator("#timeline .coto")).to_have_count(4)
    expect_note_box_on_first_screen(phone)

    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(phone.locator("#members-panel")).to_be_visible()
    expect(phone.locator("#member-list .member-email")).to_have_count(2)
    toggle.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(phone.locator("#members-panel")).to_be_hidden()

    # Fingertip-sized: a coto's Edit and Delete, the breadcrumbs, the (+), the members button, the drawer's.
    post(phone, "typed with a thumb", how="button")
    mine = phone.locator("#timeline .coto").first
    at_least_a_fingertip(mine.locator(".coto-edit, .coto-delete"))
    expect(phone.locator("#breadcrumbs a")).to_have_count(3)
    at_least_a_fingertip(phone.locator("#breadcrumbs a"))
    plus = phone.locator("#new-cotonoma-button")
    expect(plus).to_have_accessible_name("New cotonoma")
    expect(plus).to_have_attribute("title", "New cotonoma: a room for cotos")
    at_least_a_fingertip(plus)
    at_least_a_fingertip(toggle)
    at_least_a_fingertip(phone.locator("#drawer-toggle, #post-button, #sub-cotonomas a"))
    phone.click("#drawer-toggle")
    at_least_a_fingertip(phone.locator("#sidebar .cotonoma-toggle, #sidebar .cotonoma-link, #home-link"))
    phone.keyboard.press("Escape")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "nothing overflows sideways"

    # A member: no members button, the note box on the first screen too.
    member = signed_in_page(stack, mailbox, page_of, member_address, f"/cotonomas/{garden['key']}", **PHONE)
    expect(member.locator("#cotonoma-title")).to_have_text(garden["name"])
    expect(member.locator("#cotonoma-shared")).to_have_text("Shared with you")
    expect(member.locator("#members-toggle")).to_be_hidden()
    expect(member.locator("#timeline .coto")).to_have_count(5)
    expect_note_box_on_first_screen(member)


def test_a_new_cotonoma_shows_its_owner_how_to_share(stack, mailbox, page_of):  # noqa: F811
    address = unique_address("maker")
    phone = signed_in_page(stack, mailbox, page_of, address, **PHONE)
    key = create_cotonoma(phone, "Just made")
    phone.locator(f"#timeline .coto-cotonoma-link[data-key='{key}']").click()
    expect(phone.locator("#cotonoma-title")).to_have_text("Just made")
    toggle = phone.locator("#members-toggle")
    expect(toggle).to_have_text("Only you")
    expect(toggle).to_have_attribute("aria-expanded", "true")  # nobody yet: open, to show how
    expect(phone.locator("#member-email")).to_be_visible()
    toggle.click()
    expect(phone.locator("#members-panel")).to_be_hidden()
    expect_note_box_on_first_screen(phone)


def test_a_desktop_keeps_its_compact_controls(stack, mailbox, page_of, owner: Person):  # noqa: F811
    room = owner.create("Desk")
    owner.post("written at a desk", room["key"])
    desk = signed_in_page(stack, mailbox, page_of, owner.address, f"/cotonomas/{room['key']}", **DESKTOP)
    coto = desk.locator("#timeline .coto").first
    expect(coto).to_be_visible()
    edit = coto.locator(".coto-edit").bounding_box()
    crumb = desk.locator("#breadcrumbs a").first.bounding_box()
    assert edit and edit["height"] < TOUCH, edit
    assert crumb and crumb["height"] < TOUCH, crumb
    expect(desk.locator("#new-cotonoma-button")).to_have_accessible_name("New cotonoma")
    expect(desk.locator(".new-cotonoma-label")).to_be_visible()  # the word beside the (+)
    expect(desk.locator("#sidebar")).to_be_visible()
    expect_note_box_on_first_screen(desk)
