"""End-to-end fixtures: a whole stack of our own (cotoami_stack, profile e2e),
on its own ports and freshly emptied databases, started once per test run."""

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from cotoami_stack.processes import running_replicas
from cotoami_stack.profiles import PROFILES, SERVICES, instance_name
from cotoami_stack.supervisor import config_path

ROOT = Path(__file__).resolve().parents[1]
PROFILE = PROFILES["e2e"]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
Json = dict[str, Any]  # a JSON object, as the API and maildev answer


@dataclass(frozen=True)
class Stack:
    url: str
    inbox_url: str

    def stack_command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PYTHON, "-m", "cotoami_stack", *args, "--profile", "e2e"],
            capture_output=True,
            text=True,
            timeout=180,
        )

    def supervisorctl(self, *args: str) -> str:
        return subprocess.run(
            [str(ROOT / ".venv" / "bin" / "supervisorctl"), "-c", str(config_path(PROFILE)), *args],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.strip()

    def replicas(self) -> int:
        """Instances of each service (supervisord programs SVC-1..SVC-N in the group SVC)."""
        return running_replicas(PROFILE) or 0

    def instances(self, service: str) -> list[str]:
        """The supervisord names of a service's instances: cotos:cotos-1, cotos:cotos-2..."""
        return [f"{service}:{instance_name(service, k)}" for k in range(1, self.replicas() + 1)]

    def pid(self, program: str) -> int:
        """The pid of a program; a service's name means its first instance, `cotos-2` cotos:cotos-2."""
        if program in SERVICES:
            program = self.instances(program)[0]
        elif program.rsplit("-", 1)[0] in SERVICES:
            program = f"{program.rsplit('-', 1)[0]}:{program}"
        return int(self.supervisorctl("pid", program))

    def pids(self) -> dict[str, int]:
        """Every program's pid (0: not running), by supervisord name (`status` shows none while STARTING)."""
        names = [line.split()[0] for line in self.supervisorctl("status").splitlines()]
        return {name: int(self.supervisorctl("pid", name) or 0) for name in names}

    def log_lines(self, program: str) -> list[Json]:
        """A program's JSON log lines; a service's name means all of its instances' logs."""
        logs = PROFILE.logs_dir
        files = sorted(logs.glob(f"{program}-*.log")) if program in SERVICES else [logs / f"{program}.log"]
        lines = [line for file in files for line in file.read_text().splitlines()]
        return [json.loads(line) for line in lines if line.startswith("{")]

    def logged(self, program: str, request_id: str) -> list[Json]:
        """The program's log lines of one request, once written: services write
        their lines in batches, at most 0.2 s late (cotoami_common.logs)."""
        found: list[Json] = []

        def written() -> bool:
            found[:] = [line for line in self.log_lines(program) if line.get("request_id") == request_id]
            return bool(found)

        self.wait_until(written, 5, f"{program}'s log line of request {request_id}")
        return found

    def settled_log_lines(self, *programs: str) -> list[Json]:
        """Every log line the programs have to write so far, waiting out a
        batch (at most 0.2 s late) and supervisord's copy to the file."""
        time.sleep(1)
        return [line for program in programs for line in self.log_lines(program)]

    def raw(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None):
        """A request whose path goes out exactly as written (no client-side normalising)."""
        conn = http.client.HTTPConnection("127.0.0.1", PROFILE.gateway_port, timeout=20)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def ready(self, *services: str) -> bool:
        """Whether every instance of the services (all, if none named) answers /readyz with 200."""
        ports = [PROFILE.instance_port(s, k) for s in services or SERVICES for k in range(1, self.replicas() + 1)]
        try:
            return all(requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).ok for port in ports)
        except requests.RequestException:  # still starting
            return False

    def wait_until(self, predicate, timeout: float, what: str) -> float:
        started = time.monotonic()
        while not predicate():
            if time.monotonic() - started > timeout:
                pytest.fail(f"{what} not within {timeout}s")
            time.sleep(0.1)
        return time.monotonic() - started


@pytest.fixture(scope="session")
def stack():
    stack = Stack(url=PROFILE.public_url, inbox_url=f"http://127.0.0.1:{PROFILE.inbox_port}")
    started = stack.stack_command("up", "--fresh")
    if started.returncode != 0:
        pytest.fail(f"the e2e stack did not start:\n{started.stdout}\n{started.stderr}")
    yield stack
    stack.stack_command("down")


LINK = re.compile(r"/signin/([A-Za-z0-9_-]{43})")


class Mailbox:
    """maildev's inbox, read through its JSON API."""

    def __init__(self, inbox_url: str):
        self.inbox_url = inbox_url

    def mails_to(self, address: str) -> list[Json]:
        mails: list[Json] = requests.get(f"{self.inbox_url}/email", timeout=5).json()
        return [m for m in mails if any(to["address"] == address for to in m["to"])]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10) -> list[Json]:
        deadline = time.monotonic() + timeout
        while len(found := self.mails_to(address)) < count:
            if time.monotonic() > deadline:
                pytest.fail(f"{count} mail(s) to {address} did not arrive within {timeout}s (got {len(found)})")
            time.sleep(0.1)
        return found

    def new_link_token(self, address: str, mailed) -> str:
        """The token of the sign-in link that `mailed()` causes to be sent to the address."""
        before = {m["id"] for m in self.mails_to(address)}
        mailed()
        deadline = time.monotonic() + 10
        while True:
            # Other mail (an invitation) may arrive meanwhile: only a sign-in link counts.
            links = [LINK.search(m["text"]) for m in self.mails_to(address) if m["id"] not in before]
            if found := next((link for link in links if link), None):
                return found.group(1)
            if time.monotonic() > deadline:
                pytest.fail(f"no sign-in mail to {address} within 10s")
            time.sleep(0.1)


@pytest.fixture(scope="session")
def mailbox(stack) -> Mailbox:
    return Mailbox(stack.inbox_url)


def unique_address(name: str = "ann") -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}@example.com"


def sign_in(stack, mailbox: Mailbox, session: requests.Session, address: str, save_anonymous: bool = False) -> Json:
    """The whole sign-in by mail, as a person does it; returns the amishi."""

    def ask():
        asked = session.post(
            stack.url + "/api/auth/signin", json={"email": address, "save_anonymous": save_anonymous}, timeout=5
        )
        assert asked.status_code == 202, asked.text

    token = mailbox.new_link_token(address, ask)
    confirmed = session.post(stack.url + "/api/auth/session", json={"token": token}, timeout=5)
    assert confirmed.status_code == 200, confirmed.text
    amishi: Json = confirmed.json()["amishi"]
    return amishi


class Person:
    """A signed-in person's browser, talking to the gateway."""

    def __init__(self, stack, mailbox, name: str, address: str | None = None):
        """Signs in with a new address, or with ADDRESS: another device of that person."""
        self.stack = stack
        self.address = address or unique_address(name)
        self.session = requests.Session()
        self.session.headers["Origin"] = stack.url
        self.amishi = sign_in(stack, mailbox, self.session, self.address)

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, self.stack.url + path, timeout=10, **kwargs)

    def create(self, name: str, parent_key: str | None = None) -> Json:
        body = {"name": name} | ({"parent_key": parent_key} if parent_key else {})
        response = self.call("POST", "/api/cotonomas", json=body)
        assert response.status_code == 201, response.text
        cotonoma: Json = response.json()["cotonoma"]
        return cotonoma

    def post(self, content: str, cotonoma_key: str | None = None) -> Json:
        body = {"content": content} | ({"cotonoma_key": cotonoma_key} if cotonoma_key else {})
        response = self.call("POST", "/api/cotos", json=body)
        assert response.status_code == 201, response.text
        coto: Json = response.json()["coto"]
        return coto

    def timeline(self, cotonoma_key: str | None = None) -> list[Json]:
        response = self.call("GET", "/api/cotos", params={"cotonoma": cotonoma_key} if cotonoma_key else {})
        assert response.status_code == 200, response.text
        cotos: list[Json] = response.json()["cotos"]
        return cotos

    def listen(self, path: str, last_event_id: str | None = None, client: str = "127.0.0.1") -> "EventStream":
        """An event stream (/api/live/...) opened with this person's cookies, as their EventSource would."""
        cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.session.cookies)
        return EventStream(path, cookies, last_event_id, client)


@dataclass(frozen=True)
class Event:
    """One server-sent event, as an EventSource dispatches it."""

    name: str
    data: str
    id: str | None  # its own id: field, None if it had none
    received: float  # time.monotonic() when its closing blank line arrived

    def json(self) -> Json:
        parsed: Json = json.loads(self.data)
        return parsed


class EventStream:
    """A text/event-stream response through the gateway, read by a thread of its own as it
    arrives (the parsing rules of the HTML standard's EventSource), so tests wait for events
    with deadlines. A non-200 answer is kept whole in `status`, `headers` and `body`."""

    def __init__(self, path: str, cookies: str = "", last_event_id: str | None = None, client: str = "127.0.0.1"):
        self.path = path
        self.events: list[Event] = []
        self.comments = 0  # keep-alive lines (": ...")
        self.retry: int | None = None  # the last retry: field, in ms
        self.last_event_id = last_event_id  # what a reconnect sends (the last id: seen)
        self.ended = threading.Event()
        self.opened = time.monotonic()
        # CLIENT: the address it comes from (any 127.0.0.0/8 one is local), another client to the gateway's limits.
        self._conn = http.client.HTTPConnection(
            "127.0.0.1", PROFILE.gateway_port, timeout=40, source_address=(client, 0)
        )
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if cookies:
            headers["Cookie"] = cookies
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self._conn.request("GET", path, headers=headers)
        self._response = self._conn.getresponse()
        self.status = self._response.status
        self.headers = {name.lower(): value for name, value in self._response.getheaders()}
        self.body = b""
        if self.status != 200:
            self.body = self._response.read()
            self.ended.set()
            self._conn.close()
            return
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        name, own_id = "", None
        data: list[str] = []
        try:
            while chunk := self._response.read1(65536):
                buffer += chunk
                while b"\n" in buffer:
                    raw, buffer = buffer.split(b"\n", 1)
                    line = raw.rstrip(b"\r").decode()
                    if not line:  # dispatch
                        if data:
                            self.events.append(Event(name or "message", "\n".join(data), own_id, time.monotonic()))
                        name, own_id, data = "", None, []
                        continue
                    if line.startswith(":"):
                        self.comments += 1
                        continue
                    field, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if field == "event":
                        name = value
                    elif field == "data":
                        data.append(value)
                    elif field == "id" and "\0" not in value:
                        own_id = self.last_event_id = value
                    elif field == "retry" and value.isdigit():
                        self.retry = int(value)
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed, by the server or by close(), maybe mid-chunk (http.client's errors for that vary)
        finally:
            self.ended.set()

    def named(self, *names: str) -> list[Event]:
        return [event for event in list(self.events) if event.name in names]

    def wait_for(self, found: Callable[[list[Event]], bool], timeout: float, what: str) -> list[Event]:
        """Waits until found(events) holds; fails with what was received if it does not within timeout."""
        deadline = time.monotonic() + timeout
        while not found(events := list(self.events)):
            if time.monotonic() > deadline:
                pytest.fail(f"{what} not within {timeout}s on {self.path}; got {[(e.name, e.id) for e in events]}")
            time.sleep(0.02)
        return events

    def wait_for_event(self, name: str, timeout: float, after: int = 0) -> Event:
        """The first event called NAME among those from index AFTER on."""
        events = self.wait_for(lambda got: any(e.name == name for e in got[after:]), timeout, f"a {name!r} event")
        return next(e for e in events[after:] if e.name == name)

    def close(self) -> None:
        """Drops the connection, as a browser closing the tab does."""
        sock = self._conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed by the server
                sock.shutdown(socket.SHUT_RDWR)
        self._conn.close()
        self.ended.wait(5)


@pytest.fixture
def owner(stack, mailbox):
    return Person(stack, mailbox, "owner")


@pytest.fixture
def member(stack, mailbox):
    return Person(stack, mailbox, "member")


@pytest.fixture
def stranger(stack, mailbox):
    return Person(stack, mailbox, "stranger")


@pytest.fixture
def browser(stack):
    """One browser's cookie jar, talking to the gateway as the web client does."""
    session = requests.Session()
    session.headers["Origin"] = stack.url
    yield session
    session.close()


class Freezer:
    """Freezes a service's processes, every instance's (it accepts connections
    but never answers), until resume()."""

    def __init__(self, stack):
        self.stack = stack
        self.frozen: list[int] = []

    def __call__(self, program: str) -> None:
        stack = self.stack
        masters = [stack.pid(name) for name in (stack.instances(program) if program in SERVICES else [program])]
        pids = list(masters)
        for master in masters:
            pids += [
                int(p)
                for p in subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
            ]
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        self.frozen.extend(pids)

    def resume(self) -> None:
        for pid in self.frozen:
            os.kill(pid, signal.SIGCONT)
        self.frozen.clear()


@pytest.fixture
def paused(stack):
    freezer = Freezer(stack)
    yield freezer
    freezer.resume()


@pytest.fixture
def stopped(stack):
    """Stop a service (all its instances) for one test; it is started again afterwards."""
    names = []

    def stop(program: str) -> None:
        stack.supervisorctl("stop", f"{program}:*" if program in SERVICES else program)
        names.append(program)

    yield stop
    for name in names:
        stack.supervisorctl("start", f"{name}:*" if name in SERVICES else name)
    restarted = [name for name in names if name in SERVICES]
    if restarted:
        stack.wait_until(lambda: stack.ready(*restarted), 30, "restarted services ready")
