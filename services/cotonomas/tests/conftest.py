# First of all: metrics are kept in multiprocess mode, as under gunicorn, only if
# PROMETHEUS_MULTIPROC_DIR is set before the app imports prometheus_client.
import cotoami_testing  # noqa: F401,I001

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from falcon import testing

from cotoami_common.config import Env
from cotoami_common.tokens import Amishi
from cotoami_testing.fixtures import INTERNAL_TOKEN, ServiceUnderTest, new_amishi, send_json
from cotonomas.app import Dependencies, create_app
from cotonomas.config import Config
from cotonomas.consistency import CotonomaWrites
from cotonomas.cotos_client import CotosClient
from cotonomas.store import Cotonoma, CotonomaStore, Member

pytest_plugins = ["cotoami_testing.fixtures"]

# Short, so that the slow answers below cost the test run little.
COTOS_TIMEOUT_SECONDS = 0.5
SLOW_ANSWER_SECONDS = 3.0


@pytest.fixture(scope="session")
def service() -> ServiceUnderTest:
    return ServiceUnderTest(Path(__file__).parents[1], Config, create_app, token_service=True)


@pytest.fixture
def config(clean_database, redis_url, required_environ) -> Config:
    return Config.from_env(
        Env(
            {
                "DATABASE_URL": clean_database,
                "REDIS_URL": redis_url,
                "PUBLIC_URL": "https://cotoami.test",
                **required_environ,
            }
        )
    )


@dataclass(frozen=True)
class Call:
    method: str
    key: str
    body: dict[str, object] | None
    authorization: str | None
    query: str = ""


class CotosDouble:
    """A real HTTP server standing in for the cotos service's internal API.

    It holds the cotonoma cotos it was asked for (key -> the last PUT body),
    records every call, and answers each the next way in `answers`, then as
    `mode` says: "ok" (does it; 200 or 204), "fail" (500, does nothing) or
    "slow" (does it, then answers only after the client has given up). stop()
    closes its port (down); start() opens the same port again (back). A
    DELETE of a cotonoma for which `posted` counts cotos is refused (409).
    """

    def __init__(self):
        self.cotos: dict[str, dict[str, object]] = {}
        self.posted: dict[str, int] = {}
        self.calls: list[Call] = []
        self.answers: list[str] = []
        self.mode = "ok"
        self.port = 0
        self._server: _CotosServer | None = None
        self._released = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = _CotosServer(("127.0.0.1", self.port), self)
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def stopped(self) -> bool:
        return self._server is None

    def release_slow_answers(self) -> None:
        self._released.set()

    def reset_slow_answers(self) -> None:
        self._released = threading.Event()

    def next_answer(self) -> str:
        return self.answers.pop(0) if self.answers else self.mode

    def wait_as_slow(self) -> None:
        self._released.wait(SLOW_ANSWER_SECONDS)


class _CotosServer(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], double: CotosDouble):
        super().__init__(address, _CotosHandler)
        self.double = double


class _CotosHandler(BaseHTTPRequestHandler):
    server: _CotosServer

    def do_PUT(self):
        self._answer()

    def do_DELETE(self):
        self._answer()

    def _answer(self):
        double = self.server.double
        length = int(self.headers.get("Content-Length") or 0)
        body: dict[str, object] | None = json.loads(self.rfile.read(length)) if length else None
        path, _, query = self.path.partition("?")
        match = re.fullmatch(r"/internal/cotonoma-cotos/([A-Za-z0-9_-]+)", path)
        key = match[1] if match else ""
        authorization = self.headers.get("Authorization")
        double.calls.append(Call(self.command, key, body, authorization, query))
        if authorization != f"Bearer {INTERNAL_TOKEN}" or not match:
            return self._send(401 if match else 404, {"title": "Refused"})
        answer = double.next_answer()
        if answer == "fail":
            return self._send(500, {"title": "Internal Server Error"})
        if self.command == "PUT":
            assert body is not None, "a PUT carries the coto"
            double.cotos[key] = body
        elif double.posted.get(key):
            return self._send(409, {"title": "Cotonoma not empty", "cotos": double.posted[key]})
        else:
            double.cotos.pop(key, None)
        if answer == "slow":
            double.wait_as_slow()
        if body is not None and self.command == "PUT":
            self._send(200, {"coto": {"cotonoma_key": key, "content": body["name"]}})
        else:
            self._send(204, None)

    def _send(self, status: int, payload: dict[str, object] | None):
        send_json(self, status, json.dumps(payload).encode() if payload is not None else b"")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def running_cotos_double():
    double = CotosDouble()
    double.start()
    yield double
    double.release_slow_answers()
    double.stop()


@pytest.fixture
def cotos_double(running_cotos_double):
    """The double, up, answering "ok" and holding nothing; one server for the
    whole run, since starting and stopping one for each test costs more than the test."""
    double = running_cotos_double
    double.cotos.clear()
    double.posted.clear()
    double.calls.clear()
    double.answers.clear()
    double.mode = "ok"
    yield double
    double.release_slow_answers()
    if double.stopped:
        double.start()
    double.reset_slow_answers()


@pytest.fixture
def cotos_client(cotos_double) -> CotosClient:
    return CotosClient(cotos_double.url, INTERNAL_TOKEN, timeout_seconds=COTOS_TIMEOUT_SECONDS)


@pytest.fixture
def store(pool) -> CotonomaStore:
    return CotonomaStore(pool)


@pytest.fixture
def writes(store, cotos_client) -> CotonomaWrites:
    """The writes as another process (its reconciler) would make them: same database, same cotos."""
    return CotonomaWrites(store, cotos_client)


@pytest.fixture
def deps(config, pool, redis, cotos_client) -> Dependencies:
    """What get_app would open, on the test database and Redis, with the double for cotos
    (and no reconciler: a test runs one when it needs it)."""
    return Dependencies(pool=pool, redis=redis, checks={}, verifier=config.tokens.verifier(), cotos=cotos_client)


class Person:
    """Requests made by one signed-in amishi."""

    def __init__(self, client: testing.TestClient, amishi: Amishi, access_token: str):
        self.client = client
        self.amishi = amishi
        self.access_token = access_token

    def request(self, method: str, path: str, **kwargs) -> testing.Result:
        headers = {"Cookie": f"access_token={self.access_token}", **kwargs.pop("headers", {})}
        return self.client.simulate_request(method, path, headers=headers, **kwargs)

    def create(self, name: str, parent_key: str | None = None) -> Cotonoma:
        body = {"name": name} if parent_key is None else {"name": name, "parent_key": parent_key}
        result = self.request("POST", "/api/cotonomas", json=body)
        assert result.status_code == 201, result.text
        cotonoma: Cotonoma = result.json["cotonoma"]
        return cotonoma

    def add_member(self, key: str, email: str) -> Member:
        result = self.request("POST", f"/api/cotonomas/{key}/members", json={"email": email})
        assert result.status_code == 201, result.text
        member: Member = result.json["member"]
        return member

    def listed(self) -> list[str]:
        result = self.request("GET", "/api/cotonomas")
        assert result.status_code == 200, result.text
        return [c["name"] for c in result.json["cotonomas"]]


@pytest.fixture
def sign_in(client, token_keys):
    """A signed-in person: sign_in("bob@example.com") or sign_in(an_amishi)."""

    def person(who: str | Amishi) -> Person:
        amishi = new_amishi(who) if isinstance(who, str) else who
        return Person(client, amishi, token_keys.access_token(amishi))

    return person


@pytest.fixture
def ann(sign_in: Callable[[str | Amishi], Person]) -> Person:
    return sign_in("ann@example.com")


@pytest.fixture
def bob(sign_in: Callable[[str | Amishi], Person]) -> Person:
    return sign_in("bob@example.com")


@pytest.fixture
def mail_jobs(redis):
    """The mail jobs queued so far, oldest first."""
    return lambda: [json.loads(fields["job"]) for _, fields in redis.xrange("mail")]


@pytest.fixture
def rows(db):
    """The cotonomas table as (name, state) pairs, oldest first."""
    return lambda: db.execute("SELECT name, state FROM cotonomas ORDER BY created_at, key").fetchall()
