"""Signing in with email alone, through the gateway, the mailer and maildev."""

import hashlib
import re
import time

import pytest
import requests
from conftest import sign_in, unique_address


def test_request_mail_confirm_and_sign_out(stack, mailbox, browser):
    address = unique_address()
    started = time.monotonic()
    assert browser.post(stack.url + "/api/auth/signin", json={"email": address.upper()}, timeout=5).status_code == 202
    mail = mailbox.wait_for(address, timeout=5)[0]
    assert time.monotonic() - started < 5, "the mail arrives within 5 seconds"
    assert "10 minutes" in mail["text"] and address in mail["text"]
    link = re.search(r"/signin/([A-Za-z0-9_-]{43})", mail["text"])
    assert link, mail["text"]
    token = link.group(1)
    assert f"{stack.url}/signin/{token}" in mail["text"]

    page = browser.get(f"{stack.url}/signin/{token}", timeout=5)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "no-referrer"
    hint = browser.post(stack.url + "/api/auth/link", json={"token": token}, timeout=5)
    assert hint.json() == {"email": address, "email_hint": f"{address[0]}…@example.com", "anonymous_cotos": 0}

    confirmed = browser.post(stack.url + "/api/auth/session", json={"token": token}, timeout=5)
    assert confirmed.status_code == 200
    amishi = browser.get(stack.url + "/api/auth/session", timeout=5).json()["amishi"]
    assert amishi["email"] == address and amishi["display_name"] == address.split("@")[0]
    digest = hashlib.sha256(address.encode()).hexdigest()
    assert amishi["avatar_url"].startswith(f"{stack.url}/avatars/" + digest)

    again = requests.post(stack.url + "/api/auth/session", json={"token": token}, timeout=5)
    assert again.status_code == 410, "a link works once"

    assert browser.delete(stack.url + "/api/auth/session", timeout=5).status_code == 204
    assert browser.get(stack.url + "/api/auth/session", timeout=5).json() == {"amishi": None}
    assert browser.post(stack.url + "/api/auth/refresh", json={}, timeout=5).status_code == 401


def test_anonymous_cotos_are_saved_into_the_account(stack, mailbox, browser):
    texts = ["first anonymous", "second anonymous", "third anonymous"]
    posted = [browser.post(stack.url + "/api/cotos", json={"content": t}, timeout=5).json()["coto"] for t in texts]
    address = unique_address()
    token = mailbox.new_link_token(
        address,
        lambda: browser.post(
            stack.url + "/api/auth/signin", json={"email": address, "save_anonymous": True}, timeout=5
        ),
    )
    # Confirmed on another device: the pad of the browser that asked is saved all the same.
    other_device = requests.Session()
    other_device.headers["Origin"] = stack.url
    assert other_device.post(stack.url + "/api/auth/session", json={"token": token}, timeout=5).ok
    saved = other_device.get(stack.url + "/api/cotos", timeout=5).json()["cotos"]
    assert [(c["id"], c["content"], c["created_at"]) for c in saved] == [
        (c["id"], c["content"], c["created_at"]) for c in reversed(posted)
    ]
    assert {c["amishi"]["display_name"] for c in saved} == {address.split("@")[0]}
    anonymous_again = requests.Session()
    anonymous_again.cookies.set("anonymous_id", browser.cookies["anonymous_id"])
    assert anonymous_again.get(stack.url + "/api/cotos", timeout=5).json()["cotos"] == [], "moved, not copied"


def test_without_saving_the_pad_stays_anonymous(stack, mailbox, browser):
    browser.post(stack.url + "/api/cotos", json={"content": "stays here"}, timeout=5)
    pad = browser.cookies["anonymous_id"]
    sign_in(stack, mailbox, browser, unique_address())
    assert browser.get(stack.url + "/api/cotos", timeout=5).json()["cotos"] == []
    anonymous = requests.Session()
    anonymous.cookies.set("anonymous_id", pad)
    assert [c["content"] for c in anonymous.get(stack.url + "/api/cotos", timeout=5).json()["cotos"]] == ["stays here"]


def test_two_devices_share_one_timeline(stack, mailbox):
    address = unique_address()
    pc, phone = requests.Session(), requests.Session()
    for device in (pc, phone):
        device.headers["Origin"] = stack.url
        sign_in(stack, mailbox, device, address)
    coto = pc.post(stack.url + "/api/cotos", json={"content": "written on the PC"}, timeout=5).json()["coto"]
    assert phone.get(stack.url + "/api/cotos", timeout=5).json()["cotos"][0]["id"] == coto["id"]
    assert phone.patch(f"{stack.url}/api/cotos/{coto['id']}", json={"content": "edited on the phone"}, timeout=5).ok
    assert pc.get(f"{stack.url}/api/cotos/{coto['id']}", timeout=5).json()["coto"]["content"] == "edited on the phone"


def test_one_person_cannot_touch_anothers_cotos(stack, mailbox):
    ann, bob = requests.Session(), requests.Session()
    sign_in(stack, mailbox, ann, unique_address("ann"))
    sign_in(stack, mailbox, bob, unique_address("bob"))
    coto = ann.post(stack.url + "/api/cotos", json={"content": "ann's"}, timeout=5).json()["coto"]
    assert bob.get(f"{stack.url}/api/cotos/{coto['id']}", timeout=5).status_code == 404
    assert (
        bob.patch(f"{stack.url}/api/cotos/{coto['id']}", json={"content": "bob was here"}, timeout=5).status_code == 404
    )
    assert bob.delete(f"{stack.url}/api/cotos/{coto['id']}", timeout=5).status_code == 404
    assert bob.get(stack.url + "/api/cotos", timeout=5).json()["cotos"] == []
    assert ann.get(f"{stack.url}/api/cotos/{coto['id']}", timeout=5).json()["coto"]["content"] == "ann's"


@pytest.mark.parametrize("forged", ["garbage", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "a.b.c"])
def test_forged_access_cookies_are_refused_everywhere(stack, forged):
    for path in ("/api/cotos", "/api/auth/session"):
        response = requests.get(stack.url + path, cookies={"access_token": forged}, timeout=5)
        assert response.status_code == 401 and response.json()["title"] == "Invalid session"


def test_the_sign_in_mail_says_who_asked(stack, mailbox):
    address = unique_address()
    requests.post(stack.url + "/api/auth/signin", json={"email": address}, timeout=5, headers={"X-Real-IP": "6.6.6.6"})
    mail = mailbox.wait_for(address)[0]
    assert "127.0.0.1" in mail["text"] and "6.6.6.6" not in mail["text"], "the client address is the gateway's"
    assert "once" in mail["text"].lower()
