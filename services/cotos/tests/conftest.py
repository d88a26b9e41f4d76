from pathlib import Path

import pytest
from falcon import testing

from cotoami_common.backing import redis_client
from cotoami_common.config import Env
from cotoami_common.tokens import AccessTokenVerifier
from cotos.app import create_app
from cotos.config import Config
from cotos.store import AnonymousCotoStore, CotoStore

pytest_plugins = ["cotoami_common.testing"]


@pytest.fixture(scope="session")
def migrations_dir() -> Path:
    return Path(__file__).parents[1] / "migrations"


@pytest.fixture
def required_environ(token_keys) -> dict[str, str]:
    """What every deployment provides: auth's public keys and the service credential."""
    return {**token_keys.environ(), "INTERNAL_TOKEN": "internal-credential-for-tests"}


@pytest.fixture
def config_class() -> type[Config]:
    return Config


@pytest.fixture
def config(clean_database, redis_url, required_environ) -> Config:
    return Config.from_env(Env({"DATABASE_URL": clean_database, "REDIS_URL": redis_url, **required_environ}))


@pytest.fixture
def verifier(config) -> AccessTokenVerifier:
    return config.tokens.verifier()


@pytest.fixture
def anonymous_cotos(config):
    client = redis_client(config.redis_url)
    yield AnonymousCotoStore(client, ttl_seconds=config.anonymous_ttl_seconds)
    client.close()


@pytest.fixture
def coto_store(pool) -> CotoStore:
    return CotoStore(pool)


@pytest.fixture
def make_app(config, verifier, coto_store, anonymous_cotos):
    return lambda checks: create_app(config, verifier, coto_store, anonymous_cotos, checks)


@pytest.fixture
def client(make_app) -> testing.TestClient:
    return testing.TestClient(make_app({}))


@pytest.fixture
def browser(client):
    """Requests from one browser: the anonymous cookie it was given is sent back."""
    return Browser(client)


@pytest.fixture
def sign_in(client, token_keys):
    """A browser (a device) signed in as the given amishi."""
    return lambda amishi: Browser(client, access_token=token_keys.access_token(amishi))


class Browser:
    def __init__(self, client: testing.TestClient, access_token: str | None = None):
        self.client = client
        self.cookies: dict[str, str] = {"access_token": access_token} if access_token else {}

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

    def timeline(self, **params) -> list[dict]:
        result = self.request("GET", "/api/cotos", params=params)
        assert result.status_code == 200, result.text
        return result.json["cotos"]

