"""Storage of the graph service: connections, pins and the streams it reads,
in its own PostgreSQL database. No Falcon here.

Who may see what is decided by the caller, and given to these queries as
the asker's id and the keys of the cotonomas they may reach (`keys`): a
connection is visible to its maker when made at home (created_in NULL), and
to whoever reaches the cotonoma it was made in otherwise (VISIBLE)."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

import psycopg
import psycopg_pool
from psycopg.types.json import Jsonb

from cotoami_common.backing import array_literal, autocommitting
from cotoami_common.outbox import recording_events


class Connection(TypedDict):
    id: str
    start: str
    end: str
    linking_phrase: str | None
    created_by: str
    created_in: str | None
    order: int
    created_at: str


class Pin(TypedDict):
    coto_id: str
    cotonoma_key: str | None
    created_by: str
    order: int
    created_at: str


class ConnectionExists(Exception):
    """A connection from this start to this end exists already."""


class PinExists(Exception):
    """The coto is pinned there already."""


class NotTheSameIds(Exception):
    """A reorder's ids are not exactly those it reorders."""


def _iso_utc(column: str) -> str:
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


_CONNECTION_COLUMNS = f"""c.id::text, c.start_id::text, c.end_id::text, c.linking_phrase, c.created_by::text,
    c.created_in, c."order", {_iso_utc("c.created_at")}"""
_PIN_COLUMNS = f"""p.coto_id::text, p.cotonoma_key, p.created_by::text, p."order", {_iso_utc("p.created_at")}"""

NO_ID = "00000000-0000-0000-0000-000000000000"

# A connection the asker sees (params asker, keys).
VISIBLE = "((c.created_in IS NULL AND c.created_by = %(asker)s::uuid) OR c.created_in = ANY(%(keys)s::text[]))"


def _connection(row: Sequence[Any]) -> Connection:
    return {
        "id": row[0],
        "start": row[1],
        "end": row[2],
        "linking_phrase": row[3],
        "created_by": row[4],
        "created_in": row[5],
        "order": row[6],
        "created_at": row[7],
    }


def _pin(row: Sequence[Any]) -> Pin:
    return {"coto_id": row[0], "cotonoma_key": row[1], "created_by": row[2], "order": row[3], "created_at": row[4]}


def place_of(amishi_id: str, cotonoma_key: str | None) -> str:
    """Where a pin is: one's home, or a cotonoma (the pins' `place`)."""
    return f"home:{amishi_id}" if cotonoma_key is None else f"cotonoma:{cotonoma_key}"


def stream_of(created_by: str, cotonoma_key: str | None) -> str:
    """Where the events of a connection or pin go: its cotonoma's stream, or its maker's home."""
    return f"events:amishi:{created_by}" if cotonoma_key is None else f"events:cotonoma:{cotonoma_key}"


def connection_stream(connection: Connection) -> str:
    return stream_of(connection["created_by"], connection["created_in"])


def pin_stream(pin: Pin) -> str:
    return stream_of(pin["created_by"], pin["cotonoma_key"])


Event = tuple[str, str, object]  # (stream, event name, data)


def connection_event(name: str, connection: Connection) -> Event:
    """A connection's event names it only: a member of the cotonoma it was made
    in may be unable to read one of its cotos, and so its linking phrase. A
    client that wants it asks GET, which decides who sees what."""
    return (connection_stream(connection), name, {"id": connection["id"]})


def pin_event(pin: Pin) -> Event:
    """A pin's event names the coto and the place only, as its deletion's does."""
    return (pin_stream(pin), "pin", {"coto_id": pin["coto_id"], "cotonoma_key": pin["cotonoma_key"]})


_TELL = f"""
WITH event AS (
    SELECT ARRAY[s] AS streams, e AS event, d AS data
      FROM unnest(%s::text[], %s::text[], %s::jsonb[]) AS t(s, e, d)),
{recording_events("event")}
SELECT taken FROM event_locks
"""


def tell(conn: psycopg.Connection[Any], events: Sequence[Event]) -> None:
    """Records the events in the caller's transaction, in one statement (each
    stream locked in one sorted order, whatever streams they go to)."""
    if events:
        conn.execute(_TELL, ([s for s, _, _ in events], [e for _, e, _ in events], [Jsonb(d) for _, _, d in events]))


_WATCH = """
INSERT INTO watched_streams (stream) SELECT DISTINCT unnest(%s::text[]) ORDER BY 1 ON CONFLICT DO NOTHING
"""

# One writer at a time per start coto: each new connection goes after the last.
_LOCK_START = "SELECT pg_advisory_xact_lock(hashtext('graph:start:' || %s))"
_LOCK_PLACE = "SELECT pg_advisory_xact_lock(hashtext('graph:place:' || %s))"

_CONNECT = f"""
WITH c AS (
    INSERT INTO connections AS c (id, start_id, end_id, linking_phrase, created_by, created_in, "order")
    SELECT gen_random_uuid(), %(start)s, %(end)s, %(phrase)s, %(asker)s, %(created_in)s,
           coalesce((SELECT max("order") + 1 FROM connections WHERE start_id = %(start)s), 0)
    ON CONFLICT (start_id, end_id) DO NOTHING
    RETURNING *)
SELECT {_CONNECTION_COLUMNS} FROM c
"""

_GET_CONNECTION = f"SELECT {_CONNECTION_COLUMNS} FROM connections c WHERE c.id = %s"

_SET_PHRASE = f"""
WITH c AS (UPDATE connections SET linking_phrase = %s, updated_at = now() WHERE id = %s RETURNING *)
SELECT {_CONNECTION_COLUMNS} FROM c
"""

_DELETE_CONNECTION = "DELETE FROM connections c WHERE c.id = %s RETURNING c.created_by::text, c.created_in"

_OUTGOING = f"""SELECT {_CONNECTION_COLUMNS} FROM connections c
 WHERE c.start_id = %(coto)s AND {VISIBLE} ORDER BY c."order", c.id"""

# A page of a coto's neighbours, after a cursor (None: from the first), each
# row with the number its cursor holds: outgoing in their order
# (connections_by_start), incoming oldest first, in microseconds
# (connections_by_end_time). One row more than the page tells whether there is
# a next.
_OUTGOING_PAGE = f"""SELECT {_CONNECTION_COLUMNS}, c."order" FROM connections c
 WHERE c.start_id = %(coto)s AND {VISIBLE}
   AND (c."order", c.id) > (coalesce(%(after_n)s, -2147483648), coalesce(%(after_id)s::uuid, '{NO_ID}'))
 ORDER BY c."order", c.id LIMIT %(limit)s + 1"""
_INCOMING_PAGE = f"""SELECT {_CONNECTION_COLUMNS}, (extract(epoch FROM c.created_at) * 1000000)::bigint
  FROM connections c
 WHERE c.end_id = %(coto)s AND {VISIBLE}
   AND (c.created_at, c.id) > (coalesce('epoch'::timestamptz + %(after_n)s * interval '1 microsecond', '-infinity'),
                               coalesce(%(after_id)s::uuid, '{NO_ID}'))
 ORDER BY c.created_at, c.id LIMIT %(limit)s + 1"""

# The cotos `depth` - 1 levels (or fewer) below the roots, along connections
# the asker sees, each (coto, level) once: a cycle ends at the last level. Each
# step reads one coto's outgoing connections from connections_by_start (OFFSET
# 0 keeps the planner from turning the lookups into a join over the whole
# table). Then every visible connection leaving those cotos, in their order.
TRAVERSAL = f"""
WITH RECURSIVE reach(coto, level) AS (
    SELECT root, 0 FROM unnest(%(roots)s::uuid[]) AS root
  UNION
    SELECT n.end_id, r.level + 1 FROM reach r
     CROSS JOIN LATERAL (SELECT c.end_id FROM connections c
                          WHERE c.start_id = r.coto AND {VISIBLE} OFFSET 0) n
     WHERE r.level + 1 < %(depth)s)
SELECT {_CONNECTION_COLUMNS}
  FROM (SELECT DISTINCT coto FROM reach) r
 CROSS JOIN LATERAL (SELECT * FROM connections c WHERE c.start_id = r.coto AND {VISIBLE} OFFSET 0) c
 ORDER BY c.start_id, c."order", c.id
"""

_PIN = f"""
WITH p AS (
    INSERT INTO pins AS p (coto_id, cotonoma_key, created_by, "order", created_at)
    SELECT %(coto)s, %(cotonoma_key)s, %(asker)s,
           coalesce((SELECT max("order") + 1 FROM pins WHERE place = %(place)s), 0), coalesce(%(at)s, now())
    ON CONFLICT (place, coto_id) DO NOTHING
    RETURNING *)
SELECT {_PIN_COLUMNS} FROM p
"""

_PINS = f'SELECT {_PIN_COLUMNS} FROM pins p WHERE p.place = %s ORDER BY p."order", p.coto_id'

_UNPIN = "DELETE FROM pins WHERE place = %s AND coto_id = %s RETURNING created_by::text, cotonoma_key"

# What a deleted coto leaves: its connections either way, and its pins.
_FORGET_CONNECTIONS = """
DELETE FROM connections c WHERE c.id IN (
    SELECT id FROM connections WHERE start_id = %(coto)s UNION SELECT id FROM connections WHERE end_id = %(coto)s)
RETURNING c.id::text, c.created_by::text, c.created_in
"""
_FORGET_PINS = "DELETE FROM pins WHERE coto_id = %(coto)s RETURNING created_by::text, cotonoma_key"

_EXPORT_CONNECTIONS = f"""
SELECT {_CONNECTION_COLUMNS}, c.created_at FROM connections c
 WHERE c.created_by = %(amishi)s AND (c.created_at, c.id) > (%(after_at)s::timestamptz, %(after_id)s::uuid)
 ORDER BY c.created_at, c.id LIMIT %(limit)s
"""
_EXPORT_PINS = f"""
SELECT {_PIN_COLUMNS}, p.created_at, p.place FROM pins p
 WHERE p.created_by = %(amishi)s
   AND (p.created_at, p.place, p.coto_id) > (%(after_at)s::timestamptz, %(after_place)s, %(after_id)s::uuid)
 ORDER BY p.created_at, p.place, p.coto_id LIMIT %(limit)s
"""


class InvalidCursor(Exception):
    """A cursor that no page of neighbours gave."""


_CURSOR = re.compile(r"(-?\d{1,19})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
# What each way's cursor number may be: a connection's order (an integer), microseconds since 1970.
_CURSOR_RANGE = {"outgoing": (-(2**31), 2**31 - 1), "incoming": (0, 2**62)}


@dataclass(frozen=True)
class Way:
    """One way of a coto's connections ("outgoing" or "incoming"), read after
    a cursor's (order or time, connection id), or from the first."""

    name: str
    after: tuple[int, str] | None = None

    @classmethod
    def reading(cls, name: str, cursor: str | None) -> "Way":
        """The way, after a cursor a page gave (InvalidCursor otherwise)."""
        if cursor is None:
            return cls(name)
        found = _CURSOR.fullmatch(cursor)
        low, high = _CURSOR_RANGE[name]
        if found is None or not low <= int(found[1]) <= high:
            raise InvalidCursor(cursor)
        return cls(name, (int(found[1]), found[2]))


@dataclass(frozen=True)
class Page:
    connections: list[Connection]
    next: str | None  # the cursor of the next page; None: this was the last


_PAGES = {"outgoing": _OUTGOING_PAGE, "incoming": _INCOMING_PAGE}


def far_end(way: str, connection: Connection) -> str:
    """The coto at the connection's other end, seen from the coto whose `way` it is."""
    return connection["end"] if way == "outgoing" else connection["start"]


@dataclass(frozen=True)
class Forgotten:
    connections: int
    pins: int


class GraphStore:
    def __init__(self, pool: psycopg_pool.ConnectionPool):
        self.pool = pool

    # Connections

    def connect(
        self,
        asker: str,
        start: str,
        end: str,
        phrase: str | None,
        created_in: str | None,
        watch: Iterable[str] = (),
    ) -> Connection:
        """A new connection, last among its start's; ConnectionExists if one from
        start to end is there already. The streams in `watch` are read from now on."""
        with self.pool.connection() as conn:
            conn.execute(_LOCK_START, (start,))
            params = {"start": start, "end": end, "phrase": phrase, "asker": asker, "created_in": created_in}
            row = conn.execute(_CONNECT, params).fetchone()
            if row is None:
                raise ConnectionExists(start, end)
            connection = _connection(row)
            conn.execute(_WATCH, (sorted(set(watch)),))
            tell(conn, [connection_event("connection", connection)])
        return connection

    def connection(self, connection_id: str) -> Connection | None:
        with autocommitting(self.pool) as conn:
            row = conn.execute(_GET_CONNECTION, (connection_id,)).fetchone()
        return _connection(row) if row else None

    def set_phrase(self, connection_id: str, phrase: str | None) -> Connection | None:
        with self.pool.connection() as conn:
            row = conn.execute(_SET_PHRASE, (phrase, connection_id)).fetchone()
            if row is None:
                return None
            connection = _connection(row)
            tell(conn, [connection_event("connection-updated", connection)])
        return connection

    def disconnect(self, connection_id: str) -> bool:
        with self.pool.connection() as conn:
            row = conn.execute(_DELETE_CONNECTION, (connection_id,)).fetchone()
            if row is None:
                return False
            tell(conn, [(stream_of(row[0], row[1]), "connection-deleted", {"id": connection_id})])
        return True

    def neighbours(
        self, coto_id: str, asker: str, keys: Sequence[str], ways: Sequence[Way], limit: int
    ) -> dict[str, Page]:
        """A page of the coto's connections the asker sees, each way asked:
        outgoing in their order, incoming oldest first."""
        pages: dict[str, Page] = {}
        with autocommitting(self.pool) as conn:
            for way in ways:
                after = way.after
                params = {
                    "coto": coto_id,
                    "asker": asker,
                    "keys": array_literal(keys),
                    "limit": limit,
                    "after_n": after[0] if after else None,
                    "after_id": after[1] if after else None,
                }
                rows = conn.execute(_PAGES[way.name], params).fetchall()
                connections = [_connection(row) for row in rows[:limit]]
                more = len(rows) > limit
                pages[way.name] = Page(connections, f"{rows[limit - 1][8]}.{rows[limit - 1][0]}" if more else None)
        return pages

    def reorder(self, coto_id: str, asker: str, keys: Sequence[str], ids: Sequence[str]) -> list[Connection]:
        """Puts the outgoing connections the asker sees in the order of `ids`
        (exactly their ids, else NotTheSameIds), in the places they held, so
        the others keep theirs."""
        params = {"coto": coto_id, "asker": asker, "keys": array_literal(keys)}
        with self.pool.connection() as conn:
            conn.execute(_LOCK_START, (coto_id,))
            current = [_connection(row) for row in conn.execute(_OUTGOING, params).fetchall()]
            if len(ids) != len(current) or set(ids) != {c["id"] for c in current}:
                raise NotTheSameIds()
            places = [c["order"] for c in current]
            moved = [(connection_id, place) for connection_id, place in zip(ids, places, strict=True)]
            by_id = {c["id"]: c for c in current}
            changed = [(i, place) for i, place in moved if by_id[i]["order"] != place]
            if changed:
                conn.execute(
                    'UPDATE connections c SET "order" = t.place, updated_at = now()'
                    " FROM unnest(%s::uuid[], %s::int[]) AS t(id, place) WHERE c.id = t.id",
                    ([i for i, _ in changed], [p for _, p in changed]),
                )
            result = [{**by_id[i], "order": place} for i, place in moved]
            tell(conn, [connection_event("connection-updated", by_id[i]) for i, _ in changed])
        return [Connection(**c) for c in result]  # type: ignore[typeddict-item]

    def traverse(self, roots: Sequence[str], depth: int, asker: str, keys: Sequence[str]) -> list[Connection]:
        """Every connection the asker sees leaving a coto fewer than `depth`
        levels below the roots (along such connections), by start and order."""
        if not roots or depth < 1:
            return []
        params = {"roots": array_literal(roots), "depth": depth, "asker": asker, "keys": array_literal(keys)}
        with autocommitting(self.pool) as conn:
            return [_connection(row) for row in conn.execute(TRAVERSAL, params).fetchall()]

    # Pins

    def pin(
        self,
        asker: str,
        coto_id: str,
        cotonoma_key: str | None,
        watch: Iterable[str] = (),
    ) -> Pin:
        place = place_of(asker, cotonoma_key)
        with self.pool.connection() as conn:
            conn.execute(_LOCK_PLACE, (place,))
            params = {"coto": coto_id, "cotonoma_key": cotonoma_key, "asker": asker, "place": place, "at": None}
            row = conn.execute(_PIN, params).fetchone()
            if row is None:
                raise PinExists(coto_id)
            pin = _pin(row)
            conn.execute(_WATCH, (sorted(set(watch)),))
            tell(conn, [pin_event(pin)])
        return pin

    def pins(self, place: str) -> list[Pin]:
        with autocommitting(self.pool) as conn:
            return [_pin(row) for row in conn.execute(_PINS, (place,)).fetchall()]

    def unpin(self, place: str, coto_id: str) -> bool:
        with self.pool.connection() as conn:
            row = conn.execute(_UNPIN, (place, coto_id)).fetchone()
            if row is None:
                return False
            tell(conn, [(stream_of(row[0], row[1]), "pin-deleted", {"coto_id": coto_id, "cotonoma_key": row[1]})])
        return True

    def reorder_pins(self, place: str, ids: Sequence[str]) -> list[Pin]:
        """Puts the pins of a place in the order of `ids` (exactly their coto ids, else NotTheSameIds)."""
        with self.pool.connection() as conn:
            conn.execute(_LOCK_PLACE, (place,))
            current = [_pin(row) for row in conn.execute(_PINS, (place,)).fetchall()]
            if len(ids) != len(current) or set(ids) != {p["coto_id"] for p in current}:
                raise NotTheSameIds()
            by_id = {p["coto_id"]: p for p in current}
            result: list[Pin] = [{**by_id[i], "order": n} for n, i in enumerate(ids)]
            changed = [p for p in result if by_id[p["coto_id"]]["order"] != p["order"]]
            if changed:
                conn.execute(
                    'UPDATE pins p SET "order" = t.place_order FROM unnest(%s::uuid[], %s::int[])'
                    " AS t(coto_id, place_order) WHERE p.place = %s AND p.coto_id = t.coto_id",
                    ([p["coto_id"] for p in changed], [p["order"] for p in changed], place),
                )
            tell(conn, [pin_event(p) for p in changed])
        return result

    # Consistency with cotos

    def forget_coto(self, coto_id: str) -> Forgotten:
        """Removes a deleted coto's connections and pins, each told as deleted."""
        with self.pool.connection() as conn:
            connections = conn.execute(_FORGET_CONNECTIONS, {"coto": coto_id}).fetchall()
            pins = conn.execute(_FORGET_PINS, {"coto": coto_id}).fetchall()
            events: list[Event] = [
                (stream_of(created_by, created_in), "connection-deleted", {"id": connection_id})
                for connection_id, created_by, created_in in connections
            ]
            events += [
                (stream_of(created_by, key), "pin-deleted", {"coto_id": coto_id, "cotonoma_key": key})
                for created_by, key in pins
            ]
            tell(conn, events)
        return Forgotten(len(connections), len(pins))

    def watched_streams(self) -> list[str]:
        with autocommitting(self.pool) as conn:
            return [stream for (stream,) in conn.execute("SELECT stream FROM watched_streams ORDER BY stream")]

    def watch(self, streams: Iterable[str]) -> None:
        with autocommitting(self.pool) as conn:
            conn.execute(_WATCH, (sorted(set(streams)),))

    # The archive's export

    def export_connections(
        self, amishi_id: str, after: tuple[datetime | str, str] | None, limit: int
    ) -> tuple[list[Connection], tuple[datetime, str] | None]:
        after_at, after_id = after or ("-infinity", NO_ID)
        params = {"amishi": amishi_id, "after_at": after_at, "after_id": after_id, "limit": limit + 1}
        with autocommitting(self.pool) as conn:
            rows = conn.execute(_EXPORT_CONNECTIONS, params).fetchall()
        page = rows[:limit]
        last = page[-1] if len(rows) > limit else None
        return [_connection(row) for row in page], ((last[8], last[0]) if last else None)

    def export_pins(
        self, amishi_id: str, after: tuple[datetime | str, str, str] | None, limit: int
    ) -> tuple[list[Pin], tuple[datetime, str, str] | None]:
        after_at, after_place, after_id = after or ("-infinity", "", NO_ID)
        params = {
            "amishi": amishi_id,
            "after_at": after_at,
            "after_place": after_place,
            "after_id": after_id,
            "limit": limit + 1,
        }
        with autocommitting(self.pool) as conn:
            rows = conn.execute(_EXPORT_PINS, params).fetchall()
        page = rows[:limit]
        last = page[-1] if len(rows) > limit else None
        return [_pin(row) for row in page], ((last[5], last[6], last[0]) if last else None)


@dataclass(frozen=True)
class ImportedConnection:
    start: str
    end: str
    linking_phrase: str | None
    created_in: str | None
    order: int | None
    created_at: datetime | None


@dataclass(frozen=True)
class ImportedPin:
    coto_id: str
    cotonoma_key: str | None
    order: int | None
    created_at: datetime | None


# What importing one item did.
INSERTED, UPDATED, UNCHANGED, SOMEONE_ELSES = "inserted", "updated", "unchanged", "made by someone else"

_EXISTING_CONNECTION = (
    f"SELECT {_CONNECTION_COLUMNS} FROM connections c WHERE c.start_id = %s AND c.end_id = %s FOR UPDATE"
)
_IMPORT_CONNECTION = f"""
WITH c AS (
    INSERT INTO connections AS c (id, start_id, end_id, linking_phrase, created_by, created_in, "order", created_at)
    SELECT gen_random_uuid(), %(start)s, %(end)s, %(phrase)s, %(asker)s, %(created_in)s,
           coalesce(%(order)s, (SELECT max("order") + 1 FROM connections WHERE start_id = %(start)s), 0),
           coalesce(%(at)s, now())
    RETURNING *)
SELECT {_CONNECTION_COLUMNS} FROM c
"""
_UPDATE_IMPORTED_CONNECTION = f"""
WITH c AS (UPDATE connections SET linking_phrase = %s, "order" = %s, updated_at = now() WHERE id = %s RETURNING *)
SELECT {_CONNECTION_COLUMNS} FROM c
"""
_EXISTING_PIN = f"SELECT {_PIN_COLUMNS} FROM pins p WHERE p.place = %s AND p.coto_id = %s FOR UPDATE"
_IMPORT_PIN = f"""
WITH p AS (
    INSERT INTO pins AS p (coto_id, cotonoma_key, created_by, "order", created_at)
    SELECT %(coto)s, %(cotonoma_key)s, %(asker)s,
           coalesce(%(order)s, (SELECT max("order") + 1 FROM pins WHERE place = %(place)s), 0), coalesce(%(at)s, now())
    RETURNING *)
SELECT {_PIN_COLUMNS} FROM p
"""
_UPDATE_IMPORTED_PIN = f"""
WITH p AS (UPDATE pins SET "order" = %s WHERE place = %s AND coto_id = %s RETURNING *) SELECT {_PIN_COLUMNS} FROM p
"""


class GraphImports:
    """An archive's connections and pins, imported for one person in one
    transaction: each identified as in the original Cotoami (a connection by
    its start and end, a pin by its place and coto), so a second import of
    the same items changes nothing."""

    def __init__(self, pool: psycopg_pool.ConnectionPool):
        self.pool = pool

    def run(
        self,
        asker: str,
        connections: Sequence[ImportedConnection],
        pins: Sequence[ImportedPin],
        watch: Iterable[str] = (),
    ) -> tuple[list[str], list[str]]:
        """What happened to each connection and each pin, in their order."""
        events: list[Event] = []
        with self.pool.connection() as conn:
            done_connections = [self._connection(conn, asker, item, events) for item in connections]
            done_pins = [self._pin(conn, asker, item, events) for item in pins]
            conn.execute(_WATCH, (sorted(set(watch)),))
            tell(conn, events)
        return done_connections, done_pins

    def _connection(
        self, conn: psycopg.Connection[Any], asker: str, item: ImportedConnection, events: list[Event]
    ) -> str:
        conn.execute(_LOCK_START, (item.start,))
        row = conn.execute(_EXISTING_CONNECTION, (item.start, item.end)).fetchone()
        if row is None:
            params = {
                "start": item.start,
                "end": item.end,
                "phrase": item.linking_phrase,
                "asker": asker,
                "created_in": item.created_in,
                "order": item.order,
                "at": item.created_at,
            }
            made = _connection(conn.execute(_IMPORT_CONNECTION, params).fetchone() or ())
            events.append(connection_event("connection", made))
            return INSERTED
        existing = _connection(row)
        if existing["created_by"] != asker:
            return SOMEONE_ELSES
        order = existing["order"] if item.order is None else item.order
        if (existing["linking_phrase"], existing["order"]) == (item.linking_phrase, order):
            return UNCHANGED
        updated_row = conn.execute(_UPDATE_IMPORTED_CONNECTION, (item.linking_phrase, order, existing["id"])).fetchone()
        updated = _connection(updated_row or ())
        events.append(connection_event("connection-updated", updated))
        return UPDATED

    def _pin(self, conn: psycopg.Connection[Any], asker: str, item: ImportedPin, events: list[Event]) -> str:
        place = place_of(asker, item.cotonoma_key)
        conn.execute(_LOCK_PLACE, (place,))
        row = conn.execute(_EXISTING_PIN, (place, item.coto_id)).fetchone()
        if row is None:
            params = {
                "coto": item.coto_id,
                "cotonoma_key": item.cotonoma_key,
                "asker": asker,
                "place": place,
                "order": item.order,
                "at": item.created_at,
            }
            made = _pin(conn.execute(_IMPORT_PIN, params).fetchone() or ())
            events.append(pin_event(made))
            return INSERTED
        existing = _pin(row)
        if item.order is None or existing["order"] == item.order:
            return UNCHANGED
        updated = _pin(conn.execute(_UPDATE_IMPORTED_PIN, (item.order, place, item.coto_id)).fetchone() or ())
        events.append(pin_event(updated))
        return UPDATED
