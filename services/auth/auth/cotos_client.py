"""Calls to the cotos service's internal paths."""

import requests

from cotoami_common.tokens import Amishi
from cotoami_common.web import internal_headers


class CotosClient:
    def __init__(self, base_url: str, internal_token: str, timeout_seconds: float = 3):
        self.base_url = base_url
        self.internal_token = internal_token
        self.timeout_seconds = timeout_seconds

    def claim_anonymous_cotos(self, anonymous_id: str, amishi: Amishi) -> int:
        """Move a browser's anonymous cotos into the account; safe to repeat."""
        response = requests.post(
            f"{self.base_url}/internal/anonymous-cotos/claims",
            json={"anonymous_id": anonymous_id, "amishi": amishi.public()},
            headers=internal_headers(self.internal_token),
            timeout=self.timeout_seconds,
        )
        response.raise_for_status()
        return response.json()["moved"]
