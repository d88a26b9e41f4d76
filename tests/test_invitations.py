"""Invitation mails end to end, through the gateway to maildev: the limits per
recipient, inviter and cotonoma, the quiet period of re-adds; and one name
created twice at once."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
import redis
import requests
from conftest import PROFILE, Mailbox, Person, unique_address

# Far over any limit the stack may be configured with.
SPENT = 1_000_000


@pytest.fixture
def stack_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(PROFILE.redis_url)
    yield client
    client.close()


def mail_settled(stack, stack_redis: redis.Redis) -> None:
    """Waits until the mailer has settled every queued job: a mail not in maildev then was never queued."""
    stack.wait_until(lambda: stack_redis.xlen("mail") == 0, 30, "the mail queue drained")


def invite(person: Person, key: str, address: str) -> requests.Response:
    return person.call("POST", f"/api/cotonomas/{key}/members", json={"email": address})


def members(person: Person, key: str) -> list[str]:
    return [m["email"] for m in person.call("GET", f"/api/cotonomas/{key}/members").json()["members"]]


def assert_refused(refused: requests.Response, why: str, window: int) -> None:
    assert refused.status_code == 429, refused.text
    assert refused.json()["title"] == "Too many invitations" and refused.json()["description"].startswith(why)
    assert 0 < int(refused.headers["Retry-After"]) <= window


def test_the_sixth_invitation_to_one_address_within_15_minutes_is_429_and_mails_nothing(
    stack, stack_redis, mailbox: Mailbox, owner
):
    address = unique_address("invited")
    rooms = [owner.create(f"Room {n}")["key"] for n in range(6)]
    for key in rooms[:5]:
        assert invite(owner, key, address).status_code == 201
    assert_refused(invite(owner, rooms[5], address), "This address has been sent too many invitations", 900)
    assert members(owner, rooms[5]) == []
    mail_settled(stack, stack_redis)
    assert len(mailbox.mails_to(address)) == 5


def test_removing_and_adding_again_in_a_loop_mails_once(stack, stack_redis, mailbox: Mailbox, owner):
    address = unique_address("looped")
    room = owner.create("Loop")["key"]
    for _ in range(4):
        assert invite(owner, room, address).status_code == 201
        assert owner.call("DELETE", f"/api/cotonomas/{room}/members/{address}").status_code == 204
    assert invite(owner, room, address).status_code == 201
    assert members(owner, room) == [address]
    mail_settled(stack, stack_redis)
    assert len(mailbox.mails_to(address)) == 1


@pytest.mark.parametrize(
    "by,why,window",
    [("inviter", "You have sent too many invitations", 3600), ("cotonoma", "This cotonoma has sent too many", 900)],
)
def test_an_inviter_or_a_cotonoma_over_its_limit_is_429_and_mails_nothing(
    stack, stack_redis, mailbox: Mailbox, owner, by, why, window
):
    room = owner.create("Busy")["key"]
    # Spent as if by earlier invitations: the counter is fresh (a new amishi, a new cotonoma).
    counted = owner.amishi["id"] if by == "inviter" else room
    stack_redis.set(f"ratelimit:invitations:{by}:{counted}", SPENT, ex=window)
    address = unique_address("spared")
    assert_refused(invite(owner, room, address), why, window)
    assert members(owner, room) == []
    mail_settled(stack, stack_redis)
    assert mailbox.mails_to(address) == []


def test_two_creates_of_one_name_at_once_are_one_201_and_one_409(stack, owner):
    # A second connection of the same browser, so that the two requests really overlap.
    twin = requests.Session()
    twin.headers.update(owner.session.headers)
    twin.cookies.update(owner.session.cookies)
    both = Barrier(2)

    def create(session: requests.Session) -> requests.Response:
        both.wait()
        return session.post(stack.url + "/api/cotonomas", json={"name": "Twice"}, timeout=10)

    with ThreadPoolExecutor(2) as pool:
        answers = sorted(pool.map(create, [owner.session, twin]), key=lambda answer: answer.status_code)
    twin.close()
    assert [a.status_code for a in answers] == [201, 409], [a.text for a in answers]
    conflict = answers[1]
    assert conflict.json()["title"] in ("Name in use", "Name taken")
    if conflict.json()["title"] == "Name in use":
        assert 0 < int(conflict.headers["Retry-After"]) <= 10
    listed = owner.call("GET", "/api/cotonomas").json()["cotonomas"]
    assert [c["name"] for c in listed] == ["Twice"]
