"""Connections and the stock in a real browser (issue 18): a coto is pinned from its Pin button and
shows in the stock; cotos are selected with Connect and connected to another with a linking phrase,
which the stock and the coto's connections show and its maker changes; the stock's items move with
Alt+ArrowUp/Down (said in its status region) and keep their order after a reload; the graph view
draws the stock (Cytoscape's nodes, edges and labels read from its instance) and a click on a node
opens that coto in its place; a member sees a pin and a connection made by another arrive live;
axe finds nothing on the stock, the dialogs and the graph view, on a desktop and on a phone."""

import re
from typing import Any

import pytest
from conftest import unique_address
from playwright.sync_api import expect
from test_browser import chromium, page_of, post  # noqa: F401  (fixtures, shared)
from test_browser_cotonomas import signed_in_page
from test_browser_live import shared_cotonoma
from test_browser_pages import VIEWPORTS, assert_accessible
from test_browser_phone import PHONE, at_least_a_fingertip

LIVE_MS = 3000  # a pin or a connection made by another member shows within this, without a reload

# What Cytoscape drew: every node's label, every edge as (source label, target label, label).
DRAWN = """() => {
  const cy = document.getElementById('graph-canvas')._cyreg.cy;
  const label = (id) => cy.getElementById(id).data('label');
  return {
    nodes: cy.nodes().map((n) => n.data('label')).sort(),
    edges: cy.edges().map((e) => [label(e.data('source')), label(e.data('target')), e.data('label')]).sort(),
  };
}"""
# Where a node is on the page, to click it.
NODE_AT = """(label) => {
  const canvas = document.getElementById('graph-canvas');
  const node = canvas._cyreg.cy.nodes().filter((n) => n.data('label') === label)[0];
  const at = node.renderedPosition(), box = canvas.getBoundingClientRect();
  return { x: box.left + at.x, y: box.top + at.y, id: node.id() };
}"""


def coto(page, text: str):
    content = page.locator(".coto-content", has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))
    return page.locator("#timeline .coto").filter(has=content)


def stock_items(page):
    """The stock's pins, each its own text (not its children's)."""
    return page.locator("#stock-list > .stock-item > .stock-row .stock-link")


def pin(page, text: str) -> None:
    button = coto(page, text).locator(".coto-pin")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")


def connect(page, targets: list[str], to: str, phrase: str = "") -> None:
    """Selects the targets with Connect, then 'Connect here' on `to`: from it to them, with the phrase."""
    for text in targets:
        coto(page, text).locator(".coto-connect").click()
        expect(coto(page, text)).to_have_class(re.compile(r"\bis-selected\b"))
    n = len(targets)
    expect(page.locator("#selection-bar")).to_contain_text(f"{n} {'coto' if n == 1 else 'cotos'} selected.")
    coto(page, to).locator(".coto-connect-here").click()
    expect(page.locator("#connect-dialog")).to_be_visible()
    page.fill("#connect-phrase", phrase)
    page.click("#connect-submit")
    expect(page.locator("#connect-dialog")).to_be_hidden()
    expect(page.locator("#selection-bar")).to_be_hidden()
    expect(page.locator("#timeline .coto.is-selected")).to_have_count(0)


def test_pin_connect_reorder_and_draw_the_stock(stack, mailbox, page_of):  # noqa: F811
    page = signed_in_page(stack, mailbox, page_of, unique_address(), viewport=VIEWPORTS["desktop"])
    for text in ("alpha", "beta", "gamma"):
        post(page, text)
    expect(page.locator("#stock-summary")).to_have_text(re.compile("Nothing pinned"))

    pin(page, "alpha")
    pin(page, "gamma")
    expect(stock_items(page)).to_have_text(["alpha", "gamma"])

    # alpha -> beta "is an example of"; a phrase over 200 characters cannot be sent.
    coto(page, "beta").locator(".coto-connect").click()
    coto(page, "alpha").locator(".coto-connect-here").click()
    page.fill("#connect-phrase", "x" * 201)
    expect(page.locator("#connect-submit")).to_be_disabled()
    expect(page.locator("#connect-phrase-count")).to_have_class(re.compile(r"\bis-over\b"))
    page.keyboard.press("Escape")
    coto(page, "beta").locator(".coto-connect").click()  # unselected
    connect(page, ["beta"], to="alpha", phrase="is an example of")
    under_alpha = page.locator("#stock-list > .stock-item").first.locator(".stock-children .stock-body")
    expect(under_alpha).to_have_text(["is an example of beta"])

    # Its connections: the maker changes the phrase.
    coto(page, "alpha").locator(".coto-connections").click()
    dialog = page.locator("#connections-dialog")
    expect(dialog.locator("#connections-outgoing .connection-row")).to_have_text(["is an example ofbeta"])
    expect(dialog.locator("#connections-incoming .connection")).to_have_count(0)
    dialog.locator(".connection-edit-button").click()
    dialog.locator(".connection-phrase-input").fill("leads to")
    dialog.locator(".connection-save").click()
    expect(dialog.locator("#connections-outgoing .connection-phrase")).to_have_text(["leads to"])
    page.keyboard.press("Escape")
    expect(under_alpha).to_have_text(["leads to beta"])

    # Alt+ArrowDown moves the focused pin, said, and kept (twice in a row: no read of the stock
    # meanwhile puts it back).
    pin(page, "beta")
    expect(stock_items(page)).to_have_text(["alpha", "gamma", "beta"])
    stock_items(page).first.focus()
    page.keyboard.press("Alt+ArrowDown")
    page.keyboard.press("Alt+ArrowDown")
    expect(stock_items(page)).to_have_text(["gamma", "beta", "alpha"])
    expect(stock_items(page).nth(2)).to_be_focused()
    expect(page.locator("#stock-announcer")).to_have_text("Moved “alpha” down: 3 of 3.")
    page.wait_for_timeout(500)  # the PUTs are on their way
    expect(stock_items(page)).to_have_text(["gamma", "beta", "alpha"])
    page.reload()
    expect(stock_items(page)).to_have_text(["gamma", "beta", "alpha"])

    # The graph of the stock: home, its three pins, and what alpha connects to.
    page.click("#stock-graph")
    expect(page.locator("#graph-canvas")).to_have_attribute("data-nodes", "4")
    drawn: dict[str, Any] = page.evaluate(DRAWN)
    assert drawn == {
        "nodes": ["Home", "alpha", "beta", "gamma"],
        "edges": [["Home", "alpha", ""], ["Home", "beta", ""], ["Home", "gamma", ""], ["alpha", "beta", "leads to"]],
    }
    expect(page.locator("#graph-list .graph-list-link")).to_have_text(["gamma", "beta", "alpha"])
    node = page.evaluate(NODE_AT, "beta")
    page.mouse.click(node["x"], node["y"])
    expect(page.locator("#graph-dialog")).to_be_hidden()
    expect(page).to_have_url(f"{stack.url}/#coto-{node['id']}")
    expect(coto(page, "beta")).to_be_focused()


def test_a_member_sees_a_pin_and_a_connection_arrive_live(stack, mailbox, page_of):  # noqa: F811
    owner, member, _key, _, _ = shared_cotonoma(stack, mailbox, page_of, "Concept map")
    post(owner, "cause")
    post(owner, "effect")
    expect(member.locator("#timeline .coto-content")).to_have_text(["effect", "cause"], timeout=LIVE_MS)
    pin(owner, "cause")
    expect(stock_items(member)).to_have_text(["cause"], timeout=LIVE_MS)
    expect(coto(member, "cause").locator(".coto-pin")).to_have_attribute("aria-pressed", "true")
    # The member's graph of the stock, open meanwhile, is drawn again with the new connection.
    member.click("#stock-graph")
    expect(member.locator("#graph-canvas")).to_have_attribute("data-nodes", "2")
    connect(owner, ["effect"], to="cause", phrase="causes")
    expect(member.locator("#graph-canvas")).to_have_attribute("data-nodes", "3", timeout=LIVE_MS)
    assert ["cause", "effect", "causes"] in member.evaluate(DRAWN)["edges"]
    member.keyboard.press("Escape")
    expect(member.locator("#stock-list .stock-children .stock-body")).to_have_text(["causes effect"], timeout=LIVE_MS)
    # The member's own panel of the coto shows it, without Edit (not theirs to change).
    coto(member, "effect").locator(".coto-connections").click()
    incoming = member.locator("#connections-incoming .connection")
    expect(incoming).to_have_count(1)
    expect(incoming.locator(".connection-phrase")).to_have_text("causes")
    expect(incoming.locator(".connection-edit-button")).to_have_count(0)


@pytest.mark.parametrize("context", [{"viewport": VIEWPORTS["desktop"]}, PHONE], ids=["desktop", "phone"])
def test_the_stock_its_dialogs_and_the_graph_view_are_accessible(stack, mailbox, page_of, context):  # noqa: F811
    page = signed_in_page(stack, mailbox, page_of, unique_address(), **context)
    post(page, "one")
    post(page, "two")
    pin(page, "one")
    connect(page, ["two"], to="one", phrase="is a part of")
    expect(page.locator("#stock-list .stock-children .stock-body")).to_have_text(["is a part of two"])
    assert_accessible(page, "home with its stock")

    # Reordering without dragging: a tap on Move up (big enough for a finger on a phone).
    pin(page, "two")
    expect(stock_items(page)).to_have_text(["one", "two"])
    page.click("#stock-reorder")
    expect(page.locator("#stock-reorder")).to_have_attribute("aria-pressed", "true")
    if context is PHONE:
        at_least_a_fingertip(page.locator("#stock-list .stock-move"))
    assert_accessible(page, "the stock, reordering")
    page.locator("#stock-list > .stock-item").nth(1).get_by_role("button", name="Move two up").first.click()
    expect(stock_items(page)).to_have_text(["two", "one"])
    expect(page.locator("#stock-announcer")).to_have_text("Moved “two” up: 1 of 2.")
    page.click("#stock-reorder")
    expect(page.locator("#stock-list .stock-move").first).to_be_hidden()

    toggle = page.locator("#stock-list .stock-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#stock-list .stock-children")).to_be_hidden()
    coto(page, "one").locator(".coto-connect").click()
    expect(page.locator("#selection-bar")).to_be_visible()
    assert_accessible(page, "a coto selected to connect")
    coto(page, "two").locator(".coto-connect-here").click()
    assert_accessible(page, "the connect dialog")
    page.keyboard.press("Escape")
    page.click("#selection-clear")
    coto(page, "one").locator(".coto-connections").click()
    expect(page.locator("#connections-outgoing .connection")).to_have_count(1)
    assert_accessible(page, "a coto's connections")
    page.click("#connections-graph")
    expect(page.locator("#graph-canvas")).to_have_attribute("data-nodes", "2")
    assert_accessible(page, "the graph of a coto's neighbourhood")
    box = page.locator("#graph-canvas").bounding_box()
    size = page.viewport_size
    assert box and size and box["x"] >= 0 and box["x"] + box["width"] <= size["width"], "the graph fits the screen"


def test_drag_a_connected_coto_then_delete_its_connection_and_unpin(stack, mailbox, page_of):  # noqa: F811
    page = signed_in_page(stack, mailbox, page_of, unique_address(), viewport=VIEWPORTS["desktop"])
    for text in ("root", "first", "second"):
        post(page, text)
    pin(page, "root")
    connect(page, ["first", "second"], to="root")
    children = page.locator("#stock-list .stock-children .stock-link")
    expect(children).to_have_text(["first", "second"])  # in the order they were selected

    # Dragged among its siblings: kept after a reload.
    page.locator("#stock-list .stock-children > .stock-item").nth(1).drag_to(children.first)
    expect(children).to_have_text(["second", "first"])
    expect(page.locator("#stock-announcer")).to_have_text("Moved “second”: 1 of 2.")
    page.wait_for_timeout(300)  # the PUT is on its way
    page.reload()
    expect(children).to_have_text(["second", "first"])

    # A connection is deleted once asked; the stock follows.
    coto(page, "root").locator(".coto-connections").click()
    row = page.locator("#connections-outgoing .connection").filter(has_text="first")
    row.locator(".connection-delete").click()
    expect(row).to_contain_text("Delete this connection?")
    row.locator(".connection-delete-confirm").click()
    expect(page.locator("#connections-outgoing .connection-link")).to_have_text(["second"])
    page.keyboard.press("Escape")
    expect(children).to_have_text(["second"])

    # Unpinned from the stock: gone from it, and the coto's Pin says so.
    page.get_by_role("button", name="Unpin root").click()
    expect(stock_items(page)).to_have_count(0)
    expect(coto(page, "root").locator(".coto-pin")).to_have_attribute("aria-pressed", "false")


def test_a_hubs_connections_come_fifty_at_a_time(stack, mailbox, page_of):  # noqa: F811
    """A coto with 53 connections: the dialog lists the first 50, then the rest on "Show more",
    in their order; the graph view draws the first page and says so."""
    page = signed_in_page(stack, mailbox, page_of, unique_address(), viewport=VIEWPORTS["desktop"])

    def api(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = page.request.post(f"{stack.url}{path}", data=body, headers={"Origin": stack.url})
        assert answer.status == 201, answer.text()
        result: dict[str, Any] = answer.json()
        return result

    spokes = [api("/api/cotos", {"content": f"spoke {n:02d}"})["coto"] for n in range(53)]
    page.reload()
    post(page, "hub")  # the newest: on the timeline's first page
    hub_id = coto(page, "hub").get_attribute("data-id")
    for spoke in spokes:
        api("/api/graph/connections", {"start": hub_id, "end": spoke["id"]})
    coto(page, "hub").locator(".coto-connections").click()
    rows = page.locator("#connections-outgoing .connection-link")
    expect(rows).to_have_count(50)
    more = page.locator("#connections-more-outgoing")
    expect(more).to_be_visible()
    expect(page.locator("#connections-more-incoming")).to_be_hidden()
    more.click()
    expect(rows).to_have_text([f"spoke {n:02d}" for n in range(53)])
    expect(more).to_be_hidden()

    page.click("#connections-graph")
    expect(page.locator("#graph-status")).to_contain_text("the first 50 connections each way")
    assert len(page.evaluate(DRAWN)["edges"]) == 50


def test_an_anonymous_pad_has_no_stock_and_no_graph_buttons(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/")
    post(page, "an anonymous note")
    expect(page.locator("#stock")).to_be_hidden()
    expect(page.locator("#timeline .coto-pin, #timeline .coto-connect, #timeline .coto-connections")).to_have_count(0)


def test_a_cycle_is_drawn_once_and_a_phrase_stays_text(stack, mailbox, page_of):  # noqa: F811
    page = signed_in_page(stack, mailbox, page_of, unique_address(), viewport=VIEWPORTS["desktop"])
    post(page, "hen")
    post(page, "egg")
    pin(page, "hen")
    phrase = '<img src=x onerror="window.pwned=1">'
    connect(page, ["egg"], to="hen", phrase=phrase)
    connect(page, ["hen"], to="egg", phrase="hatches into")
    # hen > egg > hen, the second hen without what it leads to (the service walks the cycle once).
    rows = page.locator("#stock-list .stock-body")
    expect(rows).to_have_text(["hen", f"{phrase} egg", "hatches into hen"])
    expect(page.locator("#stock-list img")).to_have_count(0)
    connect(page, ["egg"], to="hen", phrase="again")  # connected already (409): done, nothing doubled
    expect(page.locator("#error-area")).to_be_empty()
    expect(rows).to_have_text(["hen", f"{phrase} egg", "hatches into hen"])
    page.click("#stock-graph")
    expect(page.locator("#graph-canvas")).to_have_attribute("data-nodes", "3")
    drawn: dict[str, Any] = page.evaluate(DRAWN)
    assert drawn["edges"] == [["Home", "hen", ""], ["egg", "hen", "hatches into"], ["hen", "egg", phrase]]
    assert page.evaluate("window.pwned") is None


def test_the_timeline_works_while_the_graph_service_is_down(stack, mailbox, page_of, stopped):  # noqa: F811
    page = signed_in_page(stack, mailbox, page_of, unique_address(), viewport=VIEWPORTS["desktop"])
    stopped("graph")
    page.reload()
    expect(page.locator("#stock-summary")).to_contain_text("The stock could not be loaded", timeout=10000)
    post(page, "written while graph is down")  # the page works without it
    coto(page, "written while graph is down").locator(".coto-pin").click()
    expect(page.locator("#error-area")).to_contain_text("The coto was not pinned.")
    expect(coto(page, "written while graph is down").locator(".coto-pin")).to_have_attribute("aria-pressed", "false")

    stack.supervisorctl("start", "graph:*")
    stack.wait_until(lambda: stack.ready("graph"), 30, "graph ready again")
    page.click("#stock-retry")
    expect(page.locator("#stock-summary")).to_have_text("Nothing pinned yet.")
    pin(page, "written while graph is down")
    expect(stock_items(page)).to_have_text(["written while graph is down"])
