"""pytest fixtures shared by every service's tests: a database of its own with
the service's migrations applied, and a Redis database wiped around each test.

A service's conftest.py enables them with `pytest_plugins = ["cotoami_common.testing"]`
and names its migrations with a `migrations_dir` fixture.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from psycopg import sql

from cotoami_common.migrate import apply_migrations, create_database

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def database_url(migrations_dir: Path):
    """A new database for this test run, dropped at the end."""
    name = f"test_{migrations_dir.parent.name}_{secrets.token_hex(4)}"
    url = urlsplit(POSTGRES_URL)._replace(path=f"/{name}").geturl()
    create_database(url)
    apply_migrations(url, migrations_dir)
    yield url
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def clean_database(database_url: str) -> str:
    """The test run's database with every table emptied, before each test."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT quote_ident(tablename) FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    return database_url


@pytest.fixture
def redis_url():
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()
