"""The schema holds what the mailer relies on, whatever its code does."""

import pytest

from cotoami_testing.fixtures import violates

NEW_DELIVERY = (
    "INSERT INTO deliveries (job_id, kind, recipient, status, attempts, last_error, sent_at)"
    " VALUES (%s, 'signin', 'ann@example.com', %s, %s, %s, %s)"
)


def test_each_status_that_means_something_is_accepted(db):
    db.execute(NEW_DELIVERY, ("1-0", "sent", 1, None, "2025-01-01T00:00:00Z"))
    db.execute(NEW_DELIVERY, ("2-0", "failed", 2, "timed out", None))
    db.execute(NEW_DELIVERY, ("3-0", "dead", 5, "mailbox unavailable", None))


@pytest.mark.parametrize("status", ["queued", "SENT", ""])
def test_an_unknown_status_is_refused(db, status):
    violates(db, "deliveries_status_known", NEW_DELIVERY, ("1-0", status, 1, "x", None))


def test_a_job_is_logged_once(db):
    db.execute(NEW_DELIVERY, ("1-0", "failed", 1, "timed out", None))
    violates(db, "deliveries_pkey", NEW_DELIVERY, ("1-0", "sent", 1, None, "2025-01-01T00:00:00Z"))


def test_sent_at_is_set_exactly_when_sent(db):
    violates(db, "deliveries_sent_at_iff_sent", NEW_DELIVERY, ("1-0", "sent", 1, None, None))
    violates(db, "deliveries_sent_at_iff_sent", NEW_DELIVERY, ("1-0", "failed", 1, "x", "2025-01-01T00:00:00Z"))


def test_a_failure_says_why_and_attempts_count_from_one(db):
    violates(db, "deliveries_failure_has_error", NEW_DELIVERY, ("1-0", "dead", 1, None, None))
    violates(db, "deliveries_attempts_positive", NEW_DELIVERY, ("1-0", "failed", 0, "x", None))


def test_an_attempt_under_way_records_when_it_started(db):
    started = (
        "INSERT INTO deliveries (job_id, kind, recipient, status, attempts, attempt_started_at)"
        " VALUES (%s, 'signin', 'ann@example.com', 'sending', 1, %s)"
    )
    db.execute(started, ("1-0", "2025-01-01T00:00:00Z"))
    violates(db, "deliveries_sending_has_start", started, ("2-0", None))


def test_the_constraints_replaced_by_0002_are_validated(db):
    unvalidated = db.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'deliveries'::regclass AND NOT convalidated"
    ).fetchall()
    assert unvalidated == []
