"""HTTP resources of the graph service's public paths. No storage code here."""

import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import TypedDict

import falcon

from cotoami_common.cotonoma_access import COTONOMA_KEY, CotonomaAccess
from cotoami_common.internal import ServiceUnavailable
from cotoami_common.text import is_clean_text
from cotoami_common.tokens import Amishi
from cotoami_common.web import ErrorAnswers, json_object, limit_param, reject_unknown_fields, require_amishi
from graph.cotos_client import Coto, CotoLookup, author_stream, readable
from graph.events import DeletionFeed
from graph.metrics import CONNECTIONS_MADE, PINS_MADE
from graph.stock import build_stock
from graph.store import (
    Connection,
    ConnectionExists,
    GraphStore,
    InvalidCursor,
    NotTheSameIds,
    PinExists,
    Way,
    far_end,
    place_of,
)

MAX_LINKING_PHRASE_CHARS = 200
MAX_REORDER_IDS = 1000
DEFAULT_DEPTH = 2
MAX_DEPTH = 5
# A coto's neighbours come in pages, each way, as timelines do: a hub's
# thousand would be a thousand whole cotos in one answer.
NEIGHBOURS_PAGE = 50
MAX_NEIGHBOURS_PAGE = 200


class Neighbour(TypedDict):
    """One of a coto's neighbours: the connection, and the coto at its other end."""

    connection: Connection
    coto: Coto


def _unavailable(error: ServiceUnavailable) -> falcon.HTTPServiceUnavailable:
    # Fail closed: without cotos' or cotonomas' answer, nothing is shown or changed.
    return falcon.HTTPServiceUnavailable(
        description=f"The {error.service} service is not answering just now; try again shortly.", retry_after=5
    )


ERROR_ANSWERS: ErrorAnswers = {
    ConnectionExists: lambda error: falcon.HTTPConflict(
        title="Already connected", description="These cotos are connected already, in this direction."
    ),
    PinExists: lambda error: falcon.HTTPConflict(
        title="Already pinned", description="This coto is pinned there already."
    ),
    InvalidCursor: lambda error: falcon.HTTPBadRequest(
        title="Invalid cursor", description="after must be a cursor from a previous page."
    ),
    NotTheSameIds: lambda error: falcon.HTTPBadRequest(
        title="Invalid ids", description="ids must be exactly the ids being reordered, each once, in their new order."
    ),
    ServiceUnavailable: _unavailable,
}


def no_such_coto() -> falcon.HTTPNotFound:
    return falcon.HTTPNotFound(title="No such coto", description="There is no coto with this id.")


def no_such_cotonoma() -> falcon.HTTPNotFound:
    return falcon.HTTPNotFound(title="No such cotonoma", description="There is no cotonoma with this key.")


def no_such_connection() -> falcon.HTTPNotFound:
    return falcon.HTTPNotFound(title="No such connection", description="There is no connection with this id.")


def uuid_field(body: Mapping[str, object], field: str) -> str:
    value = body.get(field)
    try:
        if not isinstance(value, str):
            raise ValueError
        return str(uuid.UUID(value))
    except ValueError:
        raise falcon.HTTPBadRequest(
            title=f"Invalid {field}", description=f"{field} must be a coto id (a UUID)."
        ) from None


def key_field(body: Mapping[str, object], field: str) -> str | None:
    """An optional cotonoma key (absent or null: none)."""
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not COTONOMA_KEY.fullmatch(value):
        raise falcon.HTTPBadRequest(title=f"Invalid {field}", description=f"{field} must be a cotonoma key or null.")
    return value


def key_param(req: falcon.Request) -> str | None:
    value = req.get_param("cotonoma")
    if value is None:
        return None
    if not COTONOMA_KEY.fullmatch(value):
        raise falcon.HTTPBadRequest(title="Invalid cotonoma", description="cotonoma must be a cotonoma key.")
    return value


def linking_phrase(value: object) -> str | None:
    """A linking phrase: null, or one line of at most 200 characters once trimmed (blank: null)."""
    if value is None:
        return None
    title = "Invalid linking_phrase"
    if not isinstance(value, str):
        raise falcon.HTTPBadRequest(title=title, description="linking_phrase must be a string or null.")
    value = value.strip()
    if len(value) > MAX_LINKING_PHRASE_CHARS:
        raise falcon.HTTPBadRequest(
            title=title, description=f"linking_phrase must be at most {MAX_LINKING_PHRASE_CHARS} characters."
        )
    if not is_clean_text(value, one_line=True):
        raise falcon.HTTPBadRequest(
            title=title, description="linking_phrase must be one line without control characters."
        )
    return value or None


def id_list(body: Mapping[str, object]) -> list[str]:
    ids = body.get("ids")
    if not isinstance(ids, list):
        raise falcon.HTTPBadRequest(title="Invalid ids", description="ids must be a list of ids.")
    if len(ids) > MAX_REORDER_IDS:
        raise falcon.HTTPBadRequest(title="Invalid ids", description=f"ids may hold at most {MAX_REORDER_IDS} ids.")
    result = []
    for value in ids:
        try:
            if not isinstance(value, str):
                raise ValueError
            result.append(str(uuid.UUID(value)))
        except ValueError:
            raise falcon.HTTPBadRequest(
                title="Invalid ids", description="Each of ids must be an id (a UUID)."
            ) from None
    if len(set(result)) != len(result):
        raise falcon.HTTPBadRequest(title="Invalid ids", description="ids must name each one once.")
    return result


def depth_param(req: falcon.Request) -> int:
    raw = req.get_param("depth")
    if raw is None:
        return DEFAULT_DEPTH
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 2 and 1 <= int(raw) <= MAX_DEPTH):
        raise falcon.HTTPBadRequest(
            title="Invalid depth", description=f"depth must be an integer from 1 to {MAX_DEPTH}."
        )
    return int(raw)


class Readers:
    """What the asker may read: the cotonomas they may reach (cotonomas) and
    the cotos among some ids that exist and they may read (cotos)."""

    def __init__(self, lookup: CotoLookup, access: CotonomaAccess):
        self.lookup = lookup
        self.access = access

    def keys(self, amishi: Amishi) -> list[str]:
        return self.access.reachable(amishi)

    def cotos(self, amishi: Amishi, ids: Collection[str], keys: Collection[str]) -> dict[str, Coto]:
        if not ids:
            return {}
        reachable = set(keys)
        return {i: c for i, c in self.lookup.lookup(ids).items() if readable(c, amishi.id, reachable)}

    def member(self, key: str, amishi: Amishi) -> dict[str, str]:
        """The cotonoma if the asker may reach it, else 404."""
        decision = self.access.cotonoma(key, amishi)
        if decision is None:
            raise no_such_cotonoma()
        return decision


def visible(connection: Connection, amishi: Amishi, keys: Collection[str]) -> bool:
    created_in = connection["created_in"]
    return connection["created_by"] == amishi.id if created_in is None else created_in in keys


class ConnectionsResource:
    """POST /api/graph/connections, PATCH/DELETE /api/graph/connections/{id}."""

    def __init__(self, store: GraphStore, readers: Readers, feed: DeletionFeed):
        self.store = store
        self.readers = readers
        self.feed = feed

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi = require_amishi(req)
        body = json_object(req)
        reject_unknown_fields(body, ("start", "end", "linking_phrase", "cotonoma_key"))
        start, end = uuid_field(body, "start"), uuid_field(body, "end")
        phrase = linking_phrase(body.get("linking_phrase"))
        created_in = key_field(body, "cotonoma_key")
        if start == end:
            raise falcon.HTTPUnprocessableEntity(
                title="Cannot connect a coto to itself", description="start and end must be different cotos."
            )
        if created_in is not None:
            self.readers.member(created_in, amishi)
        since = self.feed.now()  # before the cotos are looked up: a deletion after it is read
        keys = self.readers.keys(amishi)
        cotos = self.readers.cotos(amishi, (start, end), keys)
        if start not in cotos or end not in cotos:
            raise no_such_coto()
        streams = {author_stream(cotos[start]), author_stream(cotos[end])}
        self.feed.follow(streams, since)
        connection = self.store.connect(amishi.id, start, end, phrase, created_in, watch=streams)
        CONNECTIONS_MADE.inc()
        resp.status = falcon.HTTP_201
        resp.media = {"connection": connection}

    def _visible(self, amishi: Amishi, connection_id: uuid.UUID) -> tuple[Connection, list[str]]:
        connection = self.store.connection(str(connection_id))
        keys = self.readers.keys(amishi)
        if connection is None or not visible(connection, amishi, keys):
            raise no_such_connection()
        return connection, keys

    def on_patch_item(self, req: falcon.Request, resp: falcon.Response, connection_id: uuid.UUID) -> None:
        amishi = require_amishi(req)
        body = json_object(req)
        reject_unknown_fields(body, ("linking_phrase",))
        if "linking_phrase" not in body:
            raise falcon.HTTPBadRequest(
                title="Invalid linking_phrase", description="linking_phrase is required (null clears it)."
            )
        phrase = linking_phrase(body["linking_phrase"])
        connection, _ = self._visible(amishi, connection_id)
        if connection["created_by"] != amishi.id:
            raise falcon.HTTPForbidden(title="Not yours", description="Only its maker may change a connection.")
        changed = self.store.set_phrase(connection["id"], phrase)
        if changed is None:
            raise no_such_connection()  # deleted meanwhile
        resp.media = {"connection": changed}

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, connection_id: uuid.UUID) -> None:
        amishi = require_amishi(req)
        connection, _ = self._visible(amishi, connection_id)
        if connection["created_by"] != amishi.id:
            created_in = connection["created_in"]
            decision = self.readers.access.cotonoma(created_in, amishi, fresh=True) if created_in else None
            if decision is None or decision["owner_id"] != amishi.id:
                raise falcon.HTTPForbidden(
                    title="Not yours",
                    description="Only its maker, or the owner of the cotonoma it was made in, may delete a connection.",
                )
        if not self.store.disconnect(connection["id"]):
            raise no_such_connection()
        resp.status = falcon.HTTP_204


class CotoGraphResource:
    """GET /api/graph/cotos/{id} (with the first page of each way),
    GET /api/graph/cotos/{id}/outgoing and /incoming (the pages after), and
    PUT /api/graph/cotos/{id}/order."""

    def __init__(self, store: GraphStore, readers: Readers):
        self.store = store
        self.readers = readers

    def _neighbours(
        self, req: falcon.Request, coto_id: uuid.UUID, ways: Sequence[str], after: str | None = None
    ) -> tuple[Coto, dict[str, tuple[list[Neighbour], str | None]]]:
        """The coto (404 unless the asker may read it) and, each way, a page of
        its neighbours the asker may see (after the cursor), with the next
        page's cursor."""
        amishi = require_amishi(req)
        limit = limit_param(req, default=NEIGHBOURS_PAGE, maximum=MAX_NEIGHBOURS_PAGE)
        read = [Way.reading(way, after) for way in ways]
        keys = self.readers.keys(amishi)
        pages = self.store.neighbours(str(coto_id), amishi.id, keys, read, limit)
        ids = {str(coto_id)}
        for way, page in pages.items():
            ids.update(far_end(way, c) for c in page.connections)
        cotos = self.readers.cotos(amishi, ids, keys)
        coto = cotos.get(str(coto_id))
        if coto is None:
            raise no_such_coto()
        found: dict[str, tuple[list[Neighbour], str | None]] = {}
        for way, page in pages.items():
            neighbours: list[Neighbour] = [
                {"connection": c, "coto": cotos[far_end(way, c)]} for c in page.connections if far_end(way, c) in cotos
            ]
            found[way] = (neighbours, page.next)
        return coto, found

    def on_get(self, req: falcon.Request, resp: falcon.Response, coto_id: uuid.UUID) -> None:
        coto, found = self._neighbours(req, coto_id, ("outgoing", "incoming"))
        (outgoing, outgoing_next), (incoming, incoming_next) = found["outgoing"], found["incoming"]
        resp.media = {
            "coto": coto,
            "outgoing": outgoing,
            "incoming": incoming,
            "outgoing_next": outgoing_next,
            "incoming_next": incoming_next,
        }

    def _page(self, req: falcon.Request, resp: falcon.Response, coto_id: uuid.UUID, way: str) -> None:
        _, found = self._neighbours(req, coto_id, (way,), req.get_param("after"))
        neighbours, next_cursor = found[way]
        resp.media = {"neighbours": neighbours, "next": next_cursor}

    def on_get_outgoing(self, req: falcon.Request, resp: falcon.Response, coto_id: uuid.UUID) -> None:
        self._page(req, resp, coto_id, "outgoing")

    def on_get_incoming(self, req: falcon.Request, resp: falcon.Response, coto_id: uuid.UUID) -> None:
        self._page(req, resp, coto_id, "incoming")

    def on_put_order(self, req: falcon.Request, resp: falcon.Response, coto_id: uuid.UUID) -> None:
        amishi = require_amishi(req)
        body = json_object(req)
        reject_unknown_fields(body, ("ids",))
        ids = id_list(body)
        keys = self.readers.keys(amishi)
        if not self.readers.cotos(amishi, (str(coto_id),), keys):
            raise no_such_coto()
        resp.media = {"connections": self.store.reorder(str(coto_id), amishi.id, keys, ids)}


class PinsResource:
    """GET/POST /api/graph/pins, PUT /api/graph/pins/order, DELETE /api/graph/pins/{coto_id}."""

    def __init__(self, store: GraphStore, readers: Readers, feed: DeletionFeed):
        self.store = store
        self.readers = readers
        self.feed = feed

    def _place(self, amishi: Amishi, key: str | None) -> str:
        if key is not None:
            self.readers.member(key, amishi)
        return place_of(amishi.id, key)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi = require_amishi(req)
        depth = depth_param(req)
        place = self._place(amishi, key_param(req))
        pins = self.store.pins(place)
        keys = self.readers.keys(amishi)
        roots = [p["coto_id"] for p in pins]
        connections = self.store.traverse(roots, depth, amishi.id, keys)
        cotos = self.readers.cotos(amishi, {*roots, *(c["end"] for c in connections)}, keys)
        resp.media = {"pins": build_stock(roots, connections, cotos, depth)}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi = require_amishi(req)
        body = json_object(req)
        reject_unknown_fields(body, ("coto_id", "cotonoma_key"))
        coto_id = uuid_field(body, "coto_id")
        key = key_field(body, "cotonoma_key")
        self._place(amishi, key)
        since = self.feed.now()
        cotos = self.readers.cotos(amishi, (coto_id,), self.readers.keys(amishi))
        if coto_id not in cotos:
            raise no_such_coto()
        streams = {author_stream(cotos[coto_id])}
        self.feed.follow(streams, since)
        pin = self.store.pin(amishi.id, coto_id, key, watch=streams)
        PINS_MADE.inc()
        resp.status = falcon.HTTP_201
        resp.media = {"pin": pin}

    def on_put_order(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi = require_amishi(req)
        body = json_object(req)
        reject_unknown_fields(body, ("ids", "cotonoma_key"))
        ids = id_list(body)
        place = self._place(amishi, key_field(body, "cotonoma_key"))
        resp.media = {"pins": self.store.reorder_pins(place, ids)}

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, coto_id: uuid.UUID) -> None:
        amishi = require_amishi(req)
        place = self._place(amishi, key_param(req))
        if not self.store.unpin(place, str(coto_id)):
            raise falcon.HTTPNotFound(title="No such pin", description="This coto is not pinned there.")
        resp.status = falcon.HTTP_204
