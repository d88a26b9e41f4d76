"""Faults survived with nothing lost (issue 6): PostgreSQL stopped, Redis
restarted, one service down, many writes at once and retried writes.
(Mail with a killed mailer: test_signin_resilience.py.)"""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from conftest import PROFILE, Person, unique_address

from cotoami_stack.backing import start_postgres, stop_postgres
from cotoami_stack.profiles import DATABASE_SERVICES

POSTGRES_DATA = PROFILE.run_dir / "postgres"


def instance_ready(service: str, k: int) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{PROFILE.instance_port(service, k)}/readyz", timeout=5)


def every_instance(stack) -> list[tuple[str, int]]:
    """Every instance of the services with a database (live has none to be unready without)."""
    return [(service, k) for service in DATABASE_SERVICES for k in range(1, stack.replicas() + 1)]


def every_coto(person: Person) -> set[str]:
    """The ids of every coto on the person's home timeline, all pages."""
    ids, before = set(), None
    while True:
        page = person.call("GET", "/api/cotos", params={"limit": 200, **({"before": before} if before else {})})
        assert page.status_code == 200, page.text
        ids |= {coto["id"] for coto in page.json()["cotos"]}
        if (before := page.json()["next"]) is None:
            return ids


class SteadyWriter:
    """Posts cotos as the person, one after another, from its own connection,
    remembering the ids of those acknowledged (201) and every other status."""

    def __init__(self, stack, person: Person):
        self.url = stack.url + "/api/cotos"
        self.session = requests.Session()
        self.session.headers["Origin"] = stack.url
        self.session.cookies.update(person.session.cookies)
        self.acknowledged: list[str] = []
        self.refused: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write, daemon=True)

    def _write(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            try:
                response = self.session.post(self.url, json={"content": f"steady {n}"}, timeout=10)
            except requests.RequestException:
                continue  # not acknowledged: the person would see an error and retry
            if response.status_code == 201:
                self.acknowledged.append(response.json()["coto"]["id"])
            else:
                self.refused.append(response.status_code)
                time.sleep(0.05)

    def __enter__(self) -> "SteadyWriter":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.fixture
def postgres_stopper(stack):
    """Stops the stack's PostgreSQL like a crash; it is started again afterwards whatever happens."""
    yield lambda: stop_postgres(POSTGRES_DATA, mode="immediate")
    start_postgres(POSTGRES_DATA, PROFILE.postgres_port)
    stack.wait_until(stack.ready, 60, "every instance ready again")


def test_postgres_stopped_and_started_loses_no_acknowledged_write(stack, mailbox, postgres_stopper):
    ann = Person(stack, mailbox, "ann")
    pad = requests.Session()
    pad.headers["Origin"] = stack.url
    pids = stack.pids()
    with SteadyWriter(stack, ann) as writer:
        stack.wait_until(lambda: len(writer.acknowledged) >= 10, 30, "writes acknowledged")
        postgres_stopper()

        # While it is down: the services say so in JSON, quickly, and are not ready.
        for method, path, body in [
            ("POST", "/api/cotos", {"content": "while down"}),
            ("GET", "/api/cotos", None),
            ("POST", "/api/cotonomas", {"name": "While down"}),
            ("GET", "/api/cotonomas", None),
        ]:
            response = ann.call(method, path, json=body)
            assert response.status_code == 503, (path, response.status_code, response.text)
            assert response.headers["Content-Type"].startswith("application/json") and response.json()["title"]
        signin = requests.post(
            stack.url + "/api/auth/signin", json={"email": unique_address()}, headers={"Origin": stack.url}, timeout=10
        )
        assert signin.status_code == 503 and signin.json()["title"]
        for service, k in every_instance(stack):
            ready = instance_ready(service, k)
            assert ready.status_code == 503 and ready.json()["checks"]["postgres"] == "failing", (service, k)
        # What does not need PostgreSQL keeps serving: the page and the anonymous pad.
        assert requests.get(stack.url + "/", timeout=5).status_code == 200
        assert (
            pad.post(stack.url + "/api/cotos", json={"content": "anonymous, meanwhile"}, timeout=5).status_code == 201
        )

        start_postgres(POSTGRES_DATA, PROFILE.postgres_port)
        stack.wait_until(stack.ready, 30, "every instance ready by itself")
        acknowledged_by_then = len(writer.acknowledged)
        stack.wait_until(lambda: len(writer.acknowledged) > acknowledged_by_then + 5, 30, "writes acknowledged again")

    assert stack.pids() == pids, "the services recovered without being restarted"
    assert set(writer.refused) <= {503}, f"only 503 while the database was away, not {set(writer.refused)}"
    assert set(writer.acknowledged) <= every_coto(ann), "every acknowledged write is still there"
    # Every worker of every service is back within seconds (readiness above asked one worker each).
    stack.wait_until(
        lambda: ann.call("POST", "/api/auth/refresh", json={}).status_code == 200, 10, "the session refreshed"
    )


def test_a_redis_restart_keeps_shared_access_and_queued_mail(stack, mailbox):
    owner, member = Person(stack, mailbox, "owner"), Person(stack, mailbox, "member")
    room = owner.create("Shared before the restart")
    assert (
        owner.call("POST", f"/api/cotonomas/{room['key']}/members", json={"email": member.address}).status_code == 201
    )
    mailbox.wait_for(member.address, count=2)  # the sign-in link and the invitation
    member.post("said before", room["key"])

    stack.supervisorctl("stop", "mailer:*")
    try:
        # Queued in Redis while no mailer runs, then Redis restarts under it.
        device = requests.Session()
        device.headers["Origin"] = stack.url
        asked = device.post(stack.url + "/api/auth/signin", json={"email": owner.address}, timeout=5)
        assert asked.status_code == 202
        stack.supervisorctl("restart", "redis")
        stack.wait_until(lambda: stack.ready("auth", "cotos", "cotonomas"), 30, "services ready again")
    finally:
        stack.supervisorctl("start", "mailer:*")

    mails = mailbox.wait_for(owner.address, count=2, timeout=30)
    assert len(mails) == 2, "the queued sign-in mail was delivered once"
    assert member.timeline(room["key"])[0]["content"] == "said before"
    assert member.post("said after", room["key"])["posted_in"]["key"] == room["key"]
    assert [c["content"] for c in owner.timeline(room["key"])][:2] == ["said after", "said before"]
    time.sleep(PROFILE.mail_reclaim_idle_ms / 1000 + 1)  # a doubled job would have been retaken by now
    assert len(mailbox.mails_to(owner.address)) == 2


def test_home_timeline_and_posting_at_home_go_on_while_cotonomas_is_down(stack, mailbox, stopped):
    ann = Person(stack, mailbox, "ann")
    room = ann.create("Room")
    inside = ann.post("inside the room", room["key"])
    stopped("cotonomas")

    home = ann.timeline()
    assert inside["id"] in [c["id"] for c in home]
    assert next(c for c in home if c["id"] == inside["id"])["posted_in"] == {"key": room["key"], "name": "Room"}
    assert ann.post("at home meanwhile")["posted_in"] is None
    # What needs cotonomas fails closed, in JSON.
    into_room = ann.call("POST", "/api/cotos", json={"content": "x", "cotonoma_key": room["key"]})
    assert into_room.status_code == 503 and into_room.json()["title"]
    listed = ann.call("GET", "/api/cotonomas")
    assert listed.status_code == 502 and listed.json()["title"]


def test_signed_in_people_keep_reading_and_writing_while_auth_is_down(stack, mailbox, stopped):
    ann = Person(stack, mailbox, "ann")
    stopped("auth")
    # Access tokens are checked with auth's public key, without asking auth.
    posted = ann.post("while auth is away")
    assert ann.timeline()[0]["id"] == posted["id"]
    signin = requests.post(
        stack.url + "/api/auth/signin", json={"email": unique_address()}, headers={"Origin": stack.url}, timeout=10
    )
    assert signin.status_code == 502 and signin.json()["title"]


def test_sign_in_requests_while_the_mailer_is_down_are_mailed_once_it_is_back(stack, mailbox, stopped):
    address = unique_address()
    stopped("mailer")
    asked = requests.post(
        stack.url + "/api/auth/signin", json={"email": address}, headers={"Origin": stack.url}, timeout=10
    )
    assert asked.status_code == 202
    assert mailbox.mails_to(address) == []
    stack.supervisorctl("start", "mailer:*")
    assert len(mailbox.wait_for(address, timeout=30)) == 1


def test_twenty_concurrent_posts_by_one_person_make_twenty_cotos(stack, mailbox):
    ann = Person(stack, mailbox, "ann")
    contents = [f"concurrent {n}" for n in range(20)]

    def post(content: str) -> requests.Response:
        device = requests.Session()
        device.headers["Origin"] = stack.url
        device.cookies.update(ann.session.cookies)
        return device.post(stack.url + "/api/cotos", json={"content": content}, timeout=10)

    with ThreadPoolExecutor(max_workers=20) as threads:
        responses = list(threads.map(post, contents))
    assert [r.status_code for r in responses] == [201] * 20
    assert sorted(c["content"] for c in ann.timeline()) == sorted(contents)


@pytest.mark.parametrize("who", ["signed_in", "anonymous"])
def test_a_retried_post_with_the_same_idempotency_key_makes_one_coto(stack, mailbox, browser, who):
    writer = Person(stack, mailbox, "ann").session if who == "signed_in" else browser
    key = str(uuid.uuid4())
    first = writer.post(stack.url + "/api/cotos", json={"content": "once"}, headers={"Idempotency-Key": key}, timeout=5)
    retry = writer.post(stack.url + "/api/cotos", json={"content": "once"}, headers={"Idempotency-Key": key}, timeout=5)
    assert first.status_code == retry.status_code == 201
    assert retry.json()["coto"]["id"] == first.json()["coto"]["id"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert [c["content"] for c in writer.get(stack.url + "/api/cotos", timeout=5).json()["cotos"]] == ["once"]


def test_a_post_whose_answer_was_lost_and_is_retried_makes_one_coto(stack, mailbox, paused):
    ann = Person(stack, mailbox, "ann")
    key = str(uuid.uuid4())
    paused("cotos")  # the request reaches cotos, which answers only after the gateway gave up
    lost = ann.call("POST", "/api/cotos", json={"content": "answer lost"}, headers={"Idempotency-Key": key})
    assert lost.status_code == 504
    paused.resume()

    def retried() -> bool:
        response = ann.call("POST", "/api/cotos", json={"content": "answer lost"}, headers={"Idempotency-Key": key})
        return response.status_code == 201

    stack.wait_until(retried, 20, "the retry answered")
    stack.wait_until(lambda: ann.call("GET", "/api/cotos").ok, 10, "cotos answering")
    time.sleep(1)  # the paused request, if it is still being handled, finishes meanwhile
    assert [c["content"] for c in ann.timeline()] == ["answer lost"]
