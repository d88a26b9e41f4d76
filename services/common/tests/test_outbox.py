import json
import threading
import time
from typing import Any

import psycopg
import pytest
import redis as redis_module

from cotoami_common.backing import postgres_pool, redis_client
from cotoami_common.migrate import create_database
from cotoami_common.outbox import RELAY_LOCK_KEY, OutboxLagCollector, OutboxRelay, read_rows, write_event

# As each producing service's migration makes it.
OUTBOX = """
CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    event_id   uuid NOT NULL DEFAULT gen_random_uuid(),
    streams    text[] NOT NULL,
    event      text NOT NULL,
    data       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


@pytest.fixture
def database(empty_database_url):
    create_database(empty_database_url)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute(OUTBOX)
    return empty_database_url


@pytest.fixture
def pool(database):
    pool = postgres_pool(database, max_size=4)
    pool.wait()
    yield pool
    pool.close()


@pytest.fixture
def relays(pool, redis):
    """Makes relays of the test's outbox; stops those started at the end."""
    made: list[OutboxRelay] = []

    def relay(**kwargs) -> OutboxRelay:
        made.append(OutboxRelay(pool, redis, "test", **kwargs))
        return made[-1]

    yield relay
    for relay_made in made:
        relay_made.stop()


def entries(redis, stream: str) -> list[tuple[str, Any]]:
    """(event, data) of each entry of the stream, oldest first."""
    return [(fields["event"], json.loads(fields["data"])) for _, fields in redis.xrange(stream)]


def write(database: str, streams: list[str], event: str, data: object) -> None:
    with psycopg.connect(database) as conn:
        write_event(conn, streams, event, data)


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not within {timeout}s"
        time.sleep(0.05)


def outbox_size(database: str) -> int:
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT count(*) FROM outbox").fetchone()
    assert row is not None
    return int(row[0])


def test_an_event_is_a_row_with_its_streams_sorted_once_each(database):
    write(database, ["events:b", "events:a", "events:b"], "coto", {"id": "1"})
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT streams, event, data FROM outbox").fetchall() == [
            (["events:a", "events:b"], "coto", {"id": "1"})
        ]


def test_a_rolled_back_change_leaves_no_event_and_wakes_nobody(database):
    with psycopg.connect(database, autocommit=True) as listener:
        listener.execute("LISTEN outbox")
        with psycopg.connect(database) as conn:
            write_event(conn, ["events:a"], "coto", {"id": "1"})
            conn.rollback()
        assert list(listener.notifies(timeout=0.5, stop_after=1)) == []
        write(database, ["events:a"], "coto", {"id": "2"})
        assert [n.channel for n in listener.notifies(timeout=5, stop_after=1)] == ["outbox"]
    assert outbox_size(database) == 1


def test_a_relayed_entry_carries_event_data_and_origin_and_the_row_is_gone(database, relays, redis):
    write(database, ["events:a", "events:b"], "coto-updated", {"id": "1", "content": "ü"})
    with psycopg.connect(database) as conn:
        [event_id] = conn.execute("SELECT event_id::text FROM outbox").fetchone() or [None]
    assert relays().relay_once() == 1
    for stream in ("events:a", "events:b"):
        [(_, fields)] = redis.xrange(stream)
        assert fields == {"event": "coto-updated", "data": '{"id": "1", "content": "ü"}', "origin": f"test:{event_id}"}
    assert outbox_size(database) == 0


def test_an_outbox_whose_ids_start_again_is_still_relayed(database, relays, redis):
    # A database restored from a backup, or made anew, draws ids the relay has marked already.
    write(database, ["events:a"], "coto", {"id": "1"})
    assert relays().relay_once() == 1
    with psycopg.connect(database) as conn:
        conn.execute("ALTER SEQUENCE outbox_id_seq RESTART")
    write(database, ["events:a"], "coto", {"id": "2"})
    assert relays().relay_once() == 1
    assert [fields["data"] for _, fields in redis.xrange("events:a")] == ['{"id": "1"}', '{"id": "2"}']


def waiting_on_a_lock(database: str) -> bool:
    with psycopg.connect(database) as conn:
        return bool(
            conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
        )


def test_a_writer_to_a_stream_waits_for_the_one_before_to_commit_so_stream_order_is_commit_order(
    database, relays, redis
):
    done: list[str] = []
    with psycopg.connect(database) as first:
        write_event(first, ["events:s"], "coto", {"n": "first"})

        def second() -> None:
            # Sharing a stream with the first (and another it does not), and taking its id after it.
            write(database, ["events:t", "events:s"], "coto", {"n": "second"})
            done.append("second")

        thread = threading.Thread(target=second)
        thread.start()
        wait_until(lambda: waiting_on_a_lock(database), 10, "the second writer waiting")
        assert done == []
        first.commit()
        done.append("first")
    thread.join(10)
    assert done == ["first", "second"]
    # The relay, however late, appends in id order, which is the commit order.
    relays().relay_all()
    assert [data["n"] for _, data in entries(redis, "events:s")] == ["first", "second"]
    assert [data["n"] for _, data in entries(redis, "events:t")] == ["second"]


def test_writers_to_other_streams_do_not_wait_on_each_other(database):
    with psycopg.connect(database) as first:
        write_event(first, ["events:a"], "coto", {})
        write(database, ["events:b"], "coto", {})  # would hang if it waited for the first
        first.commit()
    assert outbox_size(database) == 2


def test_a_relay_that_died_between_appending_and_deleting_is_not_appended_twice(database, relays, redis):
    for n in range(3):
        write(database, ["events:a", "events:b"], "coto", {"n": n})
    crashed = relays()
    with psycopg.connect(database) as conn:
        rows = read_rows(conn)
    assert crashed.append(rows[:2]) == 4  # appended, never deleted
    assert relays().relay_once() == 3
    for stream in ("events:a", "events:b"):
        assert [data["n"] for _, data in entries(redis, stream)] == [0, 1, 2]
        assert len({fields["origin"] for _, fields in redis.xrange(stream)}) == 3
    assert outbox_size(database) == 0


def test_only_one_relay_works_at_a_time(database, relays, pool, redis):
    write(database, ["events:a"], "coto", {})
    with pool.connection() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (RELAY_LOCK_KEY,))  # another relay at work
        assert relays().relay_once() == 0
    assert redis.exists("events:a") == 0


def test_concurrent_writers_and_two_relays_append_every_event_once_in_each_writers_order(database, relays, redis):
    for relay in (relays(poll_seconds=0.2), relays(poll_seconds=0.2)):
        relay.start()
    writers, each = 6, 10

    def writer(w: int) -> None:
        for n in range(each):
            write(database, ["events:shared", f"events:own:{w}"], "coto", {"w": w, "n": n})

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    wait_until(lambda: redis.xlen("events:shared") >= writers * each and outbox_size(database) == 0, 30, "relayed")
    shared = [data for _, data in entries(redis, "events:shared")]
    assert len(shared) == writers * each
    assert sorted((d["w"], d["n"]) for d in shared) == [(w, n) for w in range(writers) for n in range(each)]
    for w in range(writers):
        assert [d["n"] for d in shared if d["w"] == w] == list(range(each))
        assert [d["n"] for _, d in entries(redis, f"events:own:{w}")] == list(range(each))


def test_a_notification_wakes_the_relay_long_before_its_poll(database, relays, redis):
    relay = relays(poll_seconds=60)
    relay.start()
    time.sleep(0.5)  # let it go to sleep on the empty outbox
    write(database, ["events:a"], "coto", {})
    wait_until(lambda: redis.exists("events:a"), 10, "the event relayed")


def test_the_relay_polls_when_it_hears_nothing(database, relays, redis):
    relays(poll_seconds=0.2).start()
    with psycopg.connect(database) as conn:
        conn.execute("INSERT INTO outbox (streams, event, data) VALUES ('{events:a}', 'coto', '{}')")
    wait_until(lambda: redis.exists("events:a"), 10, "the event relayed")


def test_the_check_fails_once_the_relay_stopped(relays):
    relay = relays(poll_seconds=0.2)
    with pytest.raises(RuntimeError):
        relay.check()
    relay.start()
    relay.check()
    relay.stop()
    with pytest.raises(RuntimeError):
        relay.check()


def test_the_lag_is_the_age_of_the_oldest_row(database, pool):
    collector = OutboxLagCollector(pool)
    [family] = collector.collect()
    assert family.samples[0].value == 0
    with psycopg.connect(database) as conn:
        conn.execute(
            "INSERT INTO outbox (streams, event, data, created_at)"
            " VALUES ('{events:a}', 'coto', '{}', now() - interval '30 seconds')"
        )
    [family] = collector.collect()
    assert family.name == "cotoami_outbox_lag_seconds"
    assert 30 <= family.samples[0].value < 60


def test_while_redis_is_away_the_rows_wait_and_are_relayed_once_it_answers(database, pool, relays, redis):
    write(database, ["events:a"], "coto", {})
    away = redis_client("redis://127.0.0.1:1/0")
    with pytest.raises(redis_module.ConnectionError):
        OutboxRelay(pool, away, "test").relay_once()
    assert outbox_size(database) == 1
    assert relays().relay_once() == 1
    assert redis.xlen("events:a") == 1


def test_the_relay_listens_again_after_losing_its_connection(database, relays, redis):
    relays(poll_seconds=0.5).start()
    with psycopg.connect(database, autocommit=True) as admin:
        wait_until(
            lambda: admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND query = 'LISTEN outbox'"
            ).fetchall(),
            10,
            "the relay listening",
        )
    write(database, ["events:a"], "coto", {})
    wait_until(lambda: redis.exists("events:a"), 10, "the event relayed")
    with psycopg.connect(database) as admin:
        wait_until(
            lambda: admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN outbox'"
            ).fetchone(),
            10,
            "the relay listening again",
        )
