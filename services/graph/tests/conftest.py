# First of all: metrics are kept in multiprocess mode, as under gunicorn, only if
# PROMETHEUS_MULTIPROC_DIR is set before the app imports prometheus_client.
import cotoami_testing  # noqa: F401,I001

import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from falcon import testing

from cotoami_common.config import Env
from cotoami_common.cotonoma_access import CotonomaAccess
from cotoami_common.internal import InternalClient
from cotoami_common.outbox import OutboxRelay
from cotoami_common.tokens import Amishi
from cotoami_testing.fixtures import INTERNAL_TOKEN, ServiceUnderTest, new_amishi, send_json, serving
from graph.app import Dependencies, create_app
from graph.config import Config
from graph.cotos_client import CotoLookup

pytest_plugins = ["cotoami_testing.fixtures"]

TIMEOUT_SECONDS = 0.5


@pytest.fixture(scope="session")
def service() -> ServiceUnderTest:
    return ServiceUnderTest(Path(__file__).parents[1], Config, create_app, token_service=True)


@pytest.fixture
def config(clean_database, redis_url, required_environ) -> Config:
    return Config.from_env(Env({"DATABASE_URL": clean_database, "REDIS_URL": redis_url, **required_environ}))


class DoubleServer(ThreadingHTTPServer):
    double: "Doubles"


class DoubleHandler(BaseHTTPRequestHandler):
    """Answers as cotos (POST /internal/cotos/lookup) and cotonomas
    (GET /internal/cotonomas[/{key}/access]) would."""

    def do_POST(self):
        assert isinstance(self.server, DoubleServer)
        double = self.server.double
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        double.lookups.append(body.get("ids"))
        if (told := double.told("cotos", self.headers.get("Authorization"))) is not None:
            return send_json(self, *told)
        found = [double.cotos[i] for i in body.get("ids", []) if i in double.cotos]
        send_json(self, 200, json.dumps({"cotos": found}).encode())

    def do_GET(self):
        assert isinstance(self.server, DoubleServer)
        double = self.server.double
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        if (told := double.told("cotonomas", self.headers.get("Authorization"))) is not None:
            return send_json(self, *told)
        email = query.get("email")
        if url.path == "/internal/cotonomas":
            keys = sorted(k for k, c in double.cotonomas.items() if email in c["emails"])
            return send_json(self, 200, json.dumps({"keys": keys}).encode())
        match = re.fullmatch(r"/internal/cotonomas/([^/]+)/access", url.path)
        cotonoma = double.cotonomas.get(match[1]) if match else None
        if cotonoma is None or email not in cotonoma["emails"]:
            return send_json(self, 404, b'{"title": "No such cotonoma"}')
        answer = {"key": match[1], "name": cotonoma["name"], "owner_id": cotonoma["owner_id"]}  # type: ignore[index]
        send_json(self, 200, json.dumps(answer).encode())

    def log_message(self, *args):
        pass


class Doubles:
    """Real HTTP peers standing in for cotos and cotonomas: cotos by id, and
    cotonomas by key with the addresses that may reach each. `down` names a
    service that answers 500 to everything."""

    def __init__(self):
        self.server = DoubleServer(("127.0.0.1", 0), DoubleHandler)
        self.server.double = self
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.reset()

    def reset(self) -> None:
        self.cotos: dict[str, dict[str, Any]] = {}
        self.cotonomas: dict[str, dict[str, Any]] = {}
        self.down: set[str] = set()
        self.lookups: list[Any] = []

    def told(self, service: str, authorization: str | None) -> tuple[int, bytes] | None:
        if service in self.down:
            return 500, b'{"title": "down"}'
        if authorization != f"Bearer {INTERNAL_TOKEN}":
            return 401, b'{"title": "Unauthorized"}'
        return None

    def coto(self, author: Amishi, content: str = "a coto", cotonoma_key: str | None = None) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        posted_in = {"key": cotonoma_key, "name": self.cotonomas[cotonoma_key]["name"]} if cotonoma_key else None
        coto: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "content": content,
            "amishi": author.public(),
            "posted_in": posted_in,
            "as_cotonoma": False,
            "cotonoma_key": None,
            "created_at": now,
            "updated_at": now,
        }
        self.cotos[coto["id"]] = coto
        return coto

    def cotonoma(self, owner: Amishi, *members: Amishi, name: str = "Room") -> str:
        key = secrets.token_urlsafe(12)
        self.cotonomas[key] = {"name": name, "owner_id": owner.id, "emails": {owner.email, *(m.email for m in members)}}
        return key


@pytest.fixture(scope="session")
def doubles_server():
    double = Doubles()
    with serving(double.server):
        yield double


@pytest.fixture
def doubles(doubles_server: Doubles) -> Doubles:
    doubles_server.reset()
    return doubles_server


@pytest.fixture
def deps(pool, redis, config, doubles) -> Dependencies:
    """What get_app would open, on the test database and Redis, asking the doubles
    (access decisions are not remembered, so a test's change shows at once)."""
    return Dependencies(
        pool=pool,
        redis=redis,
        checks={},
        verifier=config.tokens.verifier(),
        cotos=CotoLookup(InternalClient("cotos", doubles.url, INTERNAL_TOKEN, TIMEOUT_SECONDS)),
        cotonomas=CotonomaAccess(
            InternalClient("cotonomas", doubles.url, INTERNAL_TOKEN, TIMEOUT_SECONDS), ttl_seconds=0.0
        ),
    )


@pytest.fixture
def ann() -> Amishi:
    return new_amishi("ann@example.com")


@pytest.fixture
def bob() -> Amishi:
    return new_amishi("bob@example.com")


@pytest.fixture
def eve() -> Amishi:
    return new_amishi("eve@example.com")


class Browser:
    """Requests of one signed-in amishi."""

    def __init__(self, client: testing.TestClient, access_token: str):
        self.client = client
        self.cookie = f"access_token={access_token}"

    def request(self, method: str, path: str, **kwargs) -> testing.Result:
        headers = {"Cookie": self.cookie, **kwargs.pop("headers", {})}
        return self.client.simulate_request(method, path, headers=headers, **kwargs)

    def connect(self, start: str, end: str, **body) -> testing.Result:
        return self.request("POST", "/api/graph/connections", json={"start": start, "end": end, **body})

    def connected(self, start: str, end: str, **body) -> dict[str, Any]:
        result = self.connect(start, end, **body)
        assert result.status_code == 201, result.text
        connection: dict[str, Any] = result.json["connection"]
        return connection

    def pin(self, coto_id: str, cotonoma_key: str | None = None) -> testing.Result:
        return self.request("POST", "/api/graph/pins", json={"coto_id": coto_id, "cotonoma_key": cotonoma_key})

    def stock(self, **params) -> testing.Result:
        return self.request("GET", "/api/graph/pins", params=params)


@pytest.fixture
def sign_in(client, token_keys):
    return lambda amishi: Browser(client, token_keys.access_token(amishi))


@pytest.fixture
def events(pool, redis):
    """The events relayed to a stream so far, as (name, data)."""
    relay = OutboxRelay(pool, redis, "graph")

    def read(stream: str) -> list[tuple[str, Any]]:
        relay.relay_all()
        return [(fields["event"], json.loads(fields["data"])) for _, fields in redis.xrange(stream)]

    return read
