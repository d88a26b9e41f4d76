"""The graph cases of `make bench` (bench/run.py seeds them and measures them
with the others): the heavy amishi has 10,000 connections, all made at home:

    their stock   5 pins, each with 3 cotos under it, 3 under each of those and
                  3 under each of those (195 connections, 200 cotos): the stock
                  to depth 3 is all of it
    a hub         one coto with 1,000 outgoing neighbours
    the rest      8,805 connections among 1,766 other cotos (5 from each)

The cotos are the heavy amishi's own, at home, inserted into the cotos
database with ids of their own (n -> GRAPH_COTO); graph's rows in its own
database. Nothing goes through HTTP.

    GET /api/graph/pins?depth=3   the stock to depth 3 (a traversal and one look-up of 200 cotos)
    GET /api/graph/cotos/HUB      a coto with 1,000 neighbours: the first page of
                                  each way (51 cotos looked up)
    GET .../HUB/outgoing?after=   its page 900 connections deep
"""

import hashlib
import io
import uuid

import psycopg

PINS = 5
BRANCHING = 3
LEVELS = 3
HUB = 100_000
HUB_NEIGHBOURS = 1_000
REST_FIRST = 200_000
REST_PER_COTO = 5
CONNECTIONS = 10_000
P50_TARGET_MS = 30
NEIGHBOURS_PAGE = 50  # graph's default page of neighbours
DEEP_AFTER = 900


def coto_id(n: int) -> str:
    """A graph coto's id (version 7's shape, so cotos takes it as its own)."""
    return f"00000000-0000-7000-a000-{n:012d}"


def connection_id(start: int, end: int) -> str:
    return str(uuid.UUID(hashlib.md5(f"bench-connection-{start}-{end}".encode()).hexdigest()))


def edges() -> tuple[list[int], list[tuple[int, int, int]]]:
    """The pins and every connection as (start, end, order)."""
    pins = list(range(1, PINS + 1))
    found: list[tuple[int, int, int]] = []
    next_coto = PINS + 1
    level = pins
    for _ in range(LEVELS):
        below = []
        for start in level:
            for k in range(BRANCHING):
                found.append((start, next_coto, k))
                below.append(next_coto)
                next_coto += 1
        level = below
    found += [(HUB, HUB + k, k) for k in range(1, HUB_NEIGHBOURS + 1)]
    rest = CONNECTIONS - len(found)
    found += [
        (REST_FIRST + i // REST_PER_COTO, REST_FIRST + i // REST_PER_COTO + 1 + i % REST_PER_COTO, i % REST_PER_COTO)
        for i in range(rest)
    ]
    return pins, found


def seed(graph_url: str, cotos_url: str, heavy_id: str) -> int:
    """Seeds both databases; returns how many cotos the graph holds."""
    pins, found = edges()
    cotos = sorted({*pins, *(s for s, _, _ in found), *(e for _, e, _ in found)})
    with psycopg.connect(cotos_url, autocommit=True) as conn:
        rows = io.StringIO("".join(f"{coto_id(n)}\t{heavy_id}\tgraph coto {n}\n" for n in cotos))
        with conn.cursor().copy("COPY cotos (id, amishi_id, content) FROM STDIN") as copy:
            copy.write(rows.getvalue())
        conn.execute("ANALYZE cotos")
    with psycopg.connect(graph_url, autocommit=True) as conn:
        # Each connection's id: made from its ends, so seeding twice is refused, never doubled.
        lines = "".join(
            f"{connection_id(s, e)}\t{coto_id(s)}\t{coto_id(e)}\t{heavy_id}\t{order}\n" for s, e, order in found
        )
        with conn.cursor().copy('COPY connections (id, start_id, end_id, created_by, "order") FROM STDIN') as copy:
            copy.write(lines)
        conn.execute(
            'INSERT INTO pins (coto_id, created_by, "order") SELECT unnest(%s::uuid[]), %s, generate_series(0, %s)',
            ([coto_id(n) for n in pins], heavy_id, len(pins) - 1),
        )
        conn.execute(
            "INSERT INTO watched_streams (stream) VALUES (%s) ON CONFLICT DO NOTHING", (f"events:amishi:{heavy_id}",)
        )
        conn.execute("ANALYZE connections")
        conn.execute("ANALYZE pins")
    return len(cotos)


def cases(public_url: str) -> list[tuple[str, str, str]]:
    """(name, what, url) of each graph case; run.py runs them as the heavy amishi."""
    return [
        (
            "graph-stock",
            f"GET /api/graph/pins?depth=3, heavy amishi with {CONNECTIONS:,} connections: their stock "
            f"({PINS} pins, {BRANCHING} under each coto, 3 levels: 200 cotos)",
            f"{public_url}/api/graph/pins?depth=3",
        ),
        (
            "graph-neighbours",
            f"GET /api/graph/cotos/ID, a coto with {HUB_NEIGHBOURS:,} neighbours, heavy amishi: "
            f"the coto and the first page of each way ({NEIGHBOURS_PAGE} outgoing, none incoming)",
            f"{public_url}/api/graph/cotos/{coto_id(HUB)}",
        ),
        (
            "graph-neighbours-deep",
            f"GET /api/graph/cotos/ID/outgoing?after=..., the same coto's page {DEEP_AFTER} connections deep",
            f"{public_url}/api/graph/cotos/{coto_id(HUB)}/outgoing?after={outgoing_cursor(HUB, DEEP_AFTER)}",
        ),
    ]


def outgoing_cursor(start: int, order: int) -> str:
    """The cursor a page of start's outgoing gives after its connection of this order (graph's Way)."""
    return f"{order}.{connection_id(start, start + order)}"


TARGETS = ("graph-stock", "graph-neighbours", "graph-neighbours-deep")
