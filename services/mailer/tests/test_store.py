"""The delivery log as the arbiter of attempts, and the queue's stream operations."""

import time
import uuid

import pytest

from mailer.jobs import MailJob
from mailer.store import GROUP, Claim, DeliveryLog, MailQueue, Outcome

ABANDONED_AFTER = 30.0


@pytest.fixture
def deliveries(pool) -> DeliveryLog:
    return DeliveryLog(pool)


@pytest.fixture
def job() -> MailJob:
    return MailJob(id=str(uuid.uuid4()), kind="signin", to="ann@example.com", data={})


def row(db, job_id: str):
    return db.execute(
        "SELECT status, attempts, last_error, sent_at IS NOT NULL FROM deliveries WHERE job_id = %s", (job_id,)
    ).fetchone()


def started_ago(db, job_id: str, seconds: float) -> None:
    db.execute(
        "UPDATE deliveries SET attempt_started_at = now() - make_interval(secs => %s) WHERE job_id = %s",
        (seconds, job_id),
    )


def test_the_first_claim_starts_attempt_one(deliveries, job, db):
    assert deliveries.claim(job, 5, ABANDONED_AFTER) == Claim(Outcome.SEND, attempt=1)
    assert row(db, job.id) == ("sending", 1, None, False)


def test_a_job_under_way_elsewhere_is_left_until_its_attempt_would_be_abandoned(deliveries, job, db):
    deliveries.claim(job, 5, ABANDONED_AFTER)
    started_ago(db, job.id, 10)
    busy = deliveries.claim(job, 5, ABANDONED_AFTER)
    assert busy.outcome is Outcome.BUSY and 19 < busy.retry_in <= 20
    assert row(db, job.id) == ("sending", 1, None, False)


def test_an_abandoned_attempt_is_taken_over_as_the_next_attempt(deliveries, job, db):
    deliveries.claim(job, 5, ABANDONED_AFTER)
    started_ago(db, job.id, ABANDONED_AFTER + 1)
    assert deliveries.claim(job, 5, ABANDONED_AFTER) == Claim(Outcome.SEND, attempt=2)


def test_an_abandoned_last_attempt_gives_up(deliveries, job, db):
    deliveries.claim(job, 1, ABANDONED_AFTER)
    started_ago(db, job.id, ABANDONED_AFTER + 1)
    claim = deliveries.claim(job, 1, ABANDONED_AFTER)
    assert claim.outcome is Outcome.DEAD and "interrupted" in claim.error
    assert row(db, job.id)[:2] == ("dead", 1)


def test_a_failed_attempt_is_followed_by_the_next(deliveries, job, db):
    deliveries.claim(job, 5, ABANDONED_AFTER)
    deliveries.record_failure(job.id, 1, "refused", dead=False)
    assert row(db, job.id) == ("failed", 1, "refused", False)
    assert deliveries.claim(job, 5, ABANDONED_AFTER) == Claim(Outcome.SEND, attempt=2)


def test_sent_and_dead_are_final(deliveries, job, db):
    deliveries.claim(job, 5, ABANDONED_AFTER)
    deliveries.record_sent(job.id)
    assert row(db, job.id) == ("sent", 1, None, True)
    assert deliveries.claim(job, 5, ABANDONED_AFTER).outcome is Outcome.SENT

    other = MailJob(id=str(uuid.uuid4()), kind="signin", to="ann@example.com", data={})
    deliveries.claim(other, 5, ABANDONED_AFTER)
    deliveries.record_failure(other.id, 1, "550 no such user", dead=True)
    assert deliveries.claim(other, 5, ABANDONED_AFTER) == Claim(Outcome.DEAD, attempt=1, error="550 no such user")


def test_the_end_of_an_attempt_taken_over_by_another_changes_nothing(deliveries, job, db):
    deliveries.claim(job, 5, ABANDONED_AFTER)
    started_ago(db, job.id, ABANDONED_AFTER + 1)
    deliveries.claim(job, 5, ABANDONED_AFTER)  # attempt 2, by another consumer
    deliveries.record_failure(job.id, 1, "late news from attempt 1", dead=True)
    assert row(db, job.id) == ("sending", 2, None, False)


def test_a_malformed_job_is_logged_once_under_its_entry_id(deliveries, db):
    deliveries.record_malformed("1-0", "", "", "the job is not JSON")
    deliveries.record_malformed("1-0", "", "", "the job is not JSON")
    assert row(db, "1-0") == ("dead", 1, "the job is not JSON", False)


@pytest.fixture
def queue(redis) -> MailQueue:
    queue = MailQueue(redis, "mail", "me")
    queue.create_group()
    return queue


def test_creating_the_group_again_is_harmless(queue, redis):
    queue.create_group()
    assert [g["name"] for g in redis.xinfo_groups("mail")] == [GROUP]


def test_ack_removes_the_job_from_the_pending_list_and_the_stream(queue, redis):
    redis.xadd("mail", {"job": "{}"})
    entry = queue.read_new(block_ms=100)
    assert redis.xpending("mail", GROUP)["pending"] == 1
    queue.ack(entry.id)
    assert redis.xpending("mail", GROUP)["pending"] == 0 and redis.xlen("mail") == 0


def test_a_dead_letter_keeps_the_job_and_says_why(queue, redis):
    redis.xadd("mail", {"job": "{}"})
    entry = queue.read_new(block_ms=100)
    queue.dead_letter(entry, "the job's id is not a UUID")
    [(_, dead)] = redis.xrange("mail:dead")
    assert dead == {"job": "{}", "error": "the job's id is not a UUID", "entry_id": entry.id, "consumer": "me"}
    assert redis.xpending("mail", GROUP)["pending"] == 0 and redis.xlen("mail") == 0


def test_only_jobs_idle_long_enough_are_reclaimed(queue, redis):
    redis.xadd("mail", {"job": "{}"})
    crashed = MailQueue(redis, "mail", "crashed")
    entry = crashed.read_new(block_ms=100)
    assert queue.reclaim(min_idle_ms=60_000) is None
    time.sleep(0.15)
    assert queue.reclaim(min_idle_ms=100) == entry
    assert {c["name"]: c["pending"] for c in redis.xinfo_consumers("mail", GROUP)} == {"crashed": 0, "me": 1}


def test_a_consumer_leaves_the_group_only_when_it_holds_nothing(queue, redis):
    redis.xadd("mail", {"job": "{}"})
    entry = queue.read_new(block_ms=100)
    queue.leave()
    assert [c["name"] for c in redis.xinfo_consumers("mail", GROUP)] == ["me"]
    queue.ack(entry.id)
    queue.leave()
    assert redis.xinfo_consumers("mail", GROUP) == []
