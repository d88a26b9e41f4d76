"""Storage: the mail queue (a Redis stream read by a consumer group) and the
delivery log (PostgreSQL). No Falcon, no SMTP."""

from dataclasses import dataclass
from enum import Enum

import psycopg_pool
import redis
from redis.typing import EncodableT, FieldT

from mailer.jobs import MailJob

GROUP = "mailers"
# The dead-letter stream is for people to look into (a job worth sending
# after all is queued again under a new id: its old one is settled as dead).
# It is capped, roughly (which is cheap), so a flood of bad jobs cannot fill Redis.
DEAD_LETTERS_KEPT = 10_000
ERROR_CHARS = 1000


@dataclass(frozen=True)
class Entry:
    id: str
    fields: dict[str, str]


def _entry(entry_id: object, fields: object) -> Entry:
    """A stream entry from a reply, which the client has decoded to strings."""
    if not isinstance(entry_id, str) or not isinstance(fields, dict):
        raise TypeError(f"a stream entry should be a str id and a dict of fields, got {type(entry_id)}, {type(fields)}")
    return Entry(entry_id, {str(key): str(value) for key, value in fields.items()})


class MailQueue:
    """The `mail` stream as seen by one consumer of the `mailers` group."""

    def __init__(self, client: redis.Redis, stream: str, consumer: str):
        self.client = client
        self.stream = stream
        self.dead_stream = f"{stream}:dead"
        self.consumer = consumer
        self._reclaim_from = "0-0"

    def create_group(self) -> None:
        """Idempotent. From the start of the stream, so that jobs added before
        the first mailer ever ran are delivered too (delivered ones are deleted)."""
        try:
            self.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def read_new(self, block_ms: int) -> Entry | None:
        reply = self.client.xreadgroup(GROUP, self.consumer, {self.stream: ">"}, count=1, block=block_ms)
        if isinstance(reply, dict):  # the client speaks RESP2: a list of [stream, entries], or None after block_ms
            raise TypeError("a RESP3 reply to XREADGROUP: the mail queue expects RESP2")
        for _stream, entries in reply or ():
            for entry_id, fields in entries:
                return _entry(entry_id, fields)
        return None

    def reclaim(self, min_idle_ms: int) -> Entry | None:
        """One job that its consumer has held for min_idle_ms without settling
        it, now held by this one. Successive calls walk the pending list."""
        self._reclaim_from, entries, *_ = self.client.xautoclaim(
            self.stream, GROUP, self.consumer, min_idle_ms, start_id=self._reclaim_from, count=1
        )
        for entry_id, fields in entries:
            return _entry(entry_id, fields)
        return None

    def ack(self, entry_id: str) -> None:
        """Settled: out of the pending list and out of the stream, both or neither."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, GROUP, entry_id)
            pipe.xdel(self.stream, entry_id)
            pipe.execute()

    def dead_letter(self, entry: Entry, error: str) -> None:
        """Given up on: copied to the dead-letter stream with the reason, then acked, atomically."""
        record: dict[FieldT, EncodableT] = {key: value for key, value in entry.fields.items()}
        record.update({"error": error[:ERROR_CHARS], "entry_id": entry.id, "consumer": self.consumer})
        with self.client.pipeline(transaction=True) as pipe:
            pipe.xadd(self.dead_stream, record, maxlen=DEAD_LETTERS_KEPT, approximate=True)
            pipe.xack(self.stream, GROUP, entry.id)
            pipe.xdel(self.stream, entry.id)
            pipe.execute()

    def leave(self) -> None:
        """Remove this consumer from the group if it holds nothing, so that
        consumer names (one per process) do not pile up. One that still holds
        jobs stays, for others to reclaim them from."""
        if self.client.xpending_range(self.stream, GROUP, "-", "+", 1, consumername=self.consumer):
            return
        self.client.xgroup_delconsumer(self.stream, GROUP, self.consumer)


class Outcome(Enum):
    SEND = "send"  # this consumer makes attempt number `attempt` now
    SENT = "sent"  # delivered before: only the ack is missing
    DEAD = "dead"  # given up on before: only the move to the dead-letter stream is missing
    BUSY = "busy"  # another consumer's attempt is under way: look again in `retry_in` seconds


@dataclass(frozen=True)
class Claim:
    outcome: Outcome
    attempt: int = 0
    retry_in: float = 0.0
    error: str = ""


class DeliveryLog:
    """The `deliveries` table: what became of each job, and the arbiter of who
    may attempt it. Each attempt is numbered; a consumer records the end of
    its attempt only if the row still shows that attempt, so one that was
    presumed dead cannot overwrite the work of the one that took over."""

    def __init__(self, pool: psycopg_pool.ConnectionPool):
        self.pool = pool

    def claim(self, job: MailJob, max_attempts: int, abandoned_after: float) -> Claim:
        with self.pool.connection() as conn, conn.transaction():
            first = conn.execute(
                "INSERT INTO deliveries (job_id, kind, recipient, status, attempts, attempt_started_at)"
                " VALUES (%s, %s, %s, 'sending', 1, now())"
                " ON CONFLICT (job_id) DO NOTHING RETURNING attempts",
                (job.id, job.kind, job.to),
            ).fetchone()
            if first:
                return Claim(Outcome.SEND, attempt=1)
            row = conn.execute(
                "SELECT status, attempts, last_error, extract(epoch FROM now() - attempt_started_at)::float8"
                " FROM deliveries WHERE job_id = %s FOR UPDATE",
                (job.id,),
            ).fetchone()
            if row is None:  # the INSERT found it there, and rows are never deleted
                raise RuntimeError(f"the delivery of {job.id} vanished while being claimed")
            status, attempts, last_error, running_for = row
            if status == "sent":
                return Claim(Outcome.SENT, attempt=attempts)
            if status == "dead":
                return Claim(Outcome.DEAD, attempt=attempts, error=last_error)
            if status == "sending" and running_for < abandoned_after:
                return Claim(Outcome.BUSY, attempt=attempts, retry_in=abandoned_after - running_for)
            if attempts >= max_attempts:
                # Only an abandoned last attempt gets here: failed ones at the limit are dead already.
                error = f"gave up after {attempts} attempts; the last one was interrupted"
                conn.execute(
                    "UPDATE deliveries SET status = 'dead', last_error = %s WHERE job_id = %s", (error, job.id)
                )
                return Claim(Outcome.DEAD, attempt=attempts, error=error)
            conn.execute(
                "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, attempt_started_at = now()"
                " WHERE job_id = %s",
                (job.id,),
            )
            return Claim(Outcome.SEND, attempt=attempts + 1)

    def record_sent(self, job_id: str) -> None:
        # Unconditional: the server accepted the mail, whoever else thought they had the job.
        with self.pool.connection() as conn:
            conn.execute("UPDATE deliveries SET status = 'sent', sent_at = now() WHERE job_id = %s", (job_id,))

    def record_failure(self, job_id: str, attempt: int, error: str, dead: bool) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE deliveries SET status = %s, last_error = %s"
                " WHERE job_id = %s AND status = 'sending' AND attempts = %s",
                ("dead" if dead else "failed", error[:ERROR_CHARS], job_id, attempt),
            )

    def record_malformed(self, entry_id: str, kind: str, recipient: str, error: str) -> None:
        """A job that could never be delivered, under its stream entry id:
        its own id, if it has one, may be what is wrong with it."""
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO deliveries (job_id, kind, recipient, status, last_error)"
                " VALUES (%s, %s, %s, 'dead', %s) ON CONFLICT (job_id) DO NOTHING",
                (entry_id, kind, recipient, error[:ERROR_CHARS]),
            )
