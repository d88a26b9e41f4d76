# First of all: metrics are kept in multiprocess mode, as under gunicorn, only if
# PROMETHEUS_MULTIPROC_DIR is set before the app imports prometheus_client.
import cotoami_testing  # noqa: F401,I001

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import uvicorn

from cotoami_common.config import Env
from cotoami_common.tokens import Amishi
from cotoami_testing.fixtures import INTERNAL_TOKEN, ServiceUnderTest, TokenKeys, new_amishi, send_json, serving
from live.app import Dependencies, create_app
from live.config import Config

pytest_plugins = ["cotoami_testing.fixtures"]

# A key as cotonomas makes them.
KEY = "cotonoma-key-0001"
HOME = "/api/live/home"
ROOM = f"/api/live/cotonomas/{KEY}"


@pytest.fixture(scope="session")
def service() -> ServiceUnderTest:
    return ServiceUnderTest(Path(__file__).parents[1], Config, cast(Any, create_app), token_service=True)


class CotonomasDouble(ThreadingHTTPServer):
    """cotonomas' access check over real HTTP: 200 for the (key, amishi id) pairs in `members`, else 404."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _AccessHandler)
        self.members: set[tuple[str, str]] = set()
        self.asked = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _AccessHandler(BaseHTTPRequestHandler):
    server: CotonomasDouble

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        segments = parts.path.split("/")
        if self.headers.get("Authorization") != f"Bearer {INTERNAL_TOKEN}" or segments[1:3] != [
            "internal",
            "cotonomas",
        ]:
            send_json(self, 401, b"")
            return
        self.server.asked += 1
        key, amishi_id = segments[3], query.get("amishi_id", [""])[0]
        if (key, amishi_id) in self.server.members:
            send_json(self, 200, json.dumps({"key": key, "name": "A cotonoma", "owner_id": amishi_id}).encode())
        else:
            send_json(self, 404, b'{"title": "No such cotonoma"}')

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def cotonomas() -> Iterator[CotonomasDouble]:
    double = CotonomasDouble()
    with serving(double):
        yield double


@pytest.fixture
def environ(redis_url, required_environ, cotonomas) -> dict[str, str]:
    """The service's settings in the tests; a test changes some with `settings`."""
    return {"REDIS_URL": redis_url, "COTONOMAS_INTERNAL_URL": cotonomas.url, **required_environ}


@pytest.fixture
def settings() -> dict[str, str]:
    return {}


@pytest.fixture
def config(environ, settings) -> Config:
    return Config.from_env(Env({**environ, **settings}))


@pytest.fixture
def deps(config: Config) -> Dependencies:
    # A short timeout, so that a silent cotonomas costs the tests little.
    return Dependencies.open(config, access_timeout_seconds=0.5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    """The app served by a real uvicorn in a thread, as a browser reaches it."""

    url: str
    server: uvicorn.Server
    app: Any
    loop: asyncio.AbstractEventLoop | None = None

    def get(self, path: str, token: str | None = None, headers: dict[str, str] | None = None) -> requests.Response:
        cookies = {"access_token": token} if token else {}
        return requests.get(self.url + path, cookies=cookies, headers=headers or {}, stream=True, timeout=(3, 20))

    def call_in_loop(self, function: Callable[[], None]) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(function)


@pytest.fixture
def live(config: Config, deps: Dependencies) -> Iterator[LiveServer]:
    app = create_app(config, deps)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
        )
    )
    served = LiveServer(f"http://127.0.0.1:{port}", server, app)

    def run() -> None:
        loop = asyncio.new_event_loop()
        served.loop = loop
        loop.run_until_complete(server.serve())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield served
    served.call_in_loop(deps.hub.close_streams)  # as SIGTERM does under gunicorn
    server.should_exit = True
    thread.join(10)


@dataclass
class Person:
    amishi: Amishi
    token: str


@pytest.fixture
def person(token_keys: TokenKeys) -> Callable[[str], Person]:
    def make(email: str) -> Person:
        amishi = new_amishi(email)
        return Person(amishi, token_keys.access_token(amishi))

    return make


@dataclass
class Event:
    event: str | None = None
    data: str = ""
    id: str | None = None
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return json.loads(self.data)


class Stream:
    """Server-sent events as a browser reads them, from a streaming response."""

    def __init__(self, response: requests.Response):
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/event-stream")
        self.response = response
        self._lines = response.iter_lines(chunk_size=None, decode_unicode=True)
        self.ended = False

    def next(self) -> Event | None:
        """The next event (comments included, as events of their own), or None when the stream has ended."""
        event = Event()
        seen = False
        for line in self._lines:
            if line == "":
                if seen:
                    return event
                continue
            seen = True
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                event.comments.append(value)
            elif name == "data":
                event.data = value if not event.data else f"{event.data}\n{value}"
            elif name == "event":
                event.event = value
            elif name == "id":
                event.id = value
            elif name == "retry":
                event.retry = int(value)
        self.ended = True
        return None

    def until(self, accept: Callable[[Event], bool], seconds: float = 10) -> Event:
        """Reads until an event it accepts; fails after `seconds` or at the end of the stream."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            event = self.next()
            assert event is not None, "the stream ended"
            if accept(event):
                return event
        raise AssertionError(f"no such event within {seconds} s")

    def events(self, count: int) -> list[Event]:
        """The next `count` events with a name (presence excluded), skipping comments."""
        found: list[Event] = []
        while len(found) < count:
            event = self.next()
            assert event is not None, f"the stream ended after {found}"
            if event.event is not None and event.event != "presence":
                found.append(event)
        return found

    def close(self) -> None:
        self.response.close()


@pytest.fixture
def streams() -> Iterator[Callable[[requests.Response], Stream]]:
    opened: list[Stream] = []

    def open_stream(response: requests.Response) -> Stream:
        stream = Stream(response)
        opened.append(stream)
        return stream

    yield open_stream
    for stream in opened:
        stream.close()


def coto(coto_id: str | None = None, content: str = "hello") -> dict[str, Any]:
    return {"id": coto_id or str(uuid.uuid4()), "content": content}
