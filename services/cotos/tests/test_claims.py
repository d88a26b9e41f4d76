"""POST /internal/anonymous-cotos/claims: auth moves a memo pad into an account on sign-in;
GET /internal/anonymous-pads/{id}: how many cotos it would move."""

import json
from typing import cast

import pytest
from falcon import testing

from cotoami_testing.fixtures import INTERNAL_TOKEN, new_amishi

CLAIMS = "/internal/anonymous-cotos/claims"


def claim(client, anonymous_id: str, amishi, credential: str) -> dict[str, object]:
    result = client.simulate_post(
        CLAIMS,
        json={"anonymous_id": anonymous_id, "amishi": amishi.public()},
        headers={"Authorization": f"Bearer {credential}"},
    )
    assert result.status_code == 200, result.text
    return cast(dict[str, object], result.json)


@pytest.fixture
def pad(browser):
    """A browser's memo pad of three cotos, one of them edited later."""
    cotos = [browser.post(f"anonymous {n}") for n in range(3)]
    edited = browser.request("PATCH", f"/api/cotos/{cotos[1]['id']}", json={"content": "edited"}).json["coto"]
    cotos[1] = edited
    return browser.cookies["anonymous_id"], cotos


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "internal-credential-for-tests"}]
)
def test_claims_need_the_service_credential(client, pad, anonymous_cotos, headers):
    anonymous_id, _ = pad
    body = {"anonymous_id": anonymous_id, "amishi": new_amishi().public()}
    result = client.simulate_post(CLAIMS, json=body, headers=headers)
    assert result.status_code == 401 and "title" in result.json
    assert len(anonymous_cotos.all(anonymous_id)) == 3


def test_a_claim_moves_the_pad_keeping_ids_order_and_times(client, config, pad, sign_in, browser, redis):
    anonymous_id, cotos = pad
    amishi = new_amishi("saver@example.com")
    assert claim(client, anonymous_id, amishi, config.internal_token) == {"moved": 3}
    saved = sign_in(amishi).timeline()
    assert saved == [{**coto, "amishi": amishi.public()} for coto in reversed(cotos)]
    assert saved[1]["updated_at"] > saved[1]["created_at"], "the edit's time survives"
    assert redis.keys(f"anon:{anonymous_id}:*") == [f"anon:{anonymous_id}:issued"], "the id stays the browser's"
    assert browser.timeline() == [], "the pad is empty now"


def test_a_repeated_claim_moves_nothing_twice(client, config, pad, sign_in):
    anonymous_id, _ = pad
    amishi = new_amishi()
    assert claim(client, anonymous_id, amishi, config.internal_token) == {"moved": 3}
    assert claim(client, anonymous_id, amishi, config.internal_token) == {"moved": 0}
    assert len(sign_in(amishi).timeline()) == 3


def test_a_claim_interrupted_after_saving_is_finished_by_its_retry(
    client, config, pad, sign_in, anonymous_cotos, coto_store, redis, db
):
    anonymous_id, cotos = pad
    amishi = new_amishi()
    # The first attempt saved the cotos and died before the pad forgot them.
    assert coto_store.save_anonymous(amishi.public(), anonymous_cotos.all(anonymous_id)) == 3
    assert claim(client, anonymous_id, amishi, config.internal_token) == {"moved": 0}
    assert [c["id"] for c in sign_in(amishi).timeline()] == [c["id"] for c in reversed(cotos)]
    assert db.execute("SELECT count(*) FROM cotos").fetchone()[0] == 3
    assert redis.keys(f"anon:{anonymous_id}:*") == [f"anon:{anonymous_id}:issued"]


def test_a_claim_of_an_unknown_pad_moves_nothing(client, config, db, redis):
    assert claim(client, "f" * 32, new_amishi(), config.internal_token) == {"moved": 0}
    assert db.execute("SELECT count(*) FROM cotos").fetchone()[0] == 0
    assert redis.keys("anon:*") == []


def test_a_claim_of_a_pad_never_issued_moves_nothing_even_if_redis_holds_cotos_for_it(client, config, pad, redis, db):
    # As a pad planted before ids were issued would be: its cotos, but no mark.
    anonymous_id, _ = pad
    redis.delete(f"anon:{anonymous_id}:issued")
    assert claim(client, anonymous_id, new_amishi(), config.internal_token) == {"moved": 0}
    assert db.execute("SELECT count(*) FROM cotos").fetchone()[0] == 0


def pad_size(client: testing.TestClient, anonymous_id: str, credential: str = INTERNAL_TOKEN) -> testing.Result:
    return client.simulate_get(
        f"/internal/anonymous-pads/{anonymous_id}", headers={"Authorization": f"Bearer {credential}"}
    )


def test_a_pads_size_is_how_many_cotos_a_claim_would_move(client, pad, browser):
    anonymous_id, cotos = pad
    assert pad_size(client, anonymous_id).json == {"cotos": 3}
    browser.request("DELETE", f"/api/cotos/{cotos[0]['id']}")
    assert pad_size(client, anonymous_id).json == {"cotos": 2}


@pytest.mark.parametrize("made_up", ["0" * 32, "a1" * 16])
def test_an_id_never_issued_has_no_size(client, made_up, redis):
    answer = pad_size(client, made_up)
    assert answer.status_code == 404 and answer.json["title"] == "No such pad"
    assert redis.keys("anon:*") == [], "asking creates nothing"


@pytest.mark.parametrize("bad", ["A" * 32, "a" * 31, "*"])
def test_a_malformed_id_has_no_size(client, bad):
    assert pad_size(client, bad).status_code == 400


def test_a_pads_size_needs_the_credential(client, pad):
    assert pad_size(client, pad[0], "wrong").status_code == 401


def test_claimed_cotos_join_what_the_amishi_already_wrote(client, config, pad, sign_in):
    anonymous_id, cotos = pad
    amishi = new_amishi()
    written = sign_in(amishi).post("written signed in")
    assert claim(client, anonymous_id, amishi, config.internal_token) == {"moved": 3}
    assert [c["id"] for c in sign_in(amishi).timeline()] == [written["id"], *(c["id"] for c in reversed(cotos))]


AMISHI = {"id": "0b7f0a5e-6a53-4e8e-9a0c-4a1b2c3d4e5f", "display_name": "ann", "avatar_url": "https://gravatar.test/a"}
BAD_CLAIMS = [
    ("malformed JSON", b'{"anonymous_id": '),
    ("JSON array", b"[]"),
    ("JSON null", b"null"),
    ("empty object", {}),
    ("anonymous_id missing", {"amishi": AMISHI}),
    ("anonymous_id a number", {"anonymous_id": 1, "amishi": AMISHI}),
    ("anonymous_id too short", {"anonymous_id": "a" * 31, "amishi": AMISHI}),
    ("anonymous_id upper case", {"anonymous_id": "A" * 32, "amishi": AMISHI}),
    ("anonymous_id a key pattern", {"anonymous_id": "*", "amishi": AMISHI}),
    ("amishi missing", {"anonymous_id": "a" * 32}),
    ("amishi a string", {"anonymous_id": "a" * 32, "amishi": AMISHI["id"]}),
    ("amishi id not a uuid", {"anonymous_id": "a" * 32, "amishi": {**AMISHI, "id": "ann"}}),
    ("amishi id missing", {"anonymous_id": "a" * 32, "amishi": {k: v for k, v in AMISHI.items() if k != "id"}}),
    ("display_name blank", {"anonymous_id": "a" * 32, "amishi": {**AMISHI, "display_name": " "}}),
    ("display_name null", {"anonymous_id": "a" * 32, "amishi": {**AMISHI, "display_name": None}}),
    ("avatar_url a number", {"anonymous_id": "a" * 32, "amishi": {**AMISHI, "avatar_url": 7}}),
    ("unknown field", {"anonymous_id": "a" * 32, "amishi": AMISHI, "all": True}),
    ("unknown amishi field", {"anonymous_id": "a" * 32, "amishi": {**AMISHI, "email": "a@example.com"}}),
]


@pytest.mark.parametrize("body", [case[1] for case in BAD_CLAIMS], ids=[case[0] for case in BAD_CLAIMS])
def test_bad_claims_are_400_json_and_move_nothing(client, config, anonymous_cotos, db, body):
    pad, _ = anonymous_cotos.post(None, "stays")
    # The bodies name the pad that is there (as "a" * 32).
    raw = (body if isinstance(body, bytes) else json.dumps(body).encode()).replace(b"a" * 32, pad.encode())
    headers = {"Authorization": f"Bearer {config.internal_token}", "Content-Type": "application/json"}
    result = client.simulate_post(CLAIMS, body=raw, headers=headers)
    assert result.status_code == 400 and "title" in result.json
    assert len(anonymous_cotos.all(pad)) == 1
    assert db.execute("SELECT count(*) FROM cotos").fetchone()[0] == 0
