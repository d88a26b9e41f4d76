"""Calls to the cotos service's internal paths."""

from cotoami_common.internal import InternalClient, ServiceUnavailable
from cotoami_common.tokens import Amishi


class CotosClient:
    def __init__(self, base_url: str, internal_token: str, timeout_seconds: float = 3):
        self.cotos = InternalClient("cotos", base_url, internal_token, timeout_seconds)

    def claim_anonymous_cotos(self, anonymous_id: str, amishi: Amishi) -> int:
        """Move a browser's anonymous cotos into the account; safe to repeat."""
        body = {"anonymous_id": anonymous_id, "amishi": amishi.public()}
        answer = self.cotos.call("POST", "/internal/anonymous-cotos/claims", json=body, expect=(200,)).json()
        moved = answer.get("moved") if isinstance(answer, dict) else None
        if not isinstance(moved, int):
            raise ServiceUnavailable("cotos", "answered a claim without saying how many cotos moved", maybe_done=True)
        return moved

    def anonymous_pad_size(self, anonymous_id: str) -> int:
        """How many cotos a claim of this pad would move now (0 for an id cotos never issued)."""
        answer = self.cotos.call("GET", f"/internal/anonymous-pads/{anonymous_id}", expect=(200, 404))
        if answer.status == 404:
            return 0
        body = answer.json()
        size = body.get("cotos") if isinstance(body, dict) else None
        if not isinstance(size, int) or size < 0:
            raise ServiceUnavailable("cotos", "answered a pad's size without a count", maybe_done=True)
        return size
