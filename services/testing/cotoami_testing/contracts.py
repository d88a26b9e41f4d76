"""The contract every service keeps, tested the same way in each: subclass
ServiceContract (and TokenAndCredentialContract, for a service that verifies
access tokens and takes part in /internal/ calls) in its test_app.py, and
OpenApiContract in its test_openapi.py. They use the fixtures of
cotoami_testing.fixtures and the service's `make_app(checks)`, `config_class`
and `service_dir`."""

import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import psycopg_pool
import pytest
import redis
import yaml
from falcon import testing
from openapi_spec_validator import validate as validate_openapi

from cotoami_common.backing import postgres_pool, redis_client
from cotoami_common.config import ConfigError, Env
from cotoami_common.health import postgres_check, redis_check
from cotoami_common.metrics import route_label
from cotoami_common.migrate import apply_migrations, create_database, migration_files, statements
from cotoami_testing.fixtures import MakeApp, WsgiApp, scrape


def schema_of(url: str) -> list[tuple[Any, ...]]:
    """Tables, columns, constraints and indexes of a database, comparably."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default, NULL"
            "  FROM information_schema.columns WHERE table_schema = 'public'"
            " UNION ALL SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), NULL, NULL, NULL"
            "  FROM pg_constraint WHERE connamespace = 'public'::regnamespace"
            " UNION ALL SELECT tablename, indexname, indexdef, NULL, NULL, NULL"
            "  FROM pg_indexes WHERE schemaname = 'public'"
            " ORDER BY 1, 2"
        ).fetchall()


# What a migration must not do to a table that exists while old code serves
# (a statement in one line, upper-cased): (pattern, why).
_LOCKING = [
    (r"ALTER COLUMN \S+ (SET DATA )?TYPE", "changes a column's type, rewriting the table under an exclusive lock"),
    (r"\bRENAME\b", "renames what the running code still uses: add the new, copy, drop the old later"),
    (
        r"ADD COLUMN (?!.*\bDEFAULT\b).*\bNOT NULL\b",
        "adds a NOT NULL column without a default: old code's inserts fail",
    ),
    (
        r"ADD COLUMN .*\bDEFAULT (GEN_RANDOM_UUID|RANDOM|CLOCK_TIMESTAMP|TIMEOFDAY)\(",
        "adds a column with a volatile default, rewriting the table",
    ),
    (r"ALTER COLUMN \S+ SET NOT NULL", "scans the table under an exclusive lock: add a CHECK NOT VALID, then VALIDATE"),
    (
        r"ADD (CONSTRAINT \S+ )?(CHECK|FOREIGN KEY)(?!.*\bNOT VALID\b)",
        "checks every row under the table lock: add it NOT VALID, then VALIDATE it in a later migration",
    ),
    (r"ADD (CONSTRAINT \S+ )?(UNIQUE|PRIMARY KEY)", "builds an index while writes wait"),
]
_ALWAYS_LOCKING = r"^(VACUUM FULL|CLUSTER|LOCK TABLE)\b"


def locking_problem(statement: str, existing_tables: set[str]) -> str | None:
    """Why the statement would stop a rolling deploy, or None."""
    upper = statement.upper()
    if re.match(_ALWAYS_LOCKING, upper):
        return "locks or rewrites a whole table"
    index = re.match(r"CREATE (UNIQUE )?INDEX (?!CONCURRENTLY)(IF NOT EXISTS )?\S* ?ON (ONLY )?(\w+)", upper)
    if index and index.group(4).lower() in existing_tables:
        return "builds an index while writes wait: create it CONCURRENTLY"
    altered = re.match(r"ALTER TABLE (IF EXISTS )?(ONLY )?(\w+)", upper)
    if altered and altered.group(3).lower() in existing_tables:
        for pattern, why in _LOCKING:
            if re.search(pattern, upper):
                return why
    return None


class ServiceContract:
    """Tests every service passes the same way; subclass it as TestServiceContract."""

    def test_healthz(self, make_app: MakeApp) -> None:
        result = testing.TestClient(make_app({})).simulate_get("/healthz")
        assert result.status_code == 200 and result.json == {"status": "ok"}

    def test_readyz_when_postgres_and_redis_answer(
        self, make_app: MakeApp, pool: psycopg_pool.ConnectionPool, redis: redis.Redis
    ) -> None:
        app = make_app({"postgres": postgres_check(pool), "redis": redis_check(redis)})
        result = testing.TestClient(app).simulate_get("/readyz")
        assert result.status_code == 200
        assert result.json == {"status": "ready", "checks": {"postgres": "ok", "redis": "ok"}}

    @pytest.mark.parametrize("down", ["postgres", "redis"])
    def test_readyz_is_503_json_when_a_backing_service_does_not_answer(
        self, make_app: MakeApp, pool: psycopg_pool.ConnectionPool, redis: redis.Redis, down: str
    ) -> None:
        # Nothing listens on port 1.
        dead_pool = postgres_pool("postgresql://postgres@127.0.0.1:1/nothing", max_size=1)
        dead_redis = redis_client("redis://127.0.0.1:1/0")
        checks = {
            "postgres": postgres_check(dead_pool if down == "postgres" else pool),
            "redis": redis_check(dead_redis if down == "redis" else redis),
        }
        try:
            result = testing.TestClient(make_app(checks)).simulate_get("/readyz")
        finally:
            dead_pool.close()
            dead_redis.close()
        assert result.status_code == 503 and result.headers["Content-Type"].startswith("application/json")
        assert result.json == {"status": "not ready", "checks": {"postgres": "ok", "redis": "ok", down: "failing"}}

    def test_unknown_route_is_404_json(self, make_app: MakeApp) -> None:
        result = testing.TestClient(make_app({})).simulate_get("/api/nothing-here")
        assert result.status_code == 404 and result.headers["Content-Type"].startswith("application/json")
        assert "title" in result.json

    def test_request_id_is_taken_from_the_gateway_or_made(self, make_app: MakeApp) -> None:
        client = testing.TestClient(make_app({}))
        assert client.simulate_get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
        made = client.simulate_get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["X-Request-ID"]
        assert len(made) == 32 and made != "bad id\n"

    def test_metrics_count_and_time_requests_by_route(self, make_app: MakeApp) -> None:
        client = testing.TestClient(make_app({}))
        key = ("/healthz", "GET", "200")
        before = scrape(client)
        client.simulate_get("/healthz")
        client.simulate_get("/api/no/such/thing/here")
        after = scrape(client)
        labels = frozenset(zip(("route", "method", "status"), key, strict=True))
        assert (
            after[("cotoami_http_requests_total", labels)] == before.get(("cotoami_http_requests_total", labels), 0) + 1
        )
        count = ("cotoami_http_request_duration_seconds_count", labels)
        assert after[count] == before.get(count, 0) + 1
        unmatched = frozenset({"route": "(unmatched)", "method": "GET", "status": "404"}.items())
        assert after[("cotoami_http_requests_total", unmatched)] >= 1
        assert not any("/no/such" in dict(labels).get("route", "") for _, labels in after)

    def test_migrations_apply_concurrently_then_again_as_no_op(
        self, migrations_dir: Path, empty_database_url: str
    ) -> None:
        # A rollout may start a second migration Job while the first runs, and
        # every later rollout runs them all again.
        create_database(empty_database_url)
        names = [path.stem for path in migration_files(migrations_dir)]
        with ThreadPoolExecutor(max_workers=3) as runs:
            applied = list(runs.map(lambda _: apply_migrations(empty_database_url, migrations_dir), range(3)))
        assert sorted(name for run in applied for name in run) == names, "each migration applied exactly once"
        schema = schema_of(empty_database_url)
        assert apply_migrations(empty_database_url, migrations_dir) == []
        assert schema_of(empty_database_url) == schema

    def test_migrations_take_no_lock_that_stops_a_rollout(self, migrations_dir: Path) -> None:
        """Old pods keep serving while a migration runs: no table rewrite or
        long lock on a table that an earlier migration made (README, "Migrations")."""
        made_earlier: set[str] = set()
        for path in migration_files(migrations_dir):
            found = statements(path.read_text())
            for statement in found:
                problem = locking_problem(statement, made_earlier)
                assert problem is None, f"{path.name}: {problem}: {statement[:120]}"
            made_earlier |= {
                m.lower() for s in found for m in re.findall(r"^CREATE TABLE (?:IF NOT EXISTS )?(\w+)", s, re.I)
            }

    def test_config_defaults_serve_local_use(self, config_class: type[Any], required_environ: dict[str, str]) -> None:
        config = config_class.from_env(Env(required_environ))
        assert config.database_url.startswith("postgresql://postgres@127.0.0.1:5432/cotoami_")
        assert config.redis_url == "redis://127.0.0.1:6379/0"
        assert config.allowed_origins == ("http://127.0.0.1:8000", "http://localhost:8000")
        assert [str(network) for network in config.trusted_proxies] == ["127.0.0.1/32", "::1/128"]

    @pytest.mark.parametrize(
        "environ,named",
        [
            ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
            ({"REDIS_URL": "not a url"}, "REDIS_URL"),
            ({"ALLOWED_ORIGINS": "example.com"}, "ALLOWED_ORIGINS"),
            ({"TRUSTED_PROXIES": "the gateway"}, "TRUSTED_PROXIES"),
            ({"MAX_BODY_BYTES": "lots"}, "MAX_BODY_BYTES"),
            ({"MAX_BODY_BYTES": "10"}, "MAX_BODY_BYTES"),
            ({"DB_POOL_SIZE": "0"}, "DB_POOL_SIZE"),
        ],
    )
    def test_malformed_config_names_the_variable(
        self, config_class: type[Any], required_environ: dict[str, str], environ: dict[str, str], named: str
    ) -> None:
        with pytest.raises(ConfigError, match=named):
            config_class.from_env(Env({**required_environ, **environ}))


class TokenAndCredentialContract:
    """For services that verify access tokens and take part in /internal/ calls:
    both are required, and the credential comes from a mounted file and never
    shows in the Config's repr (so never in a log). Subclass it beside ServiceContract."""

    @pytest.mark.parametrize("missing", ["JWT_PUBLIC_KEYS_FILE", "INTERNAL_TOKEN"])
    def test_the_token_keys_and_the_service_credential_are_required(
        self, config_class: type[Any], required_environ: dict[str, str], missing: str
    ) -> None:
        environ = {name: value for name, value in required_environ.items() if name != missing}
        with pytest.raises(ConfigError, match=missing):
            config_class.from_env(Env(environ))

    def test_the_service_credential_is_read_from_a_file_and_never_shown(
        self, config_class: type[Any], required_environ: dict[str, str], tmp_path: Path
    ) -> None:
        secret = tmp_path / "internal-token"
        secret.write_text("from-a-mounted-secret\n")
        environ = {**required_environ, "INTERNAL_TOKEN": "", "INTERNAL_TOKEN_FILE": str(secret)}
        config = config_class.from_env(Env(environ))
        assert config.internal_token == "from-a-mounted-secret"
        assert "from-a-mounted-secret" not in repr(config)


# Bodies that every route taking a JSON object refuses, as json_object does,
# with the status each gets: (case, body, content type, status). A service's
# own table of bad bodies starts from these.
NOT_JSON_OBJECTS = [
    ("malformed JSON", b'{"a": ', "application/json", 400),
    ("empty body", b"", "application/json", 400),
    ("a JSON array", b'["a"]', "application/json", 400),
    ("a JSON string", b'"a"', "application/json", 400),
    ("JSON null", b"null", "application/json", 400),
    ("form encoded", b"a=b", "application/x-www-form-urlencoded", 415),
]


_OPENAPI_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def served_operations(app: WsgiApp) -> set[tuple[str, str]]:
    """Every (route template, method) the app answers with a responder of its own
    resource, as `("/api/cotos/{coto_id}", "get")`. Falcon's own responders (405
    for the methods a resource lacks, OPTIONS listing those it has) answer the
    same way on every route, so they are no route's contract."""
    operations = set()
    nodes = list(app._router._roots)
    while nodes:
        node = nodes.pop()
        nodes.extend(node.children)
        if node.resource is None or node.method_map is None:  # a node with a resource has its method map
            continue
        for method, responder in node.method_map.items():
            if getattr(responder, "__self__", None) is node.resource:
                operations.add((route_label(node.uri_template), method.lower()))
    return operations


def _json_object(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{where} is not a JSON object")
    return value


def _resolved(document: Mapping[str, object], item: Mapping[str, object]) -> Mapping[str, object]:
    """A path item, following its local $ref (#/components/pathItems/...)."""
    while "$ref" in item:
        ref = item["$ref"]
        if not isinstance(ref, str):
            raise TypeError(f"$ref is not a string: {ref!r}")
        target: object = document
        for part in ref.removeprefix("#/").split("/"):
            target = _json_object(target, ref)[part]
        item = _json_object(target, ref)
    return item


def documented_operations(document: Mapping[str, object]) -> set[tuple[str, str]]:
    """Every (path, method) an OpenAPI document lists."""
    return {
        (path, method)
        for path, item in _json_object(document["paths"], "paths").items()
        for method in _resolved(document, _json_object(item, path))
        if method in _OPENAPI_METHODS
    }


class OpenApiContract:
    """A service's openapi.yaml (in its `service_dir`) documents exactly the
    routes its app serves and is a valid OpenAPI document. Subclass it as
    TestOpenApiContract; the conftest's make_app builds the app."""

    @pytest.fixture
    def document(self, service_dir: Path) -> Any:
        return yaml.safe_load((service_dir / "openapi.yaml").read_text())

    def test_the_document_is_valid_openapi(self, document: Any) -> None:
        validate_openapi(document)

    def test_every_route_served_is_documented(self, make_app: MakeApp, document: Any) -> None:
        undocumented = served_operations(make_app({})) - documented_operations(document)
        assert not undocumented, f"served but not in openapi.yaml: {sorted(undocumented)}"

    def test_every_documented_operation_is_served(self, make_app: MakeApp, document: Any) -> None:
        unserved = documented_operations(document) - served_operations(make_app({}))
        assert not unserved, f"in openapi.yaml but not served: {sorted(unserved)}"

    def test_internal_operations_require_the_service_credential(self, document: Any) -> None:
        schemes = document.get("components", {}).get("securitySchemes", {})
        for path, item in document["paths"].items():
            if not path.startswith("/internal/"):
                continue
            for method, operation in _resolved(document, item).items():
                if method not in _OPENAPI_METHODS:
                    continue
                security = _json_object(operation, f"{method} {path}").get("security", document.get("security", []))
                if not isinstance(security, list):
                    raise TypeError(f"{method.upper()} {path}: security is not a list")
                required = [[schemes.get(name, {}).get("scheme") for name in alternative] for alternative in security]
                assert required == [["bearer"]], f"{method.upper()} {path} must require the bearer credential alone"
