"""coto-deleted, read from the authors' streams with the consumer group
`graph`, removes the coto's connections and pins; nothing is missed across a
restart of the reader, and a deletion from before the connection is not
taken for one after it."""

import json
import time

from graph.events import GROUP, DeletionReader
from graph.store import GraphStore


def tell_deleted(redis, author_id: str, coto_id: str) -> str:
    entry_id: str = redis.xadd(
        f"events:amishi:{author_id}", {"event": "coto-deleted", "data": json.dumps({"id": coto_id}), "origin": "t"}
    )
    return entry_id


def reader(pool, redis, name="test-reader") -> DeletionReader:
    return DeletionReader(GraphStore(pool), redis, consumer=name)


def test_a_deleted_cotos_connections_and_pins_go_and_are_told(sign_in, doubles, ann, bob, pool, redis, events):
    key = doubles.cotonoma(ann, bob)
    a, b, c = doubles.coto(ann, "a", key), doubles.coto(bob, "b", key), doubles.coto(ann, "c", key)
    to_b = sign_in(ann).connected(a["id"], b["id"], cotonoma_key=key)
    from_b = sign_in(ann).connected(b["id"], c["id"], cotonoma_key=key)
    kept = sign_in(ann).connected(a["id"], c["id"], cotonoma_key=key)
    assert sign_in(bob).pin(b["id"], key).status_code == 201
    assert sign_in(ann).pin(b["id"]).status_code == 201  # bob's coto, readable by ann, at ann's home
    events(f"events:cotonoma:{key}")  # relayed so far
    assert GROUP in [g["name"] for g in redis.xinfo_groups(f"events:amishi:{bob.id}")]
    tell_deleted(redis, bob.id, b["id"])
    deletions = reader(pool, redis)
    assert deletions.step(block_ms=100) >= 1
    outgoing = sign_in(ann).request("GET", f"/api/graph/cotos/{a['id']}").json["outgoing"]
    assert [n["connection"]["id"] for n in outgoing] == [kept["id"]]
    assert sign_in(bob).stock(cotonoma=key).json["pins"] == []
    assert sign_in(ann).stock().json["pins"] == []
    told = events(f"events:cotonoma:{key}")
    assert ("connection-deleted", {"id": to_b["id"]}) in told and ("connection-deleted", {"id": from_b["id"]}) in told
    assert ("pin-deleted", {"coto_id": b["id"], "cotonoma_key": key}) in told
    assert ("pin-deleted", {"coto_id": b["id"], "cotonoma_key": None}) in events(f"events:amishi:{ann.id}")
    assert redis.xpending(f"events:amishi:{bob.id}", GROUP)["pending"] == 0


def test_what_is_appended_while_no_reader_runs_is_read_by_the_next(sign_in, doubles, ann, pool, redis):
    a, b = doubles.coto(ann, "a"), doubles.coto(ann, "b")
    first = reader(pool, redis, "first")
    first.step(block_ms=10)
    sign_in(ann).connected(a["id"], b["id"])
    tell_deleted(redis, ann.id, b["id"])  # nobody reads now
    reader(pool, redis, "second").step(block_ms=100)
    assert sign_in(ann).request("GET", f"/api/graph/cotos/{a['id']}").json["outgoing"] == []


def test_a_deletion_from_before_the_connection_is_not_taken_for_a_later_one(sign_in, doubles, ann, pool, redis):
    a, b = doubles.coto(ann, "a"), doubles.coto(ann, "b")
    # b was deleted (and then restored) before anything of ann's was connected.
    tell_deleted(redis, ann.id, b["id"])
    made = sign_in(ann).connected(a["id"], b["id"])
    reader(pool, redis).step(block_ms=100)
    outgoing = sign_in(ann).request("GET", f"/api/graph/cotos/{a['id']}").json["outgoing"]
    assert [n["connection"]["id"] for n in outgoing] == [made["id"]]


def test_other_events_and_malformed_ones_are_acknowledged_and_change_nothing(sign_in, doubles, ann, pool, redis):
    a, b = doubles.coto(ann, "a"), doubles.coto(ann, "b")
    sign_in(ann).connected(a["id"], b["id"])
    stream = f"events:amishi:{ann.id}"
    redis.xadd(stream, {"event": "coto-updated", "data": json.dumps({"id": b["id"]})})
    redis.xadd(stream, {"event": "coto-deleted", "data": "not json"})
    redis.xadd(stream, {"event": "coto-deleted", "data": json.dumps({"id": "not-a-uuid"})})
    reader(pool, redis).step(block_ms=100)
    assert len(sign_in(ann).request("GET", f"/api/graph/cotos/{a['id']}").json["outgoing"]) == 1
    assert redis.xpending(stream, GROUP)["pending"] == 0


def test_the_reader_thread_runs_until_stopped(pool, redis):
    deletions = reader(pool, redis)
    deletions.start()
    try:
        deletions.check()
    finally:
        deletions.stop()


def tell_posted(redis, author_id: str, coto_id: str) -> None:
    redis.xadd(f"events:amishi:{author_id}", {"event": "coto", "data": json.dumps({"id": coto_id}), "origin": "t"})


def test_a_connection_committed_just_after_the_deletion_goes_at_the_second_pass(
    sign_in, doubles, ann, pool, redis, monkeypatch
):
    a, b, c = doubles.coto(ann, "a"), doubles.coto(ann, "b"), doubles.coto(ann, "c")
    sign_in(ann).connected(a["id"], c["id"])  # the stream is watched already
    deletions = reader(pool, redis)
    monkeypatch.setattr("graph.events.SECOND_PASS_SECONDS", 0.2)
    tell_deleted(redis, ann.id, b["id"])
    deletions.step(block_ms=100)  # the first pass: nothing of b's yet
    # A request that looked b up before its deletion commits now.
    late = sign_in(ann).connected(a["id"], b["id"])
    assert late["end"] == b["id"]
    time.sleep(0.25)
    deletions.step(block_ms=10)
    outgoing = sign_in(ann).request("GET", f"/api/graph/cotos/{a['id']}").json["outgoing"]
    assert [n["coto"]["id"] for n in outgoing] == [c["id"]]


def test_a_coto_restored_meanwhile_keeps_what_is_connected_to_it_again(sign_in, doubles, ann, pool, redis, monkeypatch):
    a, b = doubles.coto(ann, "a"), doubles.coto(ann, "b")
    sign_in(ann).connected(a["id"], b["id"])
    deletions = reader(pool, redis)
    monkeypatch.setattr("graph.events.SECOND_PASS_SECONDS", 0.2)
    tell_deleted(redis, ann.id, b["id"])
    deletions.step(block_ms=100)
    tell_posted(redis, ann.id, b["id"])  # undone: restored from the trash
    deletions.step(block_ms=100)
    again = sign_in(ann).connected(a["id"], b["id"])
    time.sleep(0.25)
    deletions.step(block_ms=10)
    outgoing = sign_in(ann).request("GET", f"/api/graph/cotos/{a['id']}").json["outgoing"]
    assert [n["connection"]["id"] for n in outgoing] == [again["id"]]
