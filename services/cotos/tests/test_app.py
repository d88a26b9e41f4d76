import json

import pytest

from cotoami_common.config import ConfigError, Env
from cotos.config import Config


def test_healthz_and_readyz(client):
    assert client.simulate_get("/healthz").json == {"status": "ok"}
    ready = client.simulate_get("/readyz")
    assert ready.status_code == 200 and ready.json["checks"] == {"redis": "ok"}


def test_readyz_fails_when_a_backing_service_does_not_answer(config, anonymous_cotos):
    from falcon import testing

    from cotos.app import create_app

    def down():
        raise ConnectionError("no")

    client = testing.TestClient(create_app(config, anonymous_cotos, checks={"postgres": down}))
    result = client.simulate_get("/readyz")
    assert result.status_code == 503 and result.json["checks"] == {"postgres": "failing"}


def test_request_id_is_taken_from_the_gateway_or_made(client):
    assert client.simulate_get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    made = client.simulate_get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["X-Request-ID"]
    assert len(made) == 32 and made != "bad id\n"


def test_logs_are_json_lines_with_the_request_id(client, capsys):
    import logging

    from cotoami_common.logs import logging_config

    logging.config.dictConfig(logging_config())
    client.simulate_get("/api/cotos", headers={"X-Request-ID": "trace-me"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    access = [line for line in lines if line.get("path") == "/api/cotos"]
    assert access and access[0]["request_id"] == "trace-me" and access[0]["status"] == 200


def test_backing_service_outage_is_503_json(config):
    import redis
    from falcon import testing

    from cotos.app import create_app
    from cotos.store import AnonymousCotoStore

    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    client = testing.TestClient(create_app(config, AnonymousCotoStore(dead, 60), checks={}))
    result = client.simulate_post("/api/cotos", json={"content": "x"})
    assert result.status_code == 503 and result.headers["Retry-After"] == "5"
    assert "title" in result.json


def test_config_defaults_serve_local_use():
    config = Config.from_env(Env({}))
    assert config.redis_url.startswith("redis://") and config.anonymous_ttl_days == 30


@pytest.mark.parametrize(
    "environ,named",
    [
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"REDIS_URL": "not a url"}, "REDIS_URL"),
        ({"ANONYMOUS_TTL_DAYS": "soon"}, "ANONYMOUS_TTL_DAYS"),
        ({"ANONYMOUS_TTL_DAYS": "0"}, "ANONYMOUS_TTL_DAYS"),
        ({"ALLOWED_ORIGINS": "example.com"}, "ALLOWED_ORIGINS"),
    ],
)
def test_malformed_config_names_the_variable(environ, named):
    with pytest.raises(ConfigError, match=named):
        Config.from_env(Env(environ))
