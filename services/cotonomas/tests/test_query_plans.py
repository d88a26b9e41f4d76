"""Every query a list of cotonomas, one cotonoma, an access decision or the keys
someone may reach (for search) is read
with, EXPLAINed on tables big enough that the planner would scan them if an
index were missing: each must reach its rows through an index (BENCHMARKS.md,
"GET /api/cotonomas").

The viewer owns a hundred cotonomas, with children, and is a member of a
hundred others, among twenty thousand cotonomas of ten thousand amishis."""

import psycopg
import pytest

from cotoami_testing.fixtures import scans_in_plan
from cotonomas.store import _CHAIN, _ONE, _PAGE, _REACHABLE, _WITH_CHILDREN

AMISHIS = 10_000
COTONOMAS = 20_000
OWNED = 100  # by the viewer, amishi 1: cotonomas 1..100, and 101..200 nested in them
SHARED = 100  # with the viewer: cotonomas 201..300
MEMBERS = 3  # of every other cotonoma
BIG_TABLES = ("amishis", "cotonomas", "members")
VIEWER = {"amishi_id": "00000000-0000-4000-8000-000000000001", "email": "amishi-1@example.com"}


@pytest.fixture(scope="module")
def big(database_url):
    """The test run's database filled once for this module (and emptied after)."""
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute("TRUNCATE amishis, cotonomas, members, invitations")
        db.execute(
            """
            CREATE FUNCTION pg_temp.amishi(n int) RETURNS uuid LANGUAGE sql AS $$
                SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid $$;
            CREATE FUNCTION pg_temp.key(j int) RETURNS text LANGUAGE sql AS $$ SELECT 'cotonoma-' || j $$;
            CREATE FUNCTION pg_temp.owner(j int) RETURNS int LANGUAGE sql AS $$
                SELECT CASE WHEN j <= 2 * %(owned)s THEN 1 ELSE 2 + j %% (%(amishis)s - 1) END $$;
        """.replace("%(owned)s", str(OWNED))
            .replace("%(amishis)s", str(AMISHIS))
            .replace("%%", "%")
        )
        db.execute(
            """
            INSERT INTO amishis (id, email, display_name, avatar_url)
            SELECT pg_temp.amishi(n), 'amishi-' || n || '@example.com', 'amishi ' || n, 'https://a.test/' || n
              FROM generate_series(1, %s) n
        """,
            (AMISHIS,),
        )
        db.execute(
            """
            INSERT INTO cotonomas (key, name, owner_id, parent_key, state, created_at)
            SELECT pg_temp.key(j), 'Cotonoma ' || j, pg_temp.amishi(pg_temp.owner(j)),
                   CASE WHEN j > %(owned)s AND j <= 2 * %(owned)s THEN pg_temp.key(j - %(owned)s) END,
                   'ready', now() - j * interval '1 minute'
              FROM generate_series(1, %(cotonomas)s) j
        """,
            {"owned": OWNED, "cotonomas": COTONOMAS},
        )
        db.execute(
            """
            INSERT INTO members (cotonoma_key, email, added_by)
            SELECT pg_temp.key(j), %(email)s, pg_temp.amishi(pg_temp.owner(j))
              FROM generate_series(2 * %(owned)s + 1, 2 * %(owned)s + %(shared)s) j
            UNION ALL
            SELECT DISTINCT pg_temp.key(j),
                   'amishi-' || (2 + (j * 31 + m * 977) %% (%(amishis)s - 1)) || '@example.com',
                   pg_temp.amishi(pg_temp.owner(j))
              FROM generate_series(2 * %(owned)s + 1, %(cotonomas)s) j, generate_series(1, %(members)s) m
            ON CONFLICT DO NOTHING
        """,
            {
                "email": VIEWER["email"],
                "owned": OWNED,
                "shared": SHARED,
                "amishis": AMISHIS,
                "cotonomas": COTONOMAS,
                "members": MEMBERS,
            },
        )
        db.execute("ANALYZE amishis")
        db.execute("ANALYZE cotonomas")
        db.execute("ANALYZE members")
        yield db
        db.execute("TRUNCATE amishis, cotonomas, members, invitations")


def assert_reaches_rows_through_indexes(db, query: str, params: dict[str, object]) -> None:
    plan, scans = scans_in_plan(db, query, params, BIG_TABLES)
    for node in scans:
        where = f"{node['Node Type']} on {node['Relation Name']} ({node.get('Alias')})"
        assert node["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"), f"{where}:\n{plan}"
        if node["Node Type"] != "Bitmap Heap Scan":  # its Bitmap Index Scans below carry the conditions
            assert "Index Cond" in node, f"{where} reads a whole index:\n{plan}"


def test_the_list_of_mine_and_shared_with_me(big):
    first = {**VIEWER, "before_at": "infinity", "before_key": "", "limit": 51}
    assert_reaches_rows_through_indexes(big, _PAGE, first)
    cursor = big.execute("SELECT created_at, key FROM cotonomas WHERE key = 'cotonoma-150'").fetchone()
    assert_reaches_rows_through_indexes(big, _PAGE, {**first, "before_at": cursor[0], "before_key": cursor[1]})


@pytest.mark.parametrize("key", ["cotonoma-1", "cotonoma-150", "cotonoma-250"], ids=["owned", "nested", "shared"])
def test_one_cotonoma_its_children_and_who_may_reach_it(big, key):
    assert_reaches_rows_through_indexes(big, _ONE, {"key": key})
    assert_reaches_rows_through_indexes(big, _WITH_CHILDREN, {"key": key})
    assert_reaches_rows_through_indexes(big, _CHAIN, {**VIEWER, "key": key})


def test_every_cotonoma_someone_may_reach(big):
    assert_reaches_rows_through_indexes(big, _REACHABLE, {**VIEWER})
    keys = {key for (key,) in big.execute(_REACHABLE, VIEWER).fetchall()}
    assert len(keys) == OWNED + OWNED + SHARED
