"""Who may follow a cotonoma: asked of cotonomas over its internal path (as
cotos asks it), remembered for a moment. No Falcon here.

The rule and the cache are those of cotos' CotonomaAccess, which lives in the
cotos package; the calls are common's InternalClient, made in a thread (it is
blocking) so the event loop never waits on them."""

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Callable

from cotoami_common.internal import InternalClient, ServiceUnavailable
from cotoami_common.tokens import Amishi

# The keys cotonomas makes. Anything else names no cotonoma, so it is never asked about nor put into a URL.
COTONOMA_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")


class CotonomaAccess:
    """Decisions per (cotonoma key, amishi), allowed and denied alike, kept for
    at most `ttl_seconds`. Fails closed: anything but a well-formed 200 or a 404
    raises ServiceUnavailable and is not remembered."""

    def __init__(
        self,
        client: InternalClient,
        ttl_seconds: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.cotonomas = client
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        # (key, amishi id) -> (expires at, allowed), oldest first. Touched from the event loop only.
        self._decisions: OrderedDict[tuple[str, str], tuple[float, bool]] = OrderedDict()

    async def allowed(self, key: str, amishi: Amishi, fresh: bool = False) -> bool:
        """Whether this amishi may read the cotonoma; fresh: ask, whatever is remembered
        (after a member was added or removed)."""
        if not COTONOMA_KEY.fullmatch(key):
            return False
        entry = (key, amishi.id)
        asked_at = self.clock()
        cached = self._decisions.get(entry)
        if not fresh and cached is not None and asked_at < cached[0]:
            return cached[1]
        decision = await asyncio.to_thread(self._ask, key, amishi)
        # Counted from before the question, so a decision is never kept longer than the TTL.
        self._decisions.pop(entry, None)
        self._decisions[entry] = (asked_at + self.ttl_seconds, decision)
        now = self.clock()
        while self._decisions and (
            len(self._decisions) > self.max_entries or next(iter(self._decisions.values()))[0] <= now
        ):
            self._decisions.popitem(last=False)
        return decision

    def _ask(self, key: str, amishi: Amishi) -> bool:
        answer = self.cotonomas.call(
            "GET",
            f"/internal/cotonomas/{key}/access",
            params={"amishi_id": amishi.id, "email": amishi.email.lower()},
            expect=(200, 404),
        )
        if answer.status == 404:
            return False
        body = answer.json()
        if not (isinstance(body, dict) and body.get("key") == key):
            raise ServiceUnavailable(
                "cotonomas", "answered an access check without a decision for this key", maybe_done=True
            )
        return True
