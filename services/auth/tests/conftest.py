# First of all: metrics are kept in multiprocess mode, as under gunicorn, only if
# PROMETHEUS_MULTIPROC_DIR is set before the app imports prometheus_client.
import cotoami_testing  # noqa: F401,I001

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


from auth.app import Dependencies, create_app
from auth.config import Config
from auth.cotos_client import CotosClient
from auth.profiles import Profiles
from cotoami_common.config import Env
from cotoami_common.ratelimit import RateLimiter
from cotoami_testing.fixtures import INTERNAL_TOKEN, ServiceUnderTest, send_json, serving

pytest_plugins = ["cotoami_testing.fixtures"]


@pytest.fixture(scope="session")
def service() -> ServiceUnderTest:
    return ServiceUnderTest(Path(__file__).parents[1], Config, create_app, token_service=True)


@pytest.fixture
def environ(clean_database, redis_url, required_environ) -> dict[str, str]:
    return {"DATABASE_URL": clean_database, "REDIS_URL": redis_url, **required_environ}


@pytest.fixture
def config(environ) -> Config:
    return Config.from_env(Env(environ))


class CotosDouble(BaseHTTPRequestHandler):
    """A real HTTP peer standing in for the cotos service's internal path."""

    server: "CotosServer"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.claims.append({"body": body, "authorization": self.headers.get("Authorization")})
        send_json(self, self.server.answer, json.dumps({"moved": 2}).encode())

    def do_GET(self):
        """GET /internal/anonymous-pads/{id}: the size the test gave the pad, 404 for any other."""
        self.server.asked.append({"path": self.path, "authorization": self.headers.get("Authorization")})
        size = self.server.pads.get(self.path.rsplit("/", 1)[1])
        if self.server.answer != 200:
            send_json(self, self.server.answer, b'{"title": "as told"}')
        elif size is None:
            send_json(self, 404, b'{"title": "No such pad"}')
        else:
            send_json(self, 200, json.dumps({"cotos": size}).encode())

    def log_message(self, *args):
        pass


class CotosServer(ThreadingHTTPServer):
    """The double's server: the claims it received, the pads it knows (id ->
    how many cotos), what it was asked of them, and the status it answers with."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), CotosDouble)
        self.claims: list[dict[str, object]] = []
        self.pads: dict[str, int] = {}
        self.asked: list[dict[str, object]] = []
        self.answer = 200


@pytest.fixture
def cotos_double():
    server = CotosServer()
    with serving(server):
        yield server


@pytest.fixture
def deps(config, pool, redis, cotos_double) -> Dependencies:
    """What get_app would open, on the test database and Redis, with the double for cotos."""
    return Dependencies(
        pool=pool,
        redis=redis,
        checks={},
        verifier=config.tokens.verifier(),
        limits=RateLimiter(redis, config.rate_limit_window_seconds),
        profiles=Profiles(config.gravatar_url, config.gravatar_profile_url, config.gravatar_timeout_seconds, redis),
        cotos=CotosClient(f"http://127.0.0.1:{cotos_double.server_port}", INTERNAL_TOKEN, timeout_seconds=2),
    )


@pytest.fixture
def mail_jobs(redis):
    """The mail jobs queued so far, oldest first."""
    return lambda: [json.loads(fields["job"]) for _, fields in redis.xrange("mail")]
