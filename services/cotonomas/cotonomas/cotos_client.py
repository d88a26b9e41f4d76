"""Calls to the cotos service's internal paths for the coto that stands for each cotonoma."""

import requests
from urllib3.exceptions import NewConnectionError

from cotoami_common.web import internal_headers


class CotosUnavailable(Exception):
    """The cotos service did not do what was asked, or did not say that it did.

    `maybe_done` is False only when the request never left this process (no
    connection could be made), so the cotos service cannot have acted on it."""

    def __init__(self, message: str, maybe_done: bool):
        super().__init__(message)
        self.maybe_done = maybe_done


def _never_sent(error: requests.RequestException) -> bool:
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError):
        # requests wraps urllib3's MaxRetryError, whose reason says whether a
        # connection was made at all (refused, unresolvable) or broke later.
        reason = getattr(error.args[0], "reason", None) if error.args else None
        return isinstance(reason, NewConnectionError)
    return False


class CotosClient:
    def __init__(self, base_url: str, internal_token: str, timeout_seconds: float = 2.0):
        self.base_url = base_url
        self.internal_token = internal_token
        self.timeout_seconds = timeout_seconds

    def _call(self, method: str, key: str, body: dict | None = None) -> None:
        try:
            response = requests.request(
                method,
                f"{self.base_url}/internal/cotonoma-cotos/{key}",
                json=body,
                headers=internal_headers(self.internal_token),
                timeout=self.timeout_seconds,
            )
        except requests.RequestException as error:
            raise CotosUnavailable(f"{method} of the cotonoma coto failed: {error}", not _never_sent(error)) from None
        if not 200 <= response.status_code < 300:
            raise CotosUnavailable(f"{method} of the cotonoma coto answered {response.status_code}", maybe_done=True)

    def put_cotonoma_coto(self, key: str, name: str, parent_key: str | None, owner: dict) -> None:
        """Create the cotonoma's coto, or rename it if it exists; safe to repeat."""
        self._call("PUT", key, {"name": name, "parent_key": parent_key, "owner": owner})

    def delete_cotonoma_coto(self, key: str) -> None:
        """Delete the cotonoma's coto; done as well when there is none."""
        self._call("DELETE", key)
