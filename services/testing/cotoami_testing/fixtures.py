"""The pytest plugin every service's tests enable (`pytest_plugins =
["cotoami_testing.fixtures"]`): a database of the service's own with its
migrations applied, a Redis database wiped around each test, access-token keys,
and helpers for reading metrics and for test doubles that stand in for
another service over real HTTP.

A service's conftest.py provides `service` (which service is under test),
`config` and `deps` (the Config and Dependencies its create_app is given);
the plugin makes `make_app(checks)` and `client` of them."""

import dataclasses
import json
import os
import secrets
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import falcon
import psycopg
import psycopg_pool
import pytest
import redis
from falcon import testing
from psycopg import sql

import cotoami_testing
from cotoami_common.backing import postgres_pool, redis_client
from cotoami_common.health import Check
from cotoami_common.migrate import apply_migrations, create_database
from cotoami_common.tokens import AccessTokenSigner, Amishi, generate_keys


@pytest.fixture(scope="session", autouse=True)
def metrics_dir() -> Iterator[Path]:
    """Where this test run's processes keep their metrics (PROMETHEUS_MULTIPROC_DIR)."""
    yield Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if cotoami_testing.MADE_METRICS_DIR:
        shutil.rmtree(cotoami_testing.MADE_METRICS_DIR, ignore_errors=True)


def scrape(client: testing.TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """GET /metrics: every sample, keyed by its name and labels."""
    from prometheus_client.parser import text_string_to_metric_families

    result = client.simulate_get("/metrics")
    assert result.status_code == 200, result.text
    assert result.headers["Content-Type"].startswith("text/plain; version=0.0.4"), result.headers
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(result.text)
        for sample in family.samples
    }


def sample(client: testing.TestClient, name: str, **labels: str) -> float:
    """The value /metrics gives one sample now (0 when it has none yet)."""
    return scrape(client).get((name, frozenset(labels.items())), 0.0)


# A service's app, and the make_app fixture: the app with the readiness checks given.
WsgiApp = falcon.App[falcon.Request, falcon.Response]
MakeApp = Callable[[dict[str, Check]], WsgiApp]

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@dataclass(frozen=True)
class ServiceUnderTest:
    """The service a test run is for: its folder (with migrations/ and
    openapi.yaml), its Config class and its create_app(config, deps); a token
    service verifies access tokens and takes part in /internal/ calls."""

    directory: Path
    config_class: type[Any]
    create_app: Callable[[Any, Any], WsgiApp]
    token_service: bool


@pytest.fixture(scope="session")
def service_dir(service: ServiceUnderTest) -> Path:
    return service.directory


@pytest.fixture(scope="session")
def migrations_dir(service_dir: Path) -> Path:
    return service_dir / "migrations"


@pytest.fixture
def config_class(service: ServiceUnderTest) -> type[Any]:
    return service.config_class


@pytest.fixture
def make_app(service: ServiceUnderTest, config: Any, deps: Any) -> MakeApp:
    """The service's app from the test's config and dependencies, with the readiness checks given."""
    return lambda checks: service.create_app(config, dataclasses.replace(deps, checks=checks))


@pytest.fixture
def client(make_app: MakeApp) -> testing.TestClient:
    return testing.TestClient(make_app({}))


def _drop_database(name: str) -> None:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def database_url(migrations_dir: Path) -> Iterator[str]:
    """A new database for this test run, dropped at the end."""
    name = f"test_{migrations_dir.parent.name}_{secrets.token_hex(4)}"
    url = urlsplit(POSTGRES_URL)._replace(path=f"/{name}").geturl()
    create_database(url)
    apply_migrations(url, migrations_dir)
    yield url
    _drop_database(name)


@pytest.fixture
def empty_database_url() -> Iterator[str]:
    """The URL of a database that does not exist yet; dropped after the test."""
    name = f"test_empty_{secrets.token_hex(4)}"
    yield urlsplit(POSTGRES_URL)._replace(path=f"/{name}").geturl()
    _drop_database(name)


@pytest.fixture
def clean_database(database_url: str) -> str:
    """The test run's database with every table emptied, before each test."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT quote_ident(tablename) FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
            )
        ]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    return database_url


@pytest.fixture
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@dataclass(frozen=True)
class TokenKeys:
    """A signing key and its public key set, written where config expects files."""

    directory: Path
    signer: AccessTokenSigner

    @property
    def jwks_file(self) -> Path:
        return self.directory / "jwks.json"

    @property
    def jwks(self) -> dict[str, Any]:
        keys: dict[str, Any] = json.loads(self.jwks_file.read_text())
        return keys

    def access_token(self, amishi: Amishi, now: float | None = None) -> str:
        return self.signer.sign(amishi, now)

    def environ(self) -> dict[str, str]:
        return {
            "JWT_PUBLIC_KEYS_FILE": str(self.jwks_file),
            "JWT_SIGNING_KEY_FILE": str(self.directory / "signing-key.pem"),
        }


@pytest.fixture(scope="session")
def token_keys(tmp_path_factory: pytest.TempPathFactory) -> TokenKeys:
    directory = tmp_path_factory.mktemp("keys")
    generate_keys(directory)
    signer = AccessTokenSigner((directory / "signing-key.pem").read_bytes(), "cotoami-auth", "cotoami", 600)
    return TokenKeys(directory, signer)


def new_amishi(email: str = "ann@example.com") -> Amishi:
    """An amishi as auth would describe them in a token (no database needed)."""
    return Amishi(str(uuid.uuid4()), email, email.split("@")[0], f"https://gravatar.test/avatar/{email}")


@pytest.fixture
def pool(clean_database: str) -> Iterator[psycopg_pool.ConnectionPool]:
    pool = postgres_pool(clean_database, max_size=2)
    yield pool
    pool.close()


@pytest.fixture(name="redis")
def redis_fixture(redis_url: str) -> Iterator[redis.Redis]:
    client = redis_client(redis_url)
    yield client
    client.close()


@pytest.fixture
def db(clean_database: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to the test database; each statement commits on its own."""
    with psycopg.connect(clean_database, autocommit=True) as conn:
        yield conn


def violates(db: psycopg.Connection[Any], constraint: str, query: str, params: tuple[Any, ...]) -> None:
    """Assert the statement is refused by the named constraint."""
    with pytest.raises(psycopg.errors.IntegrityError) as raised:
        db.execute(query, params)
    assert raised.value.diag.constraint_name == constraint


# The service credential the tests' services and their doubles present.
INTERNAL_TOKEN = "internal-credential-for-tests"


@pytest.fixture
def required_environ(service: ServiceUnderTest, token_keys: TokenKeys) -> dict[str, str]:
    """What the service cannot start without: for a token service, auth's keys
    and the service credential; a service whose config requires more overrides this."""
    return {**token_keys.environ(), "INTERNAL_TOKEN": INTERNAL_TOKEN} if service.token_service else {}


def scans_in_plan(
    db: psycopg.Connection[Any], query: str, params: Any, tables: tuple[str, ...]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The query's plan for these values (EXPLAINed, not run) and its nodes that read one of the tables."""
    row = db.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()
    assert row is not None
    plan: dict[str, Any] = row[0][0]["Plan"]
    return plan, scans_of(plan, tables)


# Every plan made told to the client as a notice, in JSON; and made once for any values.
_GENERIC_PLAN_SETTINGS = {
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_level": "notice",
    "auto_explain.log_format": "json",
    "plan_cache_mode": "force_generic_plan",
}


def generic_plan_scans(
    db: psycopg.Connection[Any], query: str, params: Any, tables: tuple[str, ...]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The plan PostgreSQL makes once for any values of the query's parameters
    (plan_cache_mode = force_generic_plan, the query run prepared), as
    auto_explain tells it, and its nodes that read one of the tables."""
    messages: list[str] = []

    def heard(notice: psycopg.errors.Diagnostic) -> None:
        messages.append(notice.message_primary or "")

    db.add_notice_handler(heard)
    try:
        db.execute("LOAD 'auto_explain'")
        for name, value in _GENERIC_PLAN_SETTINGS.items():
            db.execute(f"SET {name} = {value}")
        db.execute(query, params, prepare=True).fetchall()
    finally:
        db.remove_notice_handler(heard)
        for name in _GENERIC_PLAN_SETTINGS:
            db.execute(f"RESET {name}")
    # "duration: 0.1 ms  plan:" and the plan's JSON on the lines after.
    plan: dict[str, Any] = json.loads(messages[-1].split("\n", 1)[1])["Plan"]
    return plan, scans_of(plan, tables)


def scans_of(plan: dict[str, Any], tables: tuple[str, ...]) -> list[dict[str, Any]]:
    """The plan's nodes that read one of the tables."""
    return [node for node in plan_nodes(plan) if node.get("Relation Name") in tables]


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A plan's node and every node under it, parents first."""
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    """A real HTTP server standing in for another service, answering from a thread until the block ends."""
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: bytes) -> None:
    """A test double's answer: the status and, unless empty, the JSON body."""
    try:
        handler.send_response(status)
        if payload:
            handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # a slow answer nobody waits for any more
