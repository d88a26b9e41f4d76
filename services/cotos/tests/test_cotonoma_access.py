"""CotonomaAccess: asking cotonomas who may enter a cotonoma, remembering the
answer for at most 2 seconds, and failing closed."""

import threading
import time

import pytest
from conftest import ACCESS_TIMEOUT_SECONDS

from cotoami_common.cotonoma_access import CotonomaAccess
from cotoami_common.internal import InternalClient, ServiceUnavailable
from cotoami_testing.fixtures import INTERNAL_TOKEN, new_amishi

KEY = "room-key-0001"


@pytest.fixture
def owner():
    return new_amishi("owner@example.com")


@pytest.fixture
def member():
    return new_amishi("member@example.com")


@pytest.fixture
def room(cotonomas_double, owner, member):
    cotonomas_double.add(KEY, "Room", owner, member)
    return KEY


def test_an_allowed_amishi_gets_the_cotonoma_asked_with_the_service_credential(
    cotonoma_access, cotonomas_double, room, member
):
    shouting = new_amishi("MEMBER@Example.com")
    assert cotonoma_access.cotonoma(room, shouting) == {
        "key": room,
        "name": "Room",
        "owner_id": cotonomas_double.cotonomas[room]["owner_id"],
    }
    [asked] = cotonomas_double.asked
    assert asked["key"] == room
    assert asked["query"] == {"amishi_id": shouting.id, "email": "member@example.com"}, "matched by lower-cased address"
    assert asked["headers"]["Authorization"] == f"Bearer {INTERNAL_TOKEN}"
    assert len(asked["headers"]["X-Request-ID"]) == 32


def test_an_outsider_and_an_unknown_cotonoma_are_none(cotonoma_access, room):
    assert cotonoma_access.cotonoma(room, new_amishi("outsider@example.com")) is None
    assert cotonoma_access.cotonoma("no-such-room", new_amishi("owner@example.com")) is None


def test_a_revoked_member_loses_access_within_two_seconds(cotonoma_access, cotonomas_double, clock, room, member):
    assert cotonoma_access.cotonoma(room, member) is not None
    cotonomas_double.revoke(room, member)
    clock.advance(1.9)
    assert cotonoma_access.cotonoma(room, member) is not None, "remembered meanwhile"
    assert len(cotonomas_double.asked) == 1
    clock.advance(0.1)
    assert cotonoma_access.cotonoma(room, member) is None
    assert len(cotonomas_double.asked) == 2


def test_denials_are_remembered_too(cotonoma_access, cotonomas_double, clock, room):
    newcomer = new_amishi("newcomer@example.com")
    assert cotonoma_access.cotonoma(room, newcomer) is None
    cotonomas_double.allow(room, newcomer)
    clock.advance(1.9)
    assert cotonoma_access.cotonoma(room, newcomer) is None
    assert len(cotonomas_double.asked) == 1, "a denial spares cotonomas as much as an allowance"
    clock.advance(0.1)
    assert cotonoma_access.cotonoma(room, newcomer) is not None


def test_decisions_are_per_cotonoma_and_amishi(cotonoma_access, cotonomas_double, owner, member):
    cotonomas_double.add("room-key-0002", "Other", owner)
    cotonomas_double.add(KEY, "Room", owner, member)
    assert cotonoma_access.cotonoma(KEY, member) is not None
    assert cotonoma_access.cotonoma("room-key-0002", member) is None
    assert cotonoma_access.cotonoma(KEY, owner) is not None
    assert len(cotonomas_double.asked) == 3


def test_the_time_to_live_counts_from_before_the_question(cotonoma_access, cotonomas_double, clock, room, member):
    # cotonomas took 1.5 s to answer: its decision is 1.5 s old on arrival.
    cotonomas_double.before_answer = lambda: clock.advance(1.5)
    cotonoma_access.cotonoma(room, member)
    cotonomas_double.before_answer = lambda: None
    clock.advance(0.5)
    cotonoma_access.cotonoma(room, member)
    assert len(cotonomas_double.asked) == 2


def test_the_defaults_keep_decisions_at_most_two_seconds_and_wait_about_two():
    access = CotonomaAccess.asking("http://127.0.0.1:8003", INTERNAL_TOKEN)
    assert access.ttl_seconds <= 2 and access.cotonomas.timeout_seconds == 2


@pytest.mark.parametrize(
    "key",
    ["", "short", "a" * 65, "has space9", "../../admin", "key/with/slash", "dot.ted.key", "ünïcödé-key", "key%2F..%2F"],
)
def test_a_malformed_key_is_none_without_asking(cotonoma_access, cotonomas_double, member, key):
    assert cotonoma_access.cotonoma(key, member) is None
    assert cotonomas_double.asked == []


ODD_ANSWERS = [
    ("a server error", 500, b'{"title": "boom"}'),
    ("unavailable", 503, b'{"title": "later"}'),
    ("no credential accepted", 401, b'{"title": "Unauthorized"}'),
    ("forbidden", 403, b'{"title": "Forbidden"}'),
    ("a redirect", 302, b""),
    ("no content", 204, b""),
    ("not JSON", 200, b"<html>hello</html>"),
    ("a JSON list", 200, b'["room-key-0001"]'),
    ("no name", 200, b'{"key": "room-key-0001", "owner_id": "x"}'),
    ("another key", 200, b'{"key": "room-key-0002", "name": "Other", "owner_id": "x"}'),
    ("a name not a string", 200, b'{"key": "room-key-0001", "name": 7, "owner_id": "x"}'),
]


@pytest.mark.parametrize("status,body", [case[1:] for case in ODD_ANSWERS], ids=[case[0] for case in ODD_ANSWERS])
def test_an_odd_answer_fails_closed_and_is_not_remembered(
    cotonoma_access, cotonomas_double, room, member, status, body
):
    cotonomas_double.answer, cotonomas_double.body = status, body
    with pytest.raises(ServiceUnavailable):
        cotonoma_access.cotonoma(room, member)
    cotonomas_double.answer = None
    assert cotonoma_access.cotonoma(room, member) is not None, "asked again at once"


def test_a_cotonomas_that_is_down_fails_closed(closed_port_url, member):
    with pytest.raises(ServiceUnavailable, match="cannot be reached"):
        CotonomaAccess.asking(closed_port_url, INTERNAL_TOKEN).cotonoma(KEY, member)


def test_a_slow_cotonomas_fails_closed_after_the_timeout(cotonoma_access, cotonomas_double, room, member):
    cotonomas_double.delay = 1.0
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable):
        cotonoma_access.cotonoma(room, member)
    assert time.monotonic() - started < ACCESS_TIMEOUT_SECONDS + 0.5


def test_the_cache_is_bounded_keeping_the_latest(cotonomas_double, clock, owner):
    cotonomas_double.add(KEY, "Room", owner)
    access = CotonomaAccess(
        InternalClient("cotonomas", cotonomas_double.url, INTERNAL_TOKEN, 2.0), max_entries=3, clock=clock
    )
    readers = [new_amishi(f"reader{n}@example.com") for n in range(5)]
    for reader in readers:
        access.cotonoma(KEY, reader)
    assert len(access) == 3
    access.cotonoma(KEY, readers[-1])
    assert len(cotonomas_double.asked) == 5, "the latest is still remembered"
    access.cotonoma(KEY, readers[0])
    assert len(cotonomas_double.asked) == 6, "the oldest was let go"


def test_expired_decisions_are_let_go(cotonoma_access, cotonomas_double, clock, owner):
    cotonomas_double.add(KEY, "Room", owner)
    for n in range(10):
        cotonoma_access.cotonoma(KEY, new_amishi(f"reader{n}@example.com"))
    clock.advance(2)
    cotonoma_access.cotonoma(KEY, owner)
    assert len(cotonoma_access) == 1


def test_many_threads_share_the_cache_safely(cotonomas_double, clock, owner):
    cotonomas_double.add(KEY, "Room", owner)
    access = CotonomaAccess(
        InternalClient("cotonomas", cotonomas_double.url, INTERNAL_TOKEN, 2.0), max_entries=5, clock=clock
    )
    readers = [owner, *(new_amishi(f"reader{n}@example.com") for n in range(7))]
    results, errors = [], []

    def read(reader):
        try:
            for _ in range(5):
                results.append((reader.id, access.cotonoma(KEY, reader) is not None))
        except Exception as error:  # any at all would be a failure of the test
            errors.append(error)

    threads = [threading.Thread(target=read, args=(reader,)) for reader in readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 40
    assert {allowed for reader_id, allowed in results if reader_id == owner.id} == {True}
    assert {allowed for reader_id, allowed in results if reader_id != owner.id} == {False}
    assert len(access) <= 5


# The keys one may reach (for search)


def test_reachable_is_every_cotonoma_one_may_enter_asked_with_the_service_credential(
    cotonoma_access, cotonomas_double, room, owner, member
):
    cotonomas_double.add("other-room-0002", "Other", owner)
    assert cotonoma_access.reachable(new_amishi("MEMBER@Example.com")) == [room]
    [asked] = cotonomas_double.asked
    assert asked["query"]["email"] == "member@example.com", "matched by lower-cased address"
    assert asked["headers"]["Authorization"] == f"Bearer {INTERNAL_TOKEN}"
    assert cotonoma_access.reachable(owner) == sorted([room, "other-room-0002"])
    assert cotonoma_access.reachable(new_amishi("outsider@example.com")) == []


def test_reachable_is_remembered_at_most_two_seconds(cotonoma_access, cotonomas_double, clock, room, member):
    assert cotonoma_access.reachable(member) == [room]
    cotonomas_double.revoke(room, member)
    clock.advance(1.9)
    assert cotonoma_access.reachable(member) == [room], "remembered meanwhile"
    clock.advance(0.1)
    assert cotonoma_access.reachable(member) == []
    assert len(cotonomas_double.asked) == 2


@pytest.mark.parametrize(
    "status,body",
    [
        (500, b'{"title": "broken"}'),
        (404, b'{"title": "No such route"}'),
        (200, b'{"keys": "room-key-0001"}'),
        (200, b'{"keys": ["not a key!"]}'),
        (200, b'{"keys": [7]}'),
        (200, b"[]"),
    ],
    ids=["500", "404", "not a list", "not a key", "not a string", "not an object"],
)
def test_reachable_fails_closed_on_an_odd_answer_and_is_not_remembered(
    cotonoma_access, cotonomas_double, room, member, status, body
):
    cotonomas_double.answer, cotonomas_double.body = status, body
    with pytest.raises(ServiceUnavailable):
        cotonoma_access.reachable(member)
    cotonomas_double.answer = None
    assert cotonoma_access.reachable(member) == [room], "asked again at once"
