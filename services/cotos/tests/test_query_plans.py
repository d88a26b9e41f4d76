"""Every query a timeline or a single coto is read with, EXPLAINed on a table
big and skewed enough that the planner would rather scan it, or walk the
primary key and filter, if it could: each read must go along an index to just
the rows it returns (BENCHMARKS.md, "timeline latency does not grow with data").

The data is shaped like the bench's: ids are UUIDv7 in time order, as posting
makes them; one heavy amishi holds a large share of the cotos and one busy
cotonoma too, all written before everyone else's latest, which is when
walking the primary key from the newest coto backwards is the worst plan."""

import uuid
from typing import Any

import psycopg
import pytest
from psycopg.rows import TupleRow

from cotoami_testing.fixtures import generic_plan_scans, scans_in_plan, scans_of
from cotos.store import (
    _GET,
    _GET_COTONOMA_COTO,
    COTONOMA_TIMELINE_FIRST_PAGE,
    COTONOMA_TIMELINE_PAGE_BEFORE,
    TIMELINE_FIRST_PAGE,
    TIMELINE_PAGE_BEFORE,
    contains_pattern,
    search_statement,
)

AUTHORS = 5_000
OTHERS_COTOS = 60_000
HEAVY_COTOS = 15_000  # a fifth of the table
LIGHT_COTOS = 1_000
BUSY_COTOS = 10_000
BIG_TABLES = ("cotos", "authors")


def amishi(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@pytest.fixture(scope="module")
def big(database_url):
    """The test run's database filled once for this module (and emptied after)."""
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute("TRUNCATE cotos, authors, idempotency_keys")
        db.execute("""
            CREATE FUNCTION pg_temp.uuid7(at timestamptz) RETURNS uuid LANGUAGE sql AS $$
                SELECT (lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7'
                        || lpad(to_hex((random() * 2047)::int), 3, '0')
                        || substr(replace(gen_random_uuid()::text, '-', ''), 17))::uuid $$
        """)
        db.execute(
            """
            INSERT INTO authors (amishi_id, display_name, avatar_url)
            SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, 'amishi ' || n, 'https://a.test/' || n
              FROM generate_series(1, %s) n
        """,
            (AUTHORS,),
        )
        db.execute(
            """
            INSERT INTO cotos (id, amishi_id, content, posted_in_key, cotonoma_key, created_at)
            SELECT pg_temp.uuid7(at), ('00000000-0000-4000-8000-' || lpad(who::text, 12, '0'))::uuid,
                   -- Words of their own, and one in a hundred with a Japanese phrase, for search.
                   'coto ' || left(md5(random()::text), 8)
                   || CASE WHEN random() < 0.01 THEN ' 新しいコトノマを作る' ELSE '' END,
                   posted_in_key, cotonoma_key, at
              FROM (SELECT 1 AS who, NULL AS posted_in_key, NULL AS cotonoma_key,
                           now() - interval '30 days' - n * interval '1 minute' AS at
                      FROM generate_series(1, %(heavy)s) n
                    UNION ALL
                    SELECT 3 + n %% 50, 'busy-cotonoma', NULL, now() - interval '30 days' - n * interval '1 minute'
                      FROM generate_series(1, %(busy)s) n
                    UNION ALL
                    SELECT 2, NULL, NULL, now() - n * interval '20 minutes'
                      FROM generate_series(1, %(light)s) n
                    UNION ALL
                    SELECT 3, NULL, 'busy-cotonoma', now() - interval '400 days'
                    UNION ALL
                    SELECT 3 + n %% (%(authors)s - 2), NULL, NULL, now() - n * interval '20 seconds'
                      FROM generate_series(1, %(others)s) n) AS planned
             ORDER BY at
        """,
            {
                "heavy": HEAVY_COTOS,
                "light": LIGHT_COTOS,
                "busy": BUSY_COTOS,
                "others": OTHERS_COTOS,
                "authors": AUTHORS,
            },
        )
        db.execute("ANALYZE cotos")
        db.execute("ANALYZE authors")
        yield db
        db.execute("TRUNCATE cotos, authors")


def deep_cursor(db: psycopg.Connection[TupleRow], column: str, value: str, depth: int) -> uuid.UUID:
    row = db.execute(
        f"SELECT id FROM cotos WHERE {column} = %s ORDER BY id DESC OFFSET %s LIMIT 1", (value, depth - 1)
    ).fetchone()
    assert row is not None
    cursor: uuid.UUID = row[0]
    return cursor


def assert_reads_only_what_it_returns(db, query: str, params) -> None:
    """For these values, and as planned once for any values: the service's
    pool plans its statements once (generic_plans in cotos/app.py)."""
    for plan, scans in (
        scans_in_plan(db, query, params, BIG_TABLES),
        generic_plan_scans(db, query, params, BIG_TABLES),
    ):
        for node in scans:
            where = f"{node['Node Type']} on {node['Relation Name']} ({node.get('Alias')})"
            assert node["Node Type"] in ("Index Scan", "Index Only Scan"), f"{where}:\n{plan}"
            # An index scan with nothing to look up reads the whole index; one with a
            # filter reads rows only to drop them (the primary key walked backwards).
            assert "Index Cond" in node, f"{where} has no index condition:\n{plan}"
            assert "Filter" not in node, f"{where} filters {node['Filter']}:\n{plan}"


@pytest.mark.parametrize("who", [1, 2], ids=["heavy amishi", "light amishi"])
def test_home_timeline_pages(big, who):
    params = {"amishi_id": amishi(who), "limit": 51}
    assert_reads_only_what_it_returns(big, TIMELINE_FIRST_PAGE, params)
    before = deep_cursor(big, "amishi_id", amishi(who), 1_000 if who == 1 else LIGHT_COTOS - 50)
    assert_reads_only_what_it_returns(big, TIMELINE_PAGE_BEFORE, {**params, "before": before})


def test_cotonoma_timeline_pages(big):
    params = {"cotonoma_key": "busy-cotonoma", "limit": 51}
    assert_reads_only_what_it_returns(big, COTONOMA_TIMELINE_FIRST_PAGE, params)
    before = deep_cursor(big, "posted_in_key", "busy-cotonoma", 1_000)
    assert_reads_only_what_it_returns(big, COTONOMA_TIMELINE_PAGE_BEFORE, {**params, "before": before})


def test_one_coto(big):
    coto_id = deep_cursor(big, "amishi_id", amishi(1), 10)
    assert_reads_only_what_it_returns(big, _GET, (coto_id,))
    assert_reads_only_what_it_returns(big, _GET_COTONOMA_COTO, ("busy-cotonoma",))


def rows_read(node: dict[str, Any]) -> int:
    """Rows a scan node read: those it returned and those it dropped, in all its loops."""
    read = node["Actual Rows"] + node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
    return int(read * node["Actual Loops"])


def searched(db, text: str, params: dict[str, object]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The search for `text` run as CotoStore.search runs it (values written
    in, so planned for them, under its settings), EXPLAINed with what it read."""
    settings, query = search_statement(text, params.get("before"))  # type: ignore[arg-type]
    with db.transaction():
        db.execute(settings)
        row = psycopg.ClientCursor(db).execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, params).fetchone()
    assert row is not None
    plan = row[0][0]["Plan"]
    return plan, scans_of(plan, BIG_TABLES)


# (text, the most rows a page may read, its authors and cotonomas' names
# included). A text of three letters or more reads the reader's own matches
# along cotos_search, or, when it is common, walks their timeline index to a
# full page; in their cotonomas it reads the matches there, all of them for a
# common text (one pass over what they may read, never the whole table). One
# too short for trigrams walks their timelines (and the cotonomas') until the
# page is full, or to the end when it is rare, and no further.
SEARCHES = [
    ("cot", BUSY_COTOS + 1_000),  # in every coto: the busy cotonoma's matches, all of them
    # In one coto of a hundred: their matches, or, as the planner may judge
    # cheaper, a walk to the page's 51st (about 5,000 rows).
    ("コトノマ", 12_000),
    ("zzzz", 300),  # in none
    ("c", 1_000),  # one letter, in every coto
    ("ノ", HEAVY_COTOS + BUSY_COTOS + 300),  # one letter, rare: to the end of what they may read
]


@pytest.mark.parametrize("text,most", SEARCHES, ids=[case[0] for case in SEARCHES])
@pytest.mark.parametrize("who", [1, 2, 3], ids=["heavy amishi", "light amishi", "member of the busy cotonoma"])
def test_search_pages(big, who, text, most):
    params = {"amishi_id": amishi(who), "keys": ["busy-cotonoma"], "pattern": contains_pattern(text), "limit": 51}
    before = deep_cursor(big, "amishi_id", amishi(who), 20)
    for values in (params, {**params, "before": before}):
        plan, scans = searched(big, text, values)
        for node in scans:
            where = f"{node['Node Type']} on {node['Relation Name']} ({node.get('Alias')})"
            assert node["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), f"{where}:\n{plan}"
            if node["Node Type"] != "Bitmap Heap Scan":  # its Bitmap Index Scans below carry the conditions
                assert "Index Cond" in node, f"{where} reads a whole index:\n{plan}"
        assert sum(rows_read(node) for node in scans) <= most, f"read too much:\n{plan}"
