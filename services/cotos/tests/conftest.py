# First of all: metrics are kept in multiprocess mode, as under gunicorn, only if
# PROMETHEUS_MULTIPROC_DIR is set before the app imports prometheus_client.
import cotoami_testing  # noqa: F401,I001

import dataclasses
import json
import re
import secrets
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypedDict, cast
from urllib.parse import parse_qs, urlsplit

import pytest

from falcon import testing

from cotoami_common.backing import redis_client
from cotoami_common.config import Env
from cotoami_common.ratelimit import RateLimiter
from cotoami_testing.fixtures import INTERNAL_TOKEN, ServiceUnderTest, new_amishi, send_json, serving
from cotoami_common.tokens import AccessTokenVerifier, Amishi
from cotos.app import Dependencies, create_app
from cotos.config import Config
from cotoami_common.cotonoma_access import CotonomaAccess
from cotoami_common.internal import InternalClient
from cotos.store import AnonymousCoto, AnonymousCotoStore, Coto, CotoStore

pytest_plugins = ["cotoami_testing.fixtures"]

# Short, so that a slow or silent cotonomas costs the tests little.
ACCESS_TIMEOUT_SECONDS = 0.3


@pytest.fixture(scope="session")
def service() -> ServiceUnderTest:
    return ServiceUnderTest(Path(__file__).parents[1], Config, create_app, token_service=True)


@pytest.fixture
def config(clean_database, redis_url, required_environ) -> Config:
    return Config.from_env(Env({"DATABASE_URL": clean_database, "REDIS_URL": redis_url, **required_environ}))


@pytest.fixture
def verifier(config: Config) -> AccessTokenVerifier:
    return config.tokens.verifier()


@pytest.fixture
def anonymous_cotos(config):
    client = redis_client(config.redis_url)
    yield AnonymousCotoStore(client, ttl_seconds=config.anonymous_ttl_seconds)
    client.close()


@pytest.fixture
def coto_store(pool) -> CotoStore:
    return CotoStore(pool)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class CotonomasServer(ThreadingHTTPServer):
    """The HTTP server of a CotonomasDouble, which its handler asks."""

    double: "CotonomasDouble"


class CotonomasHandler(BaseHTTPRequestHandler):
    """Answers GET /internal/cotonomas/{key}/access and GET /internal/cotonomas
    (the keys one may reach) as the cotonomas service would."""

    def do_GET(self):
        assert isinstance(self.server, CotonomasServer)
        double = self.server.double
        url = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(url.query).items()}
        match = re.fullmatch(r"/internal/cotonomas/([^/]+)/access", url.path)
        double.asked.append({"key": match and match[1], "query": query, "headers": dict(self.headers)})
        double.before_answer()
        time.sleep(double.delay)
        authorization = self.headers.get("Authorization")
        if url.path == "/internal/cotonomas":
            send_json(self, *double.reachable(query, authorization))
        else:
            send_json(self, *double.decide(match and match[1], query, authorization))

    def log_message(self, *args):
        pass


class KnownCotonoma(TypedDict):
    name: str
    owner_id: str
    emails: set[str]


class CotonomasDouble:
    """A real HTTP peer standing in for the cotonomas service's access route.

    It knows cotonomas by key with the addresses that may enter each (no
    nesting: which cotonomas a person may access is cotonomas' business).
    `answer` set to a status answers every question with it; `delay` makes
    every answer slow; `asked` records each question.
    """

    def __init__(self):
        self.server = CotonomasServer(("127.0.0.1", 0), CotonomasHandler)
        self.server.double = self
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.reset()

    def reset(self) -> None:
        self.cotonomas: dict[str, KnownCotonoma] = {}
        self.asked: list[dict[str, object]] = []
        self.answer: int | None = None
        self.body: bytes | None = None
        self.delay = 0.0
        self.before_answer = lambda: None

    def add(self, key: str, name: str, owner: Amishi, *members: Amishi) -> None:
        self.cotonomas[key] = {"name": name, "owner_id": owner.id, "emails": {owner.email, *(m.email for m in members)}}

    def allow(self, key: str, amishi: Amishi) -> None:
        self.cotonomas[key]["emails"].add(amishi.email)

    def revoke(self, key: str, amishi: Amishi) -> None:
        self.cotonomas[key]["emails"].discard(amishi.email)

    def _told(self, authorization: str | None) -> tuple[int, bytes] | None:
        if self.answer is not None:
            return self.answer, self.body if self.body is not None else b'{"title": "as told"}'
        if authorization != f"Bearer {INTERNAL_TOKEN}":
            return 401, b'{"title": "Unauthorized"}'
        return None

    def reachable(self, query: dict[str, str], authorization: str | None) -> tuple[int, bytes]:
        if (told := self._told(authorization)) is not None:
            return told
        keys = sorted(key for key, cotonoma in self.cotonomas.items() if query.get("email") in cotonoma["emails"])
        return 200, json.dumps({"keys": keys}).encode()

    def decide(self, key: str | None, query: dict[str, str], authorization: str | None) -> tuple[int, bytes]:
        if (told := self._told(authorization)) is not None:
            return told
        cotonoma = self.cotonomas.get(key) if key is not None else None
        if cotonoma is None or query.get("email") not in cotonoma["emails"]:
            return 404, b'{"title": "No such cotonoma"}'
        return 200, json.dumps({"key": key, "name": cotonoma["name"], "owner_id": cotonoma["owner_id"]}).encode()


@pytest.fixture(scope="session")
def cotonomas_server():
    double = CotonomasDouble()
    with serving(double.server):
        yield double


@pytest.fixture
def cotonomas_double(cotonomas_server):
    """The double, knowing nothing yet and answering promptly."""
    cotonomas_server.reset()
    return cotonomas_server


@pytest.fixture
def closed_port_url() -> str:
    """The address of a port nobody listens on: cotonomas is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def cotonoma_access(cotonomas_double, clock) -> CotonomaAccess:
    """Asks the double; its decisions expire only when the test moves the clock."""
    return CotonomaAccess(
        InternalClient("cotonomas", cotonomas_double.url, INTERNAL_TOKEN, ACCESS_TIMEOUT_SECONDS), clock=clock
    )


@pytest.fixture
def limits(anonymous_cotos, config) -> RateLimiter:
    return RateLimiter(anonymous_cotos.client, config.rate_limit_window_seconds)


@pytest.fixture
def deps(pool, anonymous_cotos, verifier, limits, cotonoma_access) -> Dependencies:
    """What get_app would open, on the test database and Redis, asking the double for access."""
    return Dependencies(
        pool=pool, redis=anonymous_cotos.client, checks={}, verifier=verifier, limits=limits, cotonomas=cotonoma_access
    )


@pytest.fixture
def client_asking(config, deps):
    """A client of an app that asks cotonomas at the given address."""

    def client(url: str) -> testing.TestClient:
        access = CotonomaAccess(InternalClient("cotonomas", url, INTERNAL_TOKEN, ACCESS_TIMEOUT_SECONDS))
        return testing.TestClient(create_app(config, dataclasses.replace(deps, cotonomas=access)))

    return client


@pytest.fixture
def ann() -> Amishi:
    return new_amishi("ann@example.com")


@pytest.fixture
def bob() -> Amishi:
    return new_amishi("bob@example.com")


@pytest.fixture
def browser(client):
    """Requests from one browser: the anonymous cookie it was given is sent back."""
    return Browser(client)


@pytest.fixture
def sign_in(client, token_keys):
    """A browser (a device) signed in as the given amishi."""
    return lambda amishi: Browser(client, access_token=token_keys.access_token(amishi))


@pytest.fixture
def new_cotonoma(client, cotonomas_double):
    """Makes a cotonoma as the cotonomas service would: its coto here (by the
    internal PUT), and who may enter it in the double. Returns its key."""

    def new_cotonoma(name: str, owner: Amishi, *members: Amishi, parent_key: str | None = None) -> str:
        key = secrets.token_urlsafe(12)
        put_cotonoma_coto(client, key, name, owner, parent_key)
        cotonomas_double.add(key, name, owner, *members)
        return key

    return new_cotonoma


def put_cotonoma_coto(client, key: str, name: str, owner: Amishi, parent_key: str | None = None) -> Coto:
    result = client.simulate_put(
        f"/internal/cotonoma-cotos/{key}",
        json={"name": name, "parent_key": parent_key, "owner": owner.public()},
        headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"},
    )
    assert result.status_code == 200, result.text
    return cast(Coto, result.json["coto"])


class Browser:
    def __init__(self, client: testing.TestClient, access_token: str | None = None):
        self.client = client
        self.cookies: dict[str, str] = {"access_token": access_token} if access_token else {}

    def request(self, method: str, path: str, **kwargs) -> testing.Result:
        headers = kwargs.pop("headers", {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        result = self.client.simulate_request(method, path, headers=headers, **kwargs)
        for name, cookie in result.cookies.items():
            self.cookies[name] = cookie.value
        return result

    def post(self, content: str, cotonoma_key: str | None = None) -> Coto | AnonymousCoto:
        body = {"content": content} | ({"cotonoma_key": cotonoma_key} if cotonoma_key else {})
        result = self.request("POST", "/api/cotos", json=body)
        assert result.status_code == 201, result.text
        return cast(Coto | AnonymousCoto, result.json["coto"])

    def timeline(self, **params) -> list[Coto] | list[AnonymousCoto]:
        result = self.request("GET", "/api/cotos", params=params)
        assert result.status_code == 200, result.text
        return cast(list[Coto] | list[AnonymousCoto], result.json["cotos"])
