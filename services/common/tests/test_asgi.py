"""new_asgi_app: the ASGI app (live's) gets the same middleware and error
answers as every WSGI app, through the coroutine methods of the same classes."""

import falcon
import pytest
import redis
from falcon import testing

from cotoami_common.config import Env, TokenConfig
from cotoami_common.tokens import generate_keys
from cotoami_common.web import new_asgi_app


class Echo:
    async def on_post(self, req, resp):
        resp.media = {"amishi": req.context.amishi, "client": req.context.client_address}

    async def on_get(self, req, resp):
        raise RuntimeError("boom with a secret in it")


class Unavailable:
    async def on_get(self, req, resp):
        raise redis.exceptions.ConnectionError("redis is away")


class Internal:
    async def on_get(self, req, resp):
        resp.media = {"ok": True}


@pytest.fixture
def client(tmp_path):
    generate_keys(tmp_path)
    verifier = TokenConfig.from_env(Env({"JWT_PUBLIC_KEYS_FILE": str(tmp_path / "jwks.json")})).verifier()
    app = new_asgi_app(100, ["https://cotoami.example"], [], verifier, "secret")
    app.add_route("/api/echo", Echo())
    app.add_route("/api/unavailable", Unavailable())
    app.add_route("/internal/thing", Internal())
    return testing.TestClient(app)


@pytest.mark.parametrize(
    "method,path,kwargs,status",
    [
        ("GET", "/api/echo", {}, 500),
        ("GET", "/api/unavailable", {}, 503),
        ("GET", "/api/nothing", {}, 404),
        ("POST", "/api/echo", {"json": {"x": "y" * 200}}, 413),
        ("POST", "/api/echo", {"json": {}, "headers": {"Origin": "https://evil.example"}}, 403),
        ("POST", "/api/echo", {"body": "a=b", "headers": {"Content-Type": "text/plain"}}, 415),
        ("GET", "/internal/thing", {}, 401),
        ("GET", "/api/echo", {"headers": {"Cookie": "access_token=forged"}}, 401),
    ],
)
def test_refusals_and_errors_are_json_as_in_every_app(client, method, path, kwargs, status):
    result = client.simulate_request(
        method, path, headers={"Accept": "text/html", **kwargs.pop("headers", {})}, **kwargs
    )
    assert result.status_code == status and result.headers["Content-Type"].startswith(falcon.MEDIA_JSON)
    assert "title" in result.json and "boom" not in result.text
    assert result.headers["Cache-Control"] == "no-store" and len(result.headers["X-Request-ID"]) == 32


def test_a_request_passes_with_its_context(client):
    result = client.simulate_post(
        "/api/echo", json={}, headers={"Origin": "https://cotoami.example", "X-Request-ID": "abc-1"}
    )
    assert result.status_code == 200 and result.json == {"amishi": None, "client": "127.0.0.1"}
    assert result.headers["X-Request-ID"] == "abc-1"
    credentialed = client.simulate_get("/internal/thing", headers={"Authorization": "Bearer secret"})
    assert credentialed.status_code == 200
