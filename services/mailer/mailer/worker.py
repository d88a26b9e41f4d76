"""The delivery worker: takes mail jobs from the `mail` stream, renders them and
hands them to the SMTP server. No Falcon.

A job is acknowledged (and deleted from the stream) only once the SMTP server
has accepted its mail, or once it is given up on and copied to the dead-letter
stream. Until then it stays pending in the consumer group: a failed attempt
is tried again by the same worker after a backoff, and a job whose worker
died is reclaimed by another after MAIL_RECLAIM_IDLE_MS. The delivery log
decides who may attempt a job and remembers which were sent, so that a job
read twice (reclaimed, or added twice) is still mailed once.
"""

import logging
import os
import smtplib
import socket
import time
from dataclasses import dataclass

import psycopg
import psycopg_pool
import redis

from cotoami_common.health import BackgroundThread
from mailer.config import Config
from mailer.jobs import MailJob, MalformedJob, claimed_labels, parse_job
from mailer.metrics import MAILS_DEAD, MAILS_FAILED, MAILS_SENT, UNKNOWN_KIND, start_counting
from mailer.smtp import SmtpEndpoint, SmtpSender, compose, is_permanent
from mailer.store import DeliveryLog, Entry, MailQueue, Outcome
from mailer.templates import MailTemplates, RenderedMail

log = logging.getLogger(__name__)

# How long one read waits for a new job: also how long stopping can take
# when the worker is idle.
READ_BLOCK_MS = 1000
# Longer than one SMTP conversation, shorter than gunicorn's graceful timeout.
STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait before trying a job again: first, twice that, ... up to cap."""

    first: float = 1.0
    cap: float = 60.0

    def delay(self, failed_attempts: int) -> float:
        return min(self.first * 2.0 ** (failed_attempts - 1), self.cap)


def consumer_name() -> str:
    """One per process: each gunicorn worker process is a consumer of its own."""
    return f"{socket.gethostname()}-{os.getpid()}"


class MailWorker(BackgroundThread):
    def __init__(
        self,
        queue: MailQueue,
        deliveries: DeliveryLog,
        templates: MailTemplates,
        sender: SmtpSender,
        mail_from: str,
        max_attempts: int,
        reclaim_idle_ms: int,
        backoff: Backoff = Backoff(),
    ):
        self.queue = queue
        self.deliveries = deliveries
        self.templates = templates
        self.sender = sender
        self.mail_from = mail_from
        self.max_attempts = max_attempts
        self.reclaim_idle_ms = reclaim_idle_ms
        self.backoff = backoff
        super().__init__("mail-worker")
        # Jobs this worker holds and will look at again: entry id -> (monotonic time due, entry).
        self._waiting: dict[str, tuple[float, Entry]] = {}
        self._group_ready = False
        start_counting(templates.kinds)

    @classmethod
    def from_config(
        cls,
        config: Config,
        pool: psycopg_pool.ConnectionPool,
        client: redis.Redis,
        consumer: str | None = None,
        backoff: Backoff = Backoff(),
    ) -> "MailWorker":
        return cls(
            queue=MailQueue(client, config.mail_stream, consumer or consumer_name()),
            deliveries=DeliveryLog(pool),
            templates=MailTemplates(),
            sender=SmtpSender(SmtpEndpoint.parse(config.smtp_url)),
            mail_from=config.mail_from,
            max_attempts=config.mail_max_attempts,
            reclaim_idle_ms=config.mail_reclaim_idle_ms,
            backoff=backoff,
        )

    def request_stop(self) -> None:
        """Stop after the job in hand, without waiting for it."""
        self._stopping.set()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Let the job in hand finish (sent and acked, or left pending), then return."""
        self.request_stop()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the mail worker did not stop in time; its job stays pending for another to reclaim")

    def run(self) -> None:
        log.info("mail worker started", extra={"fields": {"consumer": self.queue.consumer}})
        errors_in_a_row = 0
        while not self._stopping.is_set():
            try:
                self._step()
                errors_in_a_row = 0
            except (redis.RedisError, psycopg.Error) as error:
                errors_in_a_row += 1
                self._group_ready = False  # the stream may be gone with Redis' data
                log.warning("mail worker: Redis or PostgreSQL failed: %s", error)
                self._stopping.wait(min(0.5 * 2**errors_in_a_row, 10))
            except Exception:  # a bug must not end delivery; the job in hand stays pending
                errors_in_a_row += 1
                log.exception("mail worker failed")
                self._stopping.wait(min(0.5 * 2**errors_in_a_row, 10))
        try:
            self.queue.leave()
        except redis.RedisError as error:
            log.warning("mail worker could not leave the consumer group: %s", error)
        log.info("mail worker stopped", extra={"fields": {"consumer": self.queue.consumer}})

    def _step(self) -> None:
        if not self._group_ready:
            self.queue.create_group()
            self._group_ready = True
        # Jobs already held come before new ones, so that retries are not starved.
        entry = (
            self._take_due() or self.queue.reclaim(self.reclaim_idle_ms) or self.queue.read_new(self._read_block_ms())
        )
        if entry:
            self._handle(entry)

    def _take_due(self) -> Entry | None:
        if not self._waiting:
            return None
        entry_id, (due, entry) = min(self._waiting.items(), key=lambda item: item[1][0])
        if due > time.monotonic():
            return None
        del self._waiting[entry_id]
        return entry

    def _read_block_ms(self) -> int:
        if not self._waiting:
            return READ_BLOCK_MS
        until_due = min(due for due, _ in self._waiting.values()) - time.monotonic()
        return max(1, min(READ_BLOCK_MS, int(until_due * 1000)))

    def _wait(self, entry: Entry, seconds: float) -> None:
        self._waiting[entry.id] = (time.monotonic() + seconds, entry)

    def _handle(self, entry: Entry) -> None:
        self._waiting.pop(entry.id, None)
        try:
            job = parse_job(entry.fields)
            mail = self.templates.render(job)
        except MalformedJob as error:
            kind, recipient = claimed_labels(entry.fields)
            self.deliveries.record_malformed(entry.id, kind, recipient, str(error))
            self.queue.dead_letter(entry, str(error))
            MAILS_DEAD.labels(kind if kind in self.templates.kinds else UNKNOWN_KIND).inc()
            log.warning(
                "malformed mail job moved to the dead-letter stream",
                extra={"fields": {"entry_id": entry.id, "kind": kind, "error": str(error)}},
            )
            return
        claim = self.deliveries.claim(job, self.max_attempts, abandoned_after=self.reclaim_idle_ms / 1000)
        fields = {"entry_id": entry.id, "job_id": job.id, "kind": job.kind, "attempt": claim.attempt}
        if claim.outcome is Outcome.SEND:
            self._attempt(entry, job, mail, claim.attempt, fields)
        elif claim.outcome is Outcome.SENT:
            self.queue.ack(entry.id)
            log.info("mail job was delivered before; acknowledged", extra={"fields": fields})
        elif claim.outcome is Outcome.DEAD:
            self.queue.dead_letter(entry, claim.error)
            MAILS_DEAD.labels(job.kind).inc()
            log.error("mail job given up on", extra={"fields": {**fields, "error": claim.error}})
        else:
            self._wait(entry, claim.retry_in)
            log.info("mail job is being attempted by another worker", extra={"fields": fields})

    def _attempt(self, entry: Entry, job: MailJob, mail: RenderedMail, attempt: int, fields: dict[str, object]) -> None:
        try:
            self.sender.send(compose(job, mail, self.mail_from))
        except (smtplib.SMTPException, OSError) as error:
            reason = f"{type(error).__name__}: {error}"
            dead = is_permanent(error) or attempt >= self.max_attempts
            self.deliveries.record_failure(job.id, attempt, reason, dead=dead)
            MAILS_FAILED.labels(job.kind).inc()
            if dead:
                self.queue.dead_letter(entry, reason)
                MAILS_DEAD.labels(job.kind).inc()
                log.error("mail job given up on", extra={"fields": {**fields, "error": reason}})
            else:
                delay = self.backoff.delay(attempt)
                self._wait(entry, delay)
                log.warning(
                    "mail not sent; will try again", extra={"fields": {**fields, "error": reason, "retry_in": delay}}
                )
            return
        # Recorded before the ack: if this worker dies in between, whoever
        # reclaims the job finds it sent and only acknowledges it.
        self.deliveries.record_sent(job.id)
        MAILS_SENT.labels(job.kind).inc()
        self.queue.ack(entry.id)
        log.info("mail sent", extra={"fields": fields})
