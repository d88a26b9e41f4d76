"""Cotonomatize end to end: one's own coto made a cotonoma where it was
posted, keeping its id (so its connections stay), exactly once however often
the request is sent."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import Json, Person


def cotonomatize(person: Person, coto_id: str):
    return person.call("POST", "/api/cotonomas", json={"coto_id": coto_id})


def named(person: Person, name: str) -> list[Json]:
    cotonomas: list[Json] = person.call("GET", "/api/cotonomas").json()["cotonomas"]
    return [c for c in cotonomas if c["name"] == name]


def test_a_coto_becomes_a_cotonoma_once_keeping_its_id_and_connections(owner):
    name = f"Reading list {uuid.uuid4().hex[:6]}"
    coto = owner.post(f"  {name}  ")
    other = owner.post("a book")
    connected = owner.call("POST", "/api/graph/connections", json={"start": coto["id"], "end": other["id"]})
    assert connected.status_code == 201, connected.text
    made = cotonomatize(owner, coto["id"])
    assert made.status_code == 201, made.text
    cotonoma = made.json()["cotonoma"]
    assert cotonoma["name"] == name and cotonoma["parent_key"] is None
    assert cotonoma["owner"]["id"] == owner.amishi["id"]
    assert made.headers["Location"] == f"/api/cotonomas/{cotonoma['key']}"
    again = cotonomatize(owner, coto["id"])
    assert again.status_code == 201 and again.json()["cotonoma"] == cotonoma
    assert len(named(owner, name)) == 1
    shown = owner.call("GET", f"/api/cotos/{coto['id']}").json()["coto"]
    assert shown["as_cotonoma"] is True and shown["cotonoma_key"] == cotonoma["key"] and shown["content"] == name
    graph = owner.call("GET", f"/api/graph/cotos/{coto['id']}").json()
    assert [n["coto"]["id"] for n in graph["outgoing"]] == [other["id"]]
    assert graph["coto"]["as_cotonoma"] is True
    # It is a cotonoma like any other: one may post in it.
    assert owner.post("inside", cotonoma["key"])["posted_in"]["key"] == cotonoma["key"]


def test_in_a_cotonoma_it_becomes_a_sub_cotonoma(owner):
    parent = owner.create(f"Parent {uuid.uuid4().hex[:6]}")
    coto = owner.post("Chapter one", parent["key"])
    made = cotonomatize(owner, coto["id"])
    assert made.status_code == 201, made.text
    assert made.json()["cotonoma"]["parent_key"] == parent["key"]
    children = owner.call("GET", f"/api/cotonomas/{parent['key']}").json()["children"]
    assert [c["name"] for c in children] == ["Chapter one"]


def test_repeated_at_once_it_is_still_one_cotonoma(owner):
    name = f"Concurrent {uuid.uuid4().hex[:6]}"
    coto = owner.post(name)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: cotonomatize(owner, coto["id"]), range(4)))
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409} and 201 in statuses, [a.text for a in answers]
    assert all(a.json()["title"] == "Being made" for a in answers if a.status_code == 409)
    keys = {a.json()["cotonoma"]["key"] for a in answers if a.status_code == 201}
    assert len(keys) == 1
    assert cotonomatize(owner, coto["id"]).json()["cotonoma"]["key"] in keys
    assert len(named(owner, name)) == 1


@pytest.mark.parametrize("case", ["too long", "two lines", "someone else's", "unknown", "not an id", "extra field"])
def test_what_cannot_be_a_cotonoma_is_a_clear_4xx_and_changes_nothing(owner, member, case):
    theirs = member.post("Theirs")
    bodies = {
        "too long": {"coto_id": owner.post("x" * 51)["id"]},
        "two lines": {"coto_id": owner.post("first\nsecond")["id"]},
        "someone else's": {"coto_id": theirs["id"]},
        "unknown": {"coto_id": str(uuid.uuid4())},
        "not an id": {"coto_id": "nope"},
        "extra field": {"coto_id": theirs["id"], "name": "x"},
    }
    expected = {"too long": 422, "two lines": 422, "someone else's": 404, "unknown": 404}
    response = owner.call("POST", "/api/cotonomas", json=bodies[case])
    assert response.status_code == expected.get(case, 400), response.text
    assert response.json()["title"]
    coto_id = bodies[case]["coto_id"]
    if case in ("too long", "two lines", "someone else's"):
        viewer = member if case == "someone else's" else owner
        assert viewer.call("GET", f"/api/cotos/{coto_id}").json()["coto"]["as_cotonoma"] is False
