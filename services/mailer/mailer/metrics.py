"""The mailer's metrics: what became of each mail, by kind, and how long the
queue is (computed from Redis at each scrape of /metrics)."""

import logging
from collections.abc import Iterable

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from cotoami_common.metrics import counter
from mailer.store import GROUP

log = logging.getLogger(__name__)

# A malformed job may claim any kind; only kinds with templates become labels.
UNKNOWN_KIND = "unknown"

MAILS_SENT = counter(
    "cotoami_mails_sent_total",
    "Mails the SMTP server accepted, by kind.",
    ["kind"],
)
MAILS_FAILED = counter(
    "cotoami_mails_failed_total",
    "Delivery attempts that failed, by kind (each is tried again, or given up on and dead-lettered).",
    ["kind"],
)
MAILS_DEAD = counter(
    "cotoami_mails_dead_lettered_total",
    "Mail jobs given up on and moved to the dead-letter stream, by kind (`unknown` for a malformed job's).",
    ["kind"],
)

METRICS = (MAILS_SENT, MAILS_FAILED, MAILS_DEAD)


def start_counting(kinds: Iterable[str]) -> None:
    """Every kind's series exist from the start, at 0."""
    for kind in (*kinds, UNKNOWN_KIND):
        for metric in METRICS:
            metric.labels(kind)


class MailQueueCollector(Collector):
    """The queue as Redis holds it at each scrape. The mailer deletes a job
    from the stream when it settles it (sent or dead-lettered), so the stream's
    length is what is waiting: jobs no mailer has taken yet plus the pending
    ones (taken, not yet settled: in an attempt or waiting for a retry).
    Every mailer pod reports the same numbers: take their max, not their sum."""

    DEPTH = "cotoami_mail_queue_depth"
    PENDING = "cotoami_mail_queue_pending"
    DEAD = "cotoami_mail_dead_letters"

    def __init__(self, client: redis.Redis, stream: str):
        self.client = client
        self.stream = stream

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                self.DEPTH,
                f"Mail jobs not yet settled: the length of the `{self.stream}` stream "
                "(pending plus not yet delivered to a mailer).",
            ),
            GaugeMetricFamily(
                self.PENDING,
                "Mail jobs a mailer has taken and not yet settled (in an attempt or waiting to be tried again).",
            ),
            GaugeMetricFamily(self.DEAD, f"Mail jobs in the dead-letter stream `{self.stream}:dead`."),
        )

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> list[Metric]:
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.xlen(self.stream)
                pipe.xlen(f"{self.stream}:dead")
                depth, dead = pipe.execute()
            pending = self._pending()
        except redis.RedisError as error:
            # No numbers rather than wrong ones; the scrape itself still succeeds.
            log.warning("mail queue depth unavailable: %s", error)
            return []
        families = self._families()
        for family, value in zip(families, (depth, pending, dead), strict=True):
            family.add_metric([], value)
        return list(families)

    def _pending(self) -> int:
        try:
            groups = self.client.xinfo_groups(self.stream)
        except redis.ResponseError:
            return 0  # no stream yet: nothing pending
        return sum(group["pending"] for group in groups if group["name"] == GROUP)
