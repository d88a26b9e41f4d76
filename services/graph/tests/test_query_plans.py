"""The traversals and lists of graph, EXPLAINed over a table shaped like the
bench's: a person with 10,000 connections (their stock: pins with three
levels under them), a coto with 1,000 neighbours, and many others'
connections. Each must go along an index (connections_by_start, by_end, by
maker; pins by place): never a sequential scan of connections."""

import uuid
from typing import Any

import psycopg
import pytest
from graph.store import _EXPORT_CONNECTIONS, _INCOMING, _OUTGOING, _PINS, TRAVERSAL, place_of

from cotoami_testing.fixtures import scans_in_plan

HEAVY = "00000000-0000-4000-8000-000000000001"
OTHERS = 200
OTHERS_CONNECTIONS = 40_000
KEYS = [f"cotonoma-{n:04d}" for n in range(50)]


def coto(n: int) -> str:
    return f"00000000-0000-4000-9000-{n:012d}"


@pytest.fixture(scope="module")
def big(database_url):
    """The heavy person's stock: 10 pins, each with 10 children, each with 10,
    each with 10 (100 + 1,000 + 10,000 connections), a coto with 1,000
    neighbours besides, and others' connections in 50 cotonomas."""
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute("TRUNCATE connections, pins, watched_streams, outbox")
        # The tree: coto n's children are 10n+1 .. 10n+10 (n from 1), its pins 1..10.
        db.execute(
            """
            INSERT INTO connections (id, start_id, end_id, created_by, created_in, "order")
            SELECT gen_random_uuid(), ('00000000-0000-4000-9000-' || lpad(p::text, 12, '0'))::uuid,
                   ('00000000-0000-4000-9000-' || lpad((p * 10 + k)::text, 12, '0'))::uuid, %s, NULL, k
              FROM generate_series(1, 1110) p, generate_series(1, 10) k
        """,
            (HEAVY,),
        )
        db.execute(
            """
            INSERT INTO pins (coto_id, cotonoma_key, created_by, "order")
            SELECT ('00000000-0000-4000-9000-' || lpad(p::text, 12, '0'))::uuid, NULL, %s, p
              FROM generate_series(1, 10) p
        """,
            (HEAVY,),
        )
        # A coto with 1,000 neighbours (outgoing) besides.
        db.execute(
            """
            INSERT INTO connections (id, start_id, end_id, created_by, created_in, "order")
            SELECT gen_random_uuid(), '00000000-0000-4000-9000-999999999999',
                   ('00000000-0000-4000-9000-' || lpad((500000 + k)::text, 12, '0'))::uuid, %s, NULL, k
              FROM generate_series(1, 1000) k
        """,
            (HEAVY,),
        )
        db.execute(
            """
            INSERT INTO connections (id, start_id, end_id, created_by, created_in, "order")
            SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(),
                   ('00000000-0000-4000-8000-' || lpad((2 + n %% %s)::text, 12, '0'))::uuid,
                   (%s::text[])[1 + n %% 50], 0
              FROM generate_series(1, %s) n
        """,
            (OTHERS, KEYS, OTHERS_CONNECTIONS),
        )
        db.execute(
            """
            INSERT INTO pins (coto_id, cotonoma_key, created_by, "order")
            SELECT gen_random_uuid(), (%s::text[])[1 + n %% 50],
                   ('00000000-0000-4000-8000-' || lpad((2 + n %% %s)::text, 12, '0'))::uuid, n
              FROM generate_series(1, 20000) n
        """,
            (KEYS, OTHERS),
        )
        db.execute("ANALYZE connections")
        db.execute("ANALYZE pins")
        yield db
        db.execute("TRUNCATE connections, pins")


def assert_no_seq_scan(db: psycopg.Connection[Any], query: str, params: Any) -> None:
    plan, scans = scans_in_plan(db, query, params, ("connections", "pins"))
    assert scans, plan
    for scan in scans:
        assert scan["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), (scan, plan)


@pytest.mark.parametrize("depth", [1, 3, 5])
def test_the_stock_is_walked_along_connections_by_start(big, depth):
    params = {"roots": [coto(p) for p in range(1, 11)], "depth": depth, "asker": HEAVY, "keys": KEYS[:3]}
    assert_no_seq_scan(big, TRAVERSAL, params)
    if depth == 3:
        rows = big.execute(TRAVERSAL, params).fetchall()
        assert len(rows) == 11_100  # the pins' children, theirs and theirs: 100 + 1,000 + 10,000


def test_a_cotos_neighbours_are_read_by_start_and_by_end(big):
    params = {"coto": "00000000-0000-4000-9000-999999999999", "asker": HEAVY, "keys": KEYS}
    assert_no_seq_scan(big, _OUTGOING, params)
    assert len(big.execute(_OUTGOING, params).fetchall()) == 1000
    assert_no_seq_scan(big, _INCOMING, {**params, "coto": coto(500)})


def test_pins_and_the_export_go_along_their_indexes(big):
    assert_no_seq_scan(big, _PINS, (place_of(HEAVY, None),))
    params = {"amishi": HEAVY, "after_at": "-infinity", "after_id": str(uuid.UUID(int=0)), "limit": 501}
    assert_no_seq_scan(big, _EXPORT_CONNECTIONS, params)
