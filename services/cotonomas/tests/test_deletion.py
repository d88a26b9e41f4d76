"""DELETE /api/cotonomas/{key}: its owner deletes an empty cotonoma, with its
coto in the cotos service (the double here), exactly once and never half done."""

from datetime import timedelta

import pytest

from cotoami_testing.fixtures import INTERNAL_TOKEN


def delete(person, key: str):
    return person.request("DELETE", f"/api/cotonomas/{key}")


def deletions(cotos_double) -> list[str]:
    return [call.key for call in cotos_double.calls if call.method == "DELETE"]


def told(db) -> list[tuple[list[str], str, object]]:
    return [tuple(row) for row in db.execute("SELECT streams, event, data FROM outbox ORDER BY id").fetchall()]


@pytest.fixture
def room(ann, bob):
    """Ann's cotonoma, shared with Bob."""
    cotonoma = ann.create("Room")
    ann.add_member(cotonoma["key"], bob.amishi.email)
    return cotonoma["key"]


def test_the_owner_deletes_an_empty_cotonoma_with_its_coto_and_members(ann, bob, room, cotos_double, db, rows):
    db.execute("DELETE FROM outbox")
    assert delete(ann, room).status_code == 204
    assert deletions(cotos_double) == [room] and cotos_double.cotos == {}
    assert rows() == [] and db.execute("SELECT count(*) FROM members").fetchone() == (0,)
    assert told(db) == [([f"events:cotonoma:{room}"], "cotonoma-deleted", {"key": room})]
    assert bob.listed() == [] and ann.listed() == []
    for person in (ann, bob):
        assert person.request("GET", f"/api/cotonomas/{room}").status_code == 404
    again = delete(ann, room)
    assert again.status_code == 404 and deletions(cotos_double) == [room], "a repeat is 404 and asks nothing"


def test_only_the_owner_deletes_and_others_learn_nothing_more(ann, bob, sign_in, room, client, rows):
    member = delete(bob, room)
    assert member.status_code == 403 and member.json["title"] == "Owner only"
    stranger = delete(sign_in("eve@example.com"), room)
    assert stranger.status_code == 404 and stranger.json["title"] == "No such cotonoma"
    assert client.simulate_delete(f"/api/cotonomas/{room}").status_code == 401
    assert delete(ann, "no-such-key-1").status_code == 404
    assert rows() == [("Room", "ready")]


def test_a_cotonoma_holding_cotos_is_refused_with_what_is_left(ann, room, cotos_double, rows, db):
    cotos_double.posted[room] = 3
    refused = delete(ann, room)
    assert refused.status_code == 409 and refused.json["title"] == "Cotonoma not empty"
    assert refused.json["description"].startswith("It still holds 3 cotos.")
    assert rows() == [("Room", "ready")] and room in cotos_double.cotos
    cotos_double.posted[room] = 1
    assert "It still holds 1 coto." in delete(ann, room).json["description"]
    assert ann.request("GET", f"/api/cotonomas/{room}").status_code == 200
    assert not db.execute("SELECT 1 FROM outbox WHERE event = 'cotonoma-deleted'").fetchall()


def test_a_cotonoma_holding_cotonomas_is_refused_without_asking_cotos(ann, room, cotos_double, rows):
    ann.create("Child", room)
    refused = delete(ann, room)
    assert refused.status_code == 409 and refused.json["description"].startswith("It still holds 1 cotonoma.")
    assert deletions(cotos_double) == [] and rows() == [("Room", "ready"), ("Child", "ready")]


def test_when_cotos_is_down_nothing_is_deleted(ann, room, cotos_double, rows):
    cotos_double.stop()
    result = delete(ann, room)
    assert result.status_code == 503 and result.headers["Retry-After"]
    assert rows() == [("Room", "ready")]
    cotos_double.start()
    assert delete(ann, room).status_code == 204


@pytest.mark.parametrize("answer", ["slow", "fail"])
def test_a_deletion_cotos_may_have_done_is_settled_by_the_reconciler(ann, room, cotos_double, writes, rows, answer):
    # "slow": cotos deleted the coto but its answer was lost; "fail": it did nothing.
    cotos_double.answers = [answer]
    assert delete(ann, room).status_code == 503
    assert rows() == [("Room", "deleting")]
    assert ann.request("GET", f"/api/cotonomas/{room}").status_code == 404, "gone for everyone meanwhile"
    assert delete(ann, room).status_code == 404 and ann.listed() == []
    assert writes.settle_stuck_deletions() == 0, "a young deletion may still be under way"
    assert writes.settle_stuck_deletions(timedelta(0)) == 1
    assert rows() == [] and cotos_double.cotos == {}


def test_the_reconciler_puts_back_a_deletion_cotos_refuses(ann, room, cotos_double, writes, store, rows, db):
    store.begin_deletion(room, ann.amishi)
    cotos_double.posted[room] = 2
    assert writes.settle_stuck_deletions(timedelta(0)) == 1
    assert rows() == [("Room", "ready")]
    assert not db.execute("SELECT 1 FROM outbox WHERE event = 'cotonoma-deleted'").fetchall()


def test_a_deletion_being_finished_is_left_alone(ann, room, store, writes, rows):
    store.begin_deletion(room, ann.amishi)
    with store.finishing_deletion(room):
        assert writes.settle_stuck_deletions(timedelta(0)) == 0
    assert rows() == [("Room", "deleting")]


def test_nothing_is_made_in_a_cotonoma_being_deleted_and_nobody_reaches_it(ann, bob, room, store, client):
    store.begin_deletion(room, ann.amishi)
    made = ann.request("POST", "/api/cotonomas", json={"name": "Child", "parent_key": room})
    assert made.status_code == 404
    headers = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}
    params = {"amishi_id": bob.amishi.id, "email": bob.amishi.email}
    assert client.simulate_get(f"/internal/cotonomas/{room}/access", params=params, headers=headers).status_code == 404
    assert client.simulate_get("/internal/cotonomas", params=params, headers=headers).json == {"keys": []}
