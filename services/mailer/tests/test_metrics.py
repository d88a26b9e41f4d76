"""The mailer's metrics, read through its own /metrics: mails by outcome, and the queue's depth."""

import dataclasses
import json
import uuid

import pytest
from conftest import SIGNIN_DATA, eventually, free_port
from falcon import testing

from cotoami_common.backing import redis_client
from cotoami_common.mail import enqueue_mail
from cotoami_testing.fixtures import sample, scrape
from mailer.app import create_app
from mailer.store import GROUP


@pytest.fixture
def client(make_app) -> testing.TestClient:
    return testing.TestClient(make_app({}))


def mails(client, outcome: str, kind: str = "signin") -> float:
    return sample(client, f"cotoami_mails_{outcome}_total", kind=kind)


def test_every_kind_is_counted_from_zero(client, start_worker):
    start_worker()
    found = scrape(client)
    for outcome in ("sent", "failed", "dead_lettered"):
        for kind in ("signin", "invitation", "unknown"):
            assert (f"cotoami_mails_{outcome}_total", frozenset({"kind": kind}.items())) in found


def test_a_mail_sent_is_counted_by_kind(client, start_worker, maildev, redis):
    before = {outcome: mails(client, outcome) for outcome in ("sent", "failed", "dead_lettered")}
    enqueue_mail(redis, "signin", "ann@example.com", SIGNIN_DATA)
    start_worker()
    maildev.wait_for(1)
    eventually(lambda: mails(client, "sent") == before["sent"] + 1, what="the mail to be counted as sent")
    assert mails(client, "failed") == before["failed"] and mails(client, "dead_lettered") == before["dead_lettered"]


def test_failed_attempts_and_the_mail_given_up_on_are_counted(client, start_worker, redis):
    before = {outcome: mails(client, outcome) for outcome in ("sent", "failed", "dead_lettered")}
    enqueue_mail(redis, "signin", "ann@example.com", SIGNIN_DATA)
    start_worker(SMTP_URL=f"smtp://127.0.0.1:{free_port()}", MAIL_MAX_ATTEMPTS="3")
    eventually(lambda: mails(client, "dead_lettered") == before["dead_lettered"] + 1, what="the mail to be given up on")
    assert mails(client, "failed") == before["failed"] + 3
    assert mails(client, "sent") == before["sent"]


def test_malformed_jobs_are_dead_lettered_under_their_kind_or_unknown(client, start_worker, redis):
    before = {kind: mails(client, "dead_lettered", kind) for kind in ("signin", "unknown")}
    redis.xadd("mail", {"job": json.dumps({"id": str(uuid.uuid4()), "kind": "signin", "data": SIGNIN_DATA})})
    redis.xadd(
        "mail", {"job": json.dumps({"id": str(uuid.uuid4()), "kind": "newsletter", "to": "a@example.com", "data": {}})}
    )
    redis.xadd("mail", {"job": "{not json"})
    start_worker()
    eventually(
        lambda: mails(client, "dead_lettered", "unknown") == before["unknown"] + 2, what="two unknown dead letters"
    )
    assert mails(client, "dead_lettered", "signin") == before["signin"] + 1
    assert "newsletter" not in client.simulate_get("/metrics").text


def queue(client) -> tuple[float | None, ...]:
    found = scrape(client)
    return tuple(
        found.get((name, frozenset()), None)
        for name in ("cotoami_mail_queue_depth", "cotoami_mail_queue_pending", "cotoami_mail_dead_letters")
    )


def test_the_queue_depth_is_what_waits_in_the_stream(client, redis):
    assert queue(client) == (0, 0, 0), "no stream yet: an empty queue"
    for n in range(3):
        enqueue_mail(redis, "signin", f"user{n}@example.com", SIGNIN_DATA)
    assert queue(client) == (3, 0, 0)
    # A mailer takes one and has not settled it yet: still in the queue, and pending.
    redis.xgroup_create("mail", GROUP, id="0")
    [(_, [(entry_id, _)])] = redis.xreadgroup(GROUP, "someone", {"mail": ">"}, count=1)
    assert queue(client) == (3, 1, 0)
    # Settled (acked and deleted, as the mailer does), one of them into the dead-letter stream.
    redis.xadd("mail:dead", {"job": "{}", "error": "given up"})
    redis.xack("mail", GROUP, entry_id)
    redis.xdel("mail", entry_id)
    assert queue(client) == (2, 0, 1)


def test_the_queue_depth_drains_as_the_worker_delivers(client, start_worker, maildev, redis):
    for n in range(4):
        enqueue_mail(redis, "signin", f"user{n}@example.com", SIGNIN_DATA)
    assert queue(client)[0] == 4
    start_worker()
    maildev.wait_for(4)
    eventually(lambda: queue(client) == (0, 0, 0), what="the queue to drain")


def test_metrics_answer_without_the_queue_when_redis_does_not(config_for, deps):
    dead = redis_client("redis://127.0.0.1:1/0")
    try:
        result = testing.TestClient(create_app(config_for(), dataclasses.replace(deps, redis=dead))).simulate_get(
            "/metrics"
        )
    finally:
        dead.close()
    assert result.status_code == 200
    assert "cotoami_http_requests_total" in result.text
    assert "cotoami_mail_queue_depth" not in result.text
