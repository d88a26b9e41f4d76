"""The graph service's internal paths, for the archive service: a person's
connections and pins, exported page by page, and imported. No storage code here."""

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import falcon

from cotoami_common.cotonoma_access import COTONOMA_KEY
from cotoami_common.tokens import Amishi
from cotoami_common.web import json_object, limit_param, reject_unknown_fields
from graph.cotos_client import author_stream
from graph.events import DeletionFeed
from graph.metrics import CONNECTIONS_MADE, PINS_MADE
from graph.resources import MAX_LINKING_PHRASE_CHARS, Readers
from graph.store import INSERTED, UPDATED, GraphImports, GraphStore, ImportedConnection, ImportedPin

MAX_IMPORT_ITEMS = 1000
DEFAULT_PAGE = 500
MAX_PAGE = 1000
MAX_EMAIL_CHARS = 320
# A page's cursor: the last item's time (microseconds since the epoch), its place for a pin, and its id.
_CONNECTION_CURSOR = re.compile(r"(-?[0-9]{1,20})\.([0-9a-f-]{36})")
_PIN_CURSOR = re.compile(r"(-?[0-9]{1,20})\.((?:home|cotonoma):[A-Za-z0-9_-]{8,64})\.([0-9a-f-]{36})")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _moment(micros: str) -> datetime:
    try:
        return EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:
        raise _bad_cursor() from None


def _bad_cursor() -> falcon.HTTPBadRequest:
    return falcon.HTTPBadRequest(title="Invalid after", description="after must be the next of a previous page.")


def created_by_param(req: falcon.Request) -> str:
    try:
        return str(uuid.UUID(req.get_param("created_by", required=True)))
    except ValueError:
        raise falcon.HTTPBadRequest(
            title="Invalid created_by", description="created_by must be an amishi id."
        ) from None


def _uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise _bad_cursor() from None


class ExportConnectionsResource:
    """GET /internal/graph/connections?created_by=&after=&limit=: oldest first."""

    def __init__(self, store: GraphStore):
        self.store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi_id = created_by_param(req)
        limit = limit_param(req, DEFAULT_PAGE, MAX_PAGE)
        raw = req.get_param("after")
        after = None
        if raw is not None:
            match = _CONNECTION_CURSOR.fullmatch(raw)
            if not match:
                raise _bad_cursor()
            after = (_moment(match[1]), _uuid(match[2]))
        connections, last = self.store.export_connections(amishi_id, after, limit)
        cursor = f"{_micros(last[0])}.{last[1]}" if last else None
        resp.media = {"connections": connections, "next": cursor}


class ExportPinsResource:
    """GET /internal/graph/pins?created_by=&after=&limit=: oldest first."""

    def __init__(self, store: GraphStore):
        self.store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi_id = created_by_param(req)
        limit = limit_param(req, DEFAULT_PAGE, MAX_PAGE)
        raw = req.get_param("after")
        after = None
        if raw is not None:
            match = _PIN_CURSOR.fullmatch(raw)
            if not match:
                raise _bad_cursor()
            after = (_moment(match[1]), match[2], _uuid(match[3]))
        pins, last = self.store.export_pins(amishi_id, after, limit)
        cursor = f"{_micros(last[0])}.{last[1]}.{last[2]}" if last else None
        resp.media = {"pins": pins, "next": cursor}


class Invalid(Exception):
    """An item of an import that cannot be imported, and why."""


def _item_uuid(item: Mapping[str, object], field: str) -> str:
    value = item.get(field)
    try:
        if not isinstance(value, str):
            raise ValueError
        return str(uuid.UUID(value))
    except ValueError:
        raise Invalid(f"{field} must be a coto id") from None


def _item_key(item: Mapping[str, object], field: str) -> str | None:
    value = item.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not COTONOMA_KEY.fullmatch(value):
        raise Invalid(f"{field} must be a cotonoma key or null")
    return value


def _item_order(item: Mapping[str, object]) -> int | None:
    value = item.get("order")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise Invalid("order must be a whole number from 0, or null")
    return value


def _item_time(item: Mapping[str, object]) -> datetime | None:
    value = item.get("created_at")
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("created_at must be an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _item_phrase(item: Mapping[str, object]) -> str | None:
    value = item.get("linking_phrase")
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid("linking_phrase must be a string or null")
    value = value.strip()
    if len(value) > MAX_LINKING_PHRASE_CHARS or "\n" in value or "\r" in value:
        raise Invalid(f"linking_phrase must be one line of at most {MAX_LINKING_PHRASE_CHARS} characters")
    return value or None


def parse_connection(item: object) -> ImportedConnection:
    if not isinstance(item, dict):
        raise Invalid("a connection must be an object")
    connection = ImportedConnection(
        start=_item_uuid(item, "start"),
        end=_item_uuid(item, "end"),
        linking_phrase=_item_phrase(item),
        created_in=_item_key(item, "created_in"),
        order=_item_order(item),
        created_at=_item_time(item),
    )
    if connection.start == connection.end:
        raise Invalid("a coto cannot be connected to itself")
    return connection


def parse_pin(item: object) -> ImportedPin:
    if not isinstance(item, dict):
        raise Invalid("a pin must be an object")
    return ImportedPin(
        coto_id=_item_uuid(item, "coto_id"),
        cotonoma_key=_item_key(item, "cotonoma_key"),
        order=_item_order(item),
        created_at=_item_time(item),
    )


def _list(body: Mapping[str, object], field: str) -> Sequence[object]:
    value = body.get(field, [])
    if not isinstance(value, list):
        raise falcon.HTTPBadRequest(title=f"Invalid {field}", description=f"{field} must be a list.")
    return value


class ImportResource:
    """POST /internal/graph/import: one person's connections and pins from an archive."""

    def __init__(self, store: GraphStore, readers: Readers, feed: DeletionFeed):
        self.imports = GraphImports(store.pool)
        self.readers = readers
        self.feed = feed

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_object(req)
        reject_unknown_fields(body, ("amishi_id", "email", "connections", "pins"))
        try:
            amishi_id = str(uuid.UUID(str(body.get("amishi_id"))))
        except ValueError:
            raise falcon.HTTPBadRequest(
                title="Invalid amishi_id", description="amishi_id must be an amishi id."
            ) from None
        email = body.get("email", "")
        if not isinstance(email, str) or len(email) > MAX_EMAIL_CHARS or "\n" in email:
            raise falcon.HTTPBadRequest(title="Invalid email", description="email must be an address.")
        raw_connections, raw_pins = _list(body, "connections"), _list(body, "pins")
        if len(raw_connections) + len(raw_pins) > MAX_IMPORT_ITEMS:
            raise falcon.HTTPBadRequest(
                title="Too many items", description=f"An import holds at most {MAX_IMPORT_ITEMS} connections and pins."
            )
        amishi = Amishi(amishi_id, email.strip().lower(), "", "")
        rejected: dict[str, list[dict[str, object]]] = {"connections": [], "pins": []}
        connections: list[tuple[int, ImportedConnection]] = []
        pins: list[tuple[int, ImportedPin]] = []
        for index, raw in enumerate(raw_connections):
            try:
                connections.append((index, parse_connection(raw)))
            except Invalid as why:
                rejected["connections"].append({"index": index, "reason": str(why)})
        for index, raw in enumerate(raw_pins):
            try:
                pins.append((index, parse_pin(raw)))
            except Invalid as why:
                rejected["pins"].append({"index": index, "reason": str(why)})
        since = self.feed.now()
        keys = set(self.readers.keys(amishi))
        ids = {c.start for _, c in connections} | {c.end for _, c in connections} | {p.coto_id for _, p in pins}
        cotos = self.readers.cotos(amishi, ids, keys)
        good_connections: list[tuple[int, ImportedConnection]] = []
        for index, c in connections:
            if c.start not in cotos or c.end not in cotos:
                rejected["connections"].append({"index": index, "reason": "unknown coto"})
            elif c.created_in is not None and c.created_in not in keys:
                rejected["connections"].append({"index": index, "reason": "unknown cotonoma"})
            else:
                good_connections.append((index, c))
        good_pins: list[tuple[int, ImportedPin]] = []
        for index, p in pins:
            if p.coto_id not in cotos:
                rejected["pins"].append({"index": index, "reason": "unknown coto"})
            elif p.cotonoma_key is not None and p.cotonoma_key not in keys:
                rejected["pins"].append({"index": index, "reason": "unknown cotonoma"})
            else:
                good_pins.append((index, p))
        used = {c.start for _, c in good_connections} | {c.end for _, c in good_connections}
        streams = {author_stream(cotos[i]) for i in used | {p.coto_id for _, p in good_pins}}
        self.feed.follow(streams, since)
        done_connections, done_pins = self.imports.run(
            amishi_id, [c for _, c in good_connections], [p for _, p in good_pins], watch=streams
        )
        answer: dict[str, dict[str, object]] = {}
        for name, good, done in (
            ("connections", good_connections, done_connections),
            ("pins", good_pins, done_pins),
        ):
            for (index, _), outcome in zip(good, done, strict=True):
                if outcome not in (INSERTED, UPDATED) and outcome != "unchanged":
                    rejected[name].append({"index": index, "reason": outcome})
            answer[name] = {
                "inserted": done.count(INSERTED),
                "updated": done.count(UPDATED),
                "rejected": sorted(rejected[name], key=lambda r: int(str(r["index"]))),
            }
        CONNECTIONS_MADE.inc(done_connections.count(INSERTED))
        PINS_MADE.inc(done_pins.count(INSERTED))
        resp.media = answer
