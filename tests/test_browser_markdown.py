"""Markdown in cotos (issue 15) in a real browser: what each construct is drawn as,
links and their rel, read-only task lists, the code block's copy button, the composer's
Write/Preview toggle (and a coto's, edited in place), long cotos folded, and a phone's
width. What must never come through (script, unsafe links, images) is in
test_attacks_browser.py."""

import re

from playwright.sync_api import expect
from test_browser import chromium, page_of, post  # noqa: F401  (fixtures, shared)

FENCE = "`" * 3
MARKDOWN = f"""# A heading
## Second level
###### Sixth level

Some *emphasis*, **strong** and ~~struck~~ text, with `inline code`.

1. first
2. second

- apple
- banana

+ [ ] to do
+ [x] done

> quoted

| name | count |
|:-----|------:|
| a    | 1     |

{FENCE}python
print("hi")
    indented = True
{FENCE}

See https://example.org/page and [a link](https://example.com "Example"), or mail someone@example.com."""
REL = "noopener noreferrer nofollow ugc"


def test_markdown_is_drawn_as_elements(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/")
    post(page, MARKDOWN)
    content = page.locator("#timeline .coto").first.locator(".coto-content")
    # Headings sit under the timeline's h2: a coto's h1 is an h3 and so on, h6 at most.
    expect(content.locator("h3.md-h1")).to_have_text("A heading")
    expect(content.locator("h4.md-h2")).to_have_text("Second level")
    expect(content.locator("h6.md-h6")).to_have_text("Sixth level")
    assert content.locator("h1, h2").count() == 0
    expect(content.locator("em")).to_have_text("emphasis")
    expect(content.locator("strong")).to_have_text("strong")
    expect(content.locator("s")).to_have_text("struck")
    expect(content.locator("p > code")).to_have_text("inline code")
    expect(content.locator("ol > li")).to_have_text(["first", "second"])
    expect(content.locator("ul:not(.md-task-list) > li")).to_have_text(["apple", "banana"])
    expect(content.locator("blockquote")).to_have_text("quoted")
    # A task list: read-only checkboxes, the marker gone from the text.
    tasks = content.locator("ul.md-task-list > li")
    expect(tasks).to_have_text(["to do", "done"])
    boxes = tasks.locator("input[type=checkbox]")
    expect(boxes).to_have_count(2)
    for box in boxes.all():
        expect(box).to_be_disabled()
    expect(boxes.nth(0)).not_to_be_checked()
    expect(boxes.nth(1)).to_be_checked()
    boxes.nth(0).click(force=True)
    expect(boxes.nth(0)).not_to_be_checked()
    # A table, its alignment as classes (the page's CSP refuses style attributes).
    expect(content.locator(".md-table > table th")).to_have_text(["name", "count"])
    expect(content.locator("table td")).to_have_text(["a", "1"])
    expect(content.locator("table td").nth(1)).to_have_class(re.compile(r"\bmd-align-right\b"))
    # A fenced code block, as written (indentation kept), with its language.
    expect(content.locator(".md-code .md-code-language")).to_have_text("python")
    code = content.locator(".md-code pre > code")
    assert code.text_content() == 'print("hi")\n    indented = True'
    assert (
        code.evaluate("c => getComputedStyle(c).fontFamily").lower()
        != page.evaluate("getComputedStyle(document.body).fontFamily").lower()
    )
    # Links: an address in the text, a Markdown link with its title, a mail address.
    links = content.locator("a")
    expect(links).to_have_text(["https://example.org/page", "a link", "someone@example.com"])
    assert [a.get_attribute("href") for a in links.all()] == [
        "https://example.org/page",
        "https://example.com/",
        "mailto:someone@example.com",
    ]
    for a in links.all():
        assert a.get_attribute("rel") == REL
    expect(links.nth(0)).to_have_attribute("target", "_blank")
    expect(links.nth(1)).to_have_attribute("target", "_blank")
    expect(links.nth(1)).to_have_attribute("title", "Example")
    assert links.nth(2).get_attribute("target") is None
    # Drawn the same after a reload, from what the server kept.
    page.reload()
    expect(page.locator("#timeline .coto").first.locator(".coto-content h3")).to_have_text("A heading")


def test_the_copy_button_copies_a_code_block(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/", permissions=["clipboard-read", "clipboard-write"])
    post(page, f"Run this:\n\n{FENCE}\nmake up\nmake test\n{FENCE}")
    copy = page.locator("#timeline .coto").first.get_by_role("button", name="Copy the code")
    expect(copy).to_have_text("Copy")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "make up\nmake test"
    expect(copy).to_have_text("Copy", timeout=5000)


def test_the_composer_previews_the_draft(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/")
    write = page.locator("#composer").get_by_role("button", name="Write", exact=True)
    preview = page.locator("#composer").get_by_role("button", name="Preview", exact=True)
    expect(write).to_have_attribute("aria-pressed", "true")
    expect(preview).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#coto-preview")).to_be_hidden()
    # Nothing written yet: the preview says so.
    preview.click()
    expect(page.locator("#coto-preview")).to_have_text("Nothing to preview yet.")
    write.click()
    expect(page.locator("#coto-input")).to_be_focused()
    page.fill("#coto-input", "**bold** and a [link](https://example.com)\n\n- one\n- two")
    # By keyboard: Tab to Preview, Enter.
    preview.focus()
    page.keyboard.press("Enter")
    expect(preview).to_have_attribute("aria-pressed", "true")
    expect(write).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#coto-input")).to_be_hidden()
    shown = page.locator("#coto-preview")
    expect(shown).to_be_visible()
    expect(shown.locator("strong")).to_have_text("bold")
    expect(shown.locator("a")).to_have_attribute("href", "https://example.com/")
    expect(shown.locator("li")).to_have_text(["one", "two"])
    # Back to writing with Space: the draft is as it was.
    write.focus()
    page.keyboard.press("Space")
    expect(page.locator("#coto-input")).to_be_visible()
    expect(page.locator("#coto-input")).to_have_value("**bold** and a [link](https://example.com)\n\n- one\n- two")
    expect(shown).to_be_hidden()
    # Posting from the preview (Ctrl+Enter on its button) posts the draft and goes back to writing.
    preview.click()
    page.keyboard.press("Control+Enter")
    expect(page.locator("#timeline .coto").first.locator(".coto-content strong")).to_have_text("bold")
    expect(page.locator("#coto-input")).to_be_visible()
    expect(page.locator("#coto-input")).to_have_value("")
    expect(write).to_have_attribute("aria-pressed", "true")


def test_a_coto_edited_in_place_previews_too(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/")
    post(page, "plain")
    coto = page.locator("#timeline .coto").first
    coto.locator(".coto-edit").click()
    coto.locator(".coto-edit-input").fill("now *emphasised*")
    coto.get_by_role("button", name="Preview", exact=True).click()
    expect(coto.locator(".coto-edit-input")).to_be_hidden()
    expect(coto.locator(".write-preview-area em")).to_have_text("emphasised")
    coto.get_by_role("button", name="Save").click()
    expect(coto.locator(".coto-content em")).to_have_text("emphasised")
    expect(page.locator("#timeline .coto-content")).to_have_count(1)


def test_a_long_coto_folds(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/")
    post(page, "\n".join(f"line {n}" for n in range(1, 41)))
    post(page, "a short coto\nof two lines")
    short, long = page.locator("#timeline .coto").all()
    line = long.locator(".coto-content").evaluate("c => parseFloat(getComputedStyle(c).lineHeight)")
    # The short one is left alone.
    expect(short.locator(".coto-fold")).to_be_hidden()
    expect(short.locator(".coto-content")).not_to_have_class(re.compile(r"\bis-folded\b"))

    content, fold = long.locator(".coto-content"), long.locator(".coto-fold")
    expect(content).to_have_class(re.compile(r"\bis-folded\b"))
    expect(fold).to_have_text("Show more")
    expect(fold).to_have_attribute("aria-expanded", "false")
    expect(fold).to_have_attribute("aria-controls", content.get_attribute("id") or "missing")
    assert content.bounding_box()["height"] <= 16.5 * line
    fold.click()
    expect(fold).to_have_text("Show less")
    expect(fold).to_have_attribute("aria-expanded", "true")
    expect(content).not_to_have_class(re.compile(r"\bis-folded\b"))
    assert content.bounding_box()["height"] >= 39 * line
    expect(content.get_by_text("line 40")).to_be_visible()
    fold.press("Enter")  # by keyboard
    expect(fold).to_have_text("Show more")
    expect(content).to_have_class(re.compile(r"\bis-folded\b"))
    # Folded again when the page is loaded anew.
    page.reload()
    expect(page.locator("#timeline .coto").nth(1).locator(".coto-content")).to_have_class(re.compile(r"\bis-folded\b"))
    expect(page.locator("#timeline .coto-fold:visible")).to_have_count(1)


def test_wide_tables_and_code_scroll_within_the_coto_on_a_phone(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/", viewport={"width": 390, "height": 800}, is_mobile=True, has_touch=True)
    columns = [f"column{n}" for n in range(1, 13)]
    table = "| " + " | ".join(columns) + " |\n|" + "---|" * 12 + "\n| " + " | ".join("value" for _ in columns) + " |"
    post(page, f"{table}\n\n{FENCE}\n{'x = 1; ' * 40}\n{FENCE}", how="button")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing overflows the page sideways"
    content = page.locator("#timeline .coto").first.locator(".coto-content")
    for scroller in (content.locator(".md-table"), content.locator(".md-pre")):
        assert scroller.evaluate("s => s.scrollWidth > s.clientWidth"), "it scrolls sideways itself"
        box = scroller.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
