"""The traversals and lists of graph, EXPLAINed over a table shaped like the
bench's: a person with 10,000 connections (their stock: pins with three
levels under them), a coto with 1,000 neighbours, and many others'
connections. Each must go along an index (connections_by_start, by_end, by
maker; pins by place): never a sequential scan of connections."""

import uuid
from typing import Any

import psycopg
import pytest
from graph.store import _EXPORT_CONNECTIONS, _INCOMING_PAGE, _OUTGOING, _OUTGOING_PAGE, _PINS, TRAVERSAL, place_of

from cotoami_testing.fixtures import generic_plan_scans, scans_in_plan, scans_of

HEAVY = "00000000-0000-4000-8000-000000000001"
OTHERS = 200
OTHERS_CONNECTIONS = 40_000
KEYS = [f"cotonoma-{n:04d}" for n in range(50)]
OUTGOING_HUB = "00000000-0000-4000-9000-999999999999"
INCOMING_HUB = "00000000-0000-4000-9000-888888888888"


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
        # A coto with 1,000 outgoing neighbours besides, and one with 1,000 incoming.
        db.execute(
            """
            INSERT INTO connections (id, start_id, end_id, created_by, created_in, "order")
            SELECT gen_random_uuid(), %s,
                   ('00000000-0000-4000-9000-' || lpad((500000 + k)::text, 12, '0'))::uuid, %s, NULL, k
              FROM generate_series(1, 1000) k
        """,
            (OUTGOING_HUB, HEAVY),
        )
        db.execute(
            """
            INSERT INTO connections (id, start_id, end_id, created_by, created_in, "order", created_at)
            SELECT gen_random_uuid(), ('00000000-0000-4000-9000-' || lpad((600000 + k)::text, 12, '0'))::uuid,
                   %s, %s, NULL, 0, now() - k * interval '1 minute'
              FROM generate_series(1, 1000) k
        """,
            (INCOMING_HUB, HEAVY),
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
    """Along an index, in the plan for these values and in the plan made once for
    any values, which graph's pool uses (generic_plans in graph/app.py)."""
    for plan, scans in (
        scans_in_plan(db, query, params, ("connections", "pins")),
        generic_plan_scans(db, query, params, ("connections", "pins")),
    ):
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


def test_all_of_a_cotos_outgoing_are_read_by_start_for_a_reorder(big):
    params = {"coto": OUTGOING_HUB, "asker": HEAVY, "keys": KEYS}
    assert_no_seq_scan(big, _OUTGOING, params)
    assert len(big.execute(_OUTGOING, params).fetchall()) == 1000


def rows_read(db: psycopg.Connection[Any], query: str, params: Any) -> int:
    """How many rows of connections the query read, run (EXPLAIN ANALYZE)."""
    row = db.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, params).fetchone()
    assert row is not None
    return sum(int(scan["Actual Rows"]) for scan in scans_of(row[0][0]["Plan"], ("connections",)))


@pytest.mark.parametrize(("query", "hub"), [(_OUTGOING_PAGE, "start"), (_INCOMING_PAGE, "end")])
def test_a_page_of_a_hubs_neighbours_reads_that_page_only(big, query, hub):
    """From the first and from deep in the hub's thousand: the cursor and the
    order are the index's, so a page reads its 51 rows, never the thousand."""
    hub_id = OUTGOING_HUB if hub == "start" else INCOMING_HUB
    params = {"coto": hub_id, "asker": HEAVY, "keys": KEYS, "limit": 50, "after_n": None, "after_id": None}
    assert_no_seq_scan(big, query, params)
    first = big.execute(query, params).fetchall()
    assert len(first) == 51 and rows_read(big, query, params) == 51
    deep = big.execute(query, {**params, "limit": 900}).fetchall()[899]
    after = {**params, "after_n": deep[8], "after_id": deep[0]}
    assert len(big.execute(query, after).fetchall()) == 51
    assert rows_read(big, query, after) == 51


def test_pins_and_the_export_go_along_their_indexes(big):
    assert_no_seq_scan(big, _PINS, (place_of(HEAVY, None),))
    params = {"amishi": HEAVY, "after_at": "-infinity", "after_id": str(uuid.UUID(int=0)), "limit": 501}
    assert_no_seq_scan(big, _EXPORT_CONNECTIONS, params)
