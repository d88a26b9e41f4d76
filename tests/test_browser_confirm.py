"""The confirm page of a link that would save someone's memo pad, in a real
browser: it says how many cotos from the browser that asked would be saved,
and signing in without them leaves them where they were."""

from playwright.sync_api import expect
from test_browser import chromium, page_of, post  # noqa: F401  (fixtures, shared)
from test_browser_signin import ask_for_link, expect_signed_in, hint, signin_link, unique_address

THREE = ["pushed one", "pushed two", "pushed three"]


def test_the_confirm_page_tells_of_the_cotos_and_declining_leaves_them(stack, page_of):  # noqa: F811
    # Someone asks for a link to another's address, saving their own pad.
    asker = page_of(stack.url + "/")
    for text in THREE:
        post(asker, text)
    email = unique_address()
    ask_for_link(asker, email, save_anonymous=True)

    # The address's owner opens the link in their own browser.
    owner = page_of(signin_link(stack, email, set()))
    card = owner.locator("#confirm-signin")
    expect(card).to_contain_text(f"Sign in as {hint(email)}")
    told = owner.locator("#confirm-anonymous")
    expect(told).to_be_visible()
    expect(told).to_contain_text("3 cotos from the browser that asked will be saved")
    owner.get_by_role("button", name="Sign in without them").click()

    expect_signed_in(owner, email)
    expect(owner).to_have_url(stack.url + "/")
    expect(owner.locator("#timeline-status")).to_contain_text("Nothing here yet")
    expect(owner.locator("#timeline .coto")).to_have_count(0)
    owner.reload()
    expect_signed_in(owner, email)
    expect(owner.locator("#timeline .coto")).to_have_count(0)

    # The asking browser's pad is as it was.
    asker.reload()
    expect(asker.locator("#timeline .coto-content")).to_have_text(THREE[::-1])


def test_a_link_saving_nothing_says_nothing_of_it(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/")
    email = unique_address()
    ask_for_link(page, email, save_anonymous=False)
    page.goto(signin_link(stack, email, set()))
    expect(page.locator("#confirm-signin")).to_contain_text(f"Sign in as {hint(email)}")
    expect(page.locator("#confirm-anonymous")).to_be_hidden()
    expect(page.locator("#confirm-decline")).to_be_hidden()
    page.click("#confirm-button")
    expect_signed_in(page, email)
