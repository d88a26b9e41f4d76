import atexit
from collections.abc import Callable

import falcon
import psycopg_pool
import pytest
from falcon import testing

from cotoami_common.backing import ServiceDependencies
from cotoami_common.config import ServiceConfig
from cotoami_common.health import keep_running, redis_check
from cotoami_common.web import ErrorAnswers, json_object, limit_param, new_app, service_app, text_field
from cotoami_testing.fixtures import POSTGRES_URL, REDIS_URL


class Echo:
    def on_post(self, req, resp):
        resp.media = json_object(req)

    def on_get(self, req, resp):
        raise RuntimeError("boom with a secret in it")


@pytest.fixture
def client():
    app = new_app(max_body_bytes=100, allowed_origins=["https://cotoami.example"])
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
        ({"Origin": "https://cotoami.example/"}, 200),
        ({"Sec-Fetch-Site": "same-origin"}, 200),
        ({"Sec-Fetch-Site": "none"}, 200),
        ({}, 200),
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
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
    app = new_app(max_body_bytes=100, allowed_origins=[], internal_token="secret")
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


def test_json_nested_too_deeply_to_parse_is_a_400():
    app = new_app(max_body_bytes=256 * 1024, allowed_origins=[])
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
    app = new_app(max_body_bytes=100, allowed_origins=[])
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
        database_url=POSTGRES_URL, redis_url=REDIS_URL, allowed_origins=(), max_body_bytes=1024, db_pool_size=1
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
