"""Signing in with email alone in a real browser: the dialog,
the mail in maildev, the confirm page, saving the anonymous cotos, a second
device, signing out, and refreshes nobody notices."""

import base64
import json
import re
import time
import uuid

import requests
from conftest import PROFILE
from playwright.sync_api import BrowserContext, Cookie, expect
from test_browser import chromium, page_of, post  # noqa: F401  (fixtures, shared)

from cotoami_common.tokens import AccessTokenSigner, Amishi

SIGNING_KEY = PROFILE.secrets_dir / "signing-key.pem"
SAVE_LABEL = "Save the anonymous cotos (posts) into your account"


def unique_address() -> str:
    return f"ann-{uuid.uuid4().hex[:12]}@example.com"


def hint(email: str) -> str:
    """How the confirm page names an address: the whole of it (the link came in its mail)."""
    return email


def signin_link(stack, email: str, seen: set[str]) -> str:
    """The link in the newest sign-in mail to `email` that is not in `seen`, read
    from maildev's JSON API as soon as it arrives (the mailer delivers it)."""
    found = {}

    def arrived() -> bool:
        mails = requests.get(stack.inbox_url + "/email", timeout=5).json()
        fresh = [m for m in mails if m["to"][0]["address"] == email and m["id"] not in seen]
        if fresh:
            found["mail"] = fresh[-1]
        return bool(fresh)

    stack.wait_until(arrived, 10, f"a sign-in mail to {email}")
    mail = found["mail"]
    seen.add(mail["id"])
    links: list[str] = re.findall(re.escape(stack.url) + r"/signin/[A-Za-z0-9_-]+", mail["text"])
    assert links, mail["text"]
    return links[0]


def ask_for_link(page, email: str, save_anonymous: bool) -> None:
    page.click("#signin-button")
    dialog = page.locator("#signin-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#signin-email")).to_be_focused()
    page.fill("#signin-email", email)
    save = page.get_by_label(SAVE_LABEL, exact=True)
    if save_anonymous:
        expect(save).to_be_visible()
        save.check()
    else:
        expect(page.locator("#signin-save-anonymous")).to_be_hidden()
    page.press("#signin-email", "Enter")
    sent = page.locator("#signin-sent")
    expect(sent).to_be_visible()
    expect(sent).to_contain_text("Check your mail")
    expect(sent).to_contain_text(email)
    expect(sent).to_contain_text("once, within 10")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def confirm(stack, page, link: str, email: str) -> None:
    page.goto(link)
    expect(page.locator("#confirm-signin")).to_contain_text(f"Sign in as {hint(email)}")
    expect(page.locator("#confirm-email")).to_have_text(hint(email))
    page.click("#confirm-button")
    expect(page.locator("#identity .amishi-name")).to_have_text(email.split("@")[0])
    expect(page).to_have_url(stack.url + "/")  # the token has left the address bar


def expect_signed_in(page, email: str) -> None:
    name = email.split("@")[0]
    expect(page.locator("#identity .amishi-name")).to_have_text(name)
    expect(page.locator("#signout-button")).to_be_visible()
    expect(page.locator("#signin-button")).to_be_hidden()
    expect(page.locator("#account-notice")).to_contain_text("Signed in as")
    expect(page.locator("#anonymous-notice")).to_be_hidden()
    # No internet in tests, so the picture fails: the initial stays, never a broken image.
    avatar = page.locator("#identity .amishi-avatar")
    expect(avatar).to_be_visible()
    expect(avatar).to_have_text(name[0].upper())
    expect(avatar.locator("img")).to_have_count(0)


def expect_anonymous(page) -> None:
    expect(page.locator("#signin-button")).to_be_visible()
    expect(page.locator("#identity")).to_be_hidden()
    expect(page.locator("#signout-button")).to_be_hidden()
    expect(page.locator("#anonymous-notice")).to_be_visible()
    expect(page.locator("#account-notice")).to_be_hidden()


def test_sign_in_saving_the_pad_then_on_another_device(stack, page_of):  # noqa: F811
    email, seen = unique_address(), set[str]()
    mine = page_of(stack.url + "/")
    expect_anonymous(mine)
    post(mine, "first anonymous thought")
    post(mine, "second anonymous thought")

    ask_for_link(mine, email, save_anonymous=True)
    link = signin_link(stack, email, seen)
    # A mail scanner opening the link consumes nothing.
    assert requests.get(link, timeout=5).status_code == 200
    confirm(stack, mine, link, email)
    expect_signed_in(mine, email)
    name = email.split("@")[0]
    expect(mine.locator("#timeline .coto-content")).to_have_text(
        ["second anonymous thought", "first anonymous thought"]
    )
    expect(mine.locator("#timeline .coto-author-name")).to_have_text([name, name])
    post(mine, "third, signed in")
    expect(mine.locator("#timeline .coto-content").first).to_have_text("third, signed in")
    expect(mine.locator("#error-area")).to_be_empty()

    # Another device: nothing anonymous to save there, so no such choice.
    phone = page_of(stack.url + "/", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    expect(phone.locator("#timeline-status")).to_contain_text("Nothing here yet")
    ask_for_link(phone, email, save_anonymous=False)
    second_link = signin_link(stack, email, seen)
    assert second_link != link
    confirm(stack, phone, second_link, email)
    expect_signed_in(phone, email)
    expect(phone.locator("#timeline .coto-content")).to_have_text(
        ["third, signed in", "second anonymous thought", "first anonymous thought"]
    )
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375, "nothing overflows sideways"

    phone.click("#signout-button")
    expect_anonymous(phone)
    expect(phone.locator("#timeline .coto")).to_have_count(0)
    expect(phone.locator("#timeline-status")).to_contain_text("Nothing here yet")

    # A used link says so, and offers a new one.
    phone.goto(second_link)
    expect(phone.locator("#confirm-error")).to_contain_text("already used")
    expect(phone.locator("#confirm-signin")).to_be_hidden()
    phone.click("#confirm-new-link")
    expect(phone.locator("#signin-dialog")).to_be_visible()
    phone.keyboard.press("Escape")

    # Signing out on the phone ended the phone's session only.
    mine.reload()
    expect_signed_in(mine, email)
    expect(mine.locator("#timeline .coto")).to_have_count(3)


def sign_in_fresh(stack, page) -> str:
    email = unique_address()
    ask_for_link(page, email, save_anonymous=False)
    confirm(stack, page, signin_link(stack, email, set()), email)
    return email


def cookie(context: BrowserContext, name: str) -> Cookie:
    return next(c for c in context.cookies() if c["name"] == name)


def expired_copy(access_token: str) -> str:
    """An access token for the same amishi, genuinely signed, an hour past its expiry."""
    payload = access_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    signer = AccessTokenSigner(SIGNING_KEY.read_bytes(), claims["iss"], claims["aud"], lifetime_seconds=600)
    amishi = Amishi(claims["sub"], claims["email"], claims["name"], claims["picture"])
    return signer.sign(amishi, now=time.time() - 3600)


def expire_access_token(stack, context) -> str:
    access = cookie(context, "access_token")
    expired = expired_copy(access["value"])
    answer = requests.get(stack.url + "/api/cotos", cookies={"access_token": expired}, timeout=5)
    assert (answer.status_code, answer.json()["title"]) == (401, "Session expired")
    context.add_cookies([{**access, "value": expired}])
    return expired


def test_an_expired_access_token_is_refreshed_unnoticed(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/")
    email = sign_in_fresh(stack, page)
    post(page, "kept across refreshes")
    refreshes = []
    page.on("response", lambda r: refreshes.append(r.status) if r.url == stack.url + "/api/auth/refresh" else None)

    # On load: the session check and the timeline both meet the expired token,
    # and share one refresh.
    expired = expire_access_token(stack, page.context)
    page.reload()
    expect_signed_in(page, email)
    expect(page.locator("#timeline .coto-content")).to_have_text(["kept across refreshes"])
    expect(page.locator("#error-area")).to_be_empty()
    assert refreshes == [200]
    assert cookie(page.context, "access_token")["value"] != expired

    # While writing: the post is refreshed and sent again, once.
    expire_access_token(stack, page.context)
    post(page, "posted through a refresh")
    expect(page.locator("#timeline .coto-content")).to_have_text(["posted through a refresh", "kept across refreshes"])
    expect(page.locator("#error-area")).to_be_empty()
    assert refreshes == [200, 200]
    page.reload()
    expect(page.locator("#timeline .coto-content")).to_have_text(["posted through a refresh", "kept across refreshes"])


def test_an_ended_session_shows_the_anonymous_pad(stack, page_of):  # noqa: F811
    page = page_of(stack.url + "/")
    sign_in_fresh(stack, page)
    post(page, "in the account")
    expire_access_token(stack, page.context)
    refresh = cookie(page.context, "refresh_token")
    page.context.add_cookies([{**refresh, "value": "ended" + refresh["value"][5:]}])
    page.reload()
    expect_anonymous(page)
    expect(page.locator("#timeline-status")).to_contain_text("Nothing here yet")
    expect(page.locator("#timeline .coto")).to_have_count(0)
    expect(page.locator("#error-area")).to_be_empty()
    assert not [c for c in page.context.cookies() if c["name"] in ("access_token", "refresh_token")]
