"""The list of cotonomas as trees, in a real browser: each cotonoma under its
parent, in "My cotonomas" and in "Shared with me" alike; a disclosure button
per parent, by mouse and by keyboard, what is open kept for the session; the way
down to the cotonoma on screen opened; a shared one marked on its name's line,
a long name cut short with the whole of it in a title; pages of the list that
bring a cotonoma before its parent; the tree following a new sub-cotonoma."""

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from conftest import Person, unique_address
from playwright.sync_api import expect
from test_browser import chromium, page_of  # noqa: F401  (fixtures, shared)
from test_browser_cotonomas import create_cotonoma, name_of, signed_in_page

DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
LONG_NAME = "Research notes: a name far too long for the sidebar"[:50]


def share(owner: Person, key: str, address: str) -> None:
    added = owner.call("POST", f"/api/cotonomas/{key}/members", json={"email": address})
    assert added.status_code == 201, added.text


def link(page, key: str):
    return page.locator(f"#sidebar .cotonoma-link[data-key='{key}']")


def toggle(page, key: str):
    return page.locator(f"#sidebar .cotonoma-toggle[data-key='{key}']")


def item(page, section: str, key: str):
    return page.locator(f"#{section} li.cotonoma-item[data-key='{key}']")


def link_under(page, section: str, parent_key: str, key: str):
    """The link of KEY, somewhere in the tree under PARENT_KEY's item in SECTION."""
    return item(page, section, parent_key).locator(f".cotonoma-children .cotonoma-link[data-key='{key}']")


def test_my_cotonomas_are_a_tree_opened_by_mouse_and_keyboard(stack, mailbox, page_of, owner):  # noqa: F811
    alpha = owner.create("Alpha")
    research = owner.create(LONG_NAME, alpha["key"])
    deep = owner.create("Deep dive", research["key"])
    beta = owner.create("Beta")
    share(owner, research["key"], unique_address("reader"))
    page = signed_in_page(stack, mailbox, page_of, owner.address, **DESKTOP)

    # Two roots, newest first; the others nested under their parents, closed.
    roots = page.locator("#my-cotonomas > li")
    expect(roots).to_have_count(2)
    expect(roots.locator(":scope > .cotonoma-row .cotonoma-link")).to_have_text(["Beta", "Alpha"])
    nested = link_under(page, "my-cotonomas", alpha["key"], research["key"])
    expect(nested).to_have_count(1)
    expect(nested).to_be_hidden()
    expect(toggle(page, beta["key"])).to_have_count(0)  # nothing inside: no button
    alpha_toggle = toggle(page, alpha["key"])
    expect(alpha_toggle).to_have_attribute("aria-expanded", "false")
    expect(alpha_toggle).to_have_accessible_name("Cotonomas in Alpha")
    expect(alpha_toggle).to_have_attribute("aria-controls", re.compile(".+"))
    expect(link(page, research["key"])).not_to_contain_text("in Alpha")  # where it is, said by the tree

    # The mouse opens one level.
    alpha_toggle.click()
    expect(alpha_toggle).to_have_attribute("aria-expanded", "true")
    expect(link(page, research["key"])).to_be_visible()
    expect(link(page, deep["key"])).to_be_hidden()

    # The keyboard: Tab from a link reaches the next parent's button; Enter and Space open and close.
    link(page, alpha["key"]).focus()
    page.keyboard.press("Tab")
    research_toggle = toggle(page, research["key"])
    expect(research_toggle).to_be_focused()
    page.keyboard.press("Enter")
    expect(research_toggle).to_have_attribute("aria-expanded", "true")
    expect(link(page, deep["key"])).to_be_visible()
    page.keyboard.press("Tab")
    expect(link(page, research["key"])).to_be_focused()
    page.keyboard.press("Tab")
    expect(link(page, deep["key"])).to_be_focused()
    alpha_toggle.focus()
    page.keyboard.press("Space")
    expect(alpha_toggle).to_have_attribute("aria-expanded", "false")
    expect(link(page, research["key"])).to_be_hidden()

    # The shared mark on the name's line; the long name cut short, whole in the title.
    alpha_toggle.click()
    research_link = link(page, research["key"])
    name = research_link.locator(".cotonoma-link-name").bounding_box()
    mark = research_link.locator(".cotonoma-link-shared").bounding_box()
    assert name and mark
    assert mark["x"] >= name["x"] + name["width"] - 1, "after the name"
    assert abs((mark["y"] + mark["height"] / 2) - (name["y"] + name["height"] / 2)) < name["height"] / 2, "same line"
    link_box = research_link.bounding_box()
    assert link_box and mark["x"] + mark["width"] <= link_box["x"] + link_box["width"], "inside its link"
    expect(research_link.locator(".cotonoma-link-shared")).to_have_accessible_name("shared")
    expect(research_link).to_have_attribute("title", LONG_NAME)
    assert research_link.locator(".cotonoma-link-name").evaluate("el => el.scrollWidth > el.clientWidth"), "ellipsized"

    # What is open is kept for the session: a reload opens the same.
    expect(toggle(page, research["key"])).to_have_attribute("aria-expanded", "true")
    toggle(page, research["key"]).click()
    page.reload()
    expect(toggle(page, alpha["key"])).to_have_attribute("aria-expanded", "true")
    expect(toggle(page, research["key"])).to_have_attribute("aria-expanded", "false")
    expect(link(page, deep["key"])).to_be_hidden()

    # Closed again, and going to the one deepest down: the way there opens, and it is the current page.
    toggle(page, alpha["key"]).click()
    expect(link(page, research["key"])).to_be_hidden()
    page.goto(f"{stack.url}/cotonomas/{research['key']}")
    expect(page.locator("#cotonoma-title")).to_have_text(LONG_NAME)
    expect(toggle(page, alpha["key"])).to_have_attribute("aria-expanded", "true")
    expect(toggle(page, research["key"])).to_have_attribute("aria-expanded", "true")  # the current one, open
    expect(link(page, research["key"])).to_have_attribute("aria-current", "page")
    expect(link(page, deep["key"])).to_be_visible()

    # Closed by the person while there, it stays closed when the list is drawn again: a new sub-cotonoma
    # joins it there, and the focus stays on the button.
    toggle(page, research["key"]).click()
    expect(link(page, deep["key"])).to_be_hidden()
    made = create_cotonoma(page, "Made just now")
    made_link = link_under(page, "my-cotonomas", research["key"], made)
    expect(made_link).to_have_count(1)
    expect(toggle(page, research["key"])).to_have_attribute("aria-expanded", "false")
    expect(made_link).to_be_hidden()
    toggle(page, research["key"]).focus()
    page.keyboard.press("Enter")
    expect(made_link).to_be_visible()
    expect(page.locator("#shared-cotonomas .cotonoma-link")).to_have_count(0)


def test_shared_with_me_is_nested_the_same_way(stack, mailbox, page_of, owner):  # noqa: F811
    member_address = unique_address("member")
    alpha = owner.create("Alpha")
    research = owner.create("Research", alpha["key"])
    beta = owner.create("Beta")
    inner = owner.create("Inner", beta["key"])
    deeper = owner.create("Deeper", research["key"])  # reached through Research, not in the member's list
    for key in (alpha["key"], research["key"], inner["key"]):  # not Beta
        share(owner, key, member_address)
    page = signed_in_page(stack, mailbox, page_of, member_address, **DESKTOP)

    owner_name = name_of(owner.address)
    roots = page.locator("#shared-cotonomas > li > .cotonoma-row .cotonoma-link")
    expect(roots).to_have_count(2)
    # Inner's parent is not shared with the member: it is a root there.
    expect(roots).to_have_text([re.compile(r"^Inner"), re.compile(r"^Alpha")])
    expect(link(page, inner["key"]).locator(".cotonoma-link-detail")).to_have_text(f"by {owner_name}")
    expect(link(page, alpha["key"]).locator(".cotonoma-link-detail")).to_have_text(f"by {owner_name}")
    nested = link_under(page, "shared-cotonomas", alpha["key"], research["key"])
    expect(nested).to_have_count(1)
    expect(nested).to_be_hidden()
    toggle(page, alpha["key"]).click()
    expect(nested).to_have_text("Research")  # the same owner as the one above it: not said again
    expect(nested.locator(".cotonoma-link-shared")).to_have_count(0)  # marked only on one's own
    expect(page.locator("#my-cotonomas .cotonoma-link")).to_have_count(0)
    expect(page.locator("#my-cotonomas-empty")).to_be_visible()

    # In a cotonoma the list does not hold (reached through a shared one): the way down to its parent opens.
    toggle(page, alpha["key"]).click()
    expect(nested).to_be_hidden()
    page.goto(f"{stack.url}/cotonomas/{deeper['key']}")
    expect(page.locator("#cotonoma-title")).to_have_text("Deeper")
    expect(toggle(page, alpha["key"])).to_have_attribute("aria-expanded", "true")
    expect(nested).to_be_visible()
    expect(page.locator("#sidebar [aria-current='page']")).to_have_count(0)

    # A cotonoma of one's own inside a shared one: in "My cotonomas", saying where it is.
    mine = create_cotonoma_in(page, stack, research["key"], "My corner")
    expect(link(page, mine).locator(".cotonoma-link-detail")).to_have_text("in Research")
    expect(page.locator("#my-cotonomas > li")).to_have_count(1)


def create_cotonoma_in(page, stack, key: str, name: str) -> str:
    page.goto(f"{stack.url}/cotonomas/{key}")
    expect(page.locator("#composer-label")).to_contain_text("New coto in")
    return create_cotonoma(page, name)


def test_a_cotonoma_that_comes_a_page_before_its_parent_moves_under_it(stack, mailbox, page_of, owner):  # noqa: F811
    parent = owner.create("Parent")
    children = [owner.create(f"Child {n}", parent["key"]) for n in range(3)]
    grandchild = owner.create("Grandchild", children[0]["key"])
    page = signed_in_page(stack, mailbox, page_of, owner.address, **DESKTOP)
    asked: list[str] = []

    def two_at_a_time(route):
        # The same list, in pages of two: the newest (the children) come before their parent.
        parts = urlsplit(route.request.url)
        asked.append(parts.query)
        query = urlencode([*parse_qsl(parts.query), ("limit", "2")])
        route.continue_(url=f"{parts.scheme}://{parts.netloc}{parts.path}?{query}")

    page.route(re.compile(r"/api/cotonomas(\?.*)?$"), two_at_a_time)
    page.reload()
    expect(page.locator("#my-cotonomas > li")).to_have_count(1)
    expect(page.locator("#my-cotonomas > li > .cotonoma-row .cotonoma-link")).to_have_text("Parent")
    toggle(page, parent["key"]).click()
    under = item(page, "my-cotonomas", parent["key"]).locator(":scope > .cotonoma-children > li > .cotonoma-row a")
    expect(under).to_have_text(["Child 2", "Child 1", "Child 0"])
    expect(link_under(page, "my-cotonomas", children[0]["key"], grandchild["key"])).to_have_count(1)
    assert len(asked) >= 3 and any("before=" in q for q in asked), asked
    expect(page.locator("#my-cotonomas-empty")).to_be_hidden()
    expect(page.locator("#cotonoma-list-status")).to_be_empty()
