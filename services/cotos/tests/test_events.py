"""Domain events: each write of a signed-in coto records its event in the outbox
in the same transaction (docs/contract.md, "Domain events"), and the relay
appends it to the streams."""

import dataclasses
import json
import os
import signal
import time
from typing import Any

import pytest
from conftest import put_cotonoma_coto
from falcon import testing
from test_claims import claim

from cotoami_common.outbox import OutboxRelay
from cotoami_testing.fixtures import INTERNAL_TOKEN, new_amishi, sample
from cotos.app import create_app

CREDENTIAL = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}


def outbox(db) -> list[tuple[list[str], str, Any]]:
    """(streams, event, data) of each event waiting, oldest first."""
    return [tuple(row) for row in db.execute("SELECT streams, event, data FROM outbox ORDER BY id").fetchall()]


def home(amishi) -> str:
    return f"events:amishi:{amishi.id}"


def room(key: str) -> str:
    return f"events:cotonoma:{key}"


@pytest.fixture
def ann_browser(sign_in, ann):
    return sign_in(ann)


def test_a_post_at_home_is_a_coto_event_at_home_shaped_as_the_timeline_shows_it(ann, ann_browser, db):
    coto = ann_browser.post("hello")
    assert outbox(db) == [([home(ann)], "coto", coto)]
    assert ann_browser.timeline() == [coto]


def test_a_post_in_a_cotonoma_is_told_at_home_and_in_the_cotonoma(ann, ann_browser, new_cotonoma, db):
    key = new_cotonoma("Room", ann)
    db.execute("DELETE FROM outbox")
    coto = ann_browser.post("in the room", cotonoma_key=key)
    assert outbox(db) == [(sorted([home(ann), room(key)]), "coto", coto)]
    assert ann_browser.timeline(cotonoma=key)[0] == coto


def test_an_edit_and_a_delete_are_told_where_the_coto_is(ann, ann_browser, new_cotonoma, db):
    key = new_cotonoma("Room", ann)
    coto = ann_browser.post("draft", cotonoma_key=key)
    db.execute("DELETE FROM outbox")
    edited = ann_browser.request("PATCH", f"/api/cotos/{coto['id']}", json={"content": "final"}).json["coto"]
    assert ann_browser.request("DELETE", f"/api/cotos/{coto['id']}").status_code == 204
    streams = sorted([home(ann), room(key)])
    assert outbox(db) == [(streams, "coto-updated", edited), (streams, "coto-deleted", {"id": coto["id"]})]


def test_a_retried_post_with_the_same_key_tells_nothing_again(ann_browser, db):
    headers = {"Idempotency-Key": "once"}
    for _ in range(2):
        assert ann_browser.request("POST", "/api/cotos", json={"content": "x"}, headers=headers).status_code == 201
    assert len(outbox(db)) == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/api/cotos", {"content": ""}, 400),
        ("POST", "/api/cotos", {"content": "x", "cotonoma_key": "unknown-room"}, 404),
        ("PATCH", "/api/cotos/{other}", {"content": "mine now"}, 404),
        ("PATCH", "/api/cotos/{mine}", {"content": ""}, 400),
        ("PATCH", "/api/cotos/{cotonoma}", {"content": "renamed"}, 409),
        ("DELETE", "/api/cotos/{other}", None, 404),
        ("DELETE", "/api/cotos/{cotonoma}", None, 409),
    ],
)
def test_a_refused_write_tells_nothing(ann, ann_browser, sign_in, new_cotonoma, db, method, path, body, status):
    ids = {
        "mine": ann_browser.post("mine")["id"],
        "other": sign_in(new_amishi("bob@example.com")).post("bob's")["id"],
        "cotonoma": put_cotonoma_coto(ann_browser.client, "ann-room-01", "Room", ann)["id"],
    }
    db.execute("DELETE FROM outbox")
    result = ann_browser.request(method, path.format(**ids), **({"json": body} if body is not None else {}))
    assert result.status_code == status, result.text
    assert outbox(db) == []


def test_a_write_that_fails_in_its_transaction_tells_nothing(ann, ann_browser, db):
    coto = ann_browser.post("x")
    db.execute("DELETE FROM outbox")
    # The event is written, then the commit fails: both are undone.
    db.execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE 'refused'; END $$;"
        "CREATE CONSTRAINT TRIGGER refuse AFTER UPDATE ON cotos DEFERRABLE INITIALLY DEFERRED"
        " FOR EACH ROW EXECUTE FUNCTION refuse()"
    )
    try:
        result = ann_browser.request("PATCH", f"/api/cotos/{coto['id']}", json={"content": "y"})
        assert result.status_code == 500
        assert outbox(db) == []
    finally:
        db.execute("DROP TRIGGER refuse ON cotos; DROP FUNCTION refuse()")


def test_the_anonymous_pad_tells_nothing(browser, db):
    coto = browser.post("anonymous")
    browser.request("PATCH", f"/api/cotos/{coto['id']}", json={"content": "edited"})
    browser.request("DELETE", f"/api/cotos/{coto['id']}")
    assert outbox(db) == []


def test_the_coto_of_a_cotonoma_is_told_in_its_parent_when_made_renamed_and_removed(client, ann, db):
    parent = put_cotonoma_coto(client, "parent-key-01", "Parent", ann)
    assert outbox(db) == [([home(ann)], "coto", parent)]
    db.execute("DELETE FROM outbox")
    path = "/internal/cotonoma-cotos/child-key-001"
    made = put_cotonoma_coto(client, "child-key-001", "Child", ann, parent_key="parent-key-01")
    again = put_cotonoma_coto(client, "child-key-001", "Child", ann, parent_key="parent-key-01")
    renamed = put_cotonoma_coto(client, "child-key-001", "Kid", ann, parent_key="parent-key-01")
    for _ in range(2):
        assert client.simulate_delete(path, headers=CREDENTIAL).status_code == 204
    streams = sorted([home(ann), room("parent-key-01")])
    assert again == made, "the same name again writes nothing"
    assert outbox(db) == [
        (streams, "coto", made),
        (streams, "coto-updated", renamed),
        (streams, "coto-deleted", {"id": made["id"]}),
    ]


def test_claimed_cotos_are_told_at_their_new_home_oldest_first_once(client, config, browser, sign_in, db):
    for n in range(3):
        browser.post(f"anonymous {n}")
    saver = new_amishi("saver@example.com")
    assert claim(client, browser.cookies["anonymous_id"], saver, config.internal_token) == {"moved": 3}
    assert claim(client, browser.cookies["anonymous_id"], saver, config.internal_token) == {"moved": 0}
    saved = list(reversed(sign_in(saver).timeline()))
    assert outbox(db) == [([home(saver)], "coto", coto) for coto in saved]


def test_the_relay_appends_each_event_to_its_streams_and_empties_the_outbox(
    ann, ann_browser, new_cotonoma, pool, redis, db
):
    key = new_cotonoma("Room", ann)
    coto = ann_browser.post("relayed", cotonoma_key=key)
    relay = OutboxRelay(pool, redis, "cotos", poll_seconds=0.2)
    relay.start()
    try:
        deadline = time.monotonic() + 10
        while outbox(db) or not redis.exists(room(key)):
            assert time.monotonic() < deadline, "not relayed within 10 s"
            time.sleep(0.05)
    finally:
        relay.stop()
    [(_, fields)] = redis.xrange(room(key))
    assert fields["event"] == "coto" and json.loads(fields["data"]) == coto
    assert fields["origin"].startswith("cotos:")
    assert [json.loads(f["data"])["id"] for _, f in redis.xrange(home(ann))] == [
        ann_browser.timeline()[-1]["id"],  # the cotonoma's own coto, at its owner's home
        coto["id"],
    ]


@pytest.fixture
def kills(monkeypatch):
    """The signals the process would have sent itself."""
    sent: list[int] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append(sig))
    return sent


@pytest.mark.parametrize("hooks", [True, False])
def test_the_fault_hook_kills_the_process_after_the_commit_only_when_allowed(
    config, deps, token_keys, ann, db, kills, hooks
):
    client = testing.TestClient(create_app(dataclasses.replace(config, fault_hooks=hooks), deps))
    result = client.simulate_post(
        "/api/cotos",
        json={"content": "doomed"},
        headers={"Cookie": f"access_token={token_keys.access_token(ann)}", "X-Cotoami-Fault": "kill-after-commit"},
    )
    assert kills == ([signal.SIGKILL] if hooks else [])
    # Committed before the kill: the coto and its event.
    [(coto_id,)] = db.execute("SELECT id::text FROM cotos").fetchall()
    assert [(event, data["id"]) for _, event, data in outbox(db)] == [("coto", coto_id)]
    assert result.status_code == 201


def test_metrics_tell_the_outbox_lag_and_the_events_relayed(client, ann_browser, pool, redis, db):
    assert sample(client, "cotoami_outbox_lag_seconds") == 0
    ann_browser.post("waiting")
    db.execute("UPDATE outbox SET created_at = now() - interval '20 seconds'")
    assert sample(client, "cotoami_outbox_lag_seconds") >= 20
    before = sample(client, "cotoami_events_relayed_total")
    assert OutboxRelay(pool, redis, "cotos").relay_once() == 1
    assert sample(client, "cotoami_events_relayed_total") == before + 1
    assert sample(client, "cotoami_outbox_lag_seconds") == 0
