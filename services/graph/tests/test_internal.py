"""The archive's internal paths: export page by page, and an idempotent import."""

import uuid

import pytest

from cotoami_testing.fixtures import INTERNAL_TOKEN

CREDENTIAL = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}


def export(client, what: str, **params):
    return client.simulate_get(f"/internal/graph/{what}", params=params, headers=CREDENTIAL)


def import_(client, body):
    return client.simulate_post("/internal/graph/import", json=body, headers=CREDENTIAL)


def test_export_pages_oldest_first(client, sign_in, doubles, ann, bob):
    key = doubles.cotonoma(ann, bob)
    cotos = [doubles.coto(ann, f"c{n}", key) for n in range(4)]
    made = [sign_in(ann).connected(cotos[0]["id"], c["id"], cotonoma_key=key) for c in cotos[1:]]
    sign_in(bob).connected(cotos[1]["id"], cotos[2]["id"], cotonoma_key=key)  # bob's: not ann's export
    first = export(client, "connections", created_by=ann.id, limit=2)
    assert first.status_code == 200, first.text
    assert first.json["connections"] == made[:2] and first.json["next"]
    second = export(client, "connections", created_by=ann.id, limit=2, after=first.json["next"])
    assert second.json == {"connections": made[2:], "next": None}
    assert sign_in(ann).pin(cotos[0]["id"]).status_code == 201
    assert sign_in(ann).pin(cotos[1]["id"], key).status_code == 201
    pins = export(client, "pins", created_by=ann.id, limit=1)
    assert pins.json["pins"][0]["coto_id"] == cotos[0]["id"] and pins.json["pins"][0]["cotonoma_key"] is None
    rest = export(client, "pins", created_by=ann.id, after=pins.json["next"])
    assert [p["cotonoma_key"] for p in rest.json["pins"]] == [key] and rest.json["next"] is None


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"created_by": "x"},
        {"created_by": str(uuid.uuid4()), "limit": "0"},
        {"created_by": str(uuid.uuid4()), "limit": "1001"},
        {"created_by": str(uuid.uuid4()), "after": "garbage"},
        {"created_by": str(uuid.uuid4()), "after": "99999999999999999999.x"},
    ],
)
def test_bad_export_parameters_are_400(client, params):
    for what in ("connections", "pins"):
        assert export(client, what, **params).status_code == 400


def test_the_credential_is_required(client):
    assert (
        client.simulate_get("/internal/graph/connections", params={"created_by": str(uuid.uuid4())}).status_code == 401
    )
    assert client.simulate_post("/internal/graph/import", json={}).status_code == 401


def test_import_is_idempotent_and_keeps_what_others_made(client, sign_in, doubles, ann, bob, events):
    key = doubles.cotonoma(ann, bob)
    a, b, c = doubles.coto(ann, "a"), doubles.coto(ann, "b"), doubles.coto(bob, "c", key)
    theirs_a, theirs_b = doubles.coto(bob, "ta", key), doubles.coto(bob, "tb", key)
    bobs = sign_in(bob).connected(theirs_a["id"], theirs_b["id"], cotonoma_key=key, linking_phrase="bob's")
    body = {
        "amishi_id": ann.id,
        "email": ann.email,
        "connections": [
            {
                "start": a["id"],
                "end": b["id"],
                "linking_phrase": "then",
                "created_in": None,
                "order": 3,
                "created_at": "2020-01-02T03:04:05.678Z",
            },
            {"start": a["id"], "end": c["id"], "created_in": key, "order": None, "created_at": "2020-01-02T03:04:06Z"},
            {"start": theirs_a["id"], "end": theirs_b["id"], "linking_phrase": "mine now", "created_in": key},
            {"start": a["id"], "end": str(uuid.uuid4())},
            {"start": a["id"], "end": a["id"]},
            {"start": a["id"], "end": b["id"], "linking_phrase": "x" * 201},
            "not an object",
        ],
        "pins": [
            {"coto_id": a["id"], "cotonoma_key": None, "order": 0, "created_at": "2021-05-05T00:00:00Z"},
            {"coto_id": c["id"], "cotonoma_key": key},
            {"coto_id": c["id"], "cotonoma_key": "unreachable1"},
            {"coto_id": theirs_a["id"], "cotonoma_key": None},
        ],
    }
    first = import_(client, body)
    assert first.status_code == 200, first.text
    assert first.json["connections"]["inserted"] == 2 and first.json["connections"]["updated"] == 0
    assert [(r["index"], r["reason"]) for r in first.json["connections"]["rejected"]] == [
        (2, "made by someone else"),
        (3, "unknown coto"),
        (4, "a coto cannot be connected to itself"),
        (5, "linking_phrase must be one line of at most 200 characters"),
        (6, "a connection must be an object"),
    ]
    assert first.json["pins"]["inserted"] == 3 and first.json["pins"]["updated"] == 0
    assert [(r["index"], r["reason"]) for r in first.json["pins"]["rejected"]] == [(2, "unknown cotonoma")]
    exported = export(client, "connections", created_by=ann.id).json["connections"]
    assert [(c["linking_phrase"], c["order"], c["created_at"]) for c in exported] == [
        ("then", 3, "2020-01-02T03:04:05.678Z"),
        (None, 4, "2020-01-02T03:04:06.000Z"),  # no order: last
    ]
    assert sign_in(bob).request("GET", f"/api/graph/cotos/{theirs_a['id']}").json["outgoing"][0]["connection"] == bobs
    second = import_(client, body)
    assert second.json["connections"]["inserted"] == 0 and second.json["connections"]["updated"] == 0
    assert second.json["pins"]["inserted"] == 0 and second.json["pins"]["updated"] == 0
    body["connections"][0]["linking_phrase"] = "and then"
    third = import_(client, body)
    assert third.json["connections"]["updated"] == 1 and third.json["connections"]["inserted"] == 0
    assert ("connection", {"id": exported[0]["id"]}) in events(f"events:amishi:{ann.id}")


def test_without_the_email_only_ones_own_cotonomas_count(client, doubles, ann, bob):
    key = doubles.cotonoma(bob, ann)
    coto = doubles.coto(bob, "shared with ann", key)
    answer = import_(client, {"amishi_id": ann.id, "pins": [{"coto_id": coto["id"], "cotonoma_key": key}]})
    assert answer.json["pins"]["rejected"] == [{"index": 0, "reason": "unknown coto"}]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"amishi_id": "x"},
        {"amishi_id": str(uuid.uuid4()), "connections": "x"},
        {"amishi_id": str(uuid.uuid4()), "pins": [{}] * 1001},
        {"amishi_id": str(uuid.uuid4()), "connections": [{}] * 600, "pins": [{}] * 401},
        {"amishi_id": str(uuid.uuid4()), "other": 1},
    ],
)
def test_bad_imports_are_400(client, body):
    result = import_(client, body)
    assert result.status_code == 400 and result.json["title"]
