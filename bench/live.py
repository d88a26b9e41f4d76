"""The live case of `make bench` (bench/run.py runs it): many open event
streams on one live process, a cotonoma's owner posting into the cotonoma they
all listen to, and for each post the time from its 201 to its `coto` event
having reached every stream.

Everything is timed in this one process, on one asyncio loop, over raw
sockets: the streams, straight to the live process's port, and the posts,
through the gateway on one kept-alive connection. So every timestamp is taken
by the same clock in the same place, and the figure includes the client's own
work of reading 1,000 copies of each event (a part of the cost, kept in).
"""

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CONNECT_AT_ONCE = 50  # streams opened concurrently, so that the listen backlog never overflows


class LiveError(Exception):
    """Why the live case cannot go on, in one line."""


@dataclass
class Arrivals:
    """Per coto id, how many streams its `coto` event reached so far and when the last one did."""

    count: dict[str, int] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    first: dict[str, float] = field(default_factory=dict)
    ended: list[str] = field(default_factory=list)  # why a stream ended early, if one did

    def record(self, coto_id: str, at: float) -> None:
        seen = self.count.get(coto_id, 0)
        self.count[coto_id] = seen + 1
        self.last[coto_id] = at
        if not seen:
            self.first[coto_id] = at


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


async def _head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """An HTTP/1.1 answer's status and headers (names in lower case)."""
    status_line = await reader.readline()
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise LiveError(f"not an HTTP answer: {status_line[:80]!r}")
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def read_body_part(reader: asyncio.StreamReader, chunked: bool) -> bytes:
    """The next part of a body as it arrives: a chunk's data, or what the socket
    has (b"" at the end)."""
    if not chunked:
        return await reader.read(65536)
    size_line = await reader.readline()
    if not size_line:
        return b""
    size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
    if size == 0:
        await reader.readline()  # the empty trailer
        return b""
    data = await reader.readexactly(size + 2)
    return data[:-2]


def request_bytes(method: str, path: str, host: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class SSEParser:
    """Server-sent events out of a body's bytes, as an EventSource reads them:
    lines of `field: value`, an event ending at a blank line. Yields (event, data)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, part: bytes) -> list[tuple[str, str]]:
        self._buffer += part
        *lines, self._buffer = self._buffer.split(b"\n")
        events = []
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8")
            if not line:
                if self._data or self._event:
                    events.append((self._event or "message", "\n".join(self._data)))
                self._event, self._data = "", []
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                self._event = value
            elif name == "data":
                self._data.append(value)
        return events


class Stream:
    """One open `GET /api/live/cotonomas/{key}` on a socket of its own."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, chunked: bool) -> None:
        self.reader, self.writer, self.chunked = reader, writer, chunked

    @classmethod
    async def open(cls, host: str, port: int, path: str, cookie: str) -> "Stream":
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(request_bytes("GET", path, f"{host}:{port}", {"Accept": "text/event-stream", "Cookie": cookie}))
        status, headers = await _head(reader)
        if status != 200 or not headers.get("content-type", "").startswith("text/event-stream"):
            writer.close()
            raise LiveError(f"GET {path} answered {status} {headers.get('content-type')}")
        return cls(reader, writer, headers.get("transfer-encoding", "").lower() == "chunked")

    async def listen(self, arrivals: Arrivals) -> None:
        """Records each `coto` event's arrival until the stream ends or is closed."""
        parser = SSEParser()
        try:
            while part := await read_body_part(self.reader, self.chunked):
                now = time.perf_counter()
                for event, data in parser.feed(part):
                    if event == "coto":
                        arrivals.record(json.loads(data)["id"], now)
                    elif event in ("revoked", "reset"):
                        arrivals.ended.append(event)
            arrivals.ended.append("the stream ended")
        except (ConnectionError, asyncio.IncompleteReadError) as error:
            arrivals.ended.append(f"{type(error).__name__}")

    def close(self) -> None:
        self.writer.close()


class Poster:
    """A signed-in person posting cotos over one kept-alive connection (to the gateway)."""

    def __init__(self, base_url: str, cookie: str) -> None:
        split = urlsplit(base_url)
        self.host, self.port = split.hostname or "127.0.0.1", split.port or 80
        self.origin = base_url
        self.cookie = cookie
        self._connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, body: dict[str, object]) -> tuple[Answer, float]:
        """POST /api/cotos; the answer and when it had been read whole (perf_counter)."""
        if self._connection is None:
            self._connection = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._connection
        writer.write(
            request_bytes(
                "POST",
                "/api/cotos",
                f"{self.host}:{self.port}",
                {"Origin": self.origin, "Cookie": self.cookie, "Content-Type": "application/json"},
                json.dumps(body).encode(),
            )
        )
        status, headers = await _head(reader)
        if "content-length" in headers:
            data = await reader.readexactly(int(headers["content-length"]))
        else:
            parts = []
            while part := await read_body_part(reader, headers.get("transfer-encoding", "").lower() == "chunked"):
                parts.append(part)
            data = b"".join(parts)
        done = time.perf_counter()
        if headers.get("connection", "").lower() == "close":
            writer.close()
            self._connection = None
        return Answer(status, headers, data), done

    def close(self) -> None:
        if self._connection:
            self._connection[1].close()
            self._connection = None


@dataclass(frozen=True)
class LiveRun:
    streams: int
    posts: int
    to_all_ms: list[float]  # per post: its 201 to its event on every stream
    to_first_ms: list[float]  # per post: its 201 to its event on the first stream
    missed: int  # posts whose event had not reached every stream within the wait
    resident_mb: dict[str, float]  # the live process's roles, with the streams open
    gap_seconds: float  # between one post's event reaching every stream and the next post
    # CPU time per post while posting: the live process's, and this client's (the two share the cores).
    live_cpu_ms: float
    client_cpu_ms: float


async def open_streams(host: str, port: int, path: str, cookies: Sequence[str], count: int) -> list[Stream]:
    streams: list[Stream] = []
    for start in range(0, count, CONNECT_AT_ONCE):
        batch = range(start, min(count, start + CONNECT_AT_ONCE))
        streams += await asyncio.gather(*(Stream.open(host, port, path, cookies[k % len(cookies)]) for k in batch))
    return streams


async def fan_out(
    *,
    live_port: int,
    cotonoma_key: str,
    listener_cookies: Sequence[str],
    streams: int,
    gateway_url: str,
    owner_cookie: str,
    posts: int,
    resident_mb: Callable[[], dict[str, float]],
    live_cpu_seconds: Callable[[], float],
    settle_seconds: float = 3.0,
    wait_seconds: float = 10.0,
    gap_seconds: float = 0.2,
) -> LiveRun:
    """Opens STREAMS streams of the cotonoma on the live process at LIVE_PORT,
    has its owner post POSTS cotos into it one after another, and times each.
    RESIDENT_MB reads the live process's memory by role, with the streams open,
    LIVE_CPU_SECONDS the CPU time it has used so far."""
    path = f"/api/live/cotonomas/{cotonoma_key}"
    opened = await open_streams("127.0.0.1", live_port, path, listener_cookies, streams)
    arrivals = Arrivals()
    listeners = [asyncio.create_task(stream.listen(arrivals)) for stream in opened]
    poster = Poster(gateway_url, owner_cookie)
    to_all, to_first, missed = [], [], 0
    try:
        # Every stream past its replay and presence, the hub's tail settled.
        await asyncio.sleep(settle_seconds)
        if arrivals.ended:
            raise LiveError(f"{len(arrivals.ended)} streams ended before the posts: {arrivals.ended[0]}")
        memory = resident_mb()
        cpu_before = (live_cpu_seconds(), time.process_time())
        for n in range(posts):
            answer, answered = await poster.post({"content": f"live coto {n}", "cotonoma_key": cotonoma_key})
            if answer.status != 201:
                raise LiveError(f"posting into the cotonoma answered {answer.status}: {answer.body[:300]!r}")
            coto_id = json.loads(answer.body)["coto"]["id"]
            deadline = answered + wait_seconds
            while arrivals.count.get(coto_id, 0) < streams and time.perf_counter() < deadline:
                await asyncio.sleep(0.001)
            if arrivals.count.get(coto_id, 0) < streams:
                missed += 1
            else:
                to_all.append((arrivals.last[coto_id] - answered) * 1000)
                to_first.append((arrivals.first[coto_id] - answered) * 1000)
            if arrivals.ended:
                raise LiveError(f"{len(arrivals.ended)} streams ended during the posts: {arrivals.ended[0]}")
            await asyncio.sleep(gap_seconds)
        live_cpu, client_cpu = (live_cpu_seconds() - cpu_before[0], time.process_time() - cpu_before[1])
        memory = {role: max(mb, resident_mb().get(role, 0.0)) for role, mb in memory.items()}
    finally:
        poster.close()
        for stream in opened:
            stream.close()
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
    return LiveRun(
        streams,
        posts,
        to_all,
        to_first,
        missed,
        memory,
        gap_seconds,
        live_cpu_ms=1000 * live_cpu / posts,
        client_cpu_ms=1000 * client_cpu / posts,
    )
