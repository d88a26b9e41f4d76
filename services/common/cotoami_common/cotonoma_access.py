"""Who may read and post in a cotonoma: asked of the cotonomas service over its
internal path, and remembered for a moment, for every service that needs it
(cotos for timelines and posts, live for streams). No Falcon here."""

import asyncio
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from cotoami_common.internal import InternalClient, ServiceUnavailable
from cotoami_common.tokens import Amishi

# The keys cotonomas makes (its cotonomas_key_format constraint). Anything else
# names no cotonoma, so it is never asked about nor put into a URL.
COTONOMA_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")

# What cotonomas decided: {"key", "name", "owner_id"}, or None (no such cotonoma for this reader).
Decision = dict[str, str] | None

K = TypeVar("K")
V = TypeVar("V")


class CotonomaAccess:
    """Access decisions per (cotonoma key, amishi), allowed and denied alike,
    kept in this process for at most `ttl_seconds`: a removed member loses
    access within that time, and a busy cotonoma costs one question per
    interval per reader.

    Fails closed: anything other than a well-formed 200 or a 404 raises
    ServiceUnavailable and is not remembered, so the next request asks again.
    """

    def __init__(
        self,
        client: InternalClient,
        ttl_seconds: float = 2.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.cotonomas = client
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        # (key, amishi id) -> (expires at, decision), oldest first, so the
        # front is what expires or is evicted first.
        self._decisions: OrderedDict[tuple[str, str], tuple[float, Decision]] = OrderedDict()
        # amishi id -> (expires at, the keys of every cotonoma they may reach), the same way.
        self._reachable: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()

    @classmethod
    def asking(
        cls, base_url: str, internal_token: str, timeout_seconds: float = 2.0, ttl_seconds: float = 2.0
    ) -> "CotonomaAccess":
        """Asking the cotonomas service at base_url; waiting at most about 2 s by
        default, less than the gateway waits for the answer this one is part of."""
        return cls(InternalClient("cotonomas", base_url, internal_token, timeout_seconds), ttl_seconds)

    def cotonoma(self, key: str, amishi: Amishi, fresh: bool = False) -> Decision:
        """The cotonoma if this amishi may read and post in it, else None (as for
        one that does not exist). fresh: ask, whatever is remembered (after a
        member was added or removed)."""
        if not COTONOMA_KEY.fullmatch(key):
            return None
        asked_at = self.clock()
        if not fresh and (cached := self._remembered(key, amishi, asked_at)) is not None:
            return cached[1]
        return self._decide(key, amishi, asked_at, self._ask(key, amishi))

    async def cotonoma_async(self, key: str, amishi: Amishi, fresh: bool = False) -> Decision:
        """cotonoma() for an event loop: a remembered decision at once, a question
        in a thread (the client blocks), so the loop never waits on cotonomas."""
        if not COTONOMA_KEY.fullmatch(key):
            return None
        asked_at = self.clock()
        if not fresh and (cached := self._remembered(key, amishi, asked_at)) is not None:
            return cached[1]
        return self._decide(key, amishi, asked_at, await asyncio.to_thread(self._ask, key, amishi))

    def reachable(self, amishi: Amishi) -> list[str]:
        """The keys of every cotonoma this amishi may read and post in (each one
        cotonoma() would admit), remembered for the same time as a decision."""
        asked_at = self.clock()
        with self._lock:
            cached = self._reachable.get(amishi.id)
        if cached is not None and asked_at < cached[0]:
            return cached[1]
        keys = self._ask_reachable(amishi)
        self._remember(self._reachable, amishi.id, asked_at, keys)
        return keys

    def _remembered(self, key: str, amishi: Amishi, now: float) -> tuple[float, Decision] | None:
        with self._lock:
            cached = self._decisions.get((key, amishi.id))
        return cached if cached is not None and now < cached[0] else None

    def _decide(self, key: str, amishi: Amishi, asked_at: float, decision: Decision) -> Decision:
        self._remember(self._decisions, (key, amishi.id), asked_at, decision)
        return decision

    def _remember(self, table: OrderedDict[K, tuple[float, V]], entry: K, asked_at: float, value: V) -> None:
        # Counted from before the question: cotonomas decided at some moment
        # after it, so the answer is never kept longer than the TTL.
        with self._lock:
            table.pop(entry, None)
            table[entry] = (asked_at + self.ttl_seconds, value)
            now = self.clock()
            while table and (len(table) > self.max_entries or next(iter(table.values()))[0] <= now):
                table.popitem(last=False)

    def _ask(self, key: str, amishi: Amishi) -> Decision:
        answer = self.cotonomas.call(
            "GET",
            f"/internal/cotonomas/{key}/access",
            params={"amishi_id": amishi.id, "email": amishi.email.lower()},
            expect=(200, 404),
        )
        if answer.status == 404:
            return None
        body = answer.json()
        if not (
            isinstance(body, dict)
            and body.get("key") == key
            and isinstance(body.get("name"), str)
            and isinstance(body.get("owner_id"), str)
        ):
            raise ServiceUnavailable(
                "cotonomas", "answered an access check without a decision for this key", maybe_done=True
            )
        return {"key": key, "name": body["name"], "owner_id": body["owner_id"]}

    def _ask_reachable(self, amishi: Amishi) -> list[str]:
        answer = self.cotonomas.call(
            "GET", "/internal/cotonomas", params={"amishi_id": amishi.id, "email": amishi.email.lower()}, expect=(200,)
        )
        body = answer.json()
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list) or not all(isinstance(key, str) and COTONOMA_KEY.fullmatch(key) for key in keys):
            raise ServiceUnavailable("cotonomas", "answered without a list of cotonoma keys", maybe_done=True)
        return keys

    def __len__(self) -> int:
        """How many decisions are held (expired ones may linger until the next is remembered)."""
        with self._lock:
            return len(self._decisions)
