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
from http.cookiejar import DefaultCookiePolicy

import requests
from urllib3.exceptions import NewConnectionError

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


def _never_sent(error: requests.RequestException) -> bool:
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError):
        # requests wraps urllib3's MaxRetryError, whose reason says whether a
        # connection was made at all (refused, unresolvable) or broke later.
        reason = getattr(error.args[0], "reason", None) if error.args else None
        return isinstance(reason, NewConnectionError)
    return False


class _ThreadSession(threading.local):
    """This thread's session with the other service, and when it was last used."""

    session: requests.Session | None = None
    last_used = 0.0


class InternalClient:
    """Calls to one other service at `base_url`, each with the service
    credential (INTERNAL_TOKEN as a bearer token) and this request's id.

    Each thread keeps a session of its own, so its connection is reused from
    one call to the next: gunicorn's gthread workers serve a request wholly in
    one of a few long-lived threads, and requests does not promise that a
    Session may be shared between threads (it mutates its cookie jar and
    adapters in a call), so a session per thread needs no lock and keeps one
    warm connection per thread, which is all a thread can use at a time.
    """

    def __init__(self, service: str, base_url: str, internal_token: str, timeout_seconds: float):
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._authorization = f"Bearer {internal_token}"
        self._local = _ThreadSession()

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
        try:
            response = self._session().request(
                method,
                self.base_url + path,
                json=json,
                params=params,
                headers=headers,
                timeout=self.timeout_seconds,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            never_sent = _never_sent(error)
            reason = "cannot be reached" if never_sent else "did not answer"
            raise ServiceUnavailable(self.service, f"{reason} ({what}): {error}", maybe_done=not never_sent) from None
        finally:
            self._local.last_used = time.monotonic()
        if response.status_code not in expect:
            raise ServiceUnavailable(self.service, f"answered {what} with {response.status_code}", maybe_done=True)
        return Answer(self.service, response.status_code, response.content)

    def _session(self) -> requests.Session:
        local = self._local
        if local.session is not None and time.monotonic() - local.last_used > REUSE_IDLE_SECONDS:
            local.session.close()
            local.session = None
        if local.session is None:
            local.session = requests.Session()
            # The URL is the other service's own address: no proxy or .netrc
            # from the environment, and no cookie carried from one call to the next.
            local.session.trust_env = False
            local.session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        return local.session
