"""The export file, the original Cotoami's format (`{amishi, cotos, connections}`,
times in unix milliseconds), read into what an import does: cotonomas (parents
first), cotos, and connections and pins, each item checked on its own, so a
bad one is rejected with a reason and the rest go on. No Falcon, no HTTP.

What the original's files and ours share, and what is ours alone:
- a coto: {id, content, summary, posted_in_id, as_cotonoma, cotonoma,
  inserted_at, updated_at}; a cotonoma's coto embeds `cotonoma` ({id, key,
  name, ...}); `posted_in_id` is the cotonoma's id. The original's cotonomas
  have UUID ids; ours have none, so our files write the key as the id (a key
  is what a posted_in_id names when no cotonoma in the file has that id).
  Ours add `members` (addresses) to an embedded cotonoma.
- a connection: {start, end, created_by, created_at, linking_phrase, order,
  created_in}; `start` the amishi's id is a pin to home, `start` a
  cotonoma's coto is a pin in that cotonoma (ours add `pinned_in`, the key,
  for a cotonoma whose coto is not in the file). `created_in` is the
  cotonoma's id (ours: its key).

Ids: a coto id that is a UUIDv7 (ours) is kept. Any other (the original's
UUIDv4) becomes a UUIDv7 made from the coto's own time and the original id,
the same every time (docs/decisions.md D141): timelines order by id, and a
v4 id would put years of notes in random order. Connections in the file
follow the same mapping.
"""

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cotoami_common.cotonoma_access import COTONOMA_KEY
from cotoami_common.text import is_clean_text

MAX_CONTENT_CHARS = 10_000
MAX_COTONOMA_NAME_CHARS = 50
MAX_LINKING_PHRASE_CHARS = 200
MAX_MEMBERS = 1000
# Unix milliseconds from 1970 to the end of 9999.
LATEST_MS = 253_402_300_799_999
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,253}")


class InvalidFile(Exception):
    """The file as a whole is not an export: a 400 with this description."""


@dataclass
class Rejection:
    json: object
    reason: str


@dataclass
class CotonomaItem:
    json: object
    coto_id: str
    key: str
    name: str
    parent_key: str | None
    created_at: str
    updated_at: str
    members: list[str]


@dataclass
class CotoItem:
    json: object
    id: str
    content: str
    posted_in_key: str | None
    created_at: str
    updated_at: str


@dataclass
class GraphItem:
    json: object
    kind: str  # "connection" or "pin"
    body: dict[str, object]
    cotos: tuple[str, ...]  # the coto ids it needs (mapped)


@dataclass
class Plan:
    cotonomas: list[CotonomaItem] = field(default_factory=list)
    cotos: list[CotoItem] = field(default_factory=list)
    graph: list[GraphItem] = field(default_factory=list)
    coto_rejections: list[Rejection] = field(default_factory=list)
    graph_rejections: list[Rejection] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.cotonomas) + len(self.cotos) + len(self.graph)


class _Reject(Exception):
    """An item of the file that cannot be imported, and why."""


def echo(value: object, depth: int = 0) -> object:
    """An item as the file had it, for a rejection, cut short: a report never
    carries megabytes of what someone's file held."""
    if depth > 3:
        return "…"
    if isinstance(value, str):
        return value if len(value) <= 200 else value[:200] + "…"
    if isinstance(value, dict):
        return {str(k)[:100]: echo(v, depth + 1) for k, v in list(value.items())[:20]}
    if isinstance(value, list):
        return [echo(v, depth + 1) for v in value[:20]]
    return value


def is_v7(text: str) -> bool:
    return uuid.UUID(text).version == 7


def mapped_id(original: str, created_ms: int) -> str:
    """The id a coto gets here: a UUIDv7 kept; any other id made into a UUIDv7
    of the coto's time, its other bits from the original id (the same each time)."""
    parsed = uuid.UUID(original)
    if parsed.version == 7:
        return str(parsed)
    bits = int.from_bytes(hashlib.sha256(b"cotoami-import:" + str(parsed).encode()).digest()[:10], "big")
    rand_a, rand_b = bits >> 68 & 0xFFF, bits & ((1 << 62) - 1)
    return str(uuid.UUID(int=created_ms << 80 | 0x7 << 76 | rand_a << 64 | 0x2 << 62 | rand_b))


def iso_of_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ms_of_iso(text: str) -> int:
    moment = datetime.fromisoformat(text)
    return int(moment.timestamp() * 1000 + (0.5 if moment.timestamp() >= 0 else -0.5))


def _ms(item: Mapping[str, Any], name: str) -> int:
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= LATEST_MS:
        raise _Reject(f"{name} must be a time in unix milliseconds")
    return value


def _uuid(value: object, what: str) -> str:
    try:
        if not isinstance(value, str) or len(value) > 64:
            raise ValueError
        return str(uuid.UUID(value))
    except ValueError:
        raise _Reject(f"{what} must be a UUID") from None


def _text(value: object, what: str, most: int, one_line: bool) -> str:
    if not isinstance(value, str):
        raise _Reject(f"{what} must be a string")
    if not value.strip():
        raise _Reject(f"{what} is blank")
    if len(value) > most:
        raise _Reject(f"{what} is longer than {most:,} characters")
    if not is_clean_text(value, one_line):
        raise _Reject(f"{what} holds control characters" + (" or line breaks" if one_line else ""))
    return value


def _members(cotonoma: Mapping[str, Any]) -> list[str]:
    members = cotonoma.get("members", [])
    if members is None:
        return []
    if (
        not isinstance(members, list)
        or len(members) > MAX_MEMBERS
        or not all(isinstance(m, str) and _EMAIL.fullmatch(m.strip()) for m in members)
    ):
        raise _Reject(f"cotonoma.members must be a list of at most {MAX_MEMBERS} addresses")
    return sorted({m.strip().lower() for m in members})


@dataclass
class _Coto:
    json: object
    original_id: str
    id: str
    content: str
    posted_in: str | None
    created_ms: int
    updated_ms: int
    cotonoma: Mapping[str, Any] | None


def _read_coto(item: object) -> _Coto:
    if not isinstance(item, dict):
        raise _Reject("a coto must be an object")
    original_id = _uuid(item.get("id"), "id")
    created_ms = _ms(item, "inserted_at")
    updated_ms = _ms(item, "updated_at") if item.get("updated_at") is not None else created_ms
    as_cotonoma = item.get("as_cotonoma", False)
    if not isinstance(as_cotonoma, bool):
        raise _Reject("as_cotonoma must be true or false")
    cotonoma = item.get("cotonoma")
    if as_cotonoma and not isinstance(cotonoma, dict):
        raise _Reject("a cotonoma's coto must embed its cotonoma")
    content = item.get("content")
    if as_cotonoma and content is None and isinstance(cotonoma, dict):
        content = cotonoma.get("name")
    if as_cotonoma:
        content = _text(content, "a cotonoma's name", MAX_COTONOMA_NAME_CHARS, one_line=True).strip()
    else:
        summary = item.get("summary")
        if summary is not None and not isinstance(summary, str):
            raise _Reject("summary must be a string or null")
        if isinstance(summary, str) and summary.strip() and isinstance(content, str):
            # No summaries here: it heads the content, as a Markdown heading (D144).
            content = f"# {summary.strip()}\n\n{content}"
        content = _text(content, "content", MAX_CONTENT_CHARS, one_line=False)
    posted_in = item.get("posted_in_id")
    if posted_in is None and isinstance(item.get("posted_in"), dict):
        posted_in = item["posted_in"].get("id") or item["posted_in"].get("key")
    if posted_in is not None and (not isinstance(posted_in, str) or not 1 <= len(posted_in) <= 64):
        raise _Reject("posted_in_id must be a cotonoma's id or null")
    return _Coto(
        json=item,
        original_id=original_id,
        id=mapped_id(original_id, created_ms),
        content=content,
        posted_in=posted_in,
        created_ms=created_ms,
        updated_ms=max(updated_ms, created_ms),
        cotonoma=cotonoma if as_cotonoma else None,
    )


def _toplevel(data: object) -> tuple[list[object], list[object], str]:
    if not isinstance(data, dict):
        raise InvalidFile("The file must be a JSON object with amishi, cotos and connections.")
    cotos, connections, amishi = data.get("cotos"), data.get("connections", []), data.get("amishi")
    if not isinstance(cotos, list):
        raise InvalidFile("cotos must be a list of cotos.")
    if not isinstance(connections, list):
        raise InvalidFile("connections must be a list of connections.")
    if not isinstance(amishi, dict) or not isinstance(amishi.get("id"), str):
        raise InvalidFile("amishi must be an object with the id of whoever exported the file.")
    return cotos, connections, amishi["id"]


def check_file(data: object) -> int:
    """InvalidFile unless `data` has an export's shape; else about how many items it holds
    (the job's plan counts them exactly). Cheap: the POST checks only this."""
    cotos, connections, _ = _toplevel(data)
    return len(cotos) + len(connections)


def plan_import(data: object) -> Plan:
    """What importing `data` (the file, parsed) does, in order; InvalidFile when
    it is not an export at all."""
    raw_cotos, raw_connections, file_amishi = _toplevel(data)
    plan = Plan()
    cotos: list[_Coto] = []
    seen: set[str] = set()
    for raw in raw_cotos:
        try:
            coto = _read_coto(raw)
            # Twice as given (whatever their times), or twice once made time-ordered.
            if coto.original_id in seen or coto.id in seen:
                raise _Reject("the id appears twice in the file")
        except _Reject as reason:
            plan.coto_rejections.append(Rejection(echo(raw), str(reason)))
            continue
        seen.update((coto.original_id, coto.id))
        cotos.append(coto)
    id_map = {coto.original_id: coto.id for coto in cotos}
    keys, cotonoma_cotos = _cotonomas(plan, cotos)
    for coto in cotos:
        if coto.cotonoma is not None:
            continue
        posted_in_key = _posted_in_key(coto.posted_in, keys)
        if coto.posted_in is not None and posted_in_key is None:
            plan.coto_rejections.append(Rejection(echo(coto.json), f"cotonoma not found: {coto.posted_in}"))
            continue
        plan.cotos.append(
            CotoItem(
                coto.json,
                coto.id,
                coto.content,
                posted_in_key,
                iso_of_ms(coto.created_ms),
                iso_of_ms(coto.updated_ms),
            )
        )
    _graph(plan, raw_connections, file_amishi, id_map, keys, cotonoma_cotos)
    return plan


def _posted_in_key(posted_in: str | None, keys: Mapping[str, str]) -> str | None:
    """The key a posted_in_id (or created_in) names: a cotonoma in the file by
    its id, else the key itself (ours); the original's id of a cotonoma not in
    the file names nothing here."""
    if posted_in is None:
        return None
    if posted_in in keys:
        return keys[posted_in]
    if COTONOMA_KEY.fullmatch(posted_in) and not _looks_like_uuid(posted_in):
        return posted_in
    return None


def _looks_like_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


def _cotonomas(plan: Plan, cotos: list[_Coto]) -> tuple[dict[str, str], dict[str, str]]:
    """The cotonomas' items, parents first; returns the key of each cotonoma id
    (and key) in the file, and the key of each cotonoma's coto (original id)."""
    keys: dict[str, str] = {}
    cotonoma_cotos: dict[str, str] = {}
    found: list[tuple[_Coto, str, list[str]]] = []
    for coto in cotos:
        if coto.cotonoma is None:
            continue
        try:
            key = coto.cotonoma.get("key")
            if not isinstance(key, str) or not COTONOMA_KEY.fullmatch(key):
                raise _Reject("cotonoma.key must be 8 to 64 letters, digits, '-' or '_'")
            if key in keys.values():
                raise _Reject("the cotonoma's key appears twice in the file")
            members = _members(coto.cotonoma)
        except _Reject as reason:
            plan.coto_rejections.append(Rejection(echo(coto.json), str(reason)))
            continue
        cotonoma_id = coto.cotonoma.get("id")
        if isinstance(cotonoma_id, str) and cotonoma_id:
            keys[cotonoma_id] = key
        keys[key] = key
        cotonoma_cotos[coto.original_id] = key
        found.append((coto, key, members))
    by_key = {key: (coto, members) for coto, key, members in found}
    placed: set[str] = set()
    for _found_coto, key, _found_members in found:
        # Its ancestors in the file first, then itself; a cycle is rejected.
        chain: list[str] = []
        current: str | None = key
        while current is not None and current in by_key and current not in placed and current not in chain:
            chain.append(current)
            current = _posted_in_key(by_key[current][0].posted_in, keys)
        cycle = current is not None and current in chain
        for link in reversed(chain):
            link_coto, link_members = by_key[link]
            placed.add(link)
            if cycle:
                plan.coto_rejections.append(Rejection(echo(link_coto.json), "the cotonoma is its own ancestor"))
                continue
            parent = _posted_in_key(link_coto.posted_in, keys)
            if link_coto.posted_in is not None and parent is None:
                missing = f"cotonoma not found: {link_coto.posted_in}"
                plan.coto_rejections.append(Rejection(echo(link_coto.json), missing))
                continue
            plan.cotonomas.append(
                CotonomaItem(
                    link_coto.json,
                    link_coto.id,
                    link,
                    link_coto.content,
                    parent,
                    iso_of_ms(link_coto.created_ms),
                    iso_of_ms(link_coto.updated_ms),
                    link_members,
                )
            )
    return keys, cotonoma_cotos


def _order(item: Mapping[str, Any]) -> int | None:
    value = item.get("order")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise _Reject("order must be a whole number from 0, or null")
    return value


def _phrase(item: Mapping[str, Any]) -> str | None:
    value = item.get("linking_phrase")
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Reject("linking_phrase must be a string or null")
    value = value.strip()
    if len(value) > MAX_LINKING_PHRASE_CHARS or not is_clean_text(value, one_line=True):
        raise _Reject(f"linking_phrase must be one line of at most {MAX_LINKING_PHRASE_CHARS} characters")
    return value or None


def _coto_ref(value: object, what: str, id_map: Mapping[str, str]) -> str:
    original = _uuid(value, what)
    return id_map.get(original, original)


def _graph(
    plan: Plan,
    raw_connections: list[object],
    file_amishi: str,
    id_map: Mapping[str, str],
    keys: Mapping[str, str],
    cotonoma_cotos: Mapping[str, str],
) -> None:
    seen: set[tuple[str, str | None, str]] = set()
    for raw in raw_connections:
        try:
            item = _graph_item(raw, file_amishi, id_map, keys, cotonoma_cotos)
            identity = (item.kind, str(item.body.get("start", item.body.get("cotonoma_key"))), str(item.cotos[-1]))
            if identity in seen:
                raise _Reject(f"the {item.kind} appears twice in the file")
        except _Reject as reason:
            plan.graph_rejections.append(Rejection(echo(raw), str(reason)))
            continue
        seen.add(identity)
        plan.graph.append(item)


def _graph_item(
    raw: object,
    file_amishi: str,
    id_map: Mapping[str, str],
    keys: Mapping[str, str],
    cotonoma_cotos: Mapping[str, str],
) -> GraphItem:
    if not isinstance(raw, dict):
        raise _Reject("a connection must be an object")
    end = _coto_ref(raw.get("end"), "end", id_map)
    created_at = iso_of_ms(_ms(raw, "created_at"))
    order = _order(raw)
    start = raw.get("start")
    pinned_in = raw.get("pinned_in")
    if isinstance(pinned_in, str) and COTONOMA_KEY.fullmatch(pinned_in):
        return GraphItem(echo(raw), "pin", _pin(end, pinned_in, order, created_at), (end,))
    if start == file_amishi:
        return GraphItem(echo(raw), "pin", _pin(end, None, order, created_at), (end,))
    if isinstance(start, str) and start in cotonoma_cotos:
        return GraphItem(echo(raw), "pin", _pin(end, cotonoma_cotos[start], order, created_at), (end,))
    start_id = _coto_ref(start, "start", id_map)
    if start_id == end:
        raise _Reject("a coto cannot be connected to itself")
    created_in = raw.get("created_in")
    body: dict[str, object] = {
        "start": start_id,
        "end": end,
        "linking_phrase": _phrase(raw),
        "created_in": _posted_in_key(created_in, keys) if isinstance(created_in, str) else None,
        "order": order,
        "created_at": created_at,
    }
    return GraphItem(echo(raw), "connection", body, (start_id, end))


def _pin(coto_id: str, cotonoma_key: str | None, order: int | None, created_at: str) -> dict[str, object]:
    return {"coto_id": coto_id, "cotonoma_key": cotonoma_key, "order": order, "created_at": created_at}
