"""The delivery worker against real Redis, PostgreSQL and SMTP (maildev)."""

import json
import time
import uuid

import pytest
import redis as redis_lib
from conftest import SIGNIN_DATA, eventually, free_port

from cotoami_common.mail import enqueue_mail
from mailer.store import GROUP, MailQueue


def signin_job(client, to: str = "ann@example.com", **data) -> str:
    return enqueue_mail(client, "signin", to, {**SIGNIN_DATA, **data})


def pending(client: redis_lib.Redis) -> int:
    try:
        count = client.xpending("mail", GROUP)["pending"]
    except redis_lib.ResponseError:  # no group yet
        return 0
    assert isinstance(count, int)
    return count


def settled(client) -> bool:
    """Every job acknowledged and deleted: nothing left in the stream or pending."""
    return client.xlen("mail") == 0 and pending(client) == 0


def delivery(db, job_id: str):
    return db.execute(
        "SELECT status, attempts, last_error, sent_at IS NOT NULL FROM deliveries WHERE job_id = %s", (job_id,)
    ).fetchone()


def consumers(client) -> dict[str, int]:
    """Each consumer of the group and how many jobs it holds."""
    return {c["name"]: c["pending"] for c in client.xinfo_consumers("mail", GROUP)}


def test_a_signin_job_is_delivered_as_text_and_html(start_worker, maildev, redis, db):
    job_id = signin_job(redis)  # before any mailer ran: the group must start from the stream's beginning
    start_worker()

    [mail] = maildev.wait_for(1)
    assert mail["subject"] == "Sign in to Cotoami"
    assert [to["address"] for to in mail["to"]] == ["ann@example.com"]
    assert mail["from"] == [{"address": "no-reply@cotoami.local", "name": "Cotoami"}]
    assert mail["messageId"] == f"{job_id}@cotoami.local"
    assert mail["headers"]["auto-submitted"] == "auto-generated"
    for part in (mail["text"], mail["html"]):
        assert SIGNIN_DATA["link"] in part
        assert "ann@example.com" in part
        assert "15:04 UTC on 26 November 2026" in part and "203.0.113.9" in part
        assert "works once" in part and "expires 10 minutes after it" in part
        assert "15:14 UTC on 26 November 2026" in part
        assert "If this was not you, ignore this mail." in part
    assert f'href="{SIGNIN_DATA["link"]}"' in mail["html"]
    eventually(lambda: settled(redis), what="the job to be acknowledged and deleted")
    assert delivery(db, job_id) == ("sent", 1, None, True)


def test_data_is_escaped_in_the_html_part_and_kept_as_written_in_the_text(start_worker, maildev, redis):
    name = '<script>alert("x")</script> & co'
    enqueue_mail(
        redis,
        "invitation",
        "bob@example.com",
        {
            "link": "http://127.0.0.1:8000/cotonomas/k1?from=mail&x=1",
            "cotonoma_name": name,
            "inviter_name": "Ann <ann>",
            "inviter_email": "ann@example.com",
        },
    )
    start_worker()

    [mail] = maildev.wait_for(1)
    assert name in mail["text"] and "Ann <ann>" in mail["text"]
    assert "<script>" not in mail["html"] and "<ann>" not in mail["html"]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in mail["html"]
    assert 'href="http://127.0.0.1:8000/cotonomas/k1?from=mail&amp;x=1"' in mail["html"]


def test_while_smtp_is_down_the_job_stays_pending_and_is_retried_until_smtp_is_back(
    start_worker, maildev_factory, redis, db
):
    port = free_port()  # nothing listens there yet
    job_id = signin_job(redis)
    start_worker(SMTP_URL=f"smtp://127.0.0.1:{port}", MAIL_MAX_ATTEMPTS="100")

    eventually(lambda: (row := delivery(db, job_id)) and row[0] == "failed" and row[1] >= 2, what="two failed attempts")
    assert redis.xlen("mail") == 1 and pending(redis) == 1, "not acknowledged while undelivered"
    assert "ConnectionRefusedError" in delivery(db, job_id)[2]
    assert redis.xlen("mail:dead") == 0

    back = maildev_factory(smtp_port=port)
    [mail] = back.wait_for(1)
    assert mail["messageId"] == f"{job_id}@cotoami.local"
    eventually(lambda: settled(redis), what="the job to be acknowledged")
    status, attempts, _, sent = delivery(db, job_id)
    assert status == "sent" and sent and attempts >= 3


def test_after_max_attempts_the_job_goes_to_the_dead_letter_stream(start_worker, redis, db):
    job_id = signin_job(redis)
    start_worker(SMTP_URL=f"smtp://127.0.0.1:{free_port()}", MAIL_MAX_ATTEMPTS="3")

    [(_, dead)] = eventually(lambda: redis.xrange("mail:dead"), what="a dead letter")
    assert json.loads(dead["job"])["id"] == job_id
    assert "ConnectionRefusedError" in dead["error"] and dead["consumer"] == "test-worker"
    assert settled(redis)
    status, attempts, last_error, sent = delivery(db, job_id)
    assert (status, attempts, sent) == ("dead", 3, False) and "ConnectionRefusedError" in last_error


MALFORMED = {
    "not JSON": "{'id': 1",
    "not an object": "[1, 2]",
    "no recipient": json.dumps({"id": str(uuid.uuid4()), "kind": "signin", "data": SIGNIN_DATA}),
    "bad id": json.dumps({"id": "42", "kind": "signin", "to": "ann@example.com", "data": SIGNIN_DATA}),
    "unknown kind": json.dumps({"id": str(uuid.uuid4()), "kind": "newsletter", "to": "ann@example.com", "data": {}}),
    "invalid recipient": json.dumps(
        {"id": str(uuid.uuid4()), "kind": "signin", "to": "ann@ex ample.com", "data": SIGNIN_DATA}
    ),
    "header injection": json.dumps(
        {
            "id": str(uuid.uuid4()),
            "kind": "signin",
            "to": "ann@example.com\r\nBcc: eve@example.com",
            "data": SIGNIN_DATA,
        }
    ),
    "missing data": json.dumps(
        {
            "id": str(uuid.uuid4()),
            "kind": "signin",
            "to": "ann@example.com",
            "data": {k: v for k, v in SIGNIN_DATA.items() if k != "link"},
        }
    ),
    "unusable data": json.dumps(
        {
            "id": str(uuid.uuid4()),
            "kind": "signin",
            "to": "ann@example.com",
            "data": {**SIGNIN_DATA, "link": "javascript:alert(1)"},
        }
    ),
}


def test_malformed_jobs_go_to_the_dead_letter_stream_and_the_next_job_is_delivered(start_worker, maildev, redis, db):
    entry_ids = {why: redis.xadd("mail", {"job": raw}) for why, raw in MALFORMED.items()}
    entry_ids["no job field"] = redis.xadd("mail", {"other": "x"})
    good = signin_job(redis, to="good@example.com")
    start_worker()

    [mail] = maildev.wait_for(1)
    assert [to["address"] for to in mail["to"]] == ["good@example.com"]
    eventually(lambda: settled(redis), what="every job to be settled")
    dead = {fields["entry_id"]: fields for _, fields in redis.xrange("mail:dead")}
    assert set(dead) == set(entry_ids.values())
    for why, entry_id in entry_ids.items():
        assert dead[entry_id]["error"], why
        assert delivery(db, entry_id)[0] == "dead", why
    assert dead[entry_ids["missing data"]]["error"].endswith("'link' is undefined")
    assert "javascript" not in dead[entry_ids["unusable data"]]["error"], "errors never quote the data"
    assert delivery(db, good)[0] == "sent"


def test_a_job_held_by_a_consumer_that_died_is_reclaimed_after_the_idle_time(start_worker, maildev, redis, db):
    crashed = MailQueue(redis, "mail", "crashed-consumer")
    crashed.create_group()
    job_id = signin_job(redis)
    entry = crashed.read_new(block_ms=100)
    assert entry is not None and entry.id  # read, and never acknowledged
    read_at = time.monotonic()

    start_worker(MAIL_RECLAIM_IDLE_MS="300")
    [mail] = maildev.wait_for(1)
    assert time.monotonic() - read_at >= 0.3
    assert mail["messageId"] == f"{job_id}@cotoami.local"
    eventually(lambda: settled(redis), what="the reclaimed job to be acknowledged")
    assert delivery(db, job_id) == ("sent", 1, None, True)


def test_an_attempt_left_unfinished_is_taken_over_once_it_is_older_than_the_idle_time(start_worker, maildev, redis, db):
    job_id = signin_job(redis)
    # Another worker began an attempt and then (as it turns out) died.
    db.execute(
        "INSERT INTO deliveries (job_id, kind, recipient, status, attempts, attempt_started_at)"
        " VALUES (%s, 'signin', 'ann@example.com', 'sending', 1, now())",
        (job_id,),
    )
    begun_at = time.monotonic()

    start_worker(MAIL_RECLAIM_IDLE_MS="400")
    maildev.wait_for(1)
    assert time.monotonic() - begun_at >= 0.4, "not while the other attempt might still succeed"
    eventually(lambda: settled(redis), what="the job to be acknowledged")
    assert delivery(db, job_id) == ("sent", 2, None, True)


def test_a_job_already_sent_is_acknowledged_without_a_second_mail(start_worker, maildev, redis, db):
    job_id = signin_job(redis)
    # As if a mailer died after the SMTP server accepted the mail, before acknowledging it.
    db.execute(
        "INSERT INTO deliveries (job_id, kind, recipient, status, attempts, sent_at)"
        " VALUES (%s, 'signin', 'ann@example.com', 'sent', 1, now())",
        (job_id,),
    )
    later = signin_job(redis, to="later@example.com")
    start_worker()

    [mail] = maildev.wait_for(1)
    eventually(lambda: settled(redis), what="both jobs to be settled")
    assert mail["messageId"] == f"{later}@cotoami.local"
    assert len(maildev.emails()) == 1


def test_two_workers_deliver_each_job_of_a_burst_exactly_once(start_worker, maildev, redis, db):
    start_worker(consumer="worker-a")
    start_worker(consumer="worker-b")
    with redis.pipeline(transaction=False) as burst:
        for n in range(30):
            enqueue_mail(burst, "signin", f"amishi{n}@example.com", SIGNIN_DATA)
        burst.execute()

    maildev.wait_for(30)
    eventually(lambda: settled(redis), what="the burst to be acknowledged")
    # Anything sent twice was sent before the last acknowledgement; one more
    # mail, waited for, lets maildev show it.
    last = signin_job(redis, to="last@example.com")
    mails = maildev.wait_for(31)
    eventually(lambda: settled(redis), what="the last job to be acknowledged")
    recipients = sorted(mail["to"][0]["address"] for mail in mails)
    assert recipients == sorted([f"amishi{n}@example.com" for n in range(30)] + ["last@example.com"])
    assert len({mail["messageId"] for mail in mails}) == 31
    assert db.execute("SELECT count(*), max(attempts) FROM deliveries WHERE status = 'sent'").fetchone() == (31, 1)
    assert delivery(db, last)[0] == "sent"


def test_the_worker_stops_promptly_and_leaves_the_group(start_worker, maildev, redis):
    worker = start_worker(consumer="leaving")
    signin_job(redis)
    maildev.wait_for(1)
    eventually(lambda: settled(redis), what="the job to be acknowledged")
    assert consumers(redis) == {"leaving": 0}

    started = time.monotonic()
    worker.stop()
    assert time.monotonic() - started < 1.5
    with pytest.raises(RuntimeError):
        worker.check()
    assert "leaving" not in consumers(redis)


def test_a_worker_stopped_while_a_job_waits_for_a_retry_leaves_it_pending(start_worker, redis, db):
    job_id = signin_job(redis)
    worker = start_worker(consumer="stopping", SMTP_URL=f"smtp://127.0.0.1:{free_port()}", MAIL_MAX_ATTEMPTS="100")
    eventually(lambda: (row := delivery(db, job_id)) and row[0] == "failed", what="a failed attempt")

    worker.stop()
    assert consumers(redis) == {"stopping": 1}, "held for another worker to reclaim"
    assert redis.xlen("mail") == 1 and redis.xlen("mail:dead") == 0
    assert delivery(db, job_id)[0] == "failed"
