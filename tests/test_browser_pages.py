"""What a person meets around the pages, in a real browser: the gateway's 404 page, the
sign-in feedback (the whole address on the confirm page, how many anonymous cotos were
saved, a used link in a browser signed in already), a first paint that does not shift,
and axe-core's accessibility rules on every page and dialog."""

from pathlib import Path
from typing import Any

import pytest
from conftest import unique_address
from playwright.sync_api import expect
from test_browser import chromium, page_of, post  # noqa: F401  (fixtures, shared)
from test_browser_cotonomas import add_member, create_cotonoma, name_of, signed_in_page
from test_browser_signin import ask_for_link, expect_signed_in, signin_link

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}

# Every layout shift of the page, from its first paint (buffered), with what moved.
LAYOUT_SHIFTS = """
window.cotoamiShifts = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    window.cotoamiShifts.push({
      value: entry.value,
      recentInput: entry.hadRecentInput,
      moved: (entry.sources || []).map((s) => s.node ? (s.node.id || s.node.className || s.node.nodeName) : '?'),
    });
  }
}).observe({ type: 'layout-shift', buffered: true });
"""


def violations(page) -> list[str]:
    """axe-core's violations on the page once its animations are over, each with the elements at fault.
    axe goes in through the DevTools protocol (evaluate): a <script> tag (add_script_tag) would be
    inline script, which the page's policy refuses, as it should."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    found: list[str] = page.evaluate(
        r"""async () => {
          // What still moves (a coto fading in, say) first comes to rest; never a loop, and a
          // cancelled one is over too.
          const finite = document.getAnimations().filter((a) => a.effect?.getTiming().iterations !== Infinity);
          await Promise.all(finite.map((a) => a.finished.catch(() => null)));
          return (await axe.run(document)).violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n` +
            v.nodes.slice(0, 5).map((n) => `  ${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`)
              .join('\n'));
        }"""
    )
    return found


def assert_accessible(page, where: str) -> None:
    found = violations(page)
    assert found == [], f"{where}: " + "\n".join(found)


# --- the 404 page


def test_an_unknown_address_shows_the_404_page_with_a_way_home(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/nowhere")
    expect(page).to_have_title("Page not found — Cotoami")
    expect(page.get_by_role("heading", level=1)).to_have_text("There is no page at this address")
    expect(page.locator(".brand")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('.place-card')).borderTopStyle") == "solid", (
        "the app's stylesheets apply"
    )
    assert_accessible(page, "the 404 page")
    page.get_by_role("link", name="Go home").click()
    expect(page).to_have_url(stack.url + "/")
    expect(page.locator("#composer")).to_be_visible()


# --- sign-in feedback


def test_the_confirm_page_shows_the_whole_address_and_the_saved_cotos_are_told_once(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/")
    for text in ("one", "two", "three"):
        post(page, text)
    email = unique_address()
    ask_for_link(page, email, save_anonymous=True)
    link = signin_link(stack, email, set())
    page.goto(link)
    expect(page.locator("#confirm-email")).to_have_text(email)
    expect(page.locator("#confirm-signin")).to_contain_text(f"Sign in as {email}")
    assert_accessible(page, "the confirm page")
    page.click("#confirm-button")
    expect_signed_in(page, email)
    saved = page.locator("#saved-notice")
    expect(saved).to_have_text("3 cotos saved to your account.")
    expect(saved).to_have_attribute("role", "status")
    expect(page.locator("#timeline .coto")).to_have_count(3)
    page.reload()
    expect_signed_in(page, email)
    expect(page.locator("#timeline .coto")).to_have_count(3)
    expect(saved).to_be_hidden()

    # The same link again in this browser, signed in: who is signed in, not "already used".
    page.goto(link)
    already = page.locator("#confirm-already")
    expect(already).to_contain_text(f"You are signed in as {email}")
    expect(page.locator("#confirm-error")).to_be_hidden()
    expect(page.locator("#confirm-signin")).to_be_hidden()
    assert_accessible(page, "the confirm page of a used link, signed in")
    already.get_by_role("link", name="Go to your cotos").click()
    expect(page).to_have_url(stack.url + "/")
    expect(page.locator("#timeline .coto")).to_have_count(3)


def test_cotos_not_saved_yet_are_said_to_come(stack, page_of, stopped):  # noqa: F811
    """cotos down at the sign-in: auth saves the pad at a later session check, and says so meanwhile."""
    page = page_of(stack.url + "/")
    post(page, "kept for later")
    email = unique_address()
    ask_for_link(page, email, save_anonymous=True)
    link = signin_link(stack, email, set())
    stopped("cotos")
    page.goto(link)
    expect(page.locator("#confirm-anonymous")).to_contain_text("Any cotos from the browser that asked will be saved")
    page.click("#confirm-button")
    expect(page.locator("#identity .amishi-name")).to_have_text(email.split("@")[0])
    expect(page.locator("#saved-notice")).to_have_text("Your anonymous cotos will be saved to your account shortly.")


def test_signing_in_with_nothing_to_save_says_nothing_of_it(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/")
    email = unique_address()
    ask_for_link(page, email, save_anonymous=False)
    page.goto(signin_link(stack, email, set()))
    expect(page.locator("#confirm-email")).to_have_text(email)
    page.click("#confirm-button")
    expect_signed_in(page, email)
    expect(page.locator("#timeline-status")).to_contain_text("Nothing here yet")
    expect(page.locator("#saved-notice")).to_be_hidden()


def test_a_used_link_in_a_browser_signed_in_as_another_says_who(stack, mailbox, page_of):  # noqa: F811
    someone = page_of(stack.url + "/")
    used = unique_address()
    ask_for_link(someone, used, save_anonymous=False)
    link = signin_link(stack, used, set())
    someone.goto(link)
    someone.click("#confirm-button")
    expect_signed_in(someone, used)

    other = unique_address("other")
    page = signed_in_page(stack, mailbox, page_of, other)
    page.goto(link)
    expect(page.locator("#confirm-already")).to_contain_text(f"You are signed in as {other}")
    # Anonymous, the same link is used up, as before.
    anonymous = page_of(link)
    expect(anonymous.locator("#confirm-error")).to_contain_text("already used")
    expect(anonymous.locator("#confirm-already")).to_be_hidden()


# --- the first paint


def shifts_of(page) -> list[dict[str, Any]]:
    page.wait_for_timeout(1500)  # what might still move after the page looks ready
    found: list[dict[str, Any]] = page.evaluate("window.cotoamiShifts")
    return [shift for shift in found if not shift["recentInput"]]


def test_home_does_not_shift_on_an_anonymous_first_visit(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/favicon.svg")  # a fresh browser: no cookie from the site yet
    page.add_init_script(LAYOUT_SHIFTS)
    page.goto(stack.url + "/")
    expect(page.locator("#anonymous-notice")).to_be_visible()
    expect(page.locator("#timeline-status")).to_contain_text("Nothing here yet")
    assert shifts_of(page) == [], "the anonymous notice appears in the place kept for it"


def test_home_does_not_shift_for_a_browser_that_was_signed_in(stack, mailbox, page_of):  # noqa: F811
    # A wide screen, where signing in adds the column of cotonomas beside the page.
    page = signed_in_page(stack, mailbox, page_of, unique_address(), viewport=VIEWPORTS["desktop"])
    create_cotonoma(page, "A room in the list")
    page.add_init_script(LAYOUT_SHIFTS)
    page.goto(stack.url + "/")  # the next visit: drawn signed in before the session check answers
    expect(page.locator("#sidebar")).to_be_visible()
    expect(page.locator("#my-cotonomas")).to_contain_text("A room in the list")
    expect(page.locator("#timeline .coto").first).to_be_visible()
    # What may move is the list's own second part, as the first fills in (its items come
    # after the session check); the page, the header and the list's place do not.
    shifts = shifts_of(page)
    assert all(shift["moved"] == ["sidebar-section"] for shift in shifts), f"the page moved: {shifts}"
    assert sum(shift["value"] for shift in shifts) < 0.005, shifts


# --- axe-core on every page and dialog


@pytest.mark.parametrize("viewport", VIEWPORTS.values(), ids=VIEWPORTS.keys())
def test_anonymous_home_and_the_signin_dialog_are_accessible(stack, page_of, viewport):  # noqa: F811
    page = page_of(stack.url + "/", viewport=viewport)
    expect(page.locator("#anonymous-notice")).to_be_visible()
    post(page, "an anonymous *note*")
    assert_accessible(page, "anonymous home")
    page.click("#signin-button")
    expect(page.locator("#signin-dialog")).to_be_visible()
    assert_accessible(page, "the sign-in dialog")
    page.fill("#signin-email", unique_address())
    page.press("#signin-email", "Enter")
    expect(page.locator("#signin-sent")).to_be_visible()
    assert_accessible(page, "the sign-in dialog, sent")


@pytest.mark.parametrize("viewport", VIEWPORTS.values(), ids=VIEWPORTS.keys())
def test_signed_in_home_a_cotonoma_and_its_dialogs_are_accessible(stack, mailbox, page_of, viewport):  # noqa: F811
    owner = unique_address("owner")
    page = signed_in_page(stack, mailbox, page_of, owner, viewport=viewport)
    post(page, "a signed-in **note**\n\n- one\n- two")
    assert_accessible(page, "signed-in home")
    page.click("#new-cotonoma-button")
    expect(page.locator("#cotonoma-dialog")).to_be_visible()
    assert_accessible(page, "the new cotonoma dialog")
    page.keyboard.press("Escape")
    key = create_cotonoma(page, "Accessible room")
    page.goto(f"{stack.url}/cotonomas/{key}")
    expect(page.locator("#cotonoma-title")).to_have_text("Accessible room")
    post(page, "a note in the room")
    assert_accessible(page, "a cotonoma's page, its members panel open")
    add_member(page, mailbox, unique_address("member"))
    assert_accessible(page, "a cotonoma's page, shared")
    page.click("#new-cotonoma-button")
    expect(page.locator("#cotonoma-dialog")).to_be_visible()
    assert_accessible(page, "the new cotonoma dialog in a cotonoma")
    page.keyboard.press("Escape")
    expect(page.locator("#identity .amishi-name")).to_have_text(name_of(owner))
