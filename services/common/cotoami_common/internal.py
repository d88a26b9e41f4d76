"""Calls from one service to another's /internal/ paths, made the same way by
every service: with the service credential and the request id, a timeout, no
redirects, and connections kept alive between calls. No Falcon here.

A call that did not do what was asked raises ServiceUnavailable, which says
whether it may still have taken effect: False only when the request certainly
never reached the other service (no connection could be made), so that a
caller undoing a write knows whether there is anything to undo.
"""

import json
import secrets
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import orjson
import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError

from cotoami_common.logs import request_id

# A connection idle for longer is not used again: gunicorn closes a kept-alive
# connection after 5 s idle (KEEPALIVE_SECONDS), and a request sent just as it
# does would be lost in a reset. The gateway keeps its connections 4 s too.
REUSE_IDLE_SECONDS = 4.0


class ServiceUnavailable(Exception):
    """Another service did not do what was asked, or did not say that it did.

    `maybe_done` is False only when the request never left this process (no
    connection could be made), so the other service cannot have acted on it."""

    def __init__(self, service: str, reason: str, *, maybe_done: bool):
        super().__init__(f"{service} {reason}")
        self.service = service
        self.maybe_done = maybe_done


@dataclass(frozen=True)
class Answer:
    """What another service answered, with one of the statuses the caller expects."""

    service: str
    status: int
    content: bytes

    def json(self) -> object:
        try:
            body: object = json.loads(self.content)
        except ValueError:
            raise ServiceUnavailable(
                self.service, f"answered {self.status} with something other than JSON", maybe_done=True
            ) from None
        return body


class _ThreadConnection(threading.local):
    """This thread's connection pool (of one) to the other service, and when it was last used."""

    pool: urllib3.HTTPConnectionPool | None = None
    last_used = 0.0


class InternalClient:
    """Calls to one other service at `base_url`, each with the service
    credential (INTERNAL_TOKEN as a bearer token) and this request's id.

    Each thread keeps a connection of its own, so it is reused from one call
    to the next: gunicorn's gthread workers serve a request wholly in one of a
    few long-lived threads, which can use one connection at a time. urllib3
    itself, not requests over it: no cookies, proxies or .netrc to keep out,
    and a graph stock's look-up of 200 cotos cost requests 1.3 ms of CPU
    (BENCHMARKS.md), most of it reading the answer in 10 KB pieces.
    """

    def __init__(self, service: str, base_url: str, internal_token: str, timeout_seconds: float):
        self.service = service
        parsed = urllib3.util.parse_url(base_url.rstrip("/"))
        self.scheme, self.host, self.port = parsed.scheme or "http", parsed.host or "", parsed.port
        self.prefix = parsed.path or ""
        self.timeout_seconds = timeout_seconds
        self._timeout = urllib3.Timeout(timeout_seconds)
        self._authorization = f"Bearer {internal_token}"
        self._local = _ThreadConnection()

    def call(
        self,
        method: str,
        path: str,
        *,
        expect: Collection[int],
        json: object = None,
        params: Mapping[str, str] | None = None,
    ) -> Answer:
        """The answer, if its status is one of `expect`; otherwise, or when no
        answer came within the timeout, ServiceUnavailable."""
        what = f"{method} {path}"
        headers = {"Authorization": self._authorization, "X-Request-ID": request_id.get() or secrets.token_hex(16)}
        body = None
        if json is not None:
            body = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        url = self.prefix + path + (f"?{urlencode(params)}" if params else "")
        try:
            response = self._pool().urlopen(
                method, url, body=body, headers=headers, retries=False, redirect=False, timeout=self._timeout
            )
        except HTTPError as error:
            # No connection made (refused, unresolvable, or not in time): the request never left.
            never_sent = isinstance(error, NewConnectionError | ConnectTimeoutError)
            reason = "cannot be reached" if never_sent else "did not answer"
            raise ServiceUnavailable(self.service, f"{reason} ({what}): {error}", maybe_done=not never_sent) from None
        finally:
            self._local.last_used = time.monotonic()
        if response.status not in expect:
            raise ServiceUnavailable(self.service, f"answered {what} with {response.status}", maybe_done=True)
        return Answer(self.service, response.status, response.data)

    def _pool(self) -> urllib3.HTTPConnectionPool:
        local = self._local
        if local.pool is not None and time.monotonic() - local.last_used > REUSE_IDLE_SECONDS:
            local.pool.close()
            local.pool = None
        if local.pool is None:
            pool_class = urllib3.HTTPSConnectionPool if self.scheme == "https" else urllib3.HTTPConnectionPool
            local.pool = pool_class(self.host, self.port, maxsize=1, block=False)
        return local.pool
