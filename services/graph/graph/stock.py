"""The stock as a tree: pinned cotos with the cotos connected under them. No
Falcon and no SQL here."""

from collections import deque
from collections.abc import Mapping, Sequence
from typing import TypedDict

from graph.cotos_client import Coto
from graph.store import Connection


class Node(TypedDict):
    coto: Coto
    connection: Connection | None
    children: list["Node"]


def build_stock(
    roots: Sequence[str], connections: Sequence[Connection], cotos: Mapping[str, Coto], depth: int
) -> list[Node]:
    """The pinned cotos (`roots`, in their order) that the asker may read, each
    with its outgoing connections (in their order) down to `depth` levels.

    Breadth first, so that each coto is expanded where it is nearest a pin:
    a coto reached again (by a second path, or round a cycle) appears again
    under each connection that reaches it, but its own connections only the
    first time. So every connection appears once, and a cycle ends. A
    connection to or from a coto the asker may not read is left out, with
    what lies beyond it."""
    outgoing: dict[str, list[Connection]] = {}
    for connection in connections:
        outgoing.setdefault(connection["start"], []).append(connection)
    nodes: list[Node] = []
    expanded: set[str] = set()
    queue: deque[tuple[Node, int]] = deque()
    for root in roots:
        if root in cotos:
            node: Node = {"coto": cotos[root], "connection": None, "children": []}
            nodes.append(node)
            queue.append((node, 0))
    while queue:
        node, level = queue.popleft()
        coto_id: str = node["coto"]["id"]
        if level >= depth or coto_id in expanded:
            continue
        expanded.add(coto_id)
        for connection in outgoing.get(coto_id, ()):
            end = cotos.get(connection["end"])
            if end is None:
                continue
            child: Node = {"coto": end, "connection": connection, "children": []}
            node["children"].append(child)
            queue.append((child, level + 1))
    return nodes


def count_nodes(nodes: Sequence[Node]) -> int:
    return sum(1 + count_nodes(node["children"]) for node in nodes)
