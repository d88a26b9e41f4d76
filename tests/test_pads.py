"""Whose a memo pad and an Idempotency-Key are, through the gateway: a pad id a
client made up is no pad, a key is its author's own, and the person using a
sign-in link that would save someone's pad is told so and may decline."""

import secrets
import uuid
from collections.abc import Callable

import pytest
import requests
from conftest import Json, Mailbox, Person, unique_address

PLANTED = {"zeros": "0" * 32, "random": secrets.token_hex(16)}


def with_pad(stack, method: str, path: str, anonymous_id: str, **kwargs) -> requests.Response:
    """A request carrying exactly this anonymous cookie, as a browser it was planted in sends it."""
    headers = {"Cookie": f"anonymous_id={anonymous_id}", "Origin": stack.url, **kwargs.pop("headers", {})}
    return requests.request(method, stack.url + path, headers=headers, timeout=5, **kwargs)


def pad_of(stack, anonymous_id: str) -> list[str]:
    answer = with_pad(stack, "GET", "/api/cotos", anonymous_id)
    assert answer.status_code == 200, answer.text
    return [c["content"] for c in answer.json()["cotos"]]


def new_browser(stack) -> requests.Session:
    session = requests.Session()
    session.headers["Origin"] = stack.url
    return session


# --- pad ids


@pytest.mark.parametrize("planted", PLANTED.values(), ids=PLANTED.keys())
def test_a_planted_pad_id_is_not_adopted(stack, planted):
    read = with_pad(stack, "GET", "/api/cotos", planted)
    assert read.status_code == 200 and read.json() == {"cotos": [], "next": None}
    assert "anonymous_id" not in read.cookies, "a read with an unknown id renews nothing"

    posted = with_pad(stack, "POST", "/api/cotos", planted, json={"content": "written in a planted browser"})
    assert posted.status_code == 201, posted.text
    issued = posted.cookies["anonymous_id"]
    assert issued != planted, "the post gets an id of the server's own"

    assert pad_of(stack, planted) == [], "whoever planted the id finds nothing under it"
    assert with_pad(stack, "GET", f"/api/cotos/{posted.json()['coto']['id']}", planted).status_code == 404
    renewed = with_pad(stack, "GET", "/api/cotos", issued)
    assert [c["content"] for c in renewed.json()["cotos"]] == ["written in a planted browser"]
    assert renewed.cookies["anonymous_id"] == issued, "the issued id is renewed"


def test_an_issued_pad_id_keeps_working(stack, browser):
    first = browser.post(stack.url + "/api/cotos", json={"content": "one"}, timeout=5)
    issued = first.cookies["anonymous_id"]
    second = browser.post(stack.url + "/api/cotos", json={"content": "two"}, timeout=5)
    assert second.status_code == 201 and second.cookies["anonymous_id"] == issued
    coto = second.json()["coto"]
    edited = with_pad(stack, "PATCH", f"/api/cotos/{coto['id']}", issued, json={"content": "2"})
    assert edited.status_code == 200 and edited.cookies["anonymous_id"] == issued
    assert pad_of(stack, issued) == ["2", "one"]


# --- Idempotency-Keys


def post_with_key(post: Callable[..., requests.Response], url: str, content: str, key: str) -> requests.Response:
    return post(url, json={"content": content}, headers={"Idempotency-Key": key}, timeout=5)


def test_a_signed_in_persons_key_reused_by_another_posts_their_own_coto(stack, mailbox):
    ann, bob, carol = (Person(stack, mailbox, name) for name in ("ann", "bob", "carol"))
    key, url = str(uuid.uuid4()), stack.url + "/api/cotos"
    anns = post_with_key(ann.session.post, url, "ann's secret", key)
    assert anns.status_code == 201
    # A right guess and a wrong one answer alike: each posts its author's own coto.
    for guesser, content in ((bob, "ann's secret"), (carol, "a wrong guess")):
        guess = post_with_key(guesser.session.post, url, content, key)
        assert guess.status_code == 201 and "Idempotent-Replayed" not in guess.headers, content
        assert guess.json()["coto"]["id"] != anns.json()["coto"]["id"]
        assert guess.json()["coto"]["amishi"]["id"] == guesser.amishi["id"]
        assert [c["content"] for c in guesser.timeline()] == [content]
    assert [c["content"] for c in ann.timeline()] == ["ann's secret"]


def test_an_anonymous_pads_key_reused_by_another_posts_its_own_coto(stack):
    ann, bob = new_browser(stack), new_browser(stack)
    key, url = str(uuid.uuid4()), stack.url + "/api/cotos"
    anns = post_with_key(ann.post, url, "ann's secret", key)
    assert anns.status_code == 201
    for content in ("ann's secret", "a wrong guess"):
        guess = post_with_key(new_browser(stack).post, url, content, key)
        assert guess.status_code == 201 and "Idempotent-Replayed" not in guess.headers, content
        assert guess.json()["coto"]["id"] != anns.json()["coto"]["id"]
    assert post_with_key(bob.post, url, "bob's", key).status_code == 201
    assert pad_of(stack, bob.cookies["anonymous_id"]) == ["bob's"]
    assert pad_of(stack, ann.cookies["anonymous_id"]) == ["ann's secret"]
    # Nor does a made-up pad id reach any pad's record of the key.
    planted = with_pad(
        stack, "POST", "/api/cotos", secrets.token_hex(16), json={"content": "x"}, headers={"Idempotency-Key": key}
    )
    assert planted.status_code == 201 and "Idempotent-Replayed" not in planted.headers


# --- the confirm page's sentence about the anonymous cotos, and declining them


def link_saving_a_pad(stack, mailbox: Mailbox, asker: requests.Session, address: str) -> str:
    def ask():
        asked = asker.post(stack.url + "/api/auth/signin", json={"email": address, "save_anonymous": True}, timeout=5)
        assert asked.status_code == 202, asked.text

    return mailbox.new_link_token(address, ask)


def asker_with_pad(stack, *contents: str) -> requests.Session:
    asker = new_browser(stack)
    for content in contents:
        assert asker.post(stack.url + "/api/cotos", json={"content": content}, timeout=5).status_code == 201
    return asker


def looked_at(stack, token: str) -> Json:
    looked = new_browser(stack).post(stack.url + "/api/auth/link", json={"token": token}, timeout=5)
    assert looked.status_code == 200, looked.text
    answer: Json = looked.json()
    return answer


THREE = ["pushed one", "pushed two", "pushed three"]


def test_the_link_tells_how_many_cotos_it_would_save(stack, mailbox):
    asker, address = asker_with_pad(stack, *THREE), unique_address()
    token = link_saving_a_pad(stack, mailbox, asker, address)
    local, domain = address.split("@")
    assert looked_at(stack, token) == {"email": address, "email_hint": f"{local[0]}…@{domain}", "anonymous_cotos": 3}
    assert looked_at(stack, token)["anonymous_cotos"] == 3, "looking consumes nothing"


def test_declining_signs_in_without_moving_the_pad(stack, mailbox):
    asker, address = asker_with_pad(stack, *THREE), unique_address()
    token = link_saving_a_pad(stack, mailbox, asker, address)
    assert looked_at(stack, token)["anonymous_cotos"] == 3
    device = new_browser(stack)
    signed_in = device.post(stack.url + "/api/auth/session", json={"token": token, "save_anonymous": False}, timeout=5)
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["saved_cotos"] == 0
    assert device.get(stack.url + "/api/auth/session", timeout=5).json()["amishi"]["email"] == address
    assert device.get(stack.url + "/api/cotos", timeout=5).json()["cotos"] == []
    assert pad_of(stack, asker.cookies["anonymous_id"]) == THREE[::-1], "the asking browser's pad is as it was"
    again = device.post(stack.url + "/api/auth/session", json={"token": token}, timeout=5)
    assert again.status_code == 410, "declined, the link is used up all the same"


def test_accepting_moves_the_pad(stack, mailbox):
    asker, address = asker_with_pad(stack, *THREE), unique_address()
    token = link_saving_a_pad(stack, mailbox, asker, address)
    device = new_browser(stack)
    signed_in = device.post(stack.url + "/api/auth/session", json={"token": token}, timeout=5)
    assert signed_in.status_code == 200 and signed_in.json()["saved_cotos"] == 3, signed_in.text
    assert [c["content"] for c in device.get(stack.url + "/api/cotos", timeout=5).json()["cotos"]] == THREE[::-1]
    assert pad_of(stack, asker.cookies["anonymous_id"]) == []


@pytest.mark.parametrize("planted", PLANTED.values(), ids=PLANTED.keys())
def test_a_link_asked_with_a_planted_pad_id_saves_nothing(stack, mailbox, planted):
    asker, address = new_browser(stack), unique_address()
    asker.cookies.set("anonymous_id", planted)
    token = link_saving_a_pad(stack, mailbox, asker, address)
    assert looked_at(stack, token)["anonymous_cotos"] == 0
    device = new_browser(stack)
    assert device.post(stack.url + "/api/auth/session", json={"token": token}, timeout=5).status_code == 200
    assert device.get(stack.url + "/api/cotos", timeout=5).json()["cotos"] == []


def test_a_link_saving_nothing_says_0(stack, mailbox):
    address = unique_address()
    token = link_saving_a_pad(stack, mailbox, new_browser(stack), address)
    assert looked_at(stack, token)["anonymous_cotos"] == 0
