"""POST /api/import and GET /api/import/jobs/{id}: files of the original
Cotoami and ours, imported through the owners' internal paths (a double here;
tests/test_archive.py runs the real services)."""

import json
import time
import uuid

import pytest
from original_fixtures import AMISHI_ID, COTONOMA_ID, HELLO, IN_COTONOMA, cases, coto, export

from archive.fileformat import mapped_id


@pytest.mark.parametrize("case", list(cases()))
def test_the_originals_fixtures_import_with_the_originals_counts(ann, owners, case):
    data, expected = cases()[case]
    assert ann.imported(data) == expected
    again = ann.imported(data)
    assert again["cotos"]["inserts"] == 0 and again["cotos"]["updates"] == 0 and again["cotos"]["rejected"] == []
    assert again["connections"] == expected["connections"], "identical connections are ok again, never rejected"


def test_ids_of_the_original_become_time_ordered_and_times_are_kept(ann, owners):
    data, _ = cases()["one cotonoma and coto in it"]
    ann.imported(data)
    hello, in_cotonoma = mapped_id(HELLO, 1537943597410), mapped_id(IN_COTONOMA, 1537949085717)
    assert uuid.UUID(hello).version == 7 and hello < in_cotonoma
    assert owners.cotos[in_cotonoma]["created_at"] == "2018-09-26T08:04:45.717Z"
    assert owners.cotos[in_cotonoma]["posted_in_key"] == "jalc645or4crpkv1"
    assert owners.cotonomas["jalc645or4crpkv1"]["coto_id"] == hello
    assert owners.cotonomas["jalc645or4crpkv1"]["created_at"] == "2018-09-26T06:33:17.410Z"


def test_connections_from_the_amishi_or_a_cotonoma_are_pins(ann, owners):
    data, _ = cases()["one cotonoma and coto in it"]
    data["connections"] = [
        {"start": AMISHI_ID, "end": HELLO, "order": 1, "created_at": 1537949090000},
        {"start": HELLO, "end": IN_COTONOMA, "order": 1, "created_at": 1537949090001},
    ]
    assert ann.imported(data)["connections"] == {"ok": 2, "rejected": []}
    hello, inside = mapped_id(HELLO, 1537943597410), mapped_id(IN_COTONOMA, 1537949085717)
    assert set(owners.pins) == {(ann.amishi.id, None, hello), (ann.amishi.id, "jalc645or4crpkv1", inside)}
    assert owners.connections == {}


def test_a_summary_heads_the_content(ann, owners):
    data = export([coto(HELLO, "the body", 1537943597410, summary="The title")], [])
    ann.imported(data)
    assert owners.cotos[mapped_id(HELLO, 1537943597410)]["content"] == "# The title\n\nthe body"


def test_a_coto_posted_in_a_later_cotonoma_waits_for_it(ann, owners):
    data, expected = cases()["one cotonoma and coto in it"]
    data["cotos"].reverse()
    assert ann.imported(data) == expected


def test_round_trip_export_then_import_elsewhere(ann, bob, owners, sign_in):
    data, _ = cases()["connection's order"]
    ann.imported(data)
    exported = ann.export()
    assert exported["amishi"]["id"] == ann.amishi.id
    assert [c["content"] for c in exported["cotos"]] == ["hello", "bye", "# summary\n\ncontent"]
    assert exported["cotos"][0]["inserted_at"] == 1537943597410
    assert len(exported["connections"]) == 3
    pin = next(c for c in exported["connections"] if c["start"] == ann.amishi.id)
    assert pin["end"] == mapped_id(HELLO, 1537943597410) and pin["created_at"] == 1537943695452
    # Moving to another server: an empty one, the same person.
    saved = {k: dict(v) for k, v in owners.cotos.items()}
    owners.cotos.clear()
    owners.connections.clear()
    owners.pins.clear()
    result = ann.imported(exported)
    assert result == {
        "cotos": {"inserts": 3, "updates": 0, "cotonomas": 0, "rejected": []},
        "connections": {"ok": 3, "rejected": []},
    }
    assert {k: (v["content"], v["created_at"]) for k, v in owners.cotos.items()} == {
        k: (v["content"], v["created_at"]) for k, v in saved.items()
    }
    assert ann.imported(exported)["cotos"]["inserts"] == 0


def test_another_account_gets_every_foreign_id_rejected(ann, bob, owners):
    data, _ = cases()["two cotos connected and pinned"]
    ann.imported(data)
    result = bob.imported(ann.export())
    assert result["cotos"]["inserts"] == 0
    assert [r["reason"] for r in result["cotos"]["rejected"]] == ["the id belongs to someone else"] * 2
    assert result["connections"]["ok"] == 0
    assert len(result["connections"]["rejected"]) == 2
    assert all(r["reason"].startswith("its coto was not imported") for r in result["connections"]["rejected"])
    assert all(p[0] == ann.amishi.id for p in owners.pins)


@pytest.mark.parametrize(
    ("body", "status", "title"),
    [
        (b"{not json", 400, "Invalid JSON"),
        (b"[" * 10_000 + b"]" * 10_000, 400, "Invalid JSON"),
        (b'"a string"', 400, "Invalid data structure"),
        (b'{"cotos": {}, "connections": [], "amishi": {"id": "x"}}', 400, "Invalid data structure"),
        (b'{"cotos": [], "connections": 3, "amishi": {"id": "x"}}', 400, "Invalid data structure"),
        (b'{"cotos": [], "connections": []}', 400, "Invalid data structure"),
        (b'{"cotos": [], "connections": [], "amishi": {"id": 5}}', 400, "Invalid data structure"),
        (b"\xff\xfe", 400, "Invalid JSON"),
        (
            b'{"cotos": [' + b"{}," * 2_000_001 + b'{}], "connections": [], "amishi": {"id": "x"}}',
            400,
            "Too many items",
        ),
    ],
)
def test_a_file_that_is_not_an_export_is_a_400_and_nothing_is_done(ann, owners, body, status, title, db):
    result = ann.import_file(body)
    assert result.status_code == status, result.text
    assert result.json["title"] == title and result.json["description"]
    assert owners.calls == []
    assert db.execute("SELECT count(*) FROM import_jobs").fetchone() == (0,)


def test_items_of_the_wrong_shape_are_rejected_one_by_one(ann, owners):
    good = coto(HELLO, "fine", 1537943597410)
    data = export(
        [
            good,
            "a string",
            coto("not-a-uuid", "x", 1),
            coto(str(uuid.uuid4()), 42, 1),
            coto(str(uuid.uuid4()), "x", "yesterday"),
            coto(str(uuid.uuid4()), "", 1),
            coto(str(uuid.uuid4()), "x" * 10_001, 1),
            coto(str(uuid.uuid4()), "bell\x07", 1),
            coto(HELLO, "the same id at another time", 1537943597999),
            coto(str(uuid.uuid4()), "x", 1, as_cotonoma="yes"),
            coto(str(uuid.uuid4()), "x", 1, as_cotonoma=True, cotonoma={"key": "no"}),
            coto(str(uuid.uuid4()), "x", 1, posted_in_id=COTONOMA_ID),
        ],
        [
            {"start": AMISHI_ID, "end": "nope", "created_at": 1},
            {"start": HELLO, "end": HELLO, "created_at": 1},
            {"start": str(uuid.uuid4()), "end": HELLO, "created_at": 1},
            {"start": AMISHI_ID, "end": HELLO, "created_at": "now"},
            {"start": AMISHI_ID, "end": HELLO, "created_at": 1, "order": -1},
            {"start": HELLO, "end": str(uuid.uuid4()), "created_at": 1, "linking_phrase": "x" * 201},
            [],
        ],
    )
    result = ann.imported(data)
    assert result["cotos"]["inserts"] == 1
    reasons = [r["reason"] for r in result["cotos"]["rejected"]]
    assert reasons == [
        "a coto must be an object",
        "id must be a UUID",
        "content must be a string",
        "inserted_at must be a time in unix milliseconds",
        "content is blank",
        "content is longer than 10,000 characters",
        "content holds control characters",
        "the id appears twice in the file",
        "as_cotonoma must be true or false",
        "cotonoma.key must be 8 to 64 letters, digits, '-' or '_'",
        f"cotonoma not found: {COTONOMA_ID}",
    ]
    assert result["cotos"]["rejected"][5]["json"]["content"].endswith("…"), "a long item is cut short in the report"
    assert result["connections"]["ok"] == 0
    assert [r["reason"] for r in result["connections"]["rejected"]] == [
        "end must be a UUID",
        "a coto cannot be connected to itself",
        "created_at must be a time in unix milliseconds",
        "order must be a whole number from 0, or null",
        "linking_phrase must be one line of at most 200 characters",
        "a connection must be an object",
        "unknown coto",
    ]
    assert list(owners.cotos) == [mapped_id(HELLO, 1537943597410)]


def test_someone_elses_cotonoma_is_rejected_with_what_was_posted_in_it(ann, bob, owners):
    data, _ = cases()["one cotonoma and coto in it"]
    ann.imported(data)
    other = json.loads(json.dumps(data).replace(HELLO, str(uuid.uuid4())).replace(IN_COTONOMA, str(uuid.uuid4())))
    result = bob.imported(other)
    assert [r["reason"] for r in result["cotos"]["rejected"]] == [
        "the key belongs to someone else",
        "cotonoma not found: jalc645or4crpkv1",
    ]
    assert owners.cotonomas["jalc645or4crpkv1"]["owner"] == ann.amishi.id


def test_the_job_shows_progress_and_its_result(ann, owners):
    data, expected = cases()["connection's order"]
    started = ann.import_file(data, Prefer="respond-async")
    assert started.status_code == 202, started.text
    job = started.json["job"]
    assert started.headers["location"] == f"/api/import/jobs/{job['id']}"
    assert job["progress"]["total"] == 6
    for _ in range(100):
        job = ann.request("GET", f"/api/import/jobs/{job['id']}").json["job"]
        if job["state"] == "done":
            break
        time.sleep(0.05)
    assert job["state"] == "done" and job["result"] == expected
    assert job["progress"] == {"stage": "done", "done": 6, "total": 6}


def test_a_job_is_its_owners_alone(ann, bob, client, owners):
    started = ann.import_file(cases()["one coto"][0], Prefer="respond-async")
    path = started.headers["location"]
    assert bob.request("GET", path).status_code == 404
    assert client.simulate_get(path).status_code == 401
    assert ann.request("GET", "/api/import/jobs/not-a-uuid").status_code == 404
    assert ann.request("GET", f"/api/import/jobs/{uuid.uuid4()}").status_code == 404


def test_one_import_at_a_time(ann, owners, db):
    owners.failing.add("/internal/archive/cotos")  # the first stays unfinished
    first = ann.import_file(cases()["one coto"][0], Prefer="respond-async")
    second = ann.import_file(cases()["one coto"][0], Prefer="respond-async")
    assert second.status_code == 409 and second.headers["location"] == first.headers["location"]


def test_anonymous_cross_site_and_non_json_are_refused(client, ann, owners):
    assert client.simulate_post("/api/import", json=cases()["one coto"][0]).status_code == 401
    assert client.simulate_get("/api/export").status_code == 401
    form = ann.request(
        "POST", "/api/import", body=b"a=b", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form.status_code == 415
    foreign = ann.import_file(cases()["one coto"][0], Origin="https://evil.example")
    assert foreign.status_code == 403
    assert owners.calls == []


def test_a_file_over_the_limit_is_a_413(ann, owners, config):
    body = b'{"cotos": [], "connections": [], "amishi": {"id": "x"}, "pad": "' + b"x" * config.max_body_bytes + b'"}'
    result = ann.import_file(body)
    assert result.status_code == 413 and result.json["title"]
    assert owners.calls == []


def test_an_export_with_a_service_down_is_a_503_before_any_byte(ann, owners):
    owners.failing.add("/internal/graph/pins")
    result = ann.request("GET", "/api/export")
    assert result.status_code == 503 and result.json["description"] == (
        "The graph service is not answering; try again shortly."
    )
