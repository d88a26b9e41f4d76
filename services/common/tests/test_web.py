import atexit
import ipaddress
from collections.abc import Callable

import falcon
import psycopg_pool
import pytest
from falcon import testing

from cotoami_common.backing import ServiceDependencies
from cotoami_common.config import ServiceConfig
from cotoami_common.health import keep_running, redis_check
from cotoami_common.web import (
    ErrorAnswers,
    client_address,
    json_object,
    limit_param,
    new_app,
    service_app,
    set_cookie,
    text_field,
)
from cotoami_testing.fixtures import POSTGRES_URL, REDIS_URL


class Echo:
    def on_post(self, req, resp):
        resp.media = json_object(req)

    def on_get(self, req, resp):
        raise RuntimeError("boom with a secret in it")


@pytest.fixture
def client():
    app = new_app(max_body_bytes=100, allowed_origins=["https://cotoami.example"], trusted_proxies=[])
    app.add_route("/echo", Echo())
    return testing.TestClient(app)


def test_unexpected_errors_are_500_json_without_a_trace(client):
    result = client.simulate_get("/echo")
    assert result.status_code == 500
    assert set(result.json) == {"title", "description"}
    assert "boom" not in result.text and "Traceback" not in result.text


def test_body_over_the_limit_is_413(client):
    result = client.simulate_post("/echo", json={"x": "y" * 200})
    assert result.status_code == 413 and "title" in result.json


@pytest.mark.parametrize(
    "headers,status",
    [
        ({"Origin": "https://cotoami.example"}, 200),
        ({"Sec-Fetch-Site": "same-origin"}, 200),
        ({"Sec-Fetch-Site": "none"}, 200),
        ({}, 200),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        # An Origin header is a serialized origin, as browsers write it: nothing else is taken for it.
        ({"Origin": "https://cotoami.example/"}, 403),
        ({"Origin": "https://cotoami.example/path"}, 403),
        ({"Origin": "https://cotoami.example:443"}, 403),
        ({"Origin": "HTTPS://COTOAMI.EXAMPLE"}, 403),
        ({"Origin": "https://cotoami.example.evil"}, 403),
        ({"Origin": "http://cotoami.example"}, 403),
        ({"Origin": ""}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Origin": "https://cotoami.example", "Sec-Fetch-Site": "cross-site"}, 403),
    ],
)
def test_cross_site_writes(client, headers, status):
    assert client.simulate_post("/echo", json={"a": 1}, headers=headers).status_code == status


def test_reads_are_not_origin_checked(client):
    assert client.simulate_get("/nothing", headers={"Origin": "https://evil.example"}).status_code == 404


@pytest.mark.parametrize("path", ["/internal/x", "//internal/x", "///internal/x"])
def test_internal_paths_need_the_credential_however_many_leading_slashes(path):
    # Falcon's router ignores leading slashes: "//internal/x" reaches the /internal/x route.
    app = new_app(max_body_bytes=100, allowed_origins=[], trusted_proxies=[], internal_token="secret")
    app.add_route("/internal/x", Echo())
    client = testing.TestClient(app)
    assert client.simulate_post(path, json={"a": 1}).status_code == 401
    assert client.simulate_post(path, json={"a": 1}, headers={"Authorization": "Bearer secret"}).json == {"a": 1}


def test_json_object_requires_json(client):
    assert (
        client.simulate_post(
            "/echo", body="a=b", headers={"Content-Type": "application/x-www-form-urlencoded"}
        ).status_code
        == 415
    )
    assert client.simulate_post("/echo", json=[1]).status_code == 400
    assert client.simulate_post(
        "/echo", json={"a": 1}, headers={"Content-Type": "application/json; charset=utf-8"}
    ).json == {"a": 1}


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "Application/JSON", "APPLICATION/JSON; charset=UTF-8", "application/json ; charset=utf-8"],
)
def test_json_is_json_in_any_letter_case_and_with_parameters(client, content_type):
    result = client.simulate_post("/echo", body='{"a": 1}', headers={"Content-Type": content_type})
    assert result.status_code == 200 and result.json == {"a": 1}


@pytest.mark.parametrize("content_type", ["text/plain", "application/jsonx", "application/x-json", "json"])
def test_other_media_types_are_415(client, content_type):
    assert client.simulate_post("/echo", body='{"a": 1}', headers={"Content-Type": content_type}).status_code == 415


@pytest.mark.parametrize("body", ["", "{", "not json"])
def test_a_body_that_is_not_json_is_a_400(client, body):
    result = client.simulate_post("/echo", body=body, headers={"Content-Type": "Application/JSON"})
    assert result.status_code == 400 and "title" in result.json


class Who:
    def on_get(self, req, resp):
        set_cookie(req, resp, "c", "v", 60)
        resp.media = {"client": client_address(req)}


@pytest.mark.parametrize(
    "peer,headers,client,secure",
    [
        # The gateway on this machine: its X-Real-IP and X-Forwarded-Proto are believed.
        ("127.0.0.1", {"X-Real-IP": "6.6.6.6", "X-Forwarded-Proto": "https"}, "6.6.6.6", True),
        ("127.0.0.1", {"X-Real-IP": "6.6.6.6", "X-Forwarded-Proto": "http"}, "6.6.6.6", False),
        ("127.0.0.1", {}, "127.0.0.1", False),
        ("::1", {"X-Real-IP": "2001:DB8:0:0::1"}, "2001:db8::1", False),
        # A trusted network, and an IPv4 peer on a dual-stack socket.
        ("10.1.2.3", {"X-Real-IP": "192.0.2.7", "X-Forwarded-Proto": "HTTPS"}, "192.0.2.7", True),
        ("::ffff:10.1.2.3", {"X-Real-IP": "192.0.2.7"}, "192.0.2.7", False),
        # A trusted proxy's header that is not one address: the proxy is the client.
        ("10.1.2.3", {"X-Real-IP": "6.6.6.6, 7.7.7.7"}, "10.1.2.3", False),
        ("10.1.2.3", {"X-Real-IP": "unknown"}, "10.1.2.3", False),
        # Anyone else is the client, whatever it says.
        ("127.0.0.5", {"X-Real-IP": "6.6.6.6", "X-Forwarded-Proto": "https"}, "127.0.0.5", False),
        ("192.0.2.1", {"X-Real-IP": "127.0.0.1"}, "192.0.2.1", False),
        ("::ffff:192.0.2.1", {"X-Real-IP": "6.6.6.6"}, "192.0.2.1", False),
        ("2001:db8::2", {"X-Real-IP": "6.6.6.6"}, "2001:db8::2", False),
        ("11.0.0.1", {"X-Real-IP": "6.6.6.6"}, "11.0.0.1", False),
    ],
)
def test_the_client_is_a_trusted_proxys_word_or_the_peer(peer, headers, client, secure):
    trusted = [ipaddress.ip_network(n) for n in ("127.0.0.1/32", "::1/128", "10.0.0.0/8")]
    app = new_app(max_body_bytes=100, allowed_origins=[], trusted_proxies=trusted)
    app.add_route("/who", Who())
    result = testing.TestClient(app).simulate_get("/who", remote_addr=peer, headers=headers)
    assert result.json == {"client": client}
    assert result.cookies["c"].secure is secure


class Cached:
    def on_get(self, req, resp):
        resp.cache_control = ["public", "max-age=60"]
        resp.media = {}


@pytest.mark.parametrize(
    "method,path,status",
    [("POST", "/echo", 200), ("GET", "/echo", 500), ("GET", "/nothing", 404), ("DELETE", "/echo", 405)],
)
def test_answers_are_never_stored_by_caches(client, method, path, status):
    result = client.simulate_request(method, path, json={"a": 1})
    assert result.status_code == status and result.headers["Cache-Control"] == "no-store"


def test_a_resource_may_choose_its_own_caching():
    app = new_app(max_body_bytes=100, allowed_origins=[], trusted_proxies=[])
    app.add_route("/cached", Cached())
    assert testing.TestClient(app).simulate_get("/cached").headers["Cache-Control"] == "public, max-age=60"


def test_json_nested_too_deeply_to_parse_is_a_400():
    app = new_app(max_body_bytes=256 * 1024, allowed_origins=[], trusted_proxies=[])
    app.add_route("/echo", Echo())
    result = testing.TestClient(app).simulate_post("/echo", body="[" * 100_000, content_type="application/json")
    assert result.status_code == 400 and result.json["title"] == "Invalid JSON"


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "text/plain", "image/png", "*/*"])
def test_errors_are_json_whatever_the_client_accepts(client, accept):
    result = client.simulate_get("/nothing", headers={"Accept": accept})
    assert result.status_code == 404 and result.headers["Content-Type"] == "application/json"
    assert result.json == {"title": "404 Not Found"}


class Limited:
    def on_get(self, req, resp):
        resp.media = {"limit": limit_param(req, default=50, maximum=200)}


@pytest.mark.parametrize(
    "raw,status",
    [
        ("1", 200),
        ("200", 200),
        ("007", 200),
        ("0", 400),
        ("201", 400),
        ("-1", 400),
        ("+5", 400),
        (" 5", 400),
        ("", 400),
        ("²", 400),
        ("٣", 400),
        ("9" * 5000, 400),
    ],
)
def test_limit_is_an_integer_within_bounds_or_a_400(raw, status):
    app = new_app(max_body_bytes=100, allowed_origins=[], trusted_proxies=[])
    app.add_route("/limited", Limited())
    result = testing.TestClient(app).simulate_get("/limited", params={"limit": raw})
    assert result.status_code == status, result.text
    assert result.json == (
        {"limit": int(raw)}
        if status == 200
        else {"title": "Invalid limit", "description": "limit must be an integer from 1 to 200."}
    )


def test_falcon_errors_keep_their_status_and_json_shape(client):
    result = client.simulate_delete("/echo")
    assert result.status_code == 405 and "title" in result.json


@pytest.mark.parametrize(
    "value,one_line,ok",
    [
        ("  a note  ", False, "a note"),
        ("two\nlines\tand a tab", False, "two\nlines\tand a tab"),
        ("two\nlines", True, None),
        ("line\u2028separator", True, None),
        ("bell\x07", False, None),
        ("lone \ud800 surrogate", False, None),
        ("   ", False, None),
        ("x" * 31, False, None),
        (5, False, None),
    ],
)
def test_text_fields(value, one_line, ok):
    if ok is not None:
        assert text_field({"f": value}, "f", 30, one_line) == ok
    else:
        with pytest.raises(falcon.HTTPBadRequest):
            text_field({"f": value}, "f", 30, one_line)


class NoSuchThing(Exception):
    def __init__(self, thing_id: str):
        super().__init__(thing_id)
        self.thing_id = thing_id


class Things:
    def on_get(self, req, resp, thing_id):
        raise NoSuchThing(thing_id)


def test_a_services_own_errors_get_the_answers_it_registered_and_health_routes(redis):
    config = ServiceConfig(
        database_url=POSTGRES_URL,
        redis_url=REDIS_URL,
        allowed_origins=(),
        trusted_proxies=(),
        max_body_bytes=1024,
        db_pool_size=1,
    )
    unused_pool = psycopg_pool.ConnectionPool(POSTGRES_URL, open=False)
    deps = ServiceDependencies(pool=unused_pool, redis=redis, checks={"redis": redis_check(redis)})
    answers: ErrorAnswers = {
        NoSuchThing: lambda error: falcon.HTTPNotFound(title="No such thing", description=error.thing_id)
    }
    app = service_app(config, deps, error_answers=answers)
    app.add_route("/api/things/{thing_id}", Things())
    client = testing.TestClient(app)
    result = client.simulate_get("/api/things/t-1")
    assert result.status_code == 404 and result.json == {"title": "No such thing", "description": "t-1"}
    assert client.simulate_get("/readyz").json == {"status": "ready", "checks": {"redis": "ok"}}


def test_background_work_is_started_stopped_at_exit_and_checked(monkeypatch):
    at_exit: list[Callable[..., object]] = []
    monkeypatch.setattr(atexit, "register", at_exit.append)

    class Work:
        started = False

        def start(self) -> None:
            self.started = True

        def stop(self) -> None:
            pass

        def check(self) -> None:
            pass

    work = Work()
    assert keep_running("work", work) == {"work": work.check}
    assert work.started and at_exit == [work.stop]
