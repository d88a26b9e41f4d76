"""Import jobs in the archive's own database. No Falcon here."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

import orjson
import psycopg
import psycopg_pool
from psycopg.types.json import Jsonb

from cotoami_common.tokens import Amishi


class AlreadyImporting(Exception):
    """The person has an import queued or running: one at a time."""

    def __init__(self, job_id: str):
        super().__init__(job_id)
        self.job_id = job_id


class Progress(TypedDict):
    stage: str
    done: int
    total: int


class JobView(TypedDict):
    id: str
    state: str
    progress: Progress
    result: dict[str, Any] | None
    error: str | None
    created_at: str
    finished_at: str | None


@dataclass(frozen=True)
class Rejected:
    """An item a job rejected: which part of the result, the item as the file had it, why,
    and the coto or cotonoma that was not imported with it (what depends on them follows)."""

    part: str  # "cotos" or "connections"
    json: object
    reason: str
    coto_id: str | None = None
    cotonoma_key: str | None = None


@dataclass
class Claimed:
    """A job taken by a worker, with what it needs to go on from its checkpoint."""

    id: str
    amishi: Amishi
    file: bytes
    checkpoint: dict[str, Any]
    attempts: int


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_VIEW = "id::text, state, stage, done, total, result, error, created_at, finished_at"

# The oldest job nobody holds: queued, or running under a lease that ran out
# (its process died); taken with a new lease.
_CLAIM = """
UPDATE import_jobs SET state = 'running', attempts = attempts + 1, updated_at = now(),
       lease_until = now() + make_interval(secs => %(lease)s)
 WHERE id = (SELECT id FROM import_jobs
              WHERE state = 'queued' OR (state = 'running' AND lease_until < now())
              ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id::text, amishi, file, checkpoint, attempts
"""


class JobStore:
    def __init__(self, pool: psycopg_pool.ConnectionPool):
        self.pool = pool

    def create(self, amishi: Amishi, file: bytes, total: int) -> str:
        job_id = str(uuid.uuid4())
        try:
            with self.pool.connection() as conn:
                conn.execute(
                    "INSERT INTO import_jobs (id, amishi_id, amishi, file, total) VALUES (%s, %s, %s, %s, %s)",
                    (job_id, amishi.id, Jsonb(amishi.own()), file, total),
                )
        except psycopg.errors.UniqueViolation:
            running = self.running_of(amishi.id)
            raise AlreadyImporting(running or "") from None
        return job_id

    def running_of(self, amishi_id: str) -> str | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT id::text FROM import_jobs WHERE amishi_id = %s AND state IN ('queued', 'running')",
                (amishi_id,),
            ).fetchone()
        return row[0] if row else None

    def get(self, job_id: str, amishi_id: str) -> JobView | None:
        """The person's job; None for anyone else's (or none)."""
        with self.pool.connection() as conn:
            row = conn.execute(
                f"SELECT {_VIEW} FROM import_jobs WHERE id = %s AND amishi_id = %s", (job_id, amishi_id)
            ).fetchone()
        if row is None:
            return None
        return JobView(
            id=row[0],
            state=row[1],
            progress=Progress(stage=row[2], done=row[3], total=row[4]),
            result=row[5],
            error=row[6],
            created_at=iso_utc(row[7]),
            finished_at=iso_utc(row[8]) if row[8] else None,
        )

    def claim(self, lease_seconds: int) -> Claimed | None:
        with self.pool.connection() as conn:
            row = conn.execute(_CLAIM, {"lease": lease_seconds}).fetchone()
        if row is None:
            return None
        amishi = row[1]
        return Claimed(
            id=row[0],
            amishi=Amishi(amishi["id"], amishi["email"], amishi["display_name"], amishi["avatar_url"]),
            file=bytes(row[2]),
            checkpoint=row[3],
            attempts=row[4],
        )

    def checkpoint(
        self,
        job_id: str,
        checkpoint: dict[str, Any],
        progress: Progress,
        lease_seconds: int,
        rejections: Sequence[Rejected] = (),
    ) -> bool:
        """Records how far the job got, with what its steps since the last
        checkpoint rejected, and renews its lease; False if the job is no
        longer this worker's to go on with (its lease ran out and another took it)."""
        with self.pool.connection() as conn, conn.transaction():
            written = conn.execute(
                "UPDATE import_jobs SET checkpoint = %s, stage = %s, done = %s, total = %s, updated_at = now(),"
                " lease_until = now() + make_interval(secs => %s)"
                " WHERE id = %s AND state = 'running'",
                (
                    Jsonb(checkpoint, dumps=_dumps),
                    progress["stage"],
                    progress["done"],
                    progress["total"],
                    lease_seconds,
                    job_id,
                ),
            ).rowcount
            if written and rejections:
                _record(conn, job_id, rejections)
        return bool(written)

    def rejected_so_far(self, job_id: str) -> tuple[set[str], set[str]]:
        """The coto ids and cotonoma keys the job has rejected so far."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT coto_id::text, cotonoma_key FROM import_rejections"
                " WHERE job_id = %s AND (coto_id IS NOT NULL OR cotonoma_key IS NOT NULL)",
                (job_id,),
            ).fetchall()
        return {row[0] for row in rows if row[0]}, {row[1] for row in rows if row[1]}

    def finish(self, job_id: str, counts: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """Done: the result (the counts with every rejection, in the order met) is kept,
        the file and the rejections' rows are let go."""
        with self.pool.connection() as conn, conn.transaction():
            result = _result(conn, job_id, counts)
            conn.execute(
                "UPDATE import_jobs SET state = 'done', result = %s, stage = 'done', done = %s, total = %s,"
                " file = NULL, checkpoint = '{}', lease_until = NULL, updated_at = now(), finished_at = now()"
                " WHERE id = %s AND state = 'running'",
                (Jsonb(result, dumps=_dumps), progress["done"], progress["total"], job_id),
            )
            conn.execute("DELETE FROM import_rejections WHERE job_id = %s", (job_id,))
        return result

    def fail(self, job_id: str, error: str) -> None:
        """Given up on: what it did stays done; the result so far and why are kept."""
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute("SELECT checkpoint -> 'counts' FROM import_jobs WHERE id = %s", (job_id,)).fetchone()
            counts = row[0] if row and row[0] else _no_counts()
            conn.execute(
                "UPDATE import_jobs SET state = 'failed', error = %s, result = %s,"
                " stage = 'failed', file = NULL, lease_until = NULL, updated_at = now(), finished_at = now()"
                " WHERE id = %s AND state = 'running'",
                (error, Jsonb(_result(conn, job_id, counts), dumps=_dumps), job_id),
            )
            conn.execute("DELETE FROM import_rejections WHERE job_id = %s", (job_id,))

    def release(self, job_id: str, delay_seconds: float) -> None:
        """Let another worker (or this one) take the job up again after `delay_seconds`."""
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE import_jobs SET lease_until = now() + make_interval(secs => %s)"
                " WHERE id = %s AND state = 'running'",
                (delay_seconds, job_id),
            )

    def forget_finished(self, older_than_days: int = 30) -> int:
        with self.pool.connection() as conn:
            return conn.execute(
                "DELETE FROM import_jobs WHERE state IN ('done', 'failed')"
                " AND finished_at < now() - make_interval(days => %s)",
                (older_than_days,),
            ).rowcount


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def _no_counts() -> dict[str, Any]:
    return {"cotos": {"inserts": 0, "updates": 0, "cotonomas": 0}, "connections": {"ok": 0}}


def _record(conn: psycopg.Connection, job_id: str, rejections: Sequence[Rejected]) -> None:
    (base,) = conn.execute(
        "SELECT coalesce(max(seq) + 1, 0) FROM import_rejections WHERE job_id = %s", (job_id,)
    ).fetchone() or (0,)
    columns = "job_id, seq, part, item, coto_id, cotonoma_key"
    with conn.cursor() as cur, cur.copy(f"COPY import_rejections ({columns}) FROM STDIN") as copy:
        for offset, rejected in enumerate(rejections):
            item = _dumps({"json": rejected.json, "reason": rejected.reason})
            copy.write_row((job_id, base + offset, rejected.part, item, rejected.coto_id, rejected.cotonoma_key))


def _result(conn: psycopg.Connection, job_id: str, counts: dict[str, Any]) -> dict[str, Any]:
    """The original's result shape: the counts, and every rejection in the order met."""
    rejected: dict[str, list[object]] = {"cotos": [], "connections": []}
    with conn.cursor() as cur:
        cur.execute("SELECT part, item FROM import_rejections WHERE job_id = %s ORDER BY seq", (job_id,))
        for part, item in cur:
            rejected[part].append(item)
    return {
        "cotos": {**counts["cotos"], "rejected": rejected["cotos"]},
        "connections": {**counts["connections"], "rejected": rejected["connections"]},
    }
