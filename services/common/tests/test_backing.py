import time

import psycopg
import psycopg_pool
import pytest
from psycopg.pq import TransactionStatus

from cotoami_common.backing import autocommitting, postgres_pool
from cotoami_testing.fixtures import POSTGRES_URL


@pytest.fixture
def pool():
    pool = postgres_pool(POSTGRES_URL, max_size=1)
    pool.wait()
    yield pool
    pool.close()


def backend_pid(pool: psycopg_pool.ConnectionPool) -> int:
    with pool.connection() as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        pid: int = row[0]
        return pid


def test_an_idle_connection_is_handed_out_without_a_round_trip(pool, monkeypatch):
    backend_pid(pool)
    sent = []
    execute = psycopg.Connection.execute

    def recorded_execute(conn, query, *args, **kwargs):
        sent.append(query)
        return execute(conn, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", recorded_execute)
    backend_pid(pool)
    assert sent == ["SELECT pg_backend_pid()"], "a check query was sent"


def test_a_connection_the_server_ended_is_replaced_on_checkout(pool):
    ended = backend_pid(pool)
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        terminated = admin.execute("SELECT pg_terminate_backend(%s)", (ended,)).fetchone()
        assert terminated is not None and terminated[0]
        deadline = time.monotonic() + 5
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (ended,)).fetchone():
            assert time.monotonic() < deadline, "the backend did not end"
            time.sleep(0.01)
    assert backend_pid(pool) != ended


def test_autocommitting_needs_no_transaction_and_gives_the_connection_back_as_it_was(pool):
    with autocommitting(pool) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.info.transaction_status == TransactionStatus.IDLE
    with pytest.raises(psycopg.errors.DivisionByZero), autocommitting(pool) as conn:
        conn.execute("SELECT 1 / 0")
    with pool.connection() as conn:
        assert not conn.autocommit
        conn.execute("SELECT 1")
        assert conn.info.transaction_status == TransactionStatus.INTRANS


def test_queries_are_not_jit_compiled(pool):
    with pool.connection() as conn:
        assert conn.execute("SHOW jit").fetchone() == ("off",)
