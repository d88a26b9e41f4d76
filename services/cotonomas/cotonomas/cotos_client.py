"""Calls to the cotos service's internal paths for the coto that stands for each cotonoma."""

from cotoami_common.internal import InternalClient, ServiceUnavailable

# Every call is safe to repeat, so a caller unsure whether one took effect
# (ServiceUnavailable.maybe_done) may simply make it again, or undo it.
_DONE = (200, 204)


class CotosClient:
    def __init__(self, base_url: str, internal_token: str, timeout_seconds: float = 2.0):
        self.cotos = InternalClient("cotos", base_url, internal_token, timeout_seconds)

    def put_cotonoma_coto(self, key: str, name: str, parent_key: str | None, owner: dict[str, str]) -> None:
        """Create the cotonoma's coto, or rename it if it exists; safe to repeat."""
        body = {"name": name, "parent_key": parent_key, "owner": owner}
        self.cotos.call("PUT", f"/internal/cotonoma-cotos/{key}", json=body, expect=_DONE)

    def delete_cotonoma_coto(self, key: str) -> int:
        """Delete the cotonoma's coto (done as well when there is none) unless
        cotos are posted in it: 0 when done, else how many are (cotos decides,
        atomically with posts)."""
        answer = self.cotos.call("DELETE", f"/internal/cotonoma-cotos/{key}", expect=(*_DONE, 409))
        if answer.status != 409:
            return 0
        body = answer.json()
        held = body.get("cotos") if isinstance(body, dict) else None
        if not isinstance(held, int) or isinstance(held, bool) or held < 1:
            raise ServiceUnavailable("cotos", "refused a deletion without saying what it holds", maybe_done=False)
        return held
