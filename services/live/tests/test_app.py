"""What every service keeps (cotoami_testing.contracts' ServiceContract, but
for a service without a database and with an ASGI app), its config, its
metrics, and a SIGTERM under gunicorn ending the open streams."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import HOME, free_port
from live.config import Config
from prometheus_client.parser import text_string_to_metric_families

from cotoami_common.config import ConfigError, Env
from cotoami_testing.contracts import TokenAndCredentialContract


class TestTokenAndCredentialContract(TokenAndCredentialContract):
    pass


def metrics(live) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = requests.get(live.url + "/metrics", timeout=5)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_healthz_says_the_hub_runs(live):
    answer = requests.get(live.url + "/healthz", timeout=5)
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "checks": {"hub": "ok"}}


def test_readyz_when_redis_answers_and_the_hub_runs(live):
    answer = requests.get(live.url + "/readyz", timeout=5)
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "checks": {"redis": "ok", "hub": "ok"}}


@pytest.mark.parametrize("settings", [{"REDIS_URL": "redis://127.0.0.1:1/0"}])  # nothing listens on port 1
def test_readyz_is_503_and_a_stream_503_when_redis_does_not_answer(live, person, settings):
    answer = requests.get(live.url + "/readyz", timeout=10)
    assert answer.status_code == 503 and answer.json() == {
        "status": "not ready",
        "checks": {"redis": "failing", "hub": "ok"},
    }
    stream = live.get(HOME, person("ann@example.com").token)
    assert stream.status_code == 503 and stream.headers["Retry-After"] == "5"


@pytest.mark.parametrize(
    "method,path,status",
    [("GET", "/api/nothing-here", 404), ("POST", "/api/live/home", 405), ("GET", "/internal/anything", 401)],
)
def test_other_paths_and_methods_are_json_errors(live, method, path, status):
    answer = requests.request(method, live.url + path, timeout=5, headers={"Accept": "text/html"})
    assert answer.status_code == status and answer.headers["Content-Type"].startswith("application/json")
    assert "title" in answer.json() and answer.headers["Cache-Control"] == "no-store"


def test_request_id_is_taken_from_the_gateway_or_made(live):
    given = requests.get(live.url + "/healthz", headers={"X-Request-ID": "abc-123"}, timeout=5)
    assert given.headers["X-Request-ID"] == "abc-123"
    made = requests.get(live.url + "/healthz", headers={"X-Request-ID": "bad id"}, timeout=5)
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])


def test_metrics_count_streams_and_events(live, person, streams, redis):
    ann = person("ann@example.com")
    home = frozenset({"room": "home"}.items())
    before = metrics(live)
    stream = streams(live.get(HOME, ann.token))
    assert metrics(live)[("cotoami_live_open_streams", home)] == before[("cotoami_live_open_streams", home)] + 1
    redis.xadd(f"events:amishi:{ann.amishi.id}", {"event": "coto", "data": '{"id": "x"}', "origin": "test:1"})
    stream.events(1)
    after = metrics(live)
    coto = frozenset({"event": "coto"}.items())
    assert after[("cotoami_live_events_sent_total", coto)] == before[("cotoami_live_events_sent_total", coto)] + 1
    lag: tuple[str, frozenset[tuple[str, str]]] = ("cotoami_live_fanout_lag_seconds_count", frozenset())
    assert after[lag] == before[lag] + 1
    requests_total = frozenset({"route": "/api/live/home", "method": "GET", "status": "200"}.items())
    assert after[("cotoami_http_requests_total", requests_total)] >= 1


def test_config_defaults_serve_local_use(required_environ):
    config = Config.from_env(Env(required_environ))
    assert config.redis_url == "redis://127.0.0.1:6379/0"
    assert config.allowed_origins == ("http://127.0.0.1:8000", "http://localhost:8000")
    assert [str(network) for network in config.trusted_proxies] == ["127.0.0.1/32", "::1/128"]
    assert config.cotonomas_internal_url == "http://127.0.0.1:8003"
    assert (config.access_ttl_seconds, config.keepalive_seconds, config.listener_queue_size) == (2.0, 15, 256)


@pytest.mark.parametrize(
    "environ,named",
    [
        ({"REDIS_URL": "not a url"}, "REDIS_URL"),
        ({"ALLOWED_ORIGINS": "example.com"}, "ALLOWED_ORIGINS"),
        ({"TRUSTED_PROXIES": "the gateway"}, "TRUSTED_PROXIES"),
        ({"MAX_BODY_BYTES": "10"}, "MAX_BODY_BYTES"),
        ({"COTONOMAS_INTERNAL_URL": "cotonomas"}, "COTONOMAS_INTERNAL_URL"),
        ({"LIVE_ACCESS_TTL_MS": "5000"}, "LIVE_ACCESS_TTL_MS"),
        ({"LIVE_KEEPALIVE_SECONDS": "0"}, "LIVE_KEEPALIVE_SECONDS"),
        ({"LIVE_LISTENER_QUEUE_SIZE": "many"}, "LIVE_LISTENER_QUEUE_SIZE"),
    ],
)
def test_malformed_config_names_the_variable(required_environ, environ, named):
    with pytest.raises(ConfigError, match=named):
        Config.from_env(Env({**required_environ, **environ}))


def dockerfile_command() -> list[str]:
    line = next(
        line for line in (Path(__file__).parents[1] / "Dockerfile").read_text().splitlines() if line.startswith("CMD ")
    )
    command: list[str] = json.loads(line.removeprefix("CMD "))
    return command


def test_sigterm_under_gunicorn_ends_every_open_stream_with_retry(environ, person, tmp_path):
    """The Dockerfile's command, as a rollout stops it: the streams end at once
    (sending retry:), not after the graceful timeout."""
    port = free_port()
    command = dockerfile_command()
    command[0] = str(Path(sys.executable).parent / command[0])
    env = {
        **os.environ,
        **environ,
        "PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    process = subprocess.Popen(command, cwd=Path(__file__).parents[1], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, "live did not start under gunicorn"
            try:
                if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or still starting
                time.sleep(0.2)
        answer = requests.get(
            f"http://127.0.0.1:{port}{HOME}",
            cookies={"access_token": person("ann@example.com").token},
            stream=True,
            timeout=(3, 20),
        )
        assert answer.status_code == 200
        lines = answer.iter_lines(chunk_size=None, decode_unicode=True)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        received = list(lines)
        took = time.monotonic() - started
        assert "retry: 1000" in received
        assert took < 5, f"the stream ended {took:.1f} s after SIGTERM"
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
