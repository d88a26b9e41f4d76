"""Script in what people write never runs (issue 6), in a real browser: cotos
and cotonoma names full of markup stay text everywhere the page shows them.
A coto's content is Markdown (issue 15), drawn by markdown.js from markdown-it's
tokens as a fixed set of elements: an XSS corpus of HTML, unsafe links (obfuscated
too), Markdown link tricks and images from other hosts, posted anonymously and
signed in, runs nothing, links nowhere but http, https and mailto, and loads
nothing from any host but the gateway's (every request the page makes is
recorded). The page_of fixture fails a test on any script error or CSP violation too."""

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
# Markdown's own ways in: links to script or data (in every disguise markdown-it or a browser
# might undo), reference links, autolinks, nested brackets, titles that try to close their
# quote, images from other hosts (never loaded: at most a link), HTML where Markdown allows it.
MARKDOWN_COTOS = [
    "[a](javascript:window.__pwned='a')",
    "[b](JaVaScRiPt:window.__pwned='b')",
    "[c](&#106;avascript:window.__pwned='c')",
    "[d](&#x6A;&#x61;vascript&colon;window.__pwned='d')",
    "[e](<java\tscript:window.__pwned='e'>)",
    "[f](<java\nscript:window.__pwned='f'>)",
    "[g](  javascript:window.__pwned='g'  )",
    "[h](\u2028javascript:window.__pwned='h') [h2](java\u200bscript:window.__pwned='h2')",
    "[i](vbscript:msgbox('i')) [i2](VBScript:msgbox('i2'))",
    "[j](data:text/html;base64,PHNjcmlwdD5hbGVydCgnaicpPC9zY3JpcHQ+)",
    "[k](data:text/html,<script>alert('k')</script>)",
    "[l](file:///etc/passwd) [l2](ftp://evil.example/l2) ftp://evil.example/bare",
    "<javascript:window.__pwned='autolink'> <JAVASCRIPT:alert('m')> <data:text/html,alert('n')>",
    "[ref link][ref]\n\n[ref]: javascript:window.__pwned='ref'",
    "[short ref]\n\n[short ref]: <javascript:window.__pwned='short'> \"title\"",
    "[[nested](javascript:window.__pwned='nested')](https://example.com/outer)",
    "[![x](javascript:alert('img in link'))](javascript:window.__pwned='outer')",
    '[q](https://example.com/q "a\\" onmouseover=\\"window.__pwned=\'q\'")',
    "[r](https://example.com/r 'x\" onclick=\"window.__pwned=1')",
    '[r2](https://example.com/r2 ("><img src=x onerror=alert(2)>))',
    "![s](https://evil.example/s.png)",
    "![t](//evil.example/t.png) ![](http://evil.example/blank.png)",
    "![u](javascript:window.__pwned='u') ![v](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoJ3YnKT48L3N2Zz4=)",
    '![w](data:image/png;base64,iVBORw0KGgo=) ![x](https://evil.example/x.png "title")',
    "[![y](https://evil.example/y.png)](https://evil.example/)",
    "![z][pic]\n\n[pic]: https://evil.example/ref.png",
    "<svg><script>window.__pwned='svg'</script></svg>\n\n<svg><image href=https://evil.example/svg.png /></svg>",
    '<a href="https://evil.example/" onclick="window.__pwned=\'a\'">x</a>',
    "&lt;script&gt;window.__pwned='entity'&lt;/script&gt; &#60;img src=x onerror=window.__pwned='e2'&#62;",
    "```html\n<script>window.__pwned='fence'</script>\n```\n\n    <script>window.__pwned='indented'</script>",
    "| <img src=x onerror=window.__pwned='cell'> | b |\n|---|---|\n| [c](javascript:alert('cell')) | d |",
    "- [x] <img src=x onerror=alert('task')>\n- [ ] [t](javascript:alert('task link'))",
    "`<script>alert('code')</script>` **<b onmouseover=alert('b')>bold</b>**",
    "# <img src=https://evil.example/h.png onerror=alert('heading')>\n> <iframe src=https://evil.example/>",
    '<img src="https://evil.example/raw.png"> <link rel=stylesheet href=https://evil.example/x.css>',
    "<style>@import 'https://evil.example/y.css'</style> <video><source onerror=\"window.__pwned='video'\"></video>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned='mxss'>",
    "<https://evil.example/auto> https://evil.example/plain and [mail](mailto:someone@example.com)",
]
# Images on other hosts are shown as links to them (their description the link's text).
IMAGE_LINKS = {
    "https://evil.example/s.png": "s",
    "http://evil.example/t.png": "t",
    "http://evil.example/blank.png": "http://evil.example/blank.png",
    "https://evil.example/x.png": "x",
    "https://evil.example/ref.png": "z",
}


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


# Where the page shows what people wrote as text: each holds text alone, never an element.
WRITTEN = [
    ".coto-cotonoma-name",
    ".coto-posted-in-name",
    ".cotonoma-link-name",
    ".sub-cotonoma-name",
    ".place-title-name",
    ".breadcrumb-link",
]


# Where the page draws what people wrote as Markdown: a coto's content, a draft's preview.
MARKDOWN = "#timeline .coto-content:not(.coto-content-cotonoma), .write-preview-area"
# Every element markdown.js makes, and every attribute it sets: anything else in a coto's
# content is markup that came through.
ELEMENTS = {
    *("p", "br", "h3", "h4", "h5", "h6", "strong", "em", "s", "code", "pre", "blockquote", "hr"),
    *("ul", "ol", "li", "input", "a", "div", "span", "button", "table", "thead", "tbody", "tr", "th", "td"),
}
ATTRIBUTES = {"class", "href", "rel", "target", "title", "start", "scope", "type", "disabled", "aria-label"}
REL = "noopener noreferrer nofollow ugc"
# What is inside the Markdown that markdown.js would never make.
FOREIGN = """([selector, elements, attributes]) => [...document.querySelectorAll(selector)].flatMap((root) =>
  [...root.querySelectorAll('*')].flatMap((el) => {
    const tag = el.localName;
    const odd = [...el.attributes].map((a) => a.name).filter((name) => !attributes.includes(name));
    if (!elements.includes(tag) || el.namespaceURI !== 'http://www.w3.org/1999/xhtml') odd.push('element');
    const rel = 'noopener noreferrer nofollow ugc';
    if (tag === 'a' && (!/^(https?|mailto):/.test(el.href) || el.rel !== rel)) odd.push('link');
    if (tag === 'input' && (el.type !== 'checkbox' || !el.disabled)) odd.push('input');
    if (tag === 'button' && !el.classList.contains('md-copy')) odd.push('button');
    return odd.map((what) => `${tag}: ${what}`);
  }))"""


def nothing_ran(page) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.locator(", ".join(f"{where} *" for where in WRITTEN)).count() == 0
    assert page.evaluate(FOREIGN, [MARKDOWN, sorted(ELEMENTS), sorted(ATTRIBUTES)]) == []
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


def watch_requests(page, origin: str) -> list[str]:
    """Every address the page asks for from now on, and the pages it opens."""
    asked: list[str] = []
    page.context.on("request", lambda request: asked.append(request.url))
    return asked


def loaded_nothing_elsewhere(asked: list[str], origin: str) -> None:
    assert asked, "requests were recorded"
    assert [url for url in asked if not url.startswith(origin + "/")] == [], "nothing from another host"


def markdown_is_safe(page) -> None:
    """What the corpus must come out as, on top of nothing_ran."""
    nothing_ran(page)
    timeline = page.locator("#timeline")
    for href, text in IMAGE_LINKS.items():
        link = timeline.locator(f"a.md-image-link[href='{href}']").first
        expect(link).to_have_text(text)
        expect(link).to_have_attribute("rel", REL)
    assert timeline.locator("a a").count() == 0, "no link inside a link"
    for a in timeline.locator(".coto-content a").all():
        a.hover()  # a title or attribute that broke out would run on mouseover
    # Text that only looks like a link is text: clicking it does nothing.
    for content in timeline.locator(".coto-content").all():
        if content.locator("a, button").count() == 0:
            content.click()
    nothing_ran(page)


def test_markdown_attacks_posted_anonymously_run_and_load_nothing(stack, page_of, watched):  # noqa: F811
    page = watched(page_of(stack.url + "/favicon.svg"))
    asked = watch_requests(page, stack.url)
    page.goto(stack.url + "/")
    for text in MARKDOWN_COTOS:
        post(page, text)
    markdown_is_safe(page)
    # The composer's preview draws the same way.
    page.fill("#coto-input", "\n\n".join(COTOS + MARKDOWN_COTOS))
    page.locator("#composer").get_by_role("button", name="Preview", exact=True).click()
    expect(page.locator("#coto-preview a.md-image-link")).to_have_count(len(IMAGE_LINKS))
    nothing_ran(page)
    page.reload()
    expect(page.locator("#timeline .coto")).to_have_count(len(MARKDOWN_COTOS))
    markdown_is_safe(page)
    loaded_nothing_elsewhere(asked, stack.url)


def test_markdown_attacks_posted_signed_in_run_and_load_nothing(stack, mailbox, page_of, watched):  # noqa: F811
    page = watched(signed_in_page(stack, mailbox, page_of, unique_address("marked")))
    asked = watch_requests(page, stack.url)
    for text in COTOS + MARKDOWN_COTOS:
        made = page.request.post(stack.url + "/api/cotos", data={"content": text}, headers={"Origin": stack.url})
        assert made.status == 201, made.text()
    page.reload()
    expect(page.locator("#timeline .coto")).to_have_count(len(COTOS + MARKDOWN_COTOS))
    markdown_is_safe(page)
    loaded_nothing_elsewhere(asked, stack.url)
