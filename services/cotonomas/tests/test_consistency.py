"""Exactly one coto per cotonoma in the cotos service (the double here), never
an orphan on either side, whatever the cotos service does."""

import time
from datetime import timedelta

import pytest
from conftest import Call

from cotoami_common.internal import ServiceUnavailable
from cotoami_testing.fixtures import INTERNAL_TOKEN
from cotonomas.consistency import Reconciler
from cotonomas.store import MadeAlready


def methods(cotos_double) -> list[str]:
    return [call.method for call in cotos_double.calls]


def assert_503_json(result):
    assert result.status_code == 503 and result.headers["Retry-After"]
    assert result.json["title"] and "Traceback" not in result.text


def test_creating_at_home_puts_the_coto_with_no_parent(ann, cotos_double, rows):
    cotonoma = ann.create("Ideas")
    assert cotos_double.calls == [
        Call(
            "PUT",
            cotonoma["key"],
            {"name": "Ideas", "parent_key": None, "owner": ann.amishi.public()},
            f"Bearer {INTERNAL_TOKEN}",
        )
    ]
    assert cotos_double.cotos.keys() == {cotonoma["key"]}
    assert rows() == [("Ideas", "ready")]


def test_creating_inside_puts_the_coto_in_the_parent(ann, cotos_double):
    parent = ann.create("Parent")
    child = ann.create("Child", parent["key"])
    assert cotos_double.calls[-1].body == {"name": "Child", "parent_key": parent["key"], "owner": ann.amishi.public()}
    assert cotos_double.cotos.keys() == {parent["key"], child["key"]}


def test_when_cotos_is_down_nothing_is_created_and_nothing_needs_undoing(ann, cotos_double, rows):
    cotos_double.stop()
    result = ann.request("POST", "/api/cotonomas", json={"name": "Ideas"})
    assert_503_json(result)
    assert rows() == [] and cotos_double.calls == []
    cotos_double.start()
    assert ann.create("Ideas")["name"] == "Ideas", "the name is free again"


def test_when_cotos_fails_its_coto_is_deleted_and_the_row_too(ann, cotos_double, rows):
    cotos_double.answers = ["fail"]
    result = ann.request("POST", "/api/cotonomas", json={"name": "Ideas"})
    assert_503_json(result)
    assert methods(cotos_double) == ["PUT", "DELETE"] and cotos_double.calls[0].key == cotos_double.calls[1].key
    assert rows() == [] and cotos_double.cotos == {}


def test_a_lost_answer_is_undone_at_once_when_cotos_can_delete(ann, cotos_double, rows):
    cotos_double.answers = ["slow"]
    result = ann.request("POST", "/api/cotonomas", json={"name": "Ideas"})
    assert_503_json(result)
    assert methods(cotos_double) == ["PUT", "DELETE"]
    assert rows() == [] and cotos_double.cotos == {}


def test_a_creation_neither_finished_nor_undone_is_undone_by_the_reconciler_once_cotos_is_back(
    ann, cotos_double, rows, writes, client
):
    # cotos makes the coto but its answer never comes back, then cannot delete it.
    cotos_double.answers = ["slow", "fail"]
    result = ann.request("POST", "/api/cotonomas", json={"name": "Ideas"})
    assert_503_json(result)
    [key] = cotos_double.cotos
    assert rows() == [("Ideas", "creating")]
    # Meanwhile it exists for nobody, and its name waits.
    assert ann.listed() == []
    assert ann.request("GET", f"/api/cotonomas/{key}").status_code == 404
    access = client.simulate_get(
        f"/internal/cotonomas/{key}/access",
        params={"amishi_id": ann.amishi.id, "email": ann.amishi.email},
        headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"},
    )
    assert access.status_code == 404
    again = ann.request("POST", "/api/cotonomas", json={"name": "Ideas"})
    assert again.status_code == 409 and again.json["title"] == "Name in use"
    assert again.headers["Retry-After"] == "2"

    assert writes.undo_stuck_creations() == 0, "a young creation may still be under way"
    cotos_double.stop()
    with pytest.raises(ServiceUnavailable):
        writes.undo_stuck_creations(timedelta(0))
    assert rows() == [("Ideas", "creating")]
    cotos_double.start()
    assert writes.undo_stuck_creations(timedelta(0)) == 1
    assert rows() == [] and cotos_double.cotos == {}
    assert cotos_double.calls[-1] == Call("DELETE", key, None, f"Bearer {INTERNAL_TOKEN}")
    assert ann.create("Ideas")["name"] == "Ideas"


def test_a_creation_still_being_finished_is_left_alone(ann, store, writes, rows):
    key = store.begin_creation(ann.amishi, "Busy", None)
    with store.finishing_creation(key):
        assert writes.undo_stuck_creations(timedelta(0)) == 0
    assert rows() == [("Busy", "creating")]


def test_the_reconciler_thread_undoes_stuck_creations_until_stopped(ann, store, writes, cotos_double, rows):
    store.begin_creation(ann.amishi, "Stuck", None)
    reconciler = Reconciler(writes, every_seconds=0.05, stuck_after=timedelta(0))
    reconciler.start()
    try:
        reconciler.check()
        deadline = time.monotonic() + 5
        while rows() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rows() == [] and methods(cotos_double) == ["DELETE"]
    finally:
        reconciler.stop()
    with pytest.raises(RuntimeError):
        reconciler.check()


def test_the_reconciler_thread_survives_cotos_being_down(ann, store, writes, cotos_double, rows):
    store.begin_creation(ann.amishi, "Stuck", None)
    cotos_double.stop()
    reconciler = Reconciler(writes, every_seconds=0.05, stuck_after=timedelta(0))
    reconciler.start()
    try:
        time.sleep(0.3)
        reconciler.check()
        assert rows() == [("Stuck", "creating")]
        cotos_double.start()
        deadline = time.monotonic() + 5
        while rows() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rows() == []
    finally:
        reconciler.stop()


def test_a_rename_puts_the_new_name_with_the_parent_and_owner(ann, cotos_double):
    parent = ann.create("Parent")
    child = ann.create("Child", parent["key"])
    result = ann.request("PATCH", f"/api/cotonomas/{child['key']}", json={"name": " Renamed "})
    assert result.status_code == 200 and result.json["cotonoma"]["name"] == "Renamed"
    assert cotos_double.calls[-1] == Call(
        "PUT",
        child["key"],
        {"name": "Renamed", "parent_key": parent["key"], "owner": ann.amishi.public()},
        f"Bearer {INTERNAL_TOKEN}",
    )
    assert cotos_double.cotos[child["key"]]["name"] == "Renamed"


def test_a_rename_cotos_cannot_take_is_rolled_back(ann, cotos_double, rows):
    cotonoma = ann.create("Ideas")
    cotos_double.stop()
    result = ann.request("PATCH", f"/api/cotonomas/{cotonoma['key']}", json={"name": "Renamed"})
    assert_503_json(result)
    assert rows() == [("Ideas", "ready")]
    assert ann.request("GET", f"/api/cotonomas/{cotonoma['key']}").json["cotonoma"]["name"] == "Ideas"
    assert cotos_double.cotos[cotonoma["key"]]["name"] == "Ideas"


def test_a_rename_whose_answer_is_lost_is_rolled_back_on_both_sides(ann, cotos_double, rows):
    cotonoma = ann.create("Ideas")
    cotos_double.answers = ["slow"]
    result = ann.request("PATCH", f"/api/cotonomas/{cotonoma['key']}", json={"name": "Renamed"})
    assert_503_json(result)
    assert rows() == [("Ideas", "ready")]
    assert [(c.method, c.body["name"]) for c in cotos_double.calls[1:]] == [("PUT", "Renamed"), ("PUT", "Ideas")]
    assert cotos_double.cotos[cotonoma["key"]]["name"] == "Ideas"


def test_a_cotonomatize_cut_short_gives_the_coto_back_never_deletes_it(ann, cotos_double, rows, writes):
    coto_id = "0193a3c4-0000-7000-8000-000000000001"
    # cotos marks the coto but its answer never comes back: undone at once, the coto kept.
    cotos_double.answers = ["slow"]
    with pytest.raises(ServiceUnavailable):
        writes.cotonomatize(ann.amishi, coto_id, "Ideas", None)
    assert rows() == []
    put, undo = cotos_double.calls
    assert put.method == "PUT" and put.body is not None and put.body["coto_id"] == coto_id
    assert (undo.method, undo.key, undo.query) == ("DELETE", put.key, "keep=coto")
    # Then one that could not be undone at once: the reconciler gives it back too.
    cotos_double.calls.clear()
    cotos_double.answers = ["slow", "fail"]
    with pytest.raises(ServiceUnavailable):
        writes.cotonomatize(ann.amishi, coto_id, "Ideas", None)
    assert rows() == [("Ideas", "creating")]
    assert writes.undo_stuck_creations(timedelta(0)) == 1
    assert rows() == []
    assert (cotos_double.calls[-1].method, cotos_double.calls[-1].query) == ("DELETE", "keep=coto")


def test_a_coto_is_made_a_cotonoma_once(ann, cotos_double, store, writes):
    coto_id = "0193a3c4-0000-7000-8000-000000000002"
    cotonoma = writes.cotonomatize(ann.amishi, coto_id, "Once", None)
    assert store.made_from(coto_id) == (cotonoma["key"], True)
    with pytest.raises(MadeAlready) as made:
        writes.cotonomatize(ann.amishi, coto_id, "Once again", None)
    assert (made.value.key, made.value.ready) == (cotonoma["key"], True)


def test_a_second_cotonomatize_of_a_coto_under_way_is_made_already_not_a_name_taken(ann, store):
    coto_id = "0193a3c4-0000-7000-8000-000000000003"
    key = store.begin_creation(ann.amishi, "Same name", None, from_coto=coto_id)
    with pytest.raises(MadeAlready) as made:
        store.begin_creation(ann.amishi, "Same name", None, from_coto=coto_id)
    assert (made.value.key, made.value.ready) == (key, False)
