from pathlib import Path

import pytest

from cotoami_common.config import Env
from auth.app import create_app
from auth.config import Config

pytest_plugins = ["cotoami_common.testing"]


@pytest.fixture(scope="session")
def migrations_dir() -> Path:
    return Path(__file__).parents[1] / "migrations"


@pytest.fixture
def config_class() -> type[Config]:
    return Config


@pytest.fixture
def make_app(clean_database, redis_url):
    config = Config.from_env(Env({"DATABASE_URL": clean_database, "REDIS_URL": redis_url}))
    return lambda checks: create_app(config, checks)
