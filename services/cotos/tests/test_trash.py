"""The trash (a deleted coto kept 30 days, restorable by its author), moderation
by a cotonoma's owner, and the refusal to delete the coto of a cotonoma that
still holds cotos."""

import pytest
from conftest import put_cotonoma_coto

from cotoami_testing.fixtures import INTERNAL_TOKEN, new_amishi
from cotos.store import TRASH_DAYS
from cotos.trash import TrashPurger

CREDENTIAL = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}


@pytest.fixture
def room(new_cotonoma, ann, bob):
    """Ann's cotonoma, shared with Bob."""
    return new_cotonoma("Room", ann, bob)


def restore(browser, coto_id: str):
    return browser.request("POST", f"/api/cotos/{coto_id}/restore")


def events(db, coto_id: str) -> list[str]:
    return [event for (event,) in db.execute("SELECT event FROM outbox WHERE data->>'id' = %s ORDER BY id", (coto_id,))]


def age_trash(db, days: float) -> None:
    db.execute("UPDATE trashed_cotos SET deleted_at = now() - make_interval(secs => %s)", (days * 86400,))


def test_a_deleted_coto_comes_back_from_the_trash_as_it_was_and_where_it_was(sign_in, ann, db):
    me = sign_in(ann)
    older, middle, newer = me.post("older"), me.post("middle"), me.post("newer")
    assert me.request("DELETE", f"/api/cotos/{middle['id']}").status_code == 204
    assert me.request("GET", f"/api/cotos/{middle['id']}").status_code == 404
    assert [c["id"] for c in me.timeline()] == [newer["id"], older["id"]]
    assert me.request("GET", "/api/search", params={"q": "middle"}).json["cotos"] == []
    restored = restore(me, middle["id"])
    assert restored.status_code == 200 and restored.json["coto"] == middle
    assert me.timeline() == [newer, middle, older]
    assert me.request("GET", "/api/search", params={"q": "middle"}).json["cotos"] == [middle]
    assert events(db, middle["id"]) == ["coto", "coto-deleted", "coto"], "live timelines and search follow"
    assert restore(me, middle["id"]).status_code == 404, "restored already"


def test_only_its_author_restores_a_coto_and_others_learn_nothing(sign_in, browser, ann, bob, room):
    mine = sign_in(ann).post("in the room", room)
    assert sign_in(ann).request("DELETE", f"/api/cotos/{mine['id']}").status_code == 204
    never_deleted = sign_in(ann).post("still here")
    for someone, coto_id in (
        (sign_in(bob), mine["id"]),  # a member of the room
        (browser, mine["id"]),  # anonymous
        (sign_in(ann), never_deleted["id"]),
        (sign_in(ann), "01900000-0000-7000-8000-000000000000"),
    ):
        refused = restore(someone, coto_id)
        assert refused.status_code == 404 and refused.json["title"] == "No such coto"
    assert restore(sign_in(ann), mine["id"]).status_code == 200


def test_after_thirty_days_a_coto_cannot_be_restored_and_is_purged(sign_in, coto_store, ann, db):
    me = sign_in(ann)
    kept, old = me.post("deleted yesterday"), me.post("deleted long ago")
    for coto in (kept, old):
        me.request("DELETE", f"/api/cotos/{coto['id']}")
    age_trash(db, TRASH_DAYS + 0.01)
    db.execute("UPDATE trashed_cotos SET deleted_at = now() - interval '1 day' WHERE id = %s", (kept["id"],))
    assert restore(me, old["id"]).status_code == 404
    assert TrashPurger(coto_store).purge() == 1
    assert [str(i) for (i,) in db.execute("SELECT id FROM trashed_cotos")] == [kept["id"]]
    assert restore(me, kept["id"]).status_code == 200


def test_the_owner_of_a_cotonoma_removes_a_members_coto_for_good(sign_in, ann, bob, room, db):
    as_bob = sign_in(bob)
    coto = as_bob.post("off topic", room)
    assert sign_in(ann).request("PATCH", f"/api/cotos/{coto['id']}", json={"content": "x"}).status_code == 404
    assert sign_in(ann).request("DELETE", f"/api/cotos/{coto['id']}").status_code == 204
    assert as_bob.timeline(cotonoma=room) == [] and as_bob.timeline() == []
    assert db.execute("SELECT data FROM outbox WHERE event = 'coto-deleted'").fetchall() == [({"id": coto["id"]},)]
    refused = restore(as_bob, coto["id"])
    assert refused.status_code == 409 and refused.json["title"] == "Cannot restore"
    assert db.execute("SELECT moderated FROM trashed_cotos").fetchall() == [(True,)]


def test_only_the_owner_moderates_and_only_in_their_cotonoma(sign_in, new_cotonoma, ann, bob, room):
    carol = new_amishi("carol@example.com")
    elsewhere = new_cotonoma("Bob's", bob, ann)
    cotos = [sign_in(ann).post("the owner's", room), sign_in(bob).post("at bob's home")]
    cotos.append(sign_in(bob).post("in bob's room", elsewhere))
    for someone, coto in ((bob, cotos[0]), (carol, cotos[0]), (ann, cotos[1]), (ann, cotos[2])):
        assert sign_in(someone).request("DELETE", f"/api/cotos/{coto['id']}").status_code == 404
    assert sign_in(bob).timeline(cotonoma=room) == [cotos[0]]


def test_the_owner_cannot_delete_a_sub_cotonoma_as_a_coto(client, sign_in, ann, bob, room, cotonomas_double):
    child = put_cotonoma_coto(client, "bobs-child-01", "Bob's child", bob, parent_key=room)
    cotonomas_double.add("bobs-child-01", "Bob's child", bob)
    assert sign_in(ann).request("DELETE", f"/api/cotos/{child['id']}").status_code == 409


def test_a_coto_does_not_go_back_to_a_cotonoma_its_author_left(sign_in, cotonomas_double, clock, ann, bob, room):
    as_bob = sign_in(bob)
    coto = as_bob.post("mine", room)
    as_bob.request("DELETE", f"/api/cotos/{coto['id']}")
    cotonomas_double.revoke(room, bob)
    clock.advance(2)
    refused = restore(as_bob, coto["id"])
    assert refused.status_code == 409 and "no longer post" in refused.json["description"]
    cotonomas_double.allow(room, bob)
    clock.advance(2)
    assert restore(as_bob, coto["id"]).status_code == 200


def test_the_coto_of_a_cotonoma_holding_cotos_is_not_deleted(client, sign_in, ann, bob, room, db):
    path = f"/internal/cotonoma-cotos/{room}"
    kept, trashed = sign_in(bob).post("kept", room), sign_in(ann).post("trashed", room)
    refused = client.simulate_delete(path, headers=CREDENTIAL)
    assert refused.status_code == 409 and refused.json["cotos"] == 2 and refused.json["title"] == "Cotonoma not empty"
    assert db.execute("SELECT count(*) FROM cotos WHERE cotonoma_key = %s", (room,)).fetchone() == (1,)
    sign_in(ann).request("DELETE", f"/api/cotos/{trashed['id']}")
    assert client.simulate_delete(path, headers=CREDENTIAL).json["cotos"] == 1
    sign_in(bob).request("DELETE", f"/api/cotos/{kept['id']}")
    assert client.simulate_delete(path, headers=CREDENTIAL).status_code == 204
    assert db.execute("SELECT count(*) FROM trashed_cotos").fetchone() == (0,), "its trash goes with it"
    assert db.execute("SELECT count(*) FROM cotos WHERE cotonoma_key = %s", (room,)).fetchone() == (0,)


def test_nothing_is_posted_restored_or_made_in_a_cotonoma_whose_coto_is_gone(client, sign_in, ann, bob, room):
    # cotonomas still admits Bob (its decision is kept 2 s), but the cotonoma's coto is gone.
    as_bob = sign_in(bob)
    coto = as_bob.post("soon back", room)
    as_bob.request("DELETE", f"/api/cotos/{coto['id']}")
    assert client.simulate_delete(f"/internal/cotonoma-cotos/{room}", headers=CREDENTIAL).status_code == 204
    posted = as_bob.request("POST", "/api/cotos", json={"content": "late", "cotonoma_key": room})
    assert posted.status_code == 404 and posted.json["title"] == "No such cotonoma"
    assert restore(as_bob, coto["id"]).status_code == 404, "its trash went with the cotonoma"
    child = {"name": "Child", "parent_key": room, "owner": ann.public()}
    assert (
        client.simulate_put("/internal/cotonoma-cotos/child-key-001", json=child, headers=CREDENTIAL).status_code == 404
    )


def test_a_retried_save_of_a_pad_does_not_bring_back_a_coto_trashed_since(coto_store, sign_in, ann, anonymous_cotos):
    pad_id, posted = anonymous_cotos.post(None, "from the pad")
    pad = anonymous_cotos.all(pad_id)
    assert coto_store.save_anonymous(ann.public(), pad) == 1
    me = sign_in(ann)
    me.request("DELETE", f"/api/cotos/{posted.coto['id']}")
    assert coto_store.save_anonymous(ann.public(), pad) == 0
    assert me.timeline() == []


def test_an_anonymous_pad_deletes_for_good(browser, db):
    coto = browser.post("pad")
    assert browser.request("DELETE", f"/api/cotos/{coto['id']}").status_code == 204
    assert restore(browser, coto["id"]).status_code == 404
    assert db.execute("SELECT count(*) FROM trashed_cotos").fetchone() == (0,)
