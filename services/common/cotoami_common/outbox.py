"""Domain events, written to an `outbox` table in the transaction of the change
they tell of, and relayed from there to Redis streams (docs/contract.md,
"Domain events"). A service that produces events has the table (a migration of
its own) and runs an OutboxRelay in each worker process.

Order: a writer locks each of its streams (a transaction-scoped advisory lock)
before its row takes an id, and holds the locks until it commits, so among the
rows of one stream ids are in commit order; the relay reads rows by id and
appends them in that order. Only one relay per database works at a time.

Exactly once in each stream, although the relay itself is at least once (it
may die after appending and before deleting the rows): each entry carries its
origin (`service:event id`, a UUID the row is given, so that a database
restored from a backup, whose ids start again, never repeats one) and the
append script skips an origin already appended to that stream, remembered for a day.
"""

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg_pool
import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from psycopg.types.json import Jsonb

from cotoami_common.health import BackgroundThread
from cotoami_common.metrics import counter

log = logging.getLogger(__name__)

STREAM_MAXLEN = 10_000
RELAYED_TTL_SECONDS = 86_400
BATCH_SIZE = 100
POLL_SECONDS = 1.0
CHANNEL = "outbox"
# The key of the advisory lock a relay holds while it works: one relay per database at a time.
RELAY_LOCK_KEY = 0x636F746F6F7574  # "cotoout"
# Streams are locked by (this, hashtext of the name): the two-key form, a key space of
# its own, so a stream's lock is never the relay's nor the migrations' (one-key form).
STREAM_LOCK_SPACE = 0x65766E74  # "evnt"

# Appends one entry unless its origin was appended to this stream already.
# KEYS: the stream, its mark for this origin. ARGV: event, data, origin, MAXLEN, the mark's TTL.
# Returns the new entry's id, or false when skipped.
_APPEND = """
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[5]) then return false end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'event', ARGV[1], 'data', ARGV[2], 'origin', ARGV[3])
"""

EVENTS_RELAYED = counter(
    "cotoami_events_relayed_total",
    "Domain events appended to Redis streams by the outbox relay (one per event and stream).",
)


def recording_events(events: str) -> str:
    """Two CTEs that record an event for each row of `events`, a relation of
    (streams text[], event text, data jsonb) defined earlier in the same WITH,
    in the transaction of the statement they join: so a change and its event
    can be one statement, one round trip.

    Each stream is locked (sorted, so that two writers never wait on each other
    in a cycle) until the commit, before any row takes its id: the aggregate
    yields its row only once every lock is taken, and the rows' ids are drawn
    as they are joined to it. NOTIFY wakes the relays at the commit (and never
    if it rolls back). No rows in `events`, no locks and no event."""
    return f"""
event_locks AS (
    SELECT count(pg_advisory_xact_lock({STREAM_LOCK_SPACE}, hashtext(name))) AS taken
      FROM (SELECT DISTINCT unnest(streams) AS name FROM {events} ORDER BY name) AS names),
event_rows AS (
    INSERT INTO outbox (streams, event, data)
    SELECT array(SELECT DISTINCT unnest(e.streams) ORDER BY 1), e.event, e.data FROM {events} AS e, event_locks
    RETURNING pg_notify('{CHANNEL}', ''))"""


_WRITE_EVENT = f"""
WITH event AS (SELECT %s::text[] AS streams, %s::text AS event, %s::jsonb AS data), {recording_events("event")}
SELECT taken FROM event_locks
"""


def write_event(conn: psycopg.Connection[Any], streams: Iterable[str], event: str, data: object) -> None:
    """Records an event in the caller's open transaction, to be relayed once it
    commits, in one statement (recording_events). Call it last before the
    commit, since the locks make the next writer to these streams wait; and
    once per transaction, or each time with the same streams, since the locks
    of calls in turn are not taken in one sorted order."""
    names = list(streams)
    if names:
        conn.execute(_WRITE_EVENT, (names, event, Jsonb(data)))


@dataclass(frozen=True)
class OutboxRow:
    id: int
    event_id: str
    streams: list[str]
    event: str
    data: str  # JSON text, as the stream entry carries it


def read_rows(conn: psycopg.Connection[Any], limit: int = BATCH_SIZE) -> list[OutboxRow]:
    """The oldest rows of the outbox, by id."""
    rows = conn.execute(
        "SELECT id, event_id::text, streams, event, data::text FROM outbox ORDER BY id LIMIT %s", (limit,)
    ).fetchall()
    return [OutboxRow(*row) for row in rows]


class OutboxRelay(BackgroundThread):
    """Relays the outbox of one service's database to Redis, in a daemon thread.

    Woken by NOTIFY on a connection of its own, with a poll every
    `poll_seconds` for when that connection is lost (or a notification is)."""

    def __init__(
        self,
        pool: psycopg_pool.ConnectionPool,
        client: redis.Redis,
        origin: str,
        batch_size: int = BATCH_SIZE,
        poll_seconds: float = POLL_SECONDS,
    ):
        self.pool = pool
        self.client = client
        self.origin = origin
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._append = client.register_script(_APPEND)
        super().__init__(f"{origin}-outbox-relay")

    def append(self, rows: Sequence[OutboxRow]) -> int:
        """Appends the rows to their streams in order; returns how many entries
        were new (an origin appended before is skipped)."""
        with self.client.pipeline(transaction=False) as pipe:
            for row in rows:
                origin = f"{self.origin}:{row.event_id}"
                for stream in row.streams:
                    self._append(
                        keys=[stream, f"events:relayed:{stream}:{origin}"],
                        args=[row.event, row.data, origin, STREAM_MAXLEN, RELAYED_TTL_SECONDS],
                        client=pipe,
                    )
            appended = sum(1 for entry_id in pipe.execute() if entry_id)
        EVENTS_RELAYED.inc(appended)
        return appended

    def relay_once(self) -> int:
        """Relays one batch if no other relay is at work; returns how many rows
        it relayed (0 when none waited or another relay holds the lock)."""
        with self.pool.connection() as conn, conn.transaction():
            locked = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (RELAY_LOCK_KEY,)).fetchone()
            if not locked or not locked[0]:
                return 0
            rows = read_rows(conn, self.batch_size)
            if rows:
                self.append(rows)
                conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", ([row.id for row in rows],))
        return len(rows)

    def relay_all(self) -> None:
        while not self._stopping.is_set() and self.relay_once():
            pass

    def run(self) -> None:
        listener: psycopg.Connection[Any] | None = None
        while not self._stopping.is_set():
            try:
                listener = listener if listener and not listener.closed else self._listen()
                self.relay_all()
                self._wait(listener)
            except (psycopg.Error, psycopg_pool.PoolTimeout, redis.RedisError) as error:
                log.warning("relaying the outbox failed; retrying: %s", error)
                if listener is not None:
                    listener.close()
                listener = None
                self._stopping.wait(self.poll_seconds)
            except Exception:  # a bug must not end the relaying
                log.exception("relaying the outbox failed")
                self._stopping.wait(self.poll_seconds)
        if listener is not None:
            listener.close()

    def _listen(self) -> psycopg.Connection[Any]:
        conninfo = self.pool.conninfo
        conn = psycopg.connect(
            conninfo if isinstance(conninfo, str) else conninfo(), autocommit=True, connect_timeout=3
        )
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _wait(self, listener: psycopg.Connection[Any]) -> None:
        """Until a notification (taking every one waiting: one batch serves them
        all), the poll interval, or stop(): a second at most, so that a worker
        that is told to stop is not held up."""
        deadline = time.monotonic() + self.poll_seconds
        while not self._stopping.is_set() and (left := deadline - time.monotonic()) > 0:
            if list(listener.notifies(timeout=min(left, 1.0), stop_after=1)):
                list(listener.notifies(timeout=0))
                return


class OutboxLagCollector(Collector):
    """How long the oldest row has waited in the outbox, at each scrape (0 when
    empty). Every pod of a service reports the same number: take the max."""

    LAG = "cotoami_outbox_lag_seconds"

    def __init__(self, pool: psycopg_pool.ConnectionPool):
        self.pool = pool

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self.LAG, "Seconds the oldest domain event has waited in the outbox to be relayed.")

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> list[Metric]:
        try:
            with self.pool.connection(timeout=2) as conn:
                row = conn.execute(
                    "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 FROM outbox"
                ).fetchone()
        except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
            log.warning("outbox lag unavailable: %s", error)
            return []
        family = self._family()
        family.add_metric([], row[0] if row else 0.0)
        return [family]
