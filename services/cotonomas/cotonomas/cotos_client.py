"""Calls to the cotos service's internal paths for the coto that stands for each cotonoma."""

from typing import Any

from cotoami_common.internal import InternalClient, ServiceUnavailable

# Every call is safe to repeat, so a caller unsure whether one took effect
# (ServiceUnavailable.maybe_done) may simply make it again, or undo it.
_DONE = (200, 204)


class CannotBecomeCotonoma(Exception):
    """cotos refused to make the coto stand for the cotonoma: it is not the owner's as it was."""


class CotosClient:
    def __init__(self, base_url: str, internal_token: str, timeout_seconds: float = 2.0):
        self.cotos = InternalClient("cotos", base_url, internal_token, timeout_seconds)

    def put_cotonoma_coto(
        self, key: str, name: str, parent_key: str | None, owner: dict[str, str], coto_id: str | None = None
    ) -> None:
        """Create the cotonoma's coto, or rename it if it exists; safe to repeat.
        coto_id (cotonomatize): make that coto of the owner's stand for it
        instead; CannotBecomeCotonoma when cotos refuses (nothing changed)."""
        body: dict[str, object] = {"name": name, "parent_key": parent_key, "owner": owner}
        if coto_id is not None:
            body["coto_id"] = coto_id
        answer = self.cotos.call("PUT", f"/internal/cotonoma-cotos/{key}", json=body, expect=(*_DONE, 409))
        if answer.status == 409:
            raise CannotBecomeCotonoma(coto_id or "")

    def coto(self, coto_id: str) -> dict[str, Any] | None:
        """The coto (as the contract shows it), or None if there is none (or it is in the trash)."""
        body = self.cotos.call("POST", "/internal/cotos/lookup", json={"ids": [coto_id]}, expect=(200,)).json()
        cotos = body.get("cotos") if isinstance(body, dict) else None
        if not isinstance(cotos, list):
            raise ServiceUnavailable("cotos", "answered a lookup without a list of cotos", maybe_done=False)
        found = [c for c in cotos if isinstance(c, dict) and c.get("id") == coto_id]
        return found[0] if found else None

    def delete_cotonoma_coto(self, key: str, keep_coto: bool = False) -> int:
        """Delete the cotonoma's coto (done as well when there is none) unless
        cotos are posted in it: 0 when done, else how many are (cotos decides,
        atomically with posts). keep_coto: make it a plain coto again instead
        (a cotonomatize undone)."""
        path = f"/internal/cotonoma-cotos/{key}" + ("?keep=coto" if keep_coto else "")
        answer = self.cotos.call("DELETE", path, expect=(*_DONE, 409))
        if answer.status != 409:
            return 0
        body = answer.json()
        held = body.get("cotos") if isinstance(body, dict) else None
        if not isinstance(held, int) or isinstance(held, bool) or held < 1:
            raise ServiceUnavailable("cotos", "refused a deletion without saying what it holds", maybe_done=False)
        return held
