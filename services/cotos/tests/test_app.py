import dataclasses
import json
import logging.config

import psycopg_pool
import pytest
import redis
from falcon import testing

from cotoami_common.config import ConfigError, Env
from cotoami_common.logs import logging_config
from cotoami_common.ratelimit import RateLimiter
from cotoami_testing.contracts import ServiceContract, TokenAndCredentialContract
from cotoami_testing.fixtures import new_amishi
from cotos.app import create_app
from cotos.config import Config


class TestServiceContract(ServiceContract):
    """Health, readiness, JSON errors, request ids and config errors, as every service."""


class TestTokenAndCredentialContract(TokenAndCredentialContract):
    """The access-token keys and the service credential, as every service that uses them."""


def test_logs_are_json_lines_with_the_request_id(client, capsys):
    logging.config.dictConfig(logging_config())
    client.simulate_get("/api/cotos", headers={"X-Request-ID": "trace-me"})
    for handler in logging.getLogger().handlers:
        handler.flush()  # lines are written in batches (BatchedStreamHandler)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    access = [line for line in lines if line.get("path") == "/api/cotos"]
    assert access and access[0]["request_id"] == "trace-me" and access[0]["status"] == 200


def test_a_redis_outage_is_503_json_and_recovers_by_itself(config, deps):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    client = testing.TestClient(create_app(config, dataclasses.replace(deps, redis=dead, limits=RateLimiter(dead, 60))))
    result = client.simulate_post("/api/cotos", json={"content": "x"})
    assert result.status_code == 503 and result.headers["Retry-After"] == "5"
    assert "title" in result.json and "Traceback" not in result.text


@pytest.mark.parametrize(
    "environ,named",
    [
        ({"ANONYMOUS_TTL_DAYS": "soon"}, "ANONYMOUS_TTL_DAYS"),
        ({"ANONYMOUS_TTL_DAYS": "0"}, "ANONYMOUS_TTL_DAYS"),
        ({"JWT_PUBLIC_KEYS_FILE": "/nonexistent/jwks.json"}, "JWT_PUBLIC_KEYS_FILE"),
        ({"COTONOMAS_INTERNAL_URL": "cotonomas:8003"}, "COTONOMAS_INTERNAL_URL"),
        ({"FAULT_HOOKS": "sometimes"}, "FAULT_HOOKS"),
    ],
)
def test_malformed_cotos_config_names_the_variable(required_environ, environ, named):
    with pytest.raises(ConfigError, match=named):
        Config.from_env(Env({**required_environ, **environ}))


def test_a_postgres_outage_is_503_json_for_the_signed_in(config, deps, token_keys):
    # Nothing listens on port 1; a short checkout timeout keeps the test quick.
    dead_pool = psycopg_pool.ConnectionPool(
        "postgresql://postgres@127.0.0.1:1/nothing",
        min_size=0,
        max_size=1,
        timeout=0.3,
        kwargs={"connect_timeout": 1},
        open=True,
    )
    try:
        client = testing.TestClient(create_app(config, dataclasses.replace(deps, pool=dead_pool)))
        token = token_keys.access_token(new_amishi())
        result = client.simulate_post("/api/cotos", json={"content": "x"}, headers={"Cookie": f"access_token={token}"})
    finally:
        dead_pool.close()
    assert result.status_code == 503 and result.headers["Retry-After"] == "5"
    assert "title" in result.json and "Traceback" not in result.text


@pytest.mark.parametrize(
    ("environ", "on"), [({}, False), ({"FAULT_HOOKS": "on"}, True), ({"FAULT_HOOKS": "off"}, False)]
)
def test_fault_hooks_are_off_unless_turned_on(required_environ, environ, on):
    assert Config.from_env(Env({**required_environ, **environ})).fault_hooks is on


def test_cotonomas_is_found_on_the_local_stack_by_default_or_where_configured(required_environ):
    assert Config.from_env(Env(required_environ)).cotonomas_internal_url == "http://127.0.0.1:8003"
    configured = Config.from_env(Env({**required_environ, "COTONOMAS_INTERNAL_URL": "http://cotonomas:8000/"}))
    assert configured.cotonomas_internal_url == "http://cotonomas:8000"
