"""The cotos graph shows, asked of the cotos service over its internal path,
and who may read them. No Falcon here.

A coto is readable by its author, and by whoever may reach the cotonoma it
was posted in: the rule of the cotos service's own GET /api/cotos/{id}.
Both questions fail closed: anything but a well-formed answer raises
ServiceUnavailable (a 503), never an answer that could show too much."""

from collections.abc import Collection, Iterable
from typing import Any

import orjson

from cotoami_common.internal import InternalClient, ServiceUnavailable

# A coto as the cotos service shows it (the contract's coto): kept as it came.
Coto = dict[str, Any]

# How many ids one lookup asks about (the cotos service's limit).
LOOKUP_BATCH = 1000


def _well_formed(coto: object) -> bool:
    if not isinstance(coto, dict) or not isinstance(coto.get("id"), str):
        return False
    amishi = coto.get("amishi")
    posted_in = coto.get("posted_in")
    return (
        isinstance(amishi, dict)
        and isinstance(amishi.get("id"), str)
        and (posted_in is None or (isinstance(posted_in, dict) and isinstance(posted_in.get("key"), str)))
    )


class CotoLookup:
    """POST /internal/cotos/lookup {ids} on the cotos service: the cotos that
    exist among those ids (signed-in amishis' cotos, not in the trash)."""

    def __init__(self, client: InternalClient):
        self.cotos = client

    @classmethod
    def asking(cls, base_url: str, internal_token: str, timeout_seconds: float = 2.0) -> "CotoLookup":
        return cls(InternalClient("cotos", base_url, internal_token, timeout_seconds))

    def lookup(self, ids: Iterable[str]) -> dict[str, Coto]:
        """The cotos found, by id (those not found are absent). The ids are
        canonical UUIDs (a request's, checked by the resource, or this
        service's own rows'): parsing a thousand again cost 2 ms."""
        wanted = sorted(set(ids))
        found: dict[str, Coto] = {}
        for at in range(0, len(wanted), LOOKUP_BATCH):
            batch = wanted[at : at + LOOKUP_BATCH]
            answer = self.cotos.call("POST", "/internal/cotos/lookup", json={"ids": batch}, expect=(200,))
            try:
                # orjson: a thousand cotos parse in a fifth of the json module's time.
                body = orjson.loads(answer.content)
            except orjson.JSONDecodeError:
                body = None
            cotos = body.get("cotos") if isinstance(body, dict) else None
            if not isinstance(cotos, list) or not all(_well_formed(coto) for coto in cotos):
                raise ServiceUnavailable("cotos", "answered a lookup without a list of cotos", maybe_done=True)
            asked = set(batch)
            for coto in cotos:
                if coto["id"] in asked:  # only what was asked, whatever the answer holds
                    found[coto["id"]] = coto
        return found


def readable(coto: Coto, amishi_id: str, reachable: Collection[str]) -> bool:
    """Whether this amishi may read the coto: their own, or posted in a cotonoma they may reach."""
    if coto["amishi"]["id"] == amishi_id:
        return True
    posted_in = coto.get("posted_in")
    return posted_in is not None and posted_in["key"] in reachable


def author_stream(coto: Coto) -> str:
    """The stream the coto's coto-deleted event goes to: its author's home."""
    return f"events:amishi:{coto['amishi']['id']}"
