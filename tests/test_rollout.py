"""Replicas and zero-downtime rollouts on the local stack (issue 5, items 6 and 7).

The e2e stack runs two instances of each service (cotoami_stack, profile
e2e). Which instance served a request is read from the instances' JSON logs
(.run/e2e/logs/SVC-N.log), by the X-Request-ID the gateway gave it."""

import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
import requests
from conftest import PROFILE, PYTHON, EventStream, Person, unique_address

from cotoami_stack.profiles import SERVICES


def served_by(stack, service: str, request_ids: list[str]) -> dict[str, int]:
    """The instance number that logged each request id (waiting briefly for the logs)."""
    found: dict[str, int] = {}

    def all_found() -> bool:
        for k in range(1, stack.replicas() + 1):
            for line in stack.log_lines(f"{service}-{k}"):
                if line.get("request_id") in request_ids:
                    found[line["request_id"]] = k
        return set(found) >= set(request_ids)

    stack.wait_until(all_found, 5, f"every request in the logs of {service}'s instances")
    return found


@pytest.fixture(scope="module")
def replicated(stack):
    assert stack.replicas() == 2, "the e2e stack runs two instances of each service"
    return stack


def get(stack, path: str, session=None, **kwargs) -> requests.Response:
    response: requests.Response = (session or requests).get(stack.url + path, timeout=5, **kwargs)
    assert response.status_code < 500, response.text
    return response


def test_requests_without_a_cookie_are_balanced_over_both_instances(replicated):
    stack = replicated
    for service, path in (("cotos", "/api/cotos"), ("auth", "/api/auth/session"), ("cotonomas", "/api/cotonomas")):
        ids = [get(stack, path).headers["X-Request-ID"] for _ in range(20)]
        counts = Counter(served_by(stack, service, ids).values())
        assert set(counts) == {1, 2}, f"{service}: {counts}"


def test_a_route_cookie_keeps_a_browser_on_one_instance_of_every_service(replicated):
    stack = replicated
    instance_of = {}  # cookie value -> instance of cotos
    for _ in range(40):
        browser = requests.Session()
        first = get(stack, "/api/cotos", browser)
        cookie = browser.cookies.get("route")
        assert cookie, first.headers
        assert "HttpOnly" in first.headers["Set-Cookie"] and "SameSite=Lax" in first.headers["Set-Cookie"]
        # The other security headers are all still there beside it.
        assert first.headers["X-Content-Type-Options"] == "nosniff" and "Content-Security-Policy" in first.headers
        if cookie in instance_of:
            continue
        ids = {
            service: [get(stack, path, browser).headers["X-Request-ID"] for _ in range(8)]
            for service, path in (("cotos", "/api/cotos"), ("auth", "/api/auth/session"))
        }
        assert browser.cookies.get("route") == cookie, "the cookie is not reset while it holds"
        ids["cotos"].append(first.headers["X-Request-ID"])
        where = {service: set(served_by(stack, service, rids).values()) for service, rids in ids.items()}
        assert where["cotos"] == where["auth"] and len(where["cotos"]) == 1, where
        instance_of[cookie] = where["cotos"].pop()
        if len(instance_of) == 2:
            break
    assert sorted(instance_of.values()) == [1, 2], instance_of
    # Static files get no cookie.
    assert "Set-Cookie" not in requests.get(stack.url + "/", timeout=5).headers


def test_a_client_stuck_to_a_stopped_instance_falls_back_to_the_other(replicated):
    stack = replicated
    browser = requests.Session()
    for _ in range(40):  # a cookie for instance 1
        browser.cookies.clear()
        first = get(stack, "/api/cotos", browser)
        if served_by(stack, "cotos", [first.headers["X-Request-ID"]]) == {first.headers["X-Request-ID"]: 1}:
            break
    stack.supervisorctl("stop", "cotos:cotos-1")
    try:
        ids = []
        for n in range(6):
            posted = browser.post(
                stack.url + "/api/cotos", json={"content": f"fallback {n}"}, headers={"Origin": stack.url}, timeout=5
            )
            assert posted.status_code == 201, posted.text
            ids.append(get(stack, "/api/cotos", browser).headers["X-Request-ID"])
        assert set(served_by(stack, "cotos", ids).values()) == {2}
    finally:
        stack.supervisorctl("start", "cotos:cotos-1")
    stack.wait_until(
        lambda: requests.get(f"http://127.0.0.1:{PROFILE.instance_port('cotos', 1)}/readyz", timeout=2).ok,
        20,
        "cotos-1 back",
    )


def processes(stack, service: str) -> set[int]:
    """Every gunicorn process (masters and workers) of the service's instances."""
    masters = [stack.pid(name) for name in stack.instances(service)]
    workers = [
        int(p)
        for m in masters
        for p in subprocess.run(["pgrep", "-P", str(m)], capture_output=True, text=True).stdout.split()
    ]
    return {*masters, *workers}


# What each client thread keeps asking during a service's rollout: (method, path, body maker).
# An answer below 500 counts as served (anonymous GET /api/cotonomas is a 401).
def _coto(n: int) -> dict[str, str]:
    return {"content": f"written during a rollout, {n}"}


def _signin(n: int) -> dict[str, str]:
    return {"email": unique_address(f"rollout{n}")}


Load = tuple[str, str, Callable[[int], dict[str, str]] | None]
LOAD: dict[str, list[Load]] = {
    "cotos": [("GET", "/api/cotos", None), ("POST", "/api/cotos", _coto)],
    "auth": [("GET", "/api/auth/session", None), ("POST", "/api/auth/signin", _signin)],
    "cotonomas": [("GET", "/api/cotonomas", None)],
    "mailer": [("POST", "/api/auth/signin", _signin)],
    # Anonymous, so answered at once (401): the streams' own case is the test after this one.
    "live": [("GET", "/api/live/home", None)],
    # Anonymous too (401 from the service itself): what is rolled out is the path through it.
    "graph": [("GET", "/api/graph/pins", None), ("POST", "/api/graph/connections", _coto)],
    "archive": [("GET", "/api/export", None)],
}
CLIENTS_PER_KIND = 2


@pytest.mark.parametrize("service", SERVICES)
def test_a_rollout_replaces_every_process_and_fails_no_request(replicated, mailbox, service):
    stack = replicated
    before = processes(stack, service)
    failures: list[str] = []
    answered: Counter[tuple[str, str]] = Counter()
    mailed: list[str] = []
    rolling = threading.Event()

    def client(method: str, path: str, body: Callable[[int], dict[str, str]] | None) -> None:
        n = 0
        while rolling.is_set():
            n += 1
            payload = body(n) if body else None
            try:
                # A new connection each time: a gateway reload closes idle kept-alive client
                # connections, which a browser retries on its own and a bare client would not.
                response = requests.request(
                    method,
                    stack.url + path,
                    json=payload,
                    timeout=10,
                    headers={"Origin": stack.url, "Connection": "close"},
                )
            except requests.RequestException as error:
                failures.append(f"{method} {path}: {error!r}")
                continue
            if response.status_code >= 500:
                failures.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
            elif path == "/api/auth/signin" and payload is not None:
                if response.status_code != 202:
                    failures.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
                mailed.append(payload["email"])
            answered[(method, path)] += 1
            time.sleep(0.1 if path == "/api/auth/signin" else 0.02)  # each sign-in is a mail to wait for

    rolling.set()
    clients = [threading.Thread(target=client, args=load) for load in LOAD[service] for _ in range(CLIENTS_PER_KIND)]
    for thread in clients:
        thread.start()
    try:
        time.sleep(0.5)  # the stream is flowing before the rollout starts
        rollout = subprocess.run(
            [PYTHON, "-m", "cotoami_stack", "rollout", service, "--profile", "e2e"],
            capture_output=True,
            text=True,
            timeout=240,
        )
        time.sleep(0.5)
    finally:
        rolling.clear()
        for thread in clients:
            thread.join(15)
    assert rollout.returncode == 0, rollout.stdout + rollout.stderr

    assert failures == [], f"{len(failures)} of {sum(answered.values()) + len(failures)} failed: {failures[:5]}"
    assert all(answered[(method, path)] >= 20 for method, path, _ in LOAD[service]), answered
    after = processes(stack, service)
    assert len(after) == len(before) and not after & before, "every process of the service is new"
    assert not any(name.endswith("-surge") for name in stack.pids()), "the rollout's extra process is gone"

    if mailed:  # every requested sign-in mail arrives, exactly once

        def delivered() -> Counter[str]:
            return Counter(
                to["address"]
                for mail in requests.get(f"{stack.inbox_url}/email", timeout=5).json()
                for to in mail["to"]
                if to["address"] in wanted
            )

        wanted = set(mailed)
        stack.wait_until(lambda: set(delivered()) == wanted, 30, f"{len(wanted)} mails delivered")
        if service == "mailer":
            time.sleep(PROFILE.mail_reclaim_idle_ms / 1000 + 1)  # a doubled job would be retaken by now
        assert len(mailed) == len(wanted) and delivered() == Counter(wanted), "each mail exactly once"


class Listener:
    """A browser's EventSource on one path: whenever its stream ends it connects
    again, after the stream's retry: (at most a second), with the last id it saw."""

    def __init__(self, person: Person, path: str):
        self.person, self.path = person, path
        first = person.listen(path)
        assert first.status == 200, first.body
        self.streams = [first]
        self.refused: list[tuple[int, bytes]] = []  # a browser's EventSource gives up on a non-200 answer
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _follow(self) -> None:
        while not self.stopping.is_set():
            current = self.streams[-1]
            if not current.ended.wait(0.1) or self.stopping.is_set():
                continue
            time.sleep(min(current.retry or 1000, 1000) / 1000)
            again = self.person.listen(self.path, current.last_event_id)
            if again.status != 200:
                self.refused.append((again.status, again.body))
                again = EventStream(self.path)  # an ended stream to wait on: try again after a second
                again.ended.set()
                again.last_event_id = current.last_event_id
            self.streams.append(again)

    def cotos(self) -> list[str]:
        return [event.json()["id"] for stream in self.streams for event in stream.named("coto")]

    def __repr__(self) -> str:
        # What a failed wait shows: each stream's status, events, whether it ended (and with retry:), last id.
        states = [(s.status, len(s.events), s.ended.is_set(), s.retry, s.last_event_id) for s in self.streams]
        return f"Listener({self.path}, {len(self.cotos())} cotos, streams {states}, refused {self.refused[:3]})"

    def events(self, *names: str) -> list[str]:
        return [event.name for stream in self.streams for event in stream.named(*names)]

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.streams[-1].close()


def wait_for_listener(stack, listener: Listener, found: Callable[[Listener], bool], timeout: float, what: str) -> float:
    """stack.wait_until(found(listener)), failing with the listener's state at the deadline."""
    try:
        return float(stack.wait_until(lambda: found(listener), timeout, what))
    except pytest.fail.Exception:
        pytest.fail(f"{what} not within {timeout}s: {listener!r}")


@pytest.fixture
def listeners():
    following: list[Listener] = []
    yield following
    for listener in following:
        listener.close()


def shared_room(owner: Person, member: Person) -> str:
    key: str = owner.create("Rolled out under")["key"]
    added = owner.call("POST", f"/api/cotonomas/{key}/members", json={"email": member.address})
    assert added.status_code == 201, added.text
    return key


# live's own rollout ends its streams with retry:; any other's reloads the gateway, whose old
# workers cut the streams they hold (worker_shutdown_timeout): both resume with Last-Event-ID.
@pytest.mark.parametrize("service", ["live", "cotos"])
def test_a_rollout_under_open_streams_delivers_every_event_to_every_listener_once(
    replicated, owner, member, listeners, service
):
    stack = replicated
    room = shared_room(owner, member)
    # Two of the member's tabs in the room, and the owner's home on another device.
    listeners += [Listener(member, f"/api/live/cotonomas/{room}") for _ in range(2)]
    listeners.append(Listener(owner, "/api/live/home"))
    posted = [owner.post("before the rollout", room)["id"]]
    for listener in listeners:
        wait_for_listener(stack, listener, lambda listener: listener.cotos() == posted, 30, "the first coto")
    before = processes(stack, service)

    failures: list[str] = []
    rolling = threading.Event()

    def poster() -> None:
        n = 0
        while rolling.is_set():
            n += 1
            body = {"content": f"during the rollout {n}", "cotonoma_key": room}
            response = owner.call("POST", "/api/cotos", json=body)
            if response.status_code == 201:
                posted.append(response.json()["coto"]["id"])
            else:
                failures.append(f"{response.status_code} {response.text[:200]}")
            time.sleep(0.2)

    rolling.set()
    posting = threading.Thread(target=poster)
    posting.start()
    try:
        rollout = subprocess.run(
            [PYTHON, "-m", "cotoami_stack", "rollout", service, "--profile", "e2e"],
            capture_output=True,
            text=True,
            timeout=240,
        )
        time.sleep(1)
    finally:
        rolling.clear()
        posting.join(15)
    assert rollout.returncode == 0, rollout.stdout + rollout.stderr
    print(rollout.stdout)
    assert failures == [], failures[:5]
    posted.append(owner.post("after the rollout", room)["id"])
    assert len(posted) >= 20, "the posts went on through the rollout"

    for listener in listeners:
        wait_for_listener(stack, listener, lambda listener: len(listener.cotos()) >= len(posted), 60, "every coto")
    after = processes(stack, service)
    assert after and not after & before, f"every {service} process is new"
    for listener in listeners:
        assert listener.cotos() == posted, f"{listener.path}: every event exactly once, in order"
        assert listener.refused == [], f"{listener.path}: a reconnect was refused: {listener.refused[:3]}"
        assert not listener.events("reset"), "the ids were all still held: a resumption, never a reset"
        assert len(listener.streams) >= 2, "it moved off the old processes (live's, or the gateway's workers)"
        assert not listener.streams[-1].ended.is_set(), "it is following new ones now"
    ends = [stream for listener in listeners for stream in listener.streams[:-1]]
    print(f"{len(ends)} streams ended during the rollout, {sum(s.retry is not None for s in ends)} with retry:")
    if service == "live":
        assert any(stream.retry is not None for stream in ends), "a stopping live process ends its streams with retry:"


def test_a_redis_restart_under_open_streams_ends_in_resumption_or_reset(stack, owner, member, listeners):
    room = shared_room(owner, member)
    listener = Listener(member, f"/api/live/cotonomas/{room}")
    listeners.append(listener)
    first = owner.post("before Redis restarts", room)["id"]
    wait_for_listener(stack, listener, lambda listener: listener.cotos() == [first], 30, "the first coto")

    stack.supervisorctl("restart", "redis")
    posted: list[str] = []

    def post_once() -> bool:
        response = owner.call("POST", "/api/cotos", json={"content": "after Redis is back", "cotonoma_key": room})
        assert response.status_code < 500 or response.status_code == 503, response.text
        if response.status_code == 201:
            posted.append(response.json()["coto"]["id"])
        return bool(posted)

    stack.wait_until(post_once, 30, "a post once Redis is back")
    took = wait_for_listener(
        stack,
        listener,
        lambda listener: posted[0] in listener.cotos() or bool(listener.events("reset")),
        30,
        "the coto after the restart, or a reset, on the open stream",
    )
    print(f"after the restart: {listener.events('coto', 'reset')} ({len(listener.streams)} streams, {took:.1f}s)")
    cotos = listener.cotos()
    assert len(cotos) == len(set(cotos)), "no coto twice"
    assert listener.refused == [], listener.refused[:3]
