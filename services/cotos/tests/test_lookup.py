"""POST /internal/cotos/lookup: the cotos among some ids, for graph."""

import uuid

import pytest

from cotoami_testing.fixtures import INTERNAL_TOKEN

CREDENTIAL = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}


def lookup(client, body, headers=CREDENTIAL):
    return client.simulate_post("/internal/cotos/lookup", json=body, headers=headers)


def test_answers_only_the_cotos_asked_that_exist(client, sign_in, ann, bob, new_cotonoma):
    mine = sign_in(ann).post("mine")
    key = new_cotonoma("Room", bob)
    theirs = sign_in(bob).post("theirs", key)
    sign_in(ann).post("not asked")
    trashed = sign_in(ann).post("trashed")
    assert sign_in(ann).request("DELETE", f"/api/cotos/{trashed['id']}").status_code == 204
    unknown = str(uuid.uuid4())
    result = lookup(client, {"ids": [theirs["id"], mine["id"], unknown, trashed["id"], mine["id"].upper()]})
    assert result.status_code == 200, result.text
    assert sorted(c["id"] for c in result.json["cotos"]) == sorted([mine["id"], theirs["id"]])
    found = {c["id"]: c for c in result.json["cotos"]}
    assert found[theirs["id"]] == theirs
    assert found[mine["id"]]["amishi"]["id"] == ann.id


def test_nothing_asked_is_nothing_found(client):
    result = lookup(client, {"ids": []})
    assert result.status_code == 200 and result.json == {"cotos": []}


@pytest.mark.parametrize(
    "body",
    [{}, {"ids": "x"}, {"ids": ["not-a-uuid"]}, {"ids": [1]}, {"ids": [str(uuid.uuid4())] * 1001}, {"ids": [], "x": 1}],
)
def test_bad_bodies_are_400(client, body):
    result = lookup(client, body)
    assert result.status_code == 400 and result.json["title"] in ("Invalid ids", "Invalid body")


def test_the_service_credential_is_required(client):
    assert lookup(client, {"ids": []}, headers={}).status_code == 401
