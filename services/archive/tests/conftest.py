# First of all: metrics are kept in multiprocess mode, as under gunicorn, only if
# PROMETHEUS_MULTIPROC_DIR is set before the app imports prometheus_client.
import cotoami_testing  # noqa: F401,I001

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from falcon import testing

from archive.app import Dependencies, create_app
from archive.config import Config
from archive.owners import Owners
from archive.store import JobStore
from cotoami_common.config import Env
from cotoami_common.tokens import Amishi
from cotoami_testing.fixtures import INTERNAL_TOKEN, ServiceUnderTest, new_amishi, send_json, serving

pytest_plugins = ["cotoami_testing.fixtures"]


@pytest.fixture(scope="session")
def service() -> ServiceUnderTest:
    return ServiceUnderTest(Path(__file__).parents[1], Config, create_app, token_service=True)


class OwnersDouble:
    """cotos', cotonomas' and graph's internal archive paths, kept in memory as
    those services keep them (ids owned by one amishi, cotonomas by key,
    connections by (start, end), pins by (owner or cotonoma, coto)).
    `failing` names paths answered 500; `fail_after` counts down the cotos
    batches answered before every later call fails (a service gone mid-job)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cotos: dict[str, dict[str, Any]] = {}
        self.cotonomas: dict[str, dict[str, Any]] = {}
        self.connections: dict[tuple[str, str], dict[str, Any]] = {}
        self.pins: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        self.failing: set[str] = set()
        self.fail_after: int | None = None
        self.write_then_fail = False  # a batch's cotos are written, then the answer is lost
        self.calls: list[str] = []

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, object]:
        self.calls.append(f"{method} {path}")
        if path in self.failing:
            return 500, {"title": "down"}
        if method == "POST" and path == "/internal/archive/cotos":
            if self.fail_after is not None:
                if self.fail_after == 0:
                    self.failing.update({path, "/internal/graph/import"})
                    if self.write_then_fail:
                        for coto in body["cotos"]:
                            self._import_coto(body["author"]["id"], coto)
                    return 500, {"title": "down"}
                self.fail_after -= 1
            return 200, {"results": [self._import_coto(body["author"]["id"], coto) for coto in body["cotos"]]}
        if method == "POST" and path == "/internal/archive/cotonomas":
            return 200, self._import_cotonoma(body["owner"], body["cotonoma"])
        if method == "POST" and path == "/internal/graph/import":
            return 200, self._import_graph(body)
        if path == "/internal/cotonomas":
            keys = [
                key
                for key, c in self.cotonomas.items()
                if c["owner"] == query["amishi_id"] or query["email"] in c["members"]
            ]
            return 200, {"keys": keys}
        listed = {
            "/internal/archive/cotos": ("cotos", "amishi_id", self._cotos_of),
            "/internal/archive/cotonomas": ("cotonomas", "owner_id", self._cotonomas_of),
            "/internal/graph/connections": ("connections", "created_by", self._connections_of),
            "/internal/graph/pins": ("pins", "created_by", self._pins_of),
        }
        if method == "GET" and path in listed:
            name, param, items_of = listed[path]
            items = items_of(query[param])
            start, limit = int(query.get("after", "0")), int(query.get("limit", "500"))
            page = items[start : start + limit]
            return 200, {name: page, "next": str(start + limit) if start + limit < len(items) else None}
        return 404, {"title": "no such path"}

    def _import_coto(self, author: str, coto: dict[str, Any]) -> dict[str, str]:
        before = self.cotos.get(coto["id"])
        if before is not None and before["amishi"] != author:
            return {"id": coto["id"], "result": "rejected", "reason": "the id belongs to someone else"}
        key = coto["posted_in_key"]
        if key is not None and key not in self.cotonomas:
            return {"id": coto["id"], "result": "rejected", "reason": f"cotonoma not found: {key}"}
        stored = {"amishi": author, "cotonoma_key": None, **coto}
        self.cotos[coto["id"]] = stored
        if before is None:
            return {"id": coto["id"], "result": "inserted"}
        same = (before["content"], before["posted_in_key"]) == (coto["content"], coto["posted_in_key"])
        return {"id": coto["id"], "result": "unchanged" if same else "updated"}

    def _import_cotonoma(self, owner: dict[str, str], cotonoma: dict[str, Any]) -> dict[str, str]:
        key = cotonoma["key"]
        before = self.cotonomas.get(key)
        coto = self.cotos.get(cotonoma["coto_id"])
        if (before is not None and before["owner"] != owner["id"]) or (coto and coto["amishi"] != owner["id"]):
            return {"key": key, "result": "rejected", "reason": "the key belongs to someone else"}
        self.cotonomas[key] = {**cotonoma, "owner": owner["id"]}
        self.cotos[cotonoma["coto_id"]] = {
            "id": cotonoma["coto_id"],
            "amishi": owner["id"],
            "content": cotonoma["name"],
            "posted_in_key": cotonoma["parent_key"],
            "cotonoma_key": key,
            "created_at": cotonoma["created_at"],
            "updated_at": cotonoma["updated_at"],
        }
        if before is None:
            return {"key": key, "result": "inserted"}
        return {"key": key, "result": "unchanged" if before["name"] == cotonoma["name"] else "updated"}

    def _import_graph(self, body: dict[str, Any]) -> dict[str, Any]:
        who = body["amishi_id"]
        answer: dict[str, Any] = {}
        for name, items in (("connections", body["connections"]), ("pins", body["pins"])):
            counts: dict[str, Any] = {"inserted": 0, "updated": 0, "rejected": []}
            for index, item in enumerate(items):
                ids = [item["start"], item["end"]] if name == "connections" else [item["coto_id"]]
                if any(i not in self.cotos for i in ids):
                    counts["rejected"].append({"index": index, "reason": "unknown coto"})
                    continue
                if name == "connections":
                    key: Any = (item["start"], item["end"])
                    table: dict[Any, dict[str, Any]] = self.connections
                else:
                    key = (who, item["cotonoma_key"], item["coto_id"])
                    table = self.pins
                before = table.get(key)
                if before is not None and before["created_by"] != who:
                    counts["rejected"].append({"index": index, "reason": "made by someone else"})
                    continue
                table[key] = {**item, "created_by": who}
                if before is None:
                    counts["inserted"] += 1
                elif before != table[key]:
                    counts["updated"] += 1
            answer[name] = counts
        return answer

    def _cotos_of(self, amishi: str) -> list[dict[str, Any]]:
        return [
            {k: c[k] for k in ("id", "content", "posted_in_key", "cotonoma_key", "created_at", "updated_at")}
            for c in sorted(self.cotos.values(), key=lambda c: c["id"])
            if c["amishi"] == amishi
        ]

    def _cotonomas_of(self, owner: str) -> list[dict[str, Any]]:
        return [
            {k: c[k] for k in ("key", "name", "parent_key", "created_at", "updated_at", "members")}
            for c in sorted(self.cotonomas.values(), key=lambda c: c["key"])
            if c["owner"] == owner
        ]

    def _connections_of(self, who: str) -> list[dict[str, Any]]:
        return [c for c in self.connections.values() if c["created_by"] == who]

    def _pins_of(self, who: str) -> list[dict[str, Any]]:
        return [p for (owner, _, _), p in self.pins.items() if owner == who]


class _Handler(BaseHTTPRequestHandler):
    def _serve(self) -> None:
        double: OwnersDouble = self.server.double  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        if self.headers.get("Authorization") != f"Bearer {INTERNAL_TOKEN}":
            return send_json(self, 401, b'{"title": "Unauthorized"}')
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        with double.lock:
            status, answer = double.answer(self.command, url.path, query, body)
        send_json(self, status, json.dumps(answer).encode())

    do_GET = _serve
    do_POST = _serve

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def owners_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.double = OwnersDouble()  # type: ignore[attr-defined]
    with serving(server):
        yield server


@pytest.fixture
def owners(owners_server) -> OwnersDouble:
    double = OwnersDouble()
    owners_server.double = double
    return double


@pytest.fixture
def config(clean_database, redis_url, required_environ) -> Config:
    environ = {"DATABASE_URL": clean_database, "REDIS_URL": redis_url, "IMPORT_WAIT_MS": "5000", **required_environ}
    return Config.from_env(Env(environ))


@pytest.fixture
def owner_clients(owners_server) -> Owners:
    url = f"http://127.0.0.1:{owners_server.server_port}"
    return Owners.at(url, url, url, INTERNAL_TOKEN)


@pytest.fixture
def deps(config, pool, redis, owner_clients, owners) -> Iterator[Dependencies]:
    worker = Dependencies.worker_of(config, JobStore(pool), owner_clients)
    worker.start()
    yield Dependencies(
        pool=pool,
        redis=redis,
        checks={},
        verifier=config.tokens.verifier(),
        owners=owner_clients,
        worker=worker,
    )
    worker.stop()


class Person:
    """Requests made by one signed-in amishi."""

    def __init__(self, client: testing.TestClient, amishi: Amishi, access_token: str):
        self.client = client
        self.amishi = amishi
        self.access_token = access_token

    def request(self, method: str, path: str, **kwargs: Any) -> testing.Result:
        headers = {"Cookie": f"access_token={self.access_token}", **kwargs.pop("headers", {})}
        return self.client.simulate_request(method, path, headers=headers, **kwargs)

    def import_file(self, data: object, **headers: str) -> testing.Result:
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        return self.request("POST", "/api/import", body=body, headers={"Content-Type": "application/json", **headers})

    def imported(self, data: object) -> dict[str, Any]:
        result = self.import_file(data)
        assert result.status_code == 200, result.text
        answer: dict[str, Any] = result.json
        return answer

    def export(self) -> dict[str, Any]:
        result = self.request("GET", "/api/export")
        assert result.status_code == 200, result.text
        assert result.headers["content-disposition"] == 'attachment; filename="cotoami-export.json"'
        exported: dict[str, Any] = json.loads(result.content)
        return exported


@pytest.fixture
def sign_in(client, token_keys):
    def person(who: str | Amishi) -> Person:
        amishi = new_amishi(who) if isinstance(who, str) else who
        return Person(client, amishi, token_keys.access_token(amishi))

    return person


@pytest.fixture
def ann(sign_in):
    return sign_in("ann@example.com")


@pytest.fixture
def bob(sign_in):
    return sign_in("bob@example.com")
