"""GET and POST /internal/archive/cotonomas: a person's cotonomas with their
members for an export, and one cotonoma imported with its key, coto id and times."""

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from falcon import testing

from cotoami_testing.fixtures import INTERNAL_TOKEN, new_amishi, send_json, serving
from cotonomas.app import create_app
from cotonomas.cotos_client import CotosClient

PATH = "/internal/archive/cotonomas"
CREDENTIAL = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}
COTO_ID = "0190a1b2-0000-7000-8000-000000000001"


class ArchiveCotos:
    """Stands in for cotos' POST /internal/archive/cotos: keeps each cotonoma's
    coto by id, rejects ids it is told belong to someone else, or fails (500)."""

    def __init__(self):
        self.cotos: dict[str, dict[str, object]] = {}
        self.foreign: set[str] = set()
        self.fail = False
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        double: ArchiveCotos = self.server.double  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.headers.get("Authorization") != f"Bearer {INTERNAL_TOKEN}" or self.path != "/internal/archive/cotos":
            return send_json(self, 401, b'{"title": "Refused"}')
        if double.fail:
            return send_json(self, 500, b'{"title": "Internal Server Error"}')
        results = []
        with double.lock:
            for coto in body["cotos"]:
                if coto["id"] in double.foreign:
                    results.append({"id": coto["id"], "result": "rejected", "reason": "the id belongs to someone else"})
                    continue
                before = double.cotos.get(coto["id"])
                double.cotos[coto["id"]] = coto
                outcome = "inserted" if before is None else ("unchanged" if before == coto else "updated")
                results.append({"id": coto["id"], "result": outcome})
        send_json(self, 200, json.dumps({"results": results}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def archive_cotos_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.double = ArchiveCotos()  # type: ignore[attr-defined]
    with serving(server):
        yield server


@pytest.fixture
def archive_cotos(archive_cotos_server) -> ArchiveCotos:
    double = ArchiveCotos()
    archive_cotos_server.double = double
    return double


@pytest.fixture
def internal(config, deps, archive_cotos_server, archive_cotos) -> testing.TestClient:
    url = f"http://127.0.0.1:{archive_cotos_server.server_port}"
    app = create_app(config, dataclasses.replace(deps, cotos=CotosClient(url, INTERNAL_TOKEN, timeout_seconds=1.0)))
    return testing.TestClient(app)


def cotonoma(key="room-key-0001", name="Room", parent_key=None, coto_id=COTO_ID, members=()):
    return {
        "key": key,
        "coto_id": coto_id,
        "name": name,
        "parent_key": parent_key,
        "created_at": "2018-09-26T08:03:41.945Z",
        "updated_at": "2018-09-26T08:04:45.724Z",
        "members": list(members),
    }


def put(internal, person, item, status=200):
    result = internal.simulate_post(PATH, json={"owner": person.amishi.own(), "cotonoma": item}, headers=CREDENTIAL)
    assert result.status_code == status, result.text
    return result.json


def test_an_imported_cotonoma_keeps_its_key_times_and_members(internal, ann, sign_in, archive_cotos, db):
    answer = put(internal, ann, cotonoma(members=["Bob@Example.com "]))
    assert answer == {"key": "room-key-0001", "result": "inserted"}
    assert db.execute(
        "SELECT name, owner_id::text, state, created_at::text, updated_at::text FROM cotonomas WHERE key = %s",
        ("room-key-0001",),
    ).fetchone() == ("Room", ann.amishi.id, "ready", "2018-09-26 08:03:41.945+00", "2018-09-26 08:04:45.724+00")
    assert archive_cotos.cotos[COTO_ID]["cotonoma_key"] == "room-key-0001"
    assert archive_cotos.cotos[COTO_ID]["created_at"] == "2018-09-26T08:03:41.945Z"
    assert ann.listed() == ["Room"]
    assert sign_in("bob@example.com").listed() == ["Room"], "the member imported may enter it"
    assert db.execute("SELECT count(*) FROM outbox").fetchone() == (0,)


def test_importing_again_changes_nothing_and_a_new_name_renames(internal, ann, archive_cotos):
    put(internal, ann, cotonoma())
    assert put(internal, ann, cotonoma())["result"] == "unchanged"
    assert put(internal, ann, cotonoma(name="Hall"))["result"] == "updated"
    assert archive_cotos.cotos[COTO_ID]["content"] == "Hall"
    assert ann.listed() == ["Hall"]
    assert put(internal, ann, cotonoma(name="Hall", members=["cat@example.com"]))["result"] == "updated"


def test_someone_elses_key_or_coto_is_rejected(internal, ann, bob, archive_cotos, db):
    put(internal, ann, cotonoma())
    assert put(internal, bob, cotonoma(name="Mine now")) == {
        "key": "room-key-0001",
        "result": "rejected",
        "reason": "the key belongs to someone else",
    }
    archive_cotos.foreign.add("0190a1b2-0000-7000-8000-000000000002")
    refused = put(internal, bob, cotonoma(key="room-key-0002", coto_id="0190a1b2-0000-7000-8000-000000000002"))
    assert refused["reason"] == "the id belongs to someone else"
    assert db.execute("SELECT key, name FROM cotonomas ORDER BY key").fetchall() == [("room-key-0001", "Room")]


def test_a_child_needs_its_parent_and_cannot_move(internal, ann, bob):
    assert put(internal, ann, cotonoma(key="child-key-01", parent_key="parent-key-1"))["reason"] == (
        "cotonoma not found: parent-key-1"
    )
    put(internal, ann, cotonoma(key="parent-key-1", name="Parent"))
    child = cotonoma(key="child-key-01", name="Child", parent_key="parent-key-1", coto_id=COTO_ID[:-1] + "9")
    assert put(internal, ann, child)["result"] == "inserted"
    assert put(internal, ann, {**child, "parent_key": None})["reason"] == "a cotonoma cannot move to another parent"
    assert put(internal, bob, cotonoma(key="child-key-02", parent_key="parent-key-1"))["reason"] == (
        "cotonoma not found: parent-key-1"
    ), "a stranger cannot import into another's cotonoma"


def test_a_name_taken_is_rejected(internal, ann):
    ann.create("Room")
    assert put(internal, ann, cotonoma())["reason"] == 'Cotonoma "Room" already exists.'


def test_cotos_down_leaves_nothing_visible_and_a_rerun_finishes(internal, ann, archive_cotos, db):
    archive_cotos.fail = True
    result = internal.simulate_post(PATH, json={"owner": ann.amishi.own(), "cotonoma": cotonoma()}, headers=CREDENTIAL)
    assert result.status_code == 503
    assert ann.listed() == []
    archive_cotos.fail = False
    assert put(internal, ann, cotonoma())["result"] == "inserted"
    assert ann.listed() == ["Room"]


def test_export_pages_through_ones_own_cotonomas_with_members(internal, ann, bob):
    for n in range(3):
        put(internal, ann, cotonoma(key=f"room-key-000{n}", name=f"Room {n}", coto_id=COTO_ID[:-1] + str(n)))
    bob.create("Bob's")
    ann.add_member("room-key-0001", "cat@example.com")
    seen, after = [], None
    while True:
        params = {"owner_id": ann.amishi.id, "limit": "2", **({"after": after} if after else {})}
        page = internal.simulate_get(PATH, params=params, headers=CREDENTIAL)
        assert page.status_code == 200, page.text
        seen += page.json["cotonomas"]
        after = page.json["next"]
        if after is None:
            break
    assert [(c["key"], c["name"], c["members"]) for c in seen] == [
        ("room-key-0000", "Room 0", []),
        ("room-key-0001", "Room 1", ["cat@example.com"]),
        ("room-key-0002", "Room 2", []),
    ]
    assert seen[0]["created_at"] == "2018-09-26T08:03:41.945Z" and seen[0]["parent_key"] is None


@pytest.mark.parametrize(
    "item",
    [
        None,
        {**cotonoma(), "key": "bad key"},
        {**cotonoma(), "coto_id": "nope"},
        {**cotonoma(), "name": ""},
        {**cotonoma(), "name": "x" * 51},
        {**cotonoma(), "name": "a\nb"},
        {**cotonoma(), "created_at": 1537943597410},
        {**cotonoma(), "members": ["not an address"]},
        {**cotonoma(), "members": "a@b.c"},
        {**cotonoma(), "extra": True},
    ],
)
def test_a_malformed_cotonoma_is_a_400(internal, ann, item, db):
    result = internal.simulate_post(PATH, json={"owner": ann.amishi.own(), "cotonoma": item}, headers=CREDENTIAL)
    assert result.status_code == 400, result.text
    assert db.execute("SELECT count(*) FROM cotonomas").fetchone() == (0,)


def test_the_service_credential_is_required(internal):
    body = {"owner": new_amishi().own(), "cotonoma": cotonoma()}
    assert internal.simulate_post(PATH, json=body).status_code == 401
    assert internal.simulate_get(PATH, params={"owner_id": new_amishi().id}).status_code == 401
