"""Script in what people write never runs (issue 6), in a real browser: cotos
and cotonoma names full of markup stay text everywhere the page shows them.
The page_of fixture fails a test on any script error or CSP violation too."""

import pytest
from conftest import unique_address
from playwright.sync_api import expect
from test_browser import chromium, page_of, post  # noqa: F401  (fixtures, shared)
from test_browser_cotonomas import signed_in_page

# Each would set window.__pwned or open a dialog if the page ever treated it as markup or followed it.
COTOS = [
    "<script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned = 'img'\">",
    "<svg onload=\"window.__pwned = 'svg'\"><circle r=9></circle></svg>",
    "<iframe srcdoc=\"<script>parent.__pwned = 'iframe'</script>\"></iframe>",
    "<details open ontoggle=\"alert('details')\">x</details>",
    "<a href=\"javascript:window.__pwned = 'anchor'\">click me</a>",
    "[click me](javascript:window.__pwned='markdown')",
    "javascript:alert('bare link')",
    "<object data=\"data:text/html,<script>alert('object')</script>\"></object>",
    "<style>body { display: none }</style>",
    "\"><script>alert('attribute breakout')</script>",
]
NAMES = ["<img src=x onerror=alert('name')>", "<script>alert('name')</script>"]


@pytest.fixture
def watched():
    """Dialogs any page opened; a script that ran would most likely open one."""
    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    def watch(page):
        page.on("dialog", dismiss)
        return page

    yield watch
    assert dialogs == []


# Where the page shows what people wrote: each holds text alone, never an element.
WRITTEN = [
    "#timeline .coto-content:not(.coto-content-cotonoma)",
    ".coto-cotonoma-name",
    ".coto-posted-in-name",
    ".cotonoma-link-name",
    ".sub-cotonoma-name",
    ".place-title-name",
    ".breadcrumb-link",
]


def nothing_ran(page) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.locator(", ".join(f"{where} *" for where in WRITTEN)).count() == 0
    assert page.locator("a[href^='javascript:' i]").count() == 0
    expect(page.locator("body")).to_be_visible()


def test_markup_in_cotos_is_shown_as_text_and_never_runs(stack, page_of, watched):  # noqa: F811
    page = watched(page_of(stack.url + "/"))
    for text in COTOS:
        post(page, text)
    nothing_ran(page)
    page.reload()
    contents = page.locator("#timeline .coto-content")
    expect(contents).to_have_text(list(reversed(COTOS)))
    # Clicking what looks like a link does nothing either.
    contents.filter(has_text="click me").first.click()
    nothing_ran(page)


def test_markup_in_cotonoma_names_is_shown_as_text_and_never_runs(stack, mailbox, page_of, watched):  # noqa: F811
    address = unique_address("named")
    page = watched(signed_in_page(stack, mailbox, page_of, address))
    keys = []
    for name in NAMES:
        made = page.request.post(stack.url + "/api/cotonomas", data={"name": name}, headers={"Origin": stack.url})
        assert made.status == 201, made.text()
        keys.append(made.json()["cotonoma"]["key"])
    inner = page.request.post(
        stack.url + "/api/cotonomas", data={"name": NAMES[0], "parent_key": keys[1]}, headers={"Origin": stack.url}
    )
    assert inner.status == 201, inner.text()
    page.request.post(
        stack.url + "/api/cotos", data={"content": COTOS[0], "cotonoma_key": keys[0]}, headers={"Origin": stack.url}
    )
    page.reload()
    # Home: the names as cotos, in the list of cotonomas and as "posted in" labels.
    expect(page.locator("#my-cotonomas")).to_contain_text(NAMES[0])
    expect(page.locator("#timeline .coto-posted-in-name").first).to_have_text(NAMES[0])
    nothing_ran(page)
    # A cotonoma's page: its name in the title, the heading and the breadcrumbs, its child's name below.
    page.goto(f"{stack.url}/cotonomas/{keys[1]}")
    expect(page.locator("#cotonoma-title")).to_have_text(NAMES[1])
    expect(page).to_have_title(f"{NAMES[1]} — Cotoami")
    expect(page.locator("#breadcrumbs a").last).to_have_text(NAMES[1])
    expect(page.locator("#sub-cotonoma-list .sub-cotonoma-name")).to_have_text([NAMES[0]])
    nothing_ran(page)
