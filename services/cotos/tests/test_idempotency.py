"""POST /api/cotos with an Idempotency-Key: a retry finds the coto the first
request made; and the limits on anonymous writes."""

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import Browser
from falcon import testing

from cotoami_common.tokens import Amishi
from cotoami_testing.fixtures import new_amishi
from cotos.app import create_app


def post(browser: Browser, content: str, key: str | None, **extra) -> testing.Result:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return browser.request("POST", "/api/cotos", json={"content": content, **extra}, headers=headers)


@pytest.fixture(params=["signed_in", "anonymous"])
def writer(request, browser: Browser, sign_in: Callable[[Amishi], Browser]) -> Browser:
    return sign_in(new_amishi()) if request.param == "signed_in" else browser


def test_a_retry_with_the_same_key_finds_the_first_coto(writer):
    first = post(writer, "only once", "retry-me")
    again = post(writer, "only once", "retry-me")
    assert first.status_code == again.status_code == 201
    assert again.json["coto"] == first.json["coto"]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert again.headers["Location"] == first.headers["Location"]
    assert [c["content"] for c in writer.timeline()] == ["only once"]


def test_without_a_key_or_with_another_key_each_post_is_new(writer):
    post(writer, "same words", None)
    post(writer, "same words", None)
    post(writer, "same words", "a")
    post(writer, "same words", "b")
    assert len(writer.timeline()) == 4


def test_a_key_reused_for_other_content_is_422_and_posts_nothing(writer):
    assert post(writer, "first words", "k1").status_code == 201
    reused = post(writer, "other words", "k1")
    assert reused.status_code == 422 and reused.json["title"] == "Idempotency-Key reused"
    assert [c["content"] for c in writer.timeline()] == ["first words"]


def test_keys_are_per_person(sign_in):
    ann, bob = sign_in(new_amishi("ann@example.com")), sign_in(new_amishi("bob@example.com"))
    assert post(ann, "ann's", "shared-key").status_code == 201
    assert post(bob, "bob's", "shared-key").status_code == 201
    assert [c["content"] for c in bob.timeline()] == ["bob's"]


def test_anonymous_keys_are_per_pad(client):
    ann, bob = Browser(client), Browser(client)
    assert post(ann, "ann's", "shared-key").status_code == 201
    for content in ("bob's", "ann's"):
        fresh = Browser(client)
        result = post(fresh, content, "shared-key")
        assert result.status_code == 201 and "Idempotent-Replayed" not in result.headers, "neither a replay nor a 422"
    assert post(bob, "bob's", "shared-key").status_code == 201
    assert post(bob, "other", "shared-key").status_code == 422, "bob's own key is bob's"
    assert [c["content"] for c in bob.timeline()] == ["bob's"]
    assert [c["content"] for c in ann.timeline()] == ["ann's"]


def test_signed_in_keys_learn_nothing_of_anothers_content(sign_in):
    ann, bob = sign_in(new_amishi("ann@example.com")), sign_in(new_amishi("bob@example.com"))
    first = post(ann, "ann's secret", "shared-key").json["coto"]
    guess = post(bob, "ann's secret", "shared-key")
    assert guess.status_code == 201 and "Idempotent-Replayed" not in guess.headers
    assert guess.json["coto"]["id"] != first["id"] and guess.json["coto"]["amishi"]["id"] != first["amishi"]["id"]
    assert post(bob, "a wrong guess", "shared-key").status_code == 422, "only against bob's own post"


def test_a_retry_after_the_coto_was_deleted_is_409_and_makes_none(writer):
    coto = post(writer, "short-lived", "gone").json["coto"]
    assert writer.request("DELETE", f"/api/cotos/{coto['id']}").status_code == 204
    again = post(writer, "short-lived", "gone")
    assert again.status_code == 409 and again.json["title"] == "Already done"
    assert writer.timeline() == []


def test_concurrent_retries_make_one_coto(client, token_keys):
    token = token_keys.access_token(new_amishi())
    devices = [Browser(client, access_token=token) for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as threads:
        results = list(threads.map(lambda device: post(device, "raced", "race-key"), devices))
    assert {r.status_code for r in results} == {201}
    assert len({r.json["coto"]["id"] for r in results}) == 1
    assert len(devices[0].timeline()) == 1


def test_a_key_older_than_a_day_is_forgotten(sign_in, db):
    ann = sign_in(new_amishi())
    first = post(ann, "yesterday's", "daily").json["coto"]
    db.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
    second = post(ann, "yesterday's", "daily").json["coto"]
    assert second["id"] != first["id"]
    assert db.execute("SELECT count(*) FROM idempotency_keys").fetchone()[0] == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "ключ", "tab\there"])
def test_a_malformed_key_is_400_and_posts_nothing(writer, key):
    result = post(writer, "x", key)
    assert result.status_code == 400 and result.json["title"] == "Invalid Idempotency-Key"
    assert writer.timeline() == []


def test_a_key_of_255_visible_characters_is_accepted(writer):
    assert post(writer, "x", "~" * 255).status_code == 201


# --- limits on anonymous writes


@pytest.fixture
def limited_app(config, deps):
    """An app whose anonymous pads and writes are limited as given."""

    def make(pad_max_cotos: int = 1000, writes_per_client: int = 300) -> testing.TestClient:
        limited = dataclasses.replace(
            config, anonymous_pad_max_cotos=pad_max_cotos, anonymous_writes_per_client=writes_per_client
        )
        return testing.TestClient(create_app(limited, deps))

    return make


def test_a_full_pad_is_409_until_a_coto_is_deleted(limited_app):
    pad = Browser(limited_app(pad_max_cotos=3))
    ids = [pad.post(f"n{n}")["id"] for n in range(3)]
    full = post(pad, "one too many", None)
    assert full.status_code == 409 and full.json["title"] == "Memo pad full"
    assert len(pad.timeline()) == 3
    assert pad.request("DELETE", f"/api/cotos/{ids[0]}").status_code == 204
    assert post(pad, "room again", None).status_code == 201


def test_anonymous_writes_from_one_client_are_limited(limited_app):
    client = limited_app(writes_per_client=3)
    pad, other_pad = Browser(client), Browser(client)
    coto = pad.post("one")
    assert pad.request("PATCH", f"/api/cotos/{coto['id']}", json={"content": "two"}).status_code == 200
    pad.post("three")
    refused = post(other_pad, "four", None)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert pad.request("DELETE", f"/api/cotos/{coto['id']}").status_code == 429
    assert [c["content"] for c in pad.timeline()] == ["three", "two"], "reading is not limited; nothing changed"
    elsewhere = client.simulate_post("/api/cotos", json={"content": "x"}, headers={"X-Real-IP": "192.0.2.7"})
    assert elsewhere.status_code == 201, "another client is counted apart"


def test_signed_in_writes_are_not_limited_per_client(limited_app, token_keys):
    ann = Browser(limited_app(writes_per_client=1, pad_max_cotos=1), access_token=token_keys.access_token(new_amishi()))
    for n in range(3):
        ann.post(f"n{n}")
    assert len(ann.timeline()) == 3
