import json
import logging.config

import pytest
import redis
from falcon import testing

from cotoami_common.config import ConfigError, Env
from cotoami_common.logs import logging_config
from cotoami_common.testing import ServiceContract
from cotos.app import create_app
from cotos.config import Config
from cotos.store import AnonymousCotoStore


class TestServiceContract(ServiceContract):
    """Health, readiness, JSON errors, request ids and config errors, as every service."""


def test_logs_are_json_lines_with_the_request_id(client, capsys):
    logging.config.dictConfig(logging_config())
    client.simulate_get("/api/cotos", headers={"X-Request-ID": "trace-me"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    access = [line for line in lines if line.get("path") == "/api/cotos"]
    assert access and access[0]["request_id"] == "trace-me" and access[0]["status"] == 200


def test_a_redis_outage_is_503_json_and_recovers_by_itself(config):
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    client = testing.TestClient(create_app(config, AnonymousCotoStore(dead, 60), checks={}))
    result = client.simulate_post("/api/cotos", json={"content": "x"})
    assert result.status_code == 503 and result.headers["Retry-After"] == "5"
    assert "title" in result.json and "Traceback" not in result.text


@pytest.mark.parametrize("environ,named", [({"ANONYMOUS_TTL_DAYS": "soon"}, "ANONYMOUS_TTL_DAYS"),
                                           ({"ANONYMOUS_TTL_DAYS": "0"}, "ANONYMOUS_TTL_DAYS")])
def test_malformed_cotos_config_names_the_variable(environ, named):
    with pytest.raises(ConfigError, match=named):
        Config.from_env(Env(environ))
