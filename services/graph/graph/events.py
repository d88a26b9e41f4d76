"""What graph reads of the domain events: `coto-deleted`, to remove a deleted
coto's connections and pins. No Falcon here.

Which streams: a coto's deletion is told on its author's home stream
(`events:amishi:{id}`), whatever cotonoma it was posted in. So graph reads the
home stream of the author of every coto it has connected or pinned
(`watched_streams`, added in the transaction of the connection or pin), each
with the consumer group `graph`: Redis keeps the group's place in each stream,
so what is appended while no graph process runs is read when one starts
again, and an entry a process read but did not acknowledge (it died) is
claimed by another after CLAIM_IDLE_MS.

The group is made by the request that first watches a stream, starting at the
Redis time taken before it looked the cotos up: a deletion after that look-up
is read, and none from before it (a coto deleted, restored and then connected
keeps its connection).

A request that looked a coto up just before its deletion may commit its
connection just after the first removal: each deleted coto is forgotten a
second time SECOND_PASS_SECONDS later, unless it was restored meanwhile (a
`coto` event with its id on the same stream)."""

import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable
from typing import Any

import redis

from cotoami_common.health import BackgroundThread
from graph.metrics import COTOS_FORGOTTEN
from graph.store import GraphStore

log = logging.getLogger(__name__)

GROUP = "graph"
READ_COUNT = 200
BLOCK_MS = 500
# Streams read in one XREADGROUP.
STREAMS_PER_READ = 500
# How often the list of streams is read again from the database.
REFRESH_SECONDS = 1.0
# An entry read but not acknowledged for this long is taken over (its reader died).
CLAIM_IDLE_MS = 30_000
CLAIM_EVERY_SECONDS = 15.0
# A deleted coto is forgotten again this long after: a connection or pin whose
# request looked the coto up just before its deletion, and committed just after
# the first pass, goes then (a request's look-ups time out in about 2 s).
SECOND_PASS_SECONDS = 5.0


class DeletionFeed:
    """The requests' side: the moment to start reading from, and the groups."""

    def __init__(self, client: redis.Redis):
        self.client = client

    def now(self) -> str:
        """A stream id just before now on Redis's clock (stream ids are its time)."""
        seconds, micros = self.client.time()
        return f"{int(seconds) * 1000 + int(micros) // 1000 - 1}-0"

    def follow(self, streams: Iterable[str], since: str) -> None:
        """Makes the group on each stream that has none, starting after `since`."""
        for stream in sorted(set(streams)):
            make_group(self.client, stream, since)


def make_group(client: redis.Redis, stream: str, since: str) -> bool:
    """Whether the group was made (False: it was there already)."""
    try:
        client.xgroup_create(stream, GROUP, id=since, mkstream=True)
    except redis.ResponseError as error:
        if "BUSYGROUP" in str(error):
            return False
        raise
    return True


class DeletionReader(BackgroundThread):
    """Reads coto-deleted from every watched stream and forgets those cotos."""

    def __init__(self, store: GraphStore, client: redis.Redis, consumer: str | None = None):
        super().__init__("graph-deletion-reader")
        self.store = store
        # A blocking read waits longer than the client's own socket timeout.
        self.client = client
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self._streams: list[str] = []
        self._refreshed = 0.0
        self._claimed = 0.0
        # Deleted cotos to forget again, and when (monotonic); in this process only.
        self._second_pass: dict[str, float] = {}

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.step()
            except (redis.RedisError, OSError) as error:
                log.warning("reading coto-deleted events failed; retrying: %s", error)
                self._stopping.wait(1.0)
            except Exception:  # a bug must not end the reading
                log.exception("reading coto-deleted events failed")
                self._stopping.wait(1.0)

    def step(self, block_ms: int = BLOCK_MS) -> int:
        """One round: the list of streams when due, claims when due, one read. How many entries it handled."""
        now = time.monotonic()
        if now - self._refreshed >= REFRESH_SECONDS:
            self._refresh()
            self._refreshed = now
        handled = 0
        if now - self._claimed >= CLAIM_EVERY_SECONDS:
            handled += self._claim()
            self._claimed = now
        self._forget_again(now)
        if not self._streams:
            self._stopping.wait(block_ms / 1000)
            return handled
        chunks = [self._streams[i : i + STREAMS_PER_READ] for i in range(0, len(self._streams), STREAMS_PER_READ)]
        for chunk in chunks:
            handled += self._read(chunk, block_ms if len(chunks) == 1 else None)
        return handled

    def _refresh(self) -> None:
        streams = self.store.watched_streams()
        known = set(self._streams)
        for stream in streams:
            if stream not in known:
                # A group made by a request already is left as it is; one lost
                # with Redis's data is made again from the stream's start.
                make_group(self.client, stream, "0")
        self._streams = streams

    def _read(self, streams: list[str], block_ms: int | None) -> int:
        try:
            answer: Any = self.client.xreadgroup(
                GROUP, self.consumer, dict.fromkeys(streams, ">"), count=READ_COUNT, block=block_ms
            )
        except redis.ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            for stream in streams:  # a stream deleted (or Redis emptied) since: made again
                make_group(self.client, stream, "0")
            return 0
        handled = 0
        for stream, entries in answer or []:
            handled += self._handle(stream, entries)
        return handled

    def _claim(self) -> int:
        handled = 0
        for stream in self._streams:
            try:
                answer: Any = self.client.xautoclaim(
                    stream, GROUP, self.consumer, CLAIM_IDLE_MS, "0-0", count=READ_COUNT
                )
            except redis.ResponseError as error:
                if "NOGROUP" in str(error):
                    continue
                raise
            entries = answer[1] if answer else []
            if entries:
                handled += self._handle(stream, entries)
        return handled

    def _forget_again(self, now: float) -> None:
        for coto_id, due in list(self._second_pass.items()):
            if due <= now:
                self.store.forget_coto(coto_id)
                del self._second_pass[coto_id]

    def _handle(self, stream: str, entries: list[Any]) -> int:
        handled = 0
        for entry_id, fields in entries:
            event = fields.get("event") if fields else None
            if event == "coto":  # posted, or restored from the trash: no second pass for it
                restored = _coto_id(fields.get("data"))
                if restored is not None:
                    self._second_pass.pop(restored, None)
            if event == "coto-deleted":
                coto_id = _coto_id(fields.get("data"))
                if coto_id is not None:
                    self._second_pass[coto_id] = time.monotonic() + SECOND_PASS_SECONDS
                    forgotten = self.store.forget_coto(coto_id)
                    COTOS_FORGOTTEN.inc()
                    log.info(
                        "coto deleted: %s connections and %s pins removed",
                        forgotten.connections,
                        forgotten.pins,
                        extra={"fields": {"coto_id": coto_id, "stream": stream}},
                    )
            self.client.xack(stream, GROUP, entry_id)
            handled += 1
        return handled


def _coto_id(data: object) -> str | None:
    if not isinstance(data, str):
        return None
    try:
        value = json.loads(data)
        return str(uuid.UUID(value["id"])) if isinstance(value, dict) and isinstance(value.get("id"), str) else None
    except (ValueError, KeyError):
        return None
