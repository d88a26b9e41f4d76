"""Calls to the services that own the data (cotos, cotonomas, graph) over their
/internal/ paths: a person's data page by page for an export, and batches to
import. Every import call is safe to repeat. No Falcon here."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cotoami_common.internal import InternalClient, ServiceUnavailable
from cotoami_common.tokens import Amishi

PAGE = 500
# A page or a batch may take a while for a large person; far below the lease of a job.
TIMEOUT_SECONDS = 20.0


def _object(answer: object, service: str, *fields: str) -> dict[str, Any]:
    if not isinstance(answer, dict) or any(name not in answer for name in fields):
        raise ServiceUnavailable(service, f"answered without {', '.join(fields)}", maybe_done=True)
    return answer


def _pages(client: InternalClient, path: str, params: dict[str, str], field: str) -> Iterator[list[dict[str, Any]]]:
    after: str | None = None
    while True:
        query = {**params, "limit": str(PAGE), **({"after": after} if after else {})}
        body = _object(client.call("GET", path, params=query, expect=(200,)).json(), client.service, field, "next")
        items = body[field]
        if not isinstance(items, list):
            raise ServiceUnavailable(client.service, f"answered {field} that is not a list", maybe_done=True)
        yield items
        after = body["next"]
        if not isinstance(after, str):
            return


@dataclass(frozen=True)
class GraphCounts:
    inserted: int
    updated: int
    rejected: dict[int, str]  # index in the batch -> reason


class Owners:
    def __init__(self, cotos: InternalClient, cotonomas: InternalClient, graph: InternalClient):
        self.cotos = cotos
        self.cotonomas = cotonomas
        self.graph = graph

    @classmethod
    def at(cls, cotos_url: str, cotonomas_url: str, graph_url: str, internal_token: str) -> "Owners":
        return cls(
            InternalClient("cotos", cotos_url, internal_token, TIMEOUT_SECONDS),
            InternalClient("cotonomas", cotonomas_url, internal_token, TIMEOUT_SECONDS),
            InternalClient("graph", graph_url, internal_token, TIMEOUT_SECONDS),
        )

    # --- export ------------------------------------------------------------------------------

    def coto_pages(self, amishi_id: str) -> Iterator[list[dict[str, Any]]]:
        return _pages(self.cotos, "/internal/archive/cotos", {"amishi_id": amishi_id}, "cotos")

    def cotonoma_pages(self, amishi_id: str) -> Iterator[list[dict[str, Any]]]:
        return _pages(self.cotonomas, "/internal/archive/cotonomas", {"owner_id": amishi_id}, "cotonomas")

    def connection_pages(self, amishi_id: str) -> Iterator[list[dict[str, Any]]]:
        return _pages(self.graph, "/internal/graph/connections", {"created_by": amishi_id}, "connections")

    def pin_pages(self, amishi_id: str) -> Iterator[list[dict[str, Any]]]:
        return _pages(self.graph, "/internal/graph/pins", {"created_by": amishi_id}, "pins")

    # --- import ------------------------------------------------------------------------------

    def import_cotonoma(self, amishi: Amishi, cotonoma: dict[str, object]) -> tuple[str, str | None]:
        body = {"owner": amishi.own(), "cotonoma": cotonoma}
        answer = self.cotonomas.call("POST", "/internal/archive/cotonomas", json=body, expect=(200,)).json()
        result = _object(answer, "cotonomas", "result")
        reason = result.get("reason")
        return str(result["result"]), reason if isinstance(reason, str) else None

    def reachable(self, amishi: Amishi) -> set[str]:
        params = {"amishi_id": amishi.id, "email": amishi.email.lower()}
        answer = _object(
            self.cotonomas.call("GET", "/internal/cotonomas", params=params, expect=(200,)).json(), "cotonomas", "keys"
        )
        return {key for key in answer["keys"] if isinstance(key, str)}

    def import_cotos(self, amishi: Amishi, cotos: list[dict[str, object]]) -> list[tuple[str, str | None]]:
        """Each coto's result (inserted, updated, unchanged, rejected) and reason, in order."""
        body = {"author": amishi.public(), "cotos": cotos}
        for attempt in (1, 2):
            answer = self.cotos.call("POST", "/internal/archive/cotos", json=body, expect=(200, 409))
            if answer.status == 200:
                break
            if attempt == 2:  # a cotonoma went twice while the batch was written
                raise ServiceUnavailable("cotos", "refused the batch twice (a cotonoma went)", maybe_done=False)
        results = _object(answer.json(), "cotos", "results")["results"]
        if not isinstance(results, list) or len(results) != len(cotos):
            raise ServiceUnavailable("cotos", "answered an import without a result for each coto", maybe_done=True)
        return [(str(r.get("result")), r.get("reason") if isinstance(r.get("reason"), str) else None) for r in results]

    def import_graph(
        self, amishi: Amishi, connections: list[dict[str, object]], pins: list[dict[str, object]]
    ) -> tuple[GraphCounts, GraphCounts]:
        body = {"amishi_id": amishi.id, "email": amishi.email, "connections": connections, "pins": pins}
        answer = _object(
            self.graph.call("POST", "/internal/graph/import", json=body, expect=(200,)).json(),
            "graph",
            "connections",
            "pins",
        )
        return _counts(answer["connections"]), _counts(answer["pins"])


def _counts(part: object) -> GraphCounts:
    counts = _object(part, "graph", "inserted", "updated", "rejected")
    rejected: dict[int, str] = {}
    for entry in counts["rejected"] if isinstance(counts["rejected"], list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("index"), int):
            rejected[entry["index"]] = str(entry.get("reason") or "rejected")
    return GraphCounts(int(counts["inserted"]), int(counts["updated"]), rejected)
