"""One hub per process: it tails every stream its listeners need with one
XREAD and fans each entry out to the listeners' queues; it keeps presence in
Redis (across processes) and decides access again. No Falcon here.

A listener joins before it replays (XRANGE after its Last-Event-ID): whatever
is appended meanwhile reaches its queue too, and it drops what it has already
sent by id, so there is neither a gap nor a double."""

import asyncio
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from cotoami_common.cotonoma_access import CotonomaAccess
from cotoami_common.internal import ServiceUnavailable
from cotoami_common.tokens import Amishi
from live.metrics import OPEN_STREAMS, STREAMS_ENDED

log = logging.getLogger(__name__)

# What the browsers see (graph's connection and pin events among them); member
# events are the hub's own (they carry an address): they, and a cotonoma's
# deletion, make it decide its listeners' access afresh.
FORWARDED = frozenset(
    {
        "coto",
        "coto-updated",
        "coto-deleted",
        "cotonoma-updated",
        "connection",
        "connection-updated",
        "connection-deleted",
        "pin",
        "pin-deleted",
    }
)
ACCESS_EVENTS = frozenset({"member-added", "member-removed", "cotonoma-deleted"})
ENTRY_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
REPLAY_PAGE = 500

# A stream entry as redis-py gives it (decode_responses): its id and fields.
Entry = tuple[str, dict[str, str]]


def id_key(entry_id: str) -> tuple[int, int]:
    """A stream entry id in its order (ids compare as two numbers, not as text)."""
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


def cotonoma_stream(key: str) -> str:
    return f"events:cotonoma:{key}"


def amishi_stream(amishi_id: str) -> str:
    return f"events:amishi:{amishi_id}"


def presence_key(cotonoma_key: str) -> str:
    return f"live:presence:{cotonoma_key}"


def profile_key(amishi_id: str) -> str:
    return f"live:amishi:{amishi_id}"


@dataclass(frozen=True)
class Message:
    """What a listener sends: an event with its JSON text, and its stream entry id (none for presence)."""

    event: str
    data: str
    id: str | None = None

    @cached_property
    def wire(self) -> bytes:
        """The event as server-sent events frame it: made once, however many listeners send it."""
        event_id = "" if self.id is None else f"id: {self.id}\n"
        return f"event: {self.event}\n{event_id}data: {self.data}\n\n".encode()


# Put in a listener's queue when it must end, so that waiting for a message is waiting on the queue alone.
_END = Message("", "")


@dataclass(eq=False)
class Listener:
    """One open stream. `ended` is set when it must end (the browser left, access
    was lost, it fell behind, the process stops); `reason` says which."""

    stream: str
    amishi: Amishi | None
    cotonoma_key: str | None
    ended: asyncio.Event
    queue: asyncio.Queue[Message]
    connection_id: str = field(default_factory=lambda: secrets.token_hex(8))
    reason: str | None = None
    # The last entry id sent (or known to the browser): anything not after it is dropped.
    last_id: str | None = None
    presence_sent: str | None = None

    @property
    def room(self) -> str:
        return "home" if self.cotonoma_key is None else "cotonoma"

    def end(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        if not self.ended.is_set():
            self.ended.set()
            # What is still queued is not sent: the browser resumes from its Last-Event-ID.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(_END)

    def offer(self, message: Message) -> None:
        """Queue it, or end this listener if it is too far behind: it resumes from its Last-Event-ID."""
        if self.ended.is_set():
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.end("slow")

    def is_new(self, entry_id: str) -> bool:
        return self.last_id is None or id_key(entry_id) > id_key(self.last_id)

    async def next(self, timeout: float) -> Message | None:
        """The next message, or None after `timeout` seconds without one; Ended once it must end."""
        # One queue to wait on (end() puts _END in it), not a wait on two futures: this
        # runs once per event per listener, and is most of what an event costs (bench/live.py).
        if self.ended.is_set():
            raise Ended(self.reason or "gone")
        try:
            message = self.queue.get_nowait()
        except asyncio.QueueEmpty:
            try:
                async with asyncio.timeout(timeout):
                    message = await self.queue.get()
            except TimeoutError:
                return None
        if message is _END:
            raise Ended(self.reason or "gone")
        return message


class Ended(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def async_redis(url: str) -> redis.asyncio.Redis:
    # socket_timeout above the tail's XREAD BLOCK, which holds a connection that long. One retry
    # on a new connection: after a Redis restart each pooled connection fails once, and a stream
    # opened on one would otherwise be a 503 (every command here may be repeated).
    return redis.asyncio.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=5,
        socket_connect_timeout=2,
        health_check_interval=15,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[redis.exceptions.ConnectionError],
    )


class Hub:
    def __init__(
        self,
        client: redis.asyncio.Redis,
        access: CotonomaAccess,
        *,
        queue_size: int,
        access_period_seconds: float,
        block_ms: int = 1000,
        presence_period_seconds: float = 1.0,
        presence_refresh_seconds: float = 2.0,
        presence_ttl_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ):
        self.redis = client
        self.access = access
        self.queue_size = queue_size
        self.access_period_seconds = access_period_seconds
        self.block_ms = block_ms
        self.presence_period_seconds = presence_period_seconds
        self.presence_refresh_seconds = presence_refresh_seconds
        self.presence_ttl_seconds = presence_ttl_seconds
        self.clock = clock
        self._listeners: dict[str, set[Listener]] = {}
        # The last entry id read of each stream tailed; a stream is tailed once it has one.
        self._positions: dict[str, str] = {}
        self._join_lock = asyncio.Lock()
        self._tailing = asyncio.Event()  # set when there is something to tail
        self._reading: asyncio.Future[Any] | None = None  # the tail's XREAD in flight
        self._tasks: list[asyncio.Task[None]] = []
        self._rechecks: set[asyncio.Task[None]] = set()
        self.closing = False

    # --- lifetime ---------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._tail(), name="tail"),
            asyncio.create_task(self._keep_presence(), name="presence"),
            asyncio.create_task(self._keep_deciding(), name="access"),
        ]

    def close_streams(self) -> None:
        """Every stream ends (sending retry:); new ones end at once. On shutdown."""
        self.closing = True
        for listeners in list(self._listeners.values()):
            for listener in list(listeners):
                listener.end("shutdown")

    async def stop(self) -> None:
        self.close_streams()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.redis.aclose()

    def check(self) -> None:
        """Liveness: its tasks run (they only end by a bug, never by Redis being away)."""
        if not self._tasks:
            raise RuntimeError("the hub has not started")
        for task in self._tasks:
            if task.done():
                raise RuntimeError(f"the hub's {task.get_name()} task has ended")

    # --- listeners --------------------------------------------------------------------------

    def listener(self, stream: str, amishi: Amishi | None, cotonoma_key: str | None) -> Listener:
        return Listener(stream, amishi, cotonoma_key, asyncio.Event(), asyncio.Queue(self.queue_size))

    async def join(self, listener: Listener) -> None:
        """From now on the stream's entries reach the listener's queue. Whatever
        happens after this is called, leave() undoes it."""
        if self.closing:
            listener.end("shutdown")
        async with self._join_lock:
            if listener.stream not in self._positions:
                # From the stream's end now: what came before is the replay's.
                head = await self.last_id(listener.stream)
                self._positions[listener.stream] = head or "0-0"
                # The XREAD in flight lacks it: cancelled (redis-py then drops its
                # connection), the tail reads again at once with it.
                if self._reading is not None and not self._reading.done():
                    self._reading.cancel()
            self._listeners.setdefault(listener.stream, set()).add(listener)
        self._tailing.set()
        OPEN_STREAMS.labels(listener.room).inc()
        if listener.cotonoma_key is not None and listener.amishi is not None:
            await self._refresh_presence([listener])

    async def leave(self, listener: Listener) -> None:
        listeners = self._listeners.get(listener.stream, set())
        if listener not in listeners:
            return  # it never joined: Redis failed it first
        STREAMS_ENDED.labels(listener.reason or "gone").inc()
        OPEN_STREAMS.labels(listener.room).dec()
        listeners.discard(listener)
        if not listeners:
            self._listeners.pop(listener.stream, None)
            self._positions.pop(listener.stream, None)
        if listener.cotonoma_key is not None and listener.amishi is not None:
            try:
                await self.redis.zrem(presence_key(listener.cotonoma_key), self._member(listener))
            except redis.exceptions.RedisError as error:
                log.warning("presence not left (it expires): %s", error)

    # --- reading streams --------------------------------------------------------------------

    async def last_id(self, stream: str) -> str | None:
        entries = cast(list[Entry], await self.redis.xrevrange(stream, "+", "-", count=1))
        return entries[0][0] if entries else None

    async def can_replay(self, stream: str, after: str) -> bool:
        """Whether the stream still holds everything after `after`: not if it was
        trimmed past it, or is missing or younger than it (Redis lost it)."""
        first = cast(list[Entry], await self.redis.xrange(stream, "-", "+", count=1))
        head = await self.last_id(stream)
        if not first or head is None:
            return False
        return id_key(first[0][0]) <= id_key(after) <= id_key(head)

    async def replay(self, stream: str, after: str) -> AsyncIterator[Message]:
        """The browsers' events after `after`, oldest first, a page at a time."""
        start = after
        while True:
            entries = cast(list[Entry], await self.redis.xrange(stream, f"({start}", "+", count=REPLAY_PAGE))
            for entry_id, fields in entries:
                message = _message(entry_id, fields)
                if message is not None:
                    yield message
            if len(entries) < REPLAY_PAGE:
                return
            start = entries[-1][0]

    async def _tail(self) -> None:
        while True:
            if not self._positions:
                self._tailing.clear()
                await self._tailing.wait()
                continue
            positions: dict[Any, Any] = dict(self._positions)
            self._reading = asyncio.ensure_future(self.redis.xread(positions, count=100, block=self.block_ms))
            try:
                answer = cast(list[tuple[str, list[Entry]]], await self._reading)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
                continue  # a stream joined: read again, with it (what was read is read again)
            except redis.exceptions.RedisError as error:
                log.warning("cannot read the event streams: %s", error)
                await asyncio.sleep(1)
                continue
            for stream, entries in answer:  # RESP2: [[stream, [(id, fields), ...]], ...]
                for entry_id, fields in entries:
                    self._fan_out(stream, entry_id, fields)

    def _fan_out(self, stream: str, entry_id: str, fields: dict[str, str]) -> None:
        position = self._positions.get(stream)
        if position is None or id_key(entry_id) <= id_key(position):
            return  # a stream nobody follows now, or an entry read before
        self._positions[stream] = entry_id
        listeners = self._listeners.get(stream, set())
        if fields.get("event") in ACCESS_EVENTS:
            task = asyncio.create_task(self._decide([lis for lis in listeners if lis.cotonoma_key], fresh=True))
            self._rechecks.add(task)
            task.add_done_callback(self._rechecks.discard)
            return
        message = _message(entry_id, fields)
        if message is not None:
            for listener in list(listeners):
                listener.offer(message)

    # --- access -----------------------------------------------------------------------------

    async def _keep_deciding(self) -> None:
        while True:
            await asyncio.sleep(self.access_period_seconds)
            await self._decide([lis for ls in self._listeners.values() for lis in ls if lis.cotonoma_key], fresh=False)

    async def _decide(self, listeners: list[Listener], fresh: bool) -> None:
        """Ends those who may no longer read their cotonoma. After a member
        event each person is asked about afresh once, then from the cache."""
        asked: set[tuple[str, str]] = set()
        for listener in listeners:
            key, amishi = listener.cotonoma_key, listener.amishi
            if key is None or amishi is None or listener.ended.is_set():
                continue
            try:
                fresh_now = fresh and (key, amishi.id) not in asked
                allowed = await self.access.cotonoma_async(key, amishi, fresh=fresh_now) is not None
            except ServiceUnavailable as error:
                # Fails closed: the browser comes back, and its reconnection is decided.
                log.warning("access not decided again, stream ended: %s", error)
                listener.end("unavailable")
                continue
            asked.add((key, amishi.id))
            if not allowed:
                listener.end("revoked")

    # --- presence ---------------------------------------------------------------------------

    def _member(self, listener: Listener) -> str:
        assert listener.amishi is not None
        return f"{listener.amishi.id}:{listener.connection_id}"

    async def _keep_presence(self) -> None:
        last_refresh = 0.0
        while True:
            await asyncio.sleep(self.presence_period_seconds)
            try:
                present = [lis for ls in self._listeners.values() for lis in ls if lis.cotonoma_key and lis.amishi]
                if time.monotonic() - last_refresh >= self.presence_refresh_seconds:
                    last_refresh = time.monotonic()
                    await self._refresh_presence(present)
                for key in {lis.cotonoma_key for lis in present if lis.cotonoma_key}:
                    self.send_presence(key, await self.presence(key))
            except redis.exceptions.RedisError as error:
                log.warning("presence not kept: %s", error)

    async def _refresh_presence(self, listeners: list[Listener]) -> None:
        """Each listener's entry, valid until presence_ttl_seconds from now: a killed process's vanish."""
        if not listeners:
            return
        expires = self.clock() + self.presence_ttl_seconds
        ttl = int(self.presence_ttl_seconds * 2) + 1
        async with self.redis.pipeline(transaction=False) as pipe:
            for listener in listeners:
                assert listener.cotonoma_key is not None and listener.amishi is not None
                pipe.zadd(presence_key(listener.cotonoma_key), {self._member(listener): expires})
                pipe.expire(presence_key(listener.cotonoma_key), ttl)
                pipe.set(profile_key(listener.amishi.id), json.dumps(listener.amishi.public()), ex=ttl)
            await pipe.execute()

    async def presence(self, cotonoma_key: str) -> str:
        """The `presence` event's data: who has the cotonoma open now, in any process."""
        key = presence_key(cotonoma_key)
        now = self.clock()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zrangebyscore(key, now, "+inf")
            _, members = await pipe.execute()
        ids = sorted({str(member).split(":", 1)[0] for member in members})
        profiles = await self.redis.mget([profile_key(amishi_id) for amishi_id in ids]) if ids else []
        amishis = [json.loads(profile) for profile in profiles if profile]
        amishis.sort(key=lambda amishi: (amishi["display_name"], amishi["id"]))
        return json.dumps({"amishis": amishis}, separators=(",", ":"))

    def send_presence(self, cotonoma_key: str, data: str, only: Listener | None = None) -> None:
        """To each listener of the cotonoma (or only one) that was last sent something else."""
        targets = [only] if only else self._listeners.get(cotonoma_stream(cotonoma_key), set())
        for listener in list(targets):
            if listener.presence_sent != data:
                listener.presence_sent = data
                listener.offer(Message("presence", data))


def _message(entry_id: str, fields: dict[str, str]) -> Message | None:
    event, data = fields.get("event"), fields.get("data")
    if event not in FORWARDED or not isinstance(data, str):
        return None
    if "\n" in data or "\r" in data:
        # One data: line per event; JSON needs no raw line breaks.
        data = json.dumps(json.loads(data), separators=(",", ":"))
    return Message(str(event), data, entry_id)
