from pathlib import Path

import pytest
from falcon import testing

from cotoami_common.backing import redis_client
from cotoami_common.config import Env
from cotos.app import create_app
from cotos.config import Config
from cotos.store import AnonymousCotoStore

pytest_plugins = ["cotoami_common.testing"]


@pytest.fixture(scope="session")
def migrations_dir() -> Path:
    return Path(__file__).parents[1] / "migrations"


@pytest.fixture
def config_class() -> type[Config]:
    return Config


@pytest.fixture
def config(clean_database, redis_url) -> Config:
    return Config.from_env(Env({"DATABASE_URL": clean_database, "REDIS_URL": redis_url}))


@pytest.fixture
def anonymous_cotos(config):
    client = redis_client(config.redis_url)
    yield AnonymousCotoStore(client, ttl_seconds=config.anonymous_ttl_seconds)
    client.close()


@pytest.fixture
def make_app(config, anonymous_cotos):
    return lambda checks: create_app(config, anonymous_cotos, checks)


@pytest.fixture
def client(make_app) -> testing.TestClient:
    return testing.TestClient(make_app({}))


@pytest.fixture
def browser(client):
    """Requests from one browser: the anonymous cookie it was given is sent back."""
    return Browser(client)


class Browser:
    def __init__(self, client: testing.TestClient):
        self.client = client
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs) -> testing.Result:
        headers = kwargs.pop("headers", {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        result = self.client.simulate_request(method, path, headers=headers, **kwargs)
        for name, cookie in result.cookies.items():
            self.cookies[name] = cookie.value
        return result

    def post(self, content: str) -> dict:
        result = self.request("POST", "/api/cotos", json={"content": content})
        assert result.status_code == 201, result.text
        return result.json["coto"]
