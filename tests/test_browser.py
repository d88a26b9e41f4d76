"""The memo pad in a real browser: Debian's Chromium driven by Playwright."""

import re

import pytest
from playwright.sync_api import expect, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_of(chromium):
    """Pages in separate browser contexts: separate cookie jars, like separate browsers."""
    contexts, problems = [], []

    def open_page(url: str, **context_options):
        context = chromium.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
        page.goto(url)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert problems == [], "no script errors and no CSP violations"


def post(page, text: str, how: str = "Control+Enter") -> None:
    count = page.locator("#timeline .coto").count()
    page.fill("#coto-input", text)
    if how == "button":
        page.click("#post-button")
    else:
        page.press("#coto-input", how)
    expect(page.locator("#timeline .coto")).to_have_count(count + 1)
    expect(page.locator("#coto-input")).to_have_value("")


def test_post_with_ctrl_enter_survives_a_reload(stack, page_of):
    page = page_of(stack.url + "/")
    post(page, "first thought")
    post(page, "second thought\nwith a second line", how="button")
    contents = page.locator("#timeline .coto-content")
    expect(contents).to_have_text(["second thought\nwith a second line", "first thought"])
    expect(page.locator("#timeline .coto time").first).to_have_attribute(
        "datetime", re.compile(r"^\d{4}-\d\d-\d\dT.*Z$")
    )
    page.reload()
    expect(page.locator("#timeline .coto-content")).to_have_text(
        ["second thought\nwith a second line", "first thought"]
    )


def test_posting_again_after_a_lost_answer_posts_once(stack, page_of):
    page = page_of(stack.url + "/")
    keys = []

    def lose_the_first_answer(route):
        keys.append(route.request.headers.get("idempotency-key"))
        if len(keys) == 1:
            route.fetch()  # the server makes the coto...
            route.abort("connectionreset")  # ...but its answer never reaches the page
        else:
            route.continue_()

    page.route(
        "**/api/cotos",
        lambda route: lose_the_first_answer(route) if route.request.method == "POST" else route.continue_(),
    )
    page.fill("#coto-input", "posted once")
    page.click("#post-button")
    expect(page.locator("#error-area .error")).to_contain_text("not posted")
    expect(page.locator("#coto-input")).to_have_value("posted once")
    page.click("#post-button")
    expect(page.locator("#coto-input")).to_have_value("")
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1], "the retry carried the same Idempotency-Key"
    page.unroute("**/api/cotos")
    page.reload()
    expect(page.locator("#timeline .coto-content")).to_have_text(["posted once"])


def test_another_browser_does_not_see_my_cotos(stack, page_of):
    mine = page_of(stack.url + "/")
    post(mine, "only for me")
    theirs = page_of(stack.url + "/")
    expect(theirs.locator("#timeline-status")).to_be_visible()
    expect(theirs.locator("#timeline .coto")).to_have_count(0)
    post(theirs, "theirs")
    mine.reload()
    expect(mine.locator("#timeline .coto-content")).to_have_text(["only for me"])


def test_html_in_a_coto_stays_text(stack, page_of):
    page = page_of(stack.url + "/")
    attack = "<img src=x onerror=window.__pwned=1><script>window.__pwned=2</script>"
    post(page, attack)
    page.reload()
    coto = page.locator("#timeline .coto").first
    expect(coto.locator(".coto-content")).to_have_text(attack)
    assert coto.locator("img, script").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_the_author_deletes_a_coto(stack, page_of):
    page = page_of(stack.url + "/")
    post(page, "keep")
    post(page, "throw away")
    doomed = page.locator("#timeline .coto").first
    doomed.locator(".coto-delete").click()
    doomed.locator(".coto-delete-confirm").click()
    expect(page.locator("#timeline .coto-content")).to_have_text(["keep"])
    page.reload()
    expect(page.locator("#timeline .coto-content")).to_have_text(["keep"])


def test_usable_at_phone_width(stack, page_of):
    page = page_of(stack.url + "/", viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    post(page, "from the phone", how="button")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, "nothing overflows sideways"
    box = page.locator("#post-button").bounding_box()
    assert box["x"] + box["width"] <= 360 and box["height"] >= 32
