"""Domain events end to end (docs/contract.md, "Domain events"): writes through
the gateway reach the Redis streams with the API's JSON, exactly once and in
commit order, even when a cotos process dies right after its commit."""

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any, cast

import psycopg
import pytest
import redis
import requests
from conftest import PROFILE, Person

Entry = tuple[str, str, Any, str]  # stream entry id, event, data, origin


@pytest.fixture(scope="module")
def streams(stack) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(PROFILE.redis_url, decode_responses=True)
    yield client
    client.close()


def entries(client: redis.Redis, stream: str) -> list[Entry]:
    found = cast(list[tuple[str, dict[str, str]]], client.xrange(stream))  # decoded: decode_responses
    return [(entry_id, f["event"], json.loads(f["data"]), f["origin"]) for entry_id, f in found]


def home(person: Person) -> str:
    return f"events:amishi:{person.amishi['id']}"


def room(key: str) -> str:
    return f"events:cotonoma:{key}"


def wait_for_entries(stack, client: redis.Redis, stream: str, wanted, what: str) -> list[Entry]:
    """The stream's entries once wanted(entries) holds (the relay is asynchronous)."""
    stack.wait_until(lambda: wanted(entries(client, stream)), 15, what)
    return entries(client, stream)


def outboxes_empty() -> bool:
    for service in ("cotos", "cotonomas"):
        with psycopg.connect(PROFILE.database_url(service)) as conn:
            row = conn.execute("SELECT count(*) FROM outbox").fetchone()
            if row is None or row[0]:
                return False
    return True


def settled(stack) -> None:
    """Every event written so far has been relayed."""
    stack.wait_until(outboxes_empty, 15, "the outboxes relayed")


def told(found: list[Entry], event: str, coto_id: str) -> list[Entry]:
    return [entry for entry in found if entry[1] == event and entry[2].get("id") == coto_id]


def test_posts_edits_and_deletes_reach_home_and_the_cotonoma_with_the_timelines_json(stack, owner, streams):
    key = owner.create("Events room")["key"]
    at_home = owner.post("at home")
    in_room = owner.post("in the room", cotonoma_key=key)
    settled(stack)
    [room_item] = [c for c in owner.timeline(key) if c["id"] == in_room["id"]]
    home_items = {c["id"]: c for c in owner.timeline()}
    found_home = entries(streams, home(owner))
    for coto in (at_home, in_room):
        [(_, _, data, origin)] = told(found_home, "coto", coto["id"])
        assert data == home_items[coto["id"]] and origin.startswith("cotos:")
    [(_, _, data, _)] = told(entries(streams, room(key)), "coto", in_room["id"])
    assert data == room_item
    assert told(entries(streams, room(key)), "coto", at_home["id"]) == [], "a home coto is not told in a cotonoma"

    edited = owner.call("PATCH", f"/api/cotos/{in_room['id']}", json={"content": "edited"}).json()["coto"]
    assert owner.call("DELETE", f"/api/cotos/{in_room['id']}").status_code == 204
    for stream in (home(owner), room(key)):
        found = wait_for_entries(
            stack, streams, stream, lambda got: told(got, "coto-deleted", in_room["id"]), f"the delete in {stream}"
        )
        [(updated_id, _, data, _)] = told(found, "coto-updated", in_room["id"])
        [(deleted_id, _, _, _)] = told(found, "coto-deleted", in_room["id"])
        assert data == edited and entry_id_order(updated_id) < entry_id_order(deleted_id)


def entry_id_order(entry_id: str) -> tuple[int, int]:
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


def test_a_rename_and_members_coming_and_going_reach_the_cotonoma_and_those_below(stack, owner, streams):
    top = owner.create("Top room")["key"]
    child = owner.create("Child room", parent_key=top)["key"]
    renamed = owner.call("PATCH", f"/api/cotonomas/{child}", json={"name": "Kid room"})
    assert renamed.status_code == 200, renamed.text
    address = f"guest-{uuid.uuid4().hex[:8]}@example.com"
    added = owner.call("POST", f"/api/cotonomas/{top}/members", json={"email": address})
    assert added.status_code == 201, added.text
    assert owner.call("DELETE", f"/api/cotonomas/{top}/members/{address}").status_code == 204
    settled(stack)
    shown = owner.call("GET", f"/api/cotonomas/{child}").json()["cotonoma"]
    assert [(event, data) for _, event, data, _ in entries(streams, room(child)) if event == "cotonoma-updated"] == [
        ("cotonoma-updated", shown)
    ]
    member = {"cotonoma_key": top, "email": address}
    for key in (top, child):
        assert [(event, data) for _, event, data, _ in entries(streams, room(key)) if event.startswith("member-")] == [
            ("member-added", member),
            ("member-removed", member),
        ]
    # The child's own coto, in its parent, renamed.
    [(_, _, data, _)] = [e for e in entries(streams, room(top)) if e[1] == "coto-updated"]
    assert data["cotonoma_key"] == child and data["content"] == "Kid room"


def worker_pids(stack, program: str) -> set[int]:
    """The gunicorn workers under an instance's master."""
    found = subprocess.run(["pgrep", "-P", str(stack.pid(program))], capture_output=True, text=True).stdout
    return {int(pid) for pid in found.split()}


def test_a_cotos_process_killed_right_after_its_commit_still_tells_its_coto_exactly_once(stack, owner, streams):
    port = PROFILE.instance_port("cotos", 1)
    workers = worker_pids(stack, "cotos-1")
    content = f"doomed {uuid.uuid4().hex}"
    cookies = {cookie.name: cookie.value for cookie in owner.session.cookies}
    with pytest.raises(requests.ConnectionError):
        requests.post(
            f"http://127.0.0.1:{port}/api/cotos",
            json={"content": content},
            cookies=cookies,
            headers={"Origin": stack.url, "X-Cotoami-Fault": "kill-after-commit"},
            timeout=10,
        )
    with psycopg.connect(PROFILE.database_url("cotos")) as conn:
        row = conn.execute("SELECT id::text FROM cotos WHERE content = %s", (content,)).fetchone()
    assert row is not None, "the coto was committed before the process died"
    coto_id = row[0]
    stack.wait_until(lambda: worker_pids(stack, "cotos-1") - workers, 30, "a new cotos worker")
    stack.wait_until(lambda: stack.ready("cotos"), 30, "cotos ready again")
    settled(stack)
    [(_, _, data, _)] = told(entries(streams, home(owner)), "coto", coto_id)
    [coto] = [c for c in owner.timeline() if c["id"] == coto_id]
    assert data == coto


def test_concurrent_posts_into_one_cotonoma_are_each_told_once_in_commit_order(stack, owner, streams):
    key = owner.create("Busy room")["key"]
    spans: dict[str, tuple[float, float]] = {}  # coto id -> (sent, answered)
    lock = threading.Lock()

    def post(n: int) -> None:
        session = requests.Session()
        session.headers["Origin"] = stack.url
        session.cookies.update(owner.session.cookies)
        for k in range(5):
            sent = time.monotonic()
            response = session.post(
                stack.url + "/api/cotos", json={"content": f"busy {n}.{k}", "cotonoma_key": key}, timeout=10
            )
            answered = time.monotonic()
            assert response.status_code == 201, response.text
            with lock:
                spans[response.json()["coto"]["id"]] = (sent, answered)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(spans) == 30
    settled(stack)
    in_room = [data["id"] for _, event, data, _ in entries(streams, room(key)) if event == "coto"]
    at_home = [data["id"] for _, event, data, _ in entries(streams, home(owner)) if data.get("id") in spans]
    assert sorted(in_room) == sorted(spans), "every post told once, none missing"
    assert at_home == in_room, "the same order in each stream an event shares"
    # Commit order, as far as a client sees it: a post answered before another was sent comes first.
    position = {coto_id: n for n, coto_id in enumerate(in_room)}
    for a, (_, answered) in spans.items():
        for b, (sent, _) in spans.items():
            if answered < sent:
                assert position[a] < position[b], f"{a} was committed before {b} was sent"
