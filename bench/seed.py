"""Seeds the bench stack's databases at scale, in SQL, through each service's
own schema (its migrations have run): amishis in auth; authors and cotos in
cotos; amishis, cotonomas and members in cotonomas. Nothing goes through HTTP,
so a million cotos take about 25 seconds.

Everyone is derived from a number n: amishi n has the id md5('bench-amishi-n'),
the address bench-n@example.com; cotonoma j has the key md5('bench-cotonoma-j')[:16].
So each database can be seeded on its own and still agree with the others.

    amishi 1          the heavy one: `heavy_cotos` cotos, owns `heavy_owns` cotonomas
                      (the first is shared, the next ten are nested in it) and is a
                      member of `heavy_owns` others
    amishi 2          the light one: exactly `light_cotos` cotos, at home, nothing else
    amishis 3..12     members of the shared cotonoma, posting in it with amishi 1
    amishis 3..       everyone else: the remaining cotos at home, the other cotonomas
"""

import hashlib
import uuid
from dataclasses import dataclass

import psycopg

SHARED_MEMBERS = range(3, 13)  # amishis 3..12
NESTED_IN_SHARED = 10  # cotonomas 2..11 are children of cotonoma 1
MEMBERS_PER_COTONOMA = 3
SPAN_DAYS = 365  # cotos were written over the last year
CONTENT = (
    "an idea worth keeping: small services start fast and deploy fast, "
    "and the timeline should not care how much was written before"
)
# What makes each coto's text its own, for search: a tag of four hex digits
# (any three of them in a row are in about one coto of 2,000) and, in one coto
# of JAPANESE_EVERY, a Japanese phrase.
JAPANESE = "新しいコトノマを作る"
JAPANESE_EVERY = 50


@dataclass(frozen=True)
class Scale:
    amishis: int
    cotos: int
    heavy_cotos: int
    light_cotos: int
    cotonomas: int
    heavy_owns: int
    shared_cotonoma_cotos: int


FULL = Scale(
    amishis=10_000,
    cotos=1_000_000,
    heavy_cotos=100_000,
    light_cotos=1_000,
    cotonomas=1_000,
    heavy_owns=50,
    shared_cotonoma_cotos=10_000,
)
QUICK = Scale(
    amishis=1_000,
    cotos=100_000,
    heavy_cotos=10_000,
    light_cotos=1_000,
    cotonomas=100,
    heavy_owns=10,
    shared_cotonoma_cotos=1_000,
)

HEAVY, LIGHT = 1, 2


def amishi_id(n: int) -> str:
    return str(uuid.UUID(hashlib.md5(f"bench-amishi-{n}".encode()).hexdigest()))


def email(n: int) -> str:
    return f"bench-{n}@example.com"


def display_name(n: int) -> str:
    return f"bench-{n}"


def avatar_url(avatar_base: str, n: int) -> str:
    """As auth makes it (auth.profiles.Profiles.avatar), so tokens and the read models agree."""
    return f"{avatar_base}{hashlib.sha256(email(n).encode()).hexdigest()}?d=identicon&s=160"


def cotonoma_key(j: int) -> str:
    return hashlib.md5(f"bench-cotonoma-{j}".encode()).hexdigest()[:16]


# The same derivations in SQL.
_SQL_FUNCTIONS = """
CREATE FUNCTION pg_temp.amishi_id(n int) RETURNS uuid IMMUTABLE LANGUAGE sql AS $$
    SELECT md5('bench-amishi-' || n)::uuid $$;
CREATE FUNCTION pg_temp.email(n int) RETURNS text IMMUTABLE LANGUAGE sql AS $$
    SELECT 'bench-' || n || '@example.com' $$;
CREATE FUNCTION pg_temp.cotonoma_key(j int) RETURNS text IMMUTABLE LANGUAGE sql AS $$
    SELECT left(md5('bench-cotonoma-' || j), 16) $$;
-- Who owns cotonoma j: the heavy amishi its first heavy_owns, else one of the others.
CREATE FUNCTION pg_temp.owner(j int, heavy_owns int, amishis int) RETURNS int IMMUTABLE LANGUAGE sql AS $$
    SELECT CASE WHEN j <= heavy_owns THEN 1 ELSE 3 + (j * 7919) % (amishis - 2) END $$;
CREATE FUNCTION pg_temp.parent(j int) RETURNS text IMMUTABLE LANGUAGE sql AS $$
    SELECT CASE WHEN j BETWEEN 2 AND 1 + {nested} THEN pg_temp.cotonoma_key(1) END $$;
-- A UUIDv7 as cotos.store.TimeOrderedIds makes it: the millisecond of `at`,
-- a random 11-bit counter start, the variant and 62 random bits.
CREATE FUNCTION pg_temp.uuid7(at timestamptz) RETURNS uuid VOLATILE LANGUAGE sql AS $$
    SELECT (lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0')
            || '7' || lpad(to_hex((random() * 2047)::int), 3, '0')
            || substr(replace(gen_random_uuid()::text, '-', ''), 17))::uuid $$;
""".replace("{nested}", str(NESTED_IN_SHARED))


def _connect(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True)
    # A bulk load: nothing here needs to survive a crash before the run starts.
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET work_mem = '256MB'")
    conn.execute("SET maintenance_work_mem = '256MB'")
    conn.execute(_SQL_FUNCTIONS)
    return conn


def seed_auth(url: str, scale: Scale) -> None:
    with _connect(url) as conn:
        conn.execute(
            """
            INSERT INTO amishis (id, email, display_name, created_at)
            SELECT pg_temp.amishi_id(n), pg_temp.email(n), 'bench-' || n, now() - make_interval(days => %s)
              FROM generate_series(1, %s) n
        """,
            (SPAN_DAYS + 1, scale.amishis),
        )
        conn.execute("VACUUM ANALYZE")


def seed_cotos(url: str, scale: Scale, avatar_base: str) -> None:
    """Every coto in one INSERT in time order, as they would have been written,
    so the table's physical order is the time order of a real one."""
    heavy_in_shared = -(-scale.shared_cotonoma_cotos // (1 + len(SHARED_MEMBERS)))  # heavy's turn of every 11
    heavy_home = scale.heavy_cotos - scale.heavy_owns - heavy_in_shared
    others_home = scale.cotos - scale.cotonomas - scale.shared_cotonoma_cotos - heavy_home - scale.light_cotos
    if heavy_home < 0 or others_home < 0:
        raise ValueError(f"inconsistent scale: {scale}")
    posters = [HEAVY, *SHARED_MEMBERS]
    with _connect(url) as conn:
        conn.execute(
            """
            INSERT INTO authors (amishi_id, display_name, avatar_url, updated_at)
            SELECT pg_temp.amishi_id(n), 'bench-' || n,
                   %(avatar_base)s || encode(sha256(convert_to(pg_temp.email(n), 'UTF8')), 'hex')
                   || '?d=identicon&s=160',
                   now() - interval '1 day'
              FROM generate_series(1, %(amishis)s) n
        """,
            {"avatar_base": avatar_base, "amishis": scale.amishis},
        )
        conn.execute(
            """
            INSERT INTO cotos (id, amishi_id, content, posted_in_key, cotonoma_key, created_at, updated_at)
            SELECT pg_temp.uuid7(at), pg_temp.amishi_id(amishi),
                   CASE WHEN cotonoma_key IS NOT NULL THEN content
                        ELSE content || ' #' || left(md5(random()::text), 4)
                             || CASE WHEN random() < 1.0 / %(japanese_every)s THEN ' ' || %(japanese)s ELSE '' END
                   END,
                   posted_in_key, cotonoma_key, at, at
              FROM (
                    -- the cotos standing for the cotonomas, in their parent or their owner's home
                    SELECT pg_temp.owner(j, %(heavy_owns)s, %(amishis)s) AS amishi, 'Cotonoma ' || j AS content,
                           pg_temp.parent(j) AS posted_in_key, pg_temp.cotonoma_key(j) AS cotonoma_key,
                           now() - make_interval(days => %(span)s) + j * interval '1 minute' AS at_raw
                      FROM generate_series(1, %(cotonomas)s) j
                    UNION ALL
                    -- the shared cotonoma's cotos, by its owner and members in turn
                    SELECT (%(posters)s::int[])[1 + k %% %(poster_count)s],
                           'In the shared cotonoma ' || k || ': ' || %(content)s,
                           pg_temp.cotonoma_key(1), NULL, now() - random() * make_interval(days => %(span)s)
                      FROM generate_series(0, %(shared)s - 1) k
                    UNION ALL
                    SELECT %(heavy)s, 'Heavy ' || k || ': ' || %(content)s, NULL, NULL,
                           now() - random() * make_interval(days => %(span)s)
                      FROM generate_series(1, %(heavy_home)s) k
                    UNION ALL
                    SELECT %(light)s, 'Light ' || k || ': ' || %(content)s, NULL, NULL,
                           now() - random() * make_interval(days => %(span)s)
                      FROM generate_series(1, %(light_cotos)s) k
                    UNION ALL
                    SELECT 3 + k %% (%(amishis)s - 2), 'Coto ' || k || ': ' || %(content)s, NULL, NULL,
                           now() - random() * make_interval(days => %(span)s)
                      FROM generate_series(1, %(others_home)s) k
                   ) AS planned,
                   -- the id carries the millisecond, so created_at is that millisecond exactly
                   LATERAL (SELECT date_trunc('milliseconds', at_raw) AS at) AS t
             ORDER BY at
        """,
            {
                "heavy_owns": scale.heavy_owns,
                "amishis": scale.amishis,
                "cotonomas": scale.cotonomas,
                "span": SPAN_DAYS,
                "posters": posters,
                "poster_count": len(posters),
                "content": CONTENT,
                "japanese": JAPANESE,
                "japanese_every": JAPANESE_EVERY,
                "shared": scale.shared_cotonoma_cotos,
                "heavy": HEAVY,
                "heavy_home": heavy_home,
                "light": LIGHT,
                "light_cotos": scale.light_cotos,
                "others_home": others_home,
            },
        )
        conn.execute("VACUUM ANALYZE")


def seed_cotonomas(url: str, scale: Scale, avatar_base: str) -> None:
    with _connect(url) as conn:
        conn.execute(
            """
            INSERT INTO amishis (id, email, display_name, avatar_url, updated_at)
            SELECT pg_temp.amishi_id(n), pg_temp.email(n), 'bench-' || n,
                   %(avatar_base)s || encode(sha256(convert_to(pg_temp.email(n), 'UTF8')), 'hex')
                   || '?d=identicon&s=160',
                   now() - interval '1 day'
              FROM generate_series(1, %(amishis)s) n
        """,
            {"avatar_base": avatar_base, "amishis": scale.amishis},
        )
        # Parents first: a child's parent must exist.
        conn.execute(
            """
            INSERT INTO cotonomas (key, name, owner_id, parent_key, state, created_at, updated_at)
            SELECT pg_temp.cotonoma_key(j), 'Cotonoma ' || j,
                   pg_temp.amishi_id(pg_temp.owner(j, %(heavy_owns)s, %(amishis)s)), pg_temp.parent(j), 'ready',
                   now() - make_interval(days => %(span)s) + j * interval '1 minute',
                   now() - make_interval(days => %(span)s) + j * interval '1 minute'
              FROM generate_series(1, %(cotonomas)s) j ORDER BY pg_temp.parent(j) NULLS FIRST, j
        """,
            {"heavy_owns": scale.heavy_owns, "amishis": scale.amishis, "cotonomas": scale.cotonomas, "span": SPAN_DAYS},
        )
        conn.execute(
            """
            INSERT INTO members (cotonoma_key, email, added_by, added_at)
            -- the shared cotonoma's members
            SELECT pg_temp.cotonoma_key(1), pg_temp.email(n), pg_temp.amishi_id(%(heavy)s), now() - interval '300 days'
              FROM unnest(%(shared_members)s::int[]) n
            UNION ALL
            -- the cotonomas shared with the heavy amishi
            SELECT pg_temp.cotonoma_key(j), pg_temp.email(%(heavy)s),
                   pg_temp.amishi_id(pg_temp.owner(j, %(heavy_owns)s, %(amishis)s)), now() - interval '200 days'
              FROM generate_series(%(heavy_owns)s + 1, 2 * %(heavy_owns)s) j
            UNION ALL
            -- everyone else's: a few members each, never their owner
            SELECT DISTINCT pg_temp.cotonoma_key(j), pg_temp.email(3 + (j * 31 + m * 977) %% (%(amishis)s - 2)),
                   pg_temp.amishi_id(pg_temp.owner(j, %(heavy_owns)s, %(amishis)s)), now() - interval '100 days'
              FROM generate_series(%(heavy_owns)s + 1, %(cotonomas)s) j, generate_series(0, %(per)s - 1) m
             WHERE 3 + (j * 31 + m * 977) %% (%(amishis)s - 2) <> pg_temp.owner(j, %(heavy_owns)s, %(amishis)s)
            ON CONFLICT DO NOTHING
        """,
            {
                "heavy": HEAVY,
                "shared_members": list(SHARED_MEMBERS),
                "heavy_owns": scale.heavy_owns,
                "amishis": scale.amishis,
                "cotonomas": scale.cotonomas,
                "per": MEMBERS_PER_COTONOMA,
            },
        )
        conn.execute("VACUUM ANALYZE")


def cursor_after(url: str, n: int, depth: int) -> str:
    """The cursor a client holds after reading `depth` cotos of amishi n's home timeline."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT id FROM cotos WHERE amishi_id = %s ORDER BY id DESC OFFSET %s LIMIT 1", (amishi_id(n), depth - 1)
        ).fetchone()
    if row is None:
        raise ValueError(f"amishi {n} has fewer than {depth} cotos")
    return str(row[0])


def coto_count(url: str, n: int) -> int:
    with psycopg.connect(url) as conn:
        (count,) = conn.execute("SELECT count(*) FROM cotos WHERE amishi_id = %s", (amishi_id(n),)).fetchall()[0]
    return int(count)
