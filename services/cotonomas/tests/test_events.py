"""Domain events: a rename and each change of members record their event in the
outbox in the same transaction (docs/contract.md, "Domain events"), and the
relay appends it to the streams."""

import json
import time
from typing import Any

import pytest
import redis

from cotoami_common.outbox import OutboxRelay
from cotoami_testing.fixtures import sample
from cotonomas import resources


def outbox(db) -> list[tuple[list[str], str, Any]]:
    """(streams, event, data) of each event waiting, oldest first."""
    return [tuple(row) for row in db.execute("SELECT streams, event, data FROM outbox ORDER BY id").fetchall()]


def stream(key: str) -> str:
    return f"events:cotonoma:{key}"


@pytest.fixture
def family(ann, db):
    """Keys of a cotonoma with a child and a grandchild, and a sibling beside it."""
    top = ann.create("Top")["key"]
    child = ann.create("Child", parent_key=top)["key"]
    grandchild = ann.create("Grandchild", parent_key=child)["key"]
    sibling = ann.create("Sibling")["key"]
    assert outbox(db) == [], "a creation is told by cotos (the cotonoma's coto), not here"
    return {"top": top, "child": child, "grandchild": grandchild, "sibling": sibling}


def test_a_rename_is_cotonoma_updated_in_its_stream_as_get_shows_it(ann, family, db):
    key = family["child"]
    result = ann.request("PATCH", f"/api/cotonomas/{key}", json={"name": "Kid"})
    assert result.status_code == 200, result.text
    shown = ann.request("GET", f"/api/cotonomas/{key}").json["cotonoma"]
    assert outbox(db) == [([stream(key)], "cotonoma-updated", shown)]
    assert shown["name"] == "Kid"


@pytest.mark.parametrize(
    ("who", "name", "cotos", "status"),
    [
        ("ann", "", "ok", 400),
        ("bob", "Mine", "ok", 404),
        ("ann", "Kid", "fail", 503),
    ],
)
def test_a_refused_rename_tells_nothing(ann, bob, family, db, cotos_double, who, name, cotos, status):
    cotos_double.mode = cotos
    result = {"ann": ann, "bob": bob}[who].request(
        "PATCH", f"/api/cotonomas/{family['grandchild']}", json={"name": name}
    )
    assert result.status_code == status, result.text
    assert outbox(db) == []


def test_a_rename_to_a_taken_name_tells_nothing(ann, family, db):
    ann.create("Taken", parent_key=family["top"])
    result = ann.request("PATCH", f"/api/cotonomas/{family['child']}", json={"name": "Taken"})
    assert result.status_code == 409, result.text
    assert outbox(db) == []


def test_adding_and_removing_a_member_is_told_in_the_cotonoma_and_every_one_below_it(ann, family, db):
    below = sorted(stream(family[k]) for k in ("top", "child", "grandchild"))
    ann.add_member(family["top"], "x@example.com")
    assert ann.request("DELETE", f"/api/cotonomas/{family['top']}/members/X@Example.com").status_code == 204
    data = {"cotonoma_key": family["top"], "email": "x@example.com"}
    assert outbox(db) == [(below, "member-added", data), (below, "member-removed", data)]


def test_a_member_of_a_leaf_is_told_in_its_stream_only(ann, family, db):
    ann.add_member(family["grandchild"], "x@example.com")
    assert outbox(db) == [
        (
            [stream(family["grandchild"])],
            "member-added",
            {"cotonoma_key": family["grandchild"], "email": "x@example.com"},
        )
    ]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/members", {"email": "x@example.com"}, 409),  # already a member
        ("POST", "/members", {"email": "ann@example.com"}, 400),  # the owner
        ("POST", "/members", {"email": "not an address"}, 400),
        ("DELETE", "/members/y@example.com", None, 404),
        ("DELETE", "/members/nonsense", None, 404),
    ],
)
def test_a_refused_change_of_members_tells_nothing(ann, family, db, method, path, body, status):
    ann.add_member(family["top"], "x@example.com")
    db.execute("DELETE FROM outbox")
    kwargs = {"json": body} if body is not None else {}
    result = ann.request(method, f"/api/cotonomas/{family['top']}{path}", **kwargs)
    assert result.status_code == status, result.text
    assert outbox(db) == []


def test_another_person_cannot_change_members_nor_cause_events(bob, family, db):
    assert (
        bob.request("POST", f"/api/cotonomas/{family['top']}/members", json={"email": "z@example.com"}).status_code
        == 404
    )
    assert outbox(db) == []


def test_an_add_undone_because_its_mail_could_not_be_queued_is_told_removed(ann, family, db, monkeypatch):
    def down(client, kind, to, data):
        raise redis.ConnectionError("Redis is away")

    monkeypatch.setattr(resources, "enqueue_mail", down)
    result = ann.request("POST", f"/api/cotonomas/{family['grandchild']}/members", json={"email": "x@example.com"})
    assert result.status_code == 503
    assert [event for _, event, _ in outbox(db)] == ["member-added", "member-removed"]


def test_the_relay_appends_each_event_to_its_streams(ann, family, pool, redis, db):
    ann.request("PATCH", f"/api/cotonomas/{family['grandchild']}", json={"name": "Kid"})
    ann.add_member(family["child"], "x@example.com")
    relay = OutboxRelay(pool, redis, "cotonomas", poll_seconds=0.2)
    relay.start()
    try:
        deadline = time.monotonic() + 10
        while outbox(db) or not redis.exists(stream(family["child"])):
            assert time.monotonic() < deadline, "not relayed within 10 s"
            time.sleep(0.05)
    finally:
        relay.stop()
    told = [(f["event"], json.loads(f["data"]), f["origin"]) for _, f in redis.xrange(stream(family["grandchild"]))]
    assert [(event, origin.split(":")[0]) for event, _, origin in told] == [
        ("cotonoma-updated", "cotonomas"),
        ("member-added", "cotonomas"),
    ]
    assert told[0][1]["name"] == "Kid"
    assert redis.xlen(stream(family["top"])) == 0


def test_metrics_tell_the_outbox_lag(client, ann, family, db):
    ann.add_member(family["top"], "x@example.com")
    db.execute("UPDATE outbox SET created_at = now() - interval '20 seconds'")
    assert sample(client, "cotoami_outbox_lag_seconds") >= 20
