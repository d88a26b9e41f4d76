"""Export and import end to end, through the gateway: the archive service
reading and writing through cotos', cotonomas' and graph's internal paths.
A round trip to a fresh stack (its databases dropped and made anew: moving to
another server), the original Cotoami's fixtures, hostile files, and an
import whose processes are killed halfway."""

import importlib.util
import json
import os
import re
import signal
import time
import uuid
from typing import Any

import pytest
import requests
from conftest import PROFILE, ROOT, Json, Person

from cotoami_stack.services import migrate, reset_databases

_spec = importlib.util.spec_from_file_location(
    "original_fixtures", ROOT / "services" / "archive" / "tests" / "original_fixtures.py"
)
assert _spec is not None and _spec.loader is not None
original = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(original)

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def export(person: Person) -> Json:
    response = person.call("GET", "/api/export")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Disposition"] == 'attachment; filename="cotoami-export.json"'
    data: Json = response.json()
    return data


def imported(person: Person, data: object) -> Json:
    """The result of importing `data`, following the job if it takes longer than the POST waits."""
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    response = person.call("POST", "/api/import", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code in (200, 202), response.text
    if response.status_code == 200:
        result: Json = response.json()
        return result
    done: Json = finished(person, response.headers["Location"])["result"]
    return done


def finished(person: Person, location: str, timeout: float = 120) -> Json:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: Json = person.call("GET", location).json()["job"]
        if job["state"] in ("done", "failed"):
            assert job["state"] == "done", job
            return job
        time.sleep(0.2)
    raise AssertionError(f"the import did not finish: {job}")


def connect(person: Person, start: Json, end: Json, **body: Any) -> Json:
    response = person.call("POST", "/api/graph/connections", json={"start": start["id"], "end": end["id"], **body})
    assert response.status_code == 201, response.text
    connection: Json = response.json()["connection"]
    return connection


def pin(person: Person, coto: Json, cotonoma_key: str | None = None) -> None:
    body = {"coto_id": coto["id"], **({"cotonoma_key": cotonoma_key} if cotonoma_key else {})}
    response = person.call("POST", "/api/graph/pins", json=body)
    assert response.status_code == 201, response.text


def coto_view(coto: Json) -> tuple[Any, ...]:
    posted_in = coto["posted_in"]
    return (
        coto["id"],
        coto["content"],
        coto["created_at"],
        coto["updated_at"],
        posted_in and (posted_in["key"], posted_in["name"]),
        coto["as_cotonoma"],
        coto["cotonoma_key"],
    )


def stock(person: Person, cotonoma_key: str | None = None) -> list[Any]:
    params = {"depth": "3", **({"cotonoma": cotonoma_key} if cotonoma_key else {})}
    response = person.call("GET", "/api/graph/pins", params=params)
    assert response.status_code == 200, response.text

    def node(n: Json) -> tuple[Any, ...]:
        connection = n.get("connection")
        phrase = connection and connection["linking_phrase"]
        return (n["coto"]["id"], phrase, [node(child) for child in n["children"]])

    return [node(n) for n in response.json()["pins"]]


def what_they_have(person: Person, keys: list[str]) -> dict[str, Any]:
    """What a person sees of their own: home, each cotonoma's timeline (their own cotos), the
    cotonomas, the stocks, the members."""
    mine = person.amishi["id"]
    cotonomas = person.call("GET", "/api/cotonomas").json()["cotonomas"]
    return {
        "home": [coto_view(c) for c in person.timeline()],
        "timelines": {k: [coto_view(c) for c in person.timeline(k) if c["amishi"]["id"] == mine] for k in keys},
        "cotonomas": sorted((c["key"], c["name"], c["parent_key"], c["shared"]) for c in cotonomas),
        "stock": {k: stock(person, k) for k in [None, *keys]},
        "members": {
            k: sorted(m["email"] for m in person.call("GET", f"/api/cotonomas/{k}/members").json()["members"])
            for k in keys
        },
    }


def test_a_round_trip_to_a_fresh_stack(stack, mailbox, owner, member, stranger):
    shared = owner.create("Shared room")
    inner = owner.create("Inner room", shared["key"])
    assert owner.call("POST", f"/api/cotonomas/{shared['key']}/members", json={"email": member.address}).ok
    home = [owner.post(f"at home {n}") for n in range(3)]
    in_shared = [owner.post(f"shared {n}", shared["key"]) for n in range(2)]
    in_inner = [owner.post(f"inner {n} with **Markdown**", inner["key"]) for n in range(2)]
    member.post("the member's, not exported", shared["key"])
    connect(owner, home[0], home[1], linking_phrase="because")
    connect(owner, home[1], in_shared[0])
    connect(owner, in_shared[0], in_inner[1], linking_phrase="see also")
    pin(owner, home[0])
    pin(owner, in_shared[0], shared["key"])
    keys = [shared["key"], inner["key"]]
    before = what_they_have(owner, keys)
    assert before["stock"][None] and before["stock"][shared["key"]]

    exported = export(owner)
    assert exported["amishi"]["id"] == owner.amishi["id"]
    # 7 cotos and 2 cotonomas' cotos, in id (posting) order; the member's is not theirs to export.
    assert len(exported["cotos"]) == 9
    assert [c["content"] for c in exported["cotos"]][:2] == ["Shared room", "Inner room"]
    assert exported["cotos"][1]["cotonoma"]["key"] == inner["key"]
    assert exported["cotos"][1]["posted_in_id"] == shared["key"]
    assert exported["cotos"][0]["cotonoma"]["members"] == [member.address]
    assert all(isinstance(c["inserted_at"], int) for c in exported["cotos"])
    assert len(exported["connections"]) == 5  # 3 connections and 2 pins
    assert {c["start"] for c in exported["connections"]} >= {owner.amishi["id"], exported["cotos"][0]["id"]}

    # Into another account on this stack: every id is someone else's.
    foreign = imported(stranger, exported)
    assert foreign["cotos"]["inserts"] == 0 and foreign["cotos"]["updates"] == 0
    assert foreign["cotos"]["cotonomas"] == 0
    assert len(foreign["cotos"]["rejected"]) == 9
    assert foreign["connections"]["ok"] == 0 and len(foreign["connections"]["rejected"]) == 5
    assert stranger.timeline() == [] and stranger.call("GET", "/api/cotonomas").json()["cotonomas"] == []
    assert what_they_have(owner, keys) == before

    # Another server: every database dropped and made anew; the same person signs up there.
    reset_databases(PROFILE)
    migrate(PROFILE)
    stack.wait_until(lambda: owner.call("GET", "/api/cotos").ok, 10, "the services answering again")
    moved = Person(stack, mailbox, "owner", owner.address)
    assert moved.timeline() == []
    result = imported(moved, exported)
    assert result == {
        "cotos": {"inserts": 9, "updates": 0, "cotonomas": 2, "rejected": []},
        "connections": {"ok": 5, "rejected": []},
    }
    after = what_they_have(moved, keys)
    assert after["home"] == before["home"]
    assert after["timelines"] == before["timelines"]
    assert after["cotonomas"] == before["cotonomas"]
    assert after["stock"] == before["stock"]
    assert after["members"] == before["members"]
    search = moved.call("GET", "/api/search", params={"q": "Markdown"}).json()["cotos"]
    assert [c["id"] for c in search] == [c["id"] for c in reversed(in_inner)]

    again = imported(moved, exported)
    assert again["cotos"] == {"inserts": 0, "updates": 0, "cotonomas": 0, "rejected": []}
    assert again["connections"] == {"ok": 5, "rejected": []}
    assert what_they_have(moved, keys) == after


def renamed(data: Json) -> Json:
    """The file with every id (and the cotonoma's key) made new, the same way throughout:
    each of the original's cases ran in a database of its own."""
    text = json.dumps(data)
    for old in set(UUID.findall(text)):
        text = text.replace(old, str(uuid.uuid4()))
    made: Json = json.loads(text.replace("jalc645or4crpkv1", "k" + uuid.uuid4().hex[:15]))
    return made


@pytest.mark.parametrize("case", list(original.cases()))
def test_the_originals_fixtures_import_with_the_originals_counts(stack, mailbox, case):
    person = Person(stack, mailbox, "daisuke")
    data, expected = original.cases()[case]
    data = renamed(data)
    assert imported(person, data) == expected
    again = imported(person, data)
    assert again["cotos"] == {"inserts": 0, "updates": 0, "cotonomas": 0, "rejected": []}
    assert again["connections"] == expected["connections"]
    # Home shows every coto of one's own, wherever it was posted.
    assert sorted(c["content"] for c in person.timeline()) == sorted(
        c["content"] if not c["summary"] else f"# {c['summary']}\n\n{c['content']}" for c in data["cotos"]
    )


def test_hostile_files_are_refused_or_rejected_item_by_item_and_change_nothing_else(stack, owner, stranger):
    kept = owner.post("kept as it is")
    before = owner.timeline()

    def refused(body: bytes, status: int, title: str) -> None:
        response = stranger.call("POST", "/api/import", data=body, headers={"Content-Type": "application/json"})
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json()["title"] == title and response.json()["description"]

    refused(b'{"cotos": [', 400, "Invalid JSON")
    refused(b"[" * 10_000 + b"]" * 10_000, 400, "Invalid JSON")
    refused(b'{"cotos": "many", "connections": [], "amishi": {"id": "x"}}', 400, "Invalid data structure")
    refused(b'{"cotos": [], "connections": [], "amishi": null}', 400, "Invalid data structure")
    big = b'{"cotos": [], "connections": [], "amishi": {"id": "x"}, "pad": "' + b"x" * (60 * 1024 * 1024) + b'"}'
    refused(big, 413, "Payload Too Large")
    assert stranger.call("POST", "/api/import", data=b"a=b").status_code == 415

    someone_elses = {"id": kept["id"], "content": "mine now", "inserted_at": 1_600_000_000_000}
    fresh = str(uuid.uuid4())
    data = {
        "amishi": {"id": stranger.amishi["id"]},
        "cotos": [
            someone_elses,
            {"id": fresh, "content": "a new one", "inserted_at": 1_600_000_000_001},
            {"id": fresh, "content": "the same id again", "inserted_at": 1_600_000_000_002},
            {"id": str(uuid.uuid4()), "content": ["not", "text"], "inserted_at": 1},
        ],
        "connections": [
            {"start": kept["id"], "end": str(uuid.uuid4()), "created_at": 1_600_000_000_003},
            {"start": stranger.amishi["id"], "end": str(uuid.uuid4()), "created_at": 1_600_000_000_004},
            {"start": stranger.amishi["id"], "end": kept["id"], "created_at": 1_600_000_000_005},
        ],
    }
    result = imported(stranger, data)
    assert result["cotos"]["inserts"] == 1
    assert [r["reason"] for r in result["cotos"]["rejected"]] == [
        "the id appears twice in the file",
        "content must be a string",
        "the id belongs to someone else",
    ]
    assert result["connections"]["ok"] == 0
    assert sorted(r["reason"] for r in result["connections"]["rejected"]) == [
        "its coto was not imported: " + kept["id"],
        "its coto was not imported: " + kept["id"],
        "unknown coto",
    ]
    assert owner.timeline() == before
    assert [c["content"] for c in stranger.timeline()] == ["a new one"]
    assert stock(owner) == [] and stock(stranger) == []


def kill_archive(stack) -> None:
    for instance in stack.instances("archive"):
        program = instance.split(":", 1)[1]
        os.kill(stack.pid(program), signal.SIGKILL)


def test_an_import_killed_halfway_ends_as_one_clean_run(stack, owner):
    n = 4000
    cotos = [
        {"id": str(uuid.uuid4()), "content": f"note {i}", "inserted_at": 1_500_000_000_000 + i * 1000} for i in range(n)
    ]
    pins = [{"start": owner.amishi["id"], "end": cotos[i]["id"], "created_at": 1_600_000_000_000 + i} for i in range(3)]
    data = {"amishi": {"id": owner.amishi["id"]}, "cotos": cotos, "connections": pins}
    response = owner.call(
        "POST",
        "/api/import",
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", "Prefer": "respond-async"},
    )
    assert response.status_code == 202, response.text
    location = response.headers["Location"]

    def halfway() -> bool:
        progress = owner.call("GET", location).json()["job"]["progress"]
        return bool(progress["stage"] == "cotos" and 0 < progress["done"] < n)

    stack.wait_until(halfway, 60, "the import halfway")
    kill_archive(stack)
    stack.wait_until(lambda: stack.ready("archive"), 60, "archive back")
    job = finished(owner, location)
    assert job["progress"]["done"] == n + 3
    timeline: list[Json] = []
    before = None
    while True:
        page = owner.call("GET", "/api/cotos", params={"limit": "200", **({"before": before} if before else {})})
        timeline += page.json()["cotos"]
        before = page.json()["next"]
        if before is None:
            break
    assert [c["content"] for c in timeline] == [f"note {i}" for i in reversed(range(n))]
    assert timeline[-1]["created_at"] == "2017-07-14T02:40:00.000Z"
    assert len(stock(owner)) == 3
    again = imported(owner, data)
    assert again["cotos"] == {"inserts": 0, "updates": 0, "cotonomas": 0, "rejected": []}
    assert again["connections"] == {"ok": 3, "rejected": []}


def test_who_may_export_import_and_follow_a_job(stack, owner, stranger):
    anonymous = requests.Session()
    for method, path in [("GET", "/api/export"), ("POST", "/api/import"), ("GET", f"/api/import/jobs/{uuid.uuid4()}")]:
        response = anonymous.request(method, stack.url + path, json={}, headers={"Origin": stack.url}, timeout=10)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["title"]
    data = {"amishi": {"id": owner.amishi["id"]}, "cotos": [], "connections": []}
    started = owner.call(
        "POST",
        "/api/import",
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", "Prefer": "respond-async"},
    )
    assert started.status_code == 202, started.text
    job = started.headers["Location"]
    assert owner.call("GET", job).status_code == 200
    theirs = stranger.call("GET", job)
    assert theirs.status_code == 404 and theirs.json()["title"] == "No such job"
    # Another site's page may not import into one's account (the session's cookies ride along).
    forged = owner.session.post(
        stack.url + "/api/import",
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", "Origin": "https://evil.example"},
        timeout=10,
    )
    assert forged.status_code == 403
    # The owners' archive paths are internal: never routed, whoever asks.
    for path in ("/internal/archive/cotos", "/api/import/../../internal/archive/cotos", "/api/exportx"):
        status, headers, _ = stack.raw("GET", path)
        assert status in (400, 404) and headers["Content-Type"].startswith("application/json"), path
    # The 50 MiB cap is this route's alone: another route keeps 1 MiB.
    big = owner.call("POST", "/api/cotos", data=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and big.json()["description"] == "The request body is larger than 1 MiB."
