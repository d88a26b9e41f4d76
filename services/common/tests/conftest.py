import secrets
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from cotoami_common.testing import POSTGRES_URL


@pytest.fixture
def empty_database_url():
    """A database that does not exist yet; dropped after the test."""
    name = f"test_common_{secrets.token_hex(4)}"
    yield urlsplit(POSTGRES_URL)._replace(path=f"/{name}").geturl()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
