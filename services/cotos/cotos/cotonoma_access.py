"""Who may read and post in a cotonoma: asked of the cotonomas service over its
internal path, and remembered for a moment. No Falcon here."""

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from cotoami_common.internal import InternalClient, ServiceUnavailable
from cotoami_common.tokens import Amishi

# The keys cotonomas makes (its cotonomas_key_format constraint). Anything else
# names no cotonoma, so it is never asked about nor put into a URL.
COTONOMA_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")


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
        base_url: str,
        internal_token: str,
        timeout_seconds: float = 2.0,
        ttl_seconds: float = 2.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.cotonomas = InternalClient("cotonomas", base_url, internal_token, timeout_seconds)
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        # (key, amishi id) -> (expires at, decision), oldest first, so the
        # front is what expires or is evicted first.
        self._decisions: OrderedDict[tuple[str, str], tuple[float, dict[str, str] | None]] = OrderedDict()

    def cotonoma(self, key: str, amishi: Amishi) -> dict[str, str] | None:
        """{"key", "name", "owner_id"} if this amishi may read and post in the
        cotonoma, else None (as for a cotonoma that does not exist)."""
        if not COTONOMA_KEY.fullmatch(key):
            return None
        entry = (key, amishi.id)
        asked_at = self.clock()
        with self._lock:
            cached = self._decisions.get(entry)
        if cached is not None and asked_at < cached[0]:
            return cached[1]
        decision = self._ask(key, amishi)
        # Counted from before the question: cotonomas decided at some moment
        # after it, so the decision is never kept longer than the TTL.
        self._remember(entry, asked_at + self.ttl_seconds, decision)
        return decision

    def _ask(self, key: str, amishi: Amishi) -> dict[str, str] | None:
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

    def _remember(self, entry: tuple[str, str], expires_at: float, decision: dict[str, str] | None) -> None:
        with self._lock:
            self._decisions.pop(entry, None)
            self._decisions[entry] = (expires_at, decision)
            now = self.clock()
            while self._decisions and (
                len(self._decisions) > self.max_entries or next(iter(self._decisions.values()))[0] <= now
            ):
                self._decisions.popitem(last=False)

    def __len__(self) -> int:
        """How many decisions are held (expired ones may linger until the next is remembered)."""
        with self._lock:
            return len(self._decisions)
