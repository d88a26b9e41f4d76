"""Search through the gateway (issue 15): cotos answers it, asking cotonomas
which cotonomas the asker may enter; nobody ever finds what they may not read."""

import secrets
import time

import pytest
import requests


def found(person, q: str) -> list[str]:
    response = person.call("GET", "/api/search", params={"q": q})
    assert response.status_code == 200, response.text
    return [coto["content"] for coto in response.json()["cotos"]]


def test_ones_own_coto_by_a_japanese_substring_and_english_in_another_case(owner, stranger):
    owner.post("新しいコトノマを作る")
    owner.post("Kubernetes Rolls Out")
    stranger.post("別のコトノマ")  # someone else's, never found by the owner
    assert found(owner, "コトノマ") == ["新しいコトノマを作る"]
    assert found(owner, "kubernetes ROLLS") == ["Kubernetes Rolls Out"]


def test_a_shared_cotonoma_for_its_member_not_a_stranger_and_never_a_private_coto(owner, member, stranger):
    word = secrets.token_hex(4)
    room = owner.create(f"Room {word}")
    assert owner.call("POST", f"/api/cotonomas/{room['key']}/members", json={"email": member.address}).ok
    owner.post(f"shared note {word}", room["key"])
    owner.post(f"private note {word}")
    member.post(f"member's own note {word}")
    assert found(member, word) == [f"member's own note {word}", f"shared note {word}"]
    assert found(stranger, word) == []
    # The owner's own: the cotonoma's coto (its name) among them.
    assert found(owner, word) == [f"private note {word}", f"shared note {word}", f"Room {word}"]


def test_a_removed_members_search_stops_finding_the_cotonoma_within_5_seconds(owner, member):
    word = secrets.token_hex(4)
    room = owner.create(f"Room {word}")
    assert owner.call("POST", f"/api/cotonomas/{room['key']}/members", json={"email": member.address}).ok
    owner.post(f"in the room {word}", room["key"])
    assert found(member, word) == [f"in the room {word}"]
    assert owner.call("DELETE", f"/api/cotonomas/{room['key']}/members/{member.address}").status_code == 204
    removed_at = time.monotonic()
    while found(member, word):
        assert time.monotonic() - removed_at < 5, "still found 5 s after the removal"
        time.sleep(0.2)


def test_a_cotonoma_nested_in_a_shared_one_is_searched_too(owner, member):
    word = secrets.token_hex(4)
    room = owner.create(f"Room {word}")
    inner = owner.create(f"Inner {word}", room["key"])
    assert owner.call("POST", f"/api/cotonomas/{room['key']}/members", json={"email": member.address}).ok
    owner.post(f"deep note {word}", inner["key"])
    assert found(member, f"deep note {word}") == [f"deep note {word}"]


def test_the_anonymous_pad_searches_its_own_cotos(stack):
    word = secrets.token_hex(4)
    pad = requests.Session()
    pad.headers["Origin"] = stack.url
    assert pad.post(f"{stack.url}/api/cotos", json={"content": f"メモ {word}"}, timeout=10).status_code == 201
    answer = pad.get(f"{stack.url}/api/search", params={"q": word}, timeout=10)
    assert [c["content"] for c in answer.json()["cotos"]] == [f"メモ {word}"]
    other = requests.get(f"{stack.url}/api/search", params={"q": word}, timeout=10)
    assert other.status_code == 200 and other.json() == {"cotos": [], "next": None}


@pytest.mark.parametrize(
    "params",
    [{}, {"q": ""}, {"q": "   "}, {"q": "x" * 201}, {"q": "a\nb"}, {"q": "a\x00b"}, {"q": "x", "before": "nope"}],
    ids=["no q", "empty", "blank", "201 characters", "two lines", "NUL", "bad cursor"],
)
def test_bad_q_is_a_400_with_a_json_error(owner, params):
    response = owner.call("GET", "/api/search", params=params)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json") and response.json()["title"]
