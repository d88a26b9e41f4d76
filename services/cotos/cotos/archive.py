"""What the archive service reads and writes of cotos: a person's cotos page by
page for an export, and batches of cotos to import with the ids and times
they were given. Both under /internal/archive/, for the archive service (and
cotonomas, for the coto standing for an imported cotonoma) only.

An import keeps ids and times (timelines order by id, and the ids archive
sends are time-ordered: docs/decisions.md D141), changes only cotos the
author owns, never brings back one that is in the trash, and records no
`coto` events: an import of 100,000 cotos would otherwise flood every open
page's stream, and the streams keep about 10,000 entries (D143). Imported
cotos are in the table, so timelines and search show them at once."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypedDict

import falcon
import psycopg
import psycopg_pool

from cotoami_common.cotonoma_access import COTONOMA_KEY
from cotoami_common.text import is_clean_text
from cotoami_common.web import json_object, limit_param, reject_unknown_fields
from cotos.resources import MAX_CONTENT_CHARS, MAX_COTONOMA_NAME_CHARS, _author
from cotos.store import _RECORD_AUTHOR, Author, iso_utc

MAX_BATCH = 1000
Outcome = Literal["inserted", "updated", "unchanged", "rejected"]


class ExportedCoto(TypedDict):
    id: str
    content: str
    posted_in_key: str | None
    cotonoma_key: str | None
    created_at: str
    updated_at: str


class ImportResult(TypedDict, total=False):
    id: str
    result: Outcome
    reason: str


@dataclass(frozen=True)
class ImportedCoto:
    id: str
    content: str
    posted_in_key: str | None
    cotonoma_key: str | None
    created_at: datetime
    updated_at: datetime


# Along cotos_by_amishi (amishi_id, id DESC), read backwards; the range, as
# the timelines', keeps the planner off the primary key.
_EXPORT_PAGE = """
SELECT id::text, content, posted_in_key, cotonoma_key, created_at, updated_at FROM cotos
 WHERE amishi_id >= %(amishi_id)s AND amishi_id <= %(amishi_id)s AND id > %(after)s
 ORDER BY amishi_id, id LIMIT %(limit)s
"""

_EXISTING = """
SELECT id::text, amishi_id::text, content, posted_in_key, cotonoma_key FROM cotos
 WHERE id = ANY(%s::uuid[]) FOR UPDATE
"""
_TRASHED = "SELECT id::text, amishi_id::text FROM trashed_cotos WHERE id = ANY(%s::uuid[])"
# The cotonomas' cotos named, locked against their deletion until the batch commits.
_COTONOMA_COTOS = "SELECT cotonoma_key, id::text FROM cotos WHERE cotonoma_key = ANY(%s::text[]) FOR KEY SHARE"
_INSERT = """
INSERT INTO cotos (id, amishi_id, content, posted_in_key, cotonoma_key, created_at, updated_at)
SELECT id, %s::uuid, content, posted_in_key, cotonoma_key, created_at, updated_at
  FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[])
       AS t(id, content, posted_in_key, cotonoma_key, created_at, updated_at)
ON CONFLICT DO NOTHING
RETURNING id::text
"""
_UPDATE = "UPDATE cotos SET content = %s, posted_in_key = %s, updated_at = %s WHERE id = %s AND amishi_id = %s"

OTHERS = "the id belongs to someone else"


class ArchiveCotoStore:
    def __init__(self, pool: psycopg_pool.ConnectionPool):
        self.pool = pool

    def export_page(self, amishi_id: str, after: str | None, limit: int) -> tuple[list[ExportedCoto], str | None]:
        """The amishi's cotos (those standing for cotonomas too), oldest id first, after `after`."""
        params = {"amishi_id": amishi_id, "after": after or "00000000-0000-0000-0000-000000000000", "limit": limit}
        with self.pool.connection() as conn:
            rows = conn.execute(_EXPORT_PAGE, params).fetchall()
        cotos = [
            ExportedCoto(
                id=row[0],
                content=row[1],
                posted_in_key=row[2],
                cotonoma_key=row[3],
                created_at=iso_utc(row[4]),
                updated_at=iso_utc(row[5]),
            )
            for row in rows
        ]
        return cotos, (cotos[-1]["id"] if len(cotos) == limit else None)

    def import_batch(self, author: Author, cotos: list[ImportedCoto]) -> list[ImportResult]:
        """Each coto inserted, updated, left unchanged or rejected with a reason,
        in one transaction: safe to repeat (a repeat inserts nothing)."""
        with self.pool.connection() as conn:
            conn.execute(_RECORD_AUTHOR, author)
            with conn.transaction():
                return _import(conn, author["id"], cotos)


def _import(conn: psycopg.Connection, author_id: str, cotos: list[ImportedCoto]) -> list[ImportResult]:
    ids = [coto.id for coto in cotos]
    existing = {row[0]: row for row in conn.execute(_EXISTING, (ids,)).fetchall()}
    trashed: dict[str, str] = dict(conn.execute(_TRASHED, (ids,)).fetchall())
    keys = {coto.posted_in_key for coto in cotos if coto.posted_in_key} | {
        coto.cotonoma_key for coto in cotos if coto.cotonoma_key
    }
    cotonoma_cotos: dict[str, str] = dict(conn.execute(_COTONOMA_COTOS, (sorted(keys),)).fetchall())
    results: list[ImportResult] = []
    inserts: list[ImportedCoto] = []
    seen: set[str] = set()
    for coto in cotos:
        outcome, reason = _decide(coto, author_id, existing.get(coto.id), trashed.get(coto.id), cotonoma_cotos, seen)
        seen.add(coto.id)
        if outcome == "inserted":
            inserts.append(coto)
            if coto.cotonoma_key:
                cotonoma_cotos[coto.cotonoma_key] = coto.id
        elif outcome == "updated":
            conn.execute(_UPDATE, (coto.content, coto.posted_in_key, coto.updated_at, coto.id, author_id))
        results.append(
            ImportResult(id=coto.id, result=outcome, reason=reason)
            if reason
            else ImportResult(id=coto.id, result=outcome)
        )
    if inserts:
        inserted = {
            row[0]
            for row in conn.execute(
                _INSERT,
                (
                    author_id,
                    [c.id for c in inserts],
                    [c.content for c in inserts],
                    [c.posted_in_key for c in inserts],
                    [c.cotonoma_key for c in inserts],
                    [c.created_at for c in inserts],
                    [c.updated_at for c in inserts],
                ),
            ).fetchall()
        }
        for result in results:
            # Taken meanwhile by a concurrent write (ON CONFLICT): not ours to say inserted.
            if result["result"] == "inserted" and result["id"] not in inserted:
                result["result"], result["reason"] = "rejected", "the id was taken meanwhile"
    return results


def _decide(
    coto: ImportedCoto,
    author_id: str,
    existing: tuple[str, str, str, str | None, str | None] | None,
    trashed_owner: str | None,
    cotonoma_cotos: dict[str, str],
    seen: set[str],
) -> tuple[Outcome, str | None]:
    if coto.id in seen:
        return "rejected", "the id appears twice"
    if trashed_owner is not None:
        return "rejected", "it is in the trash" if trashed_owner == author_id else OTHERS
    if existing is not None and existing[1] != author_id:
        return "rejected", OTHERS
    if coto.posted_in_key and coto.posted_in_key not in cotonoma_cotos:
        return "rejected", f"cotonoma not found: {coto.posted_in_key}"
    if coto.cotonoma_key:
        holder = cotonoma_cotos.get(coto.cotonoma_key)
        if holder is not None and holder != coto.id:
            return "rejected", "the cotonoma has another coto"
        if existing is not None and existing[4] != coto.cotonoma_key:
            return "rejected", "the coto exists and does not stand for this cotonoma"
    elif existing is not None and existing[4] is not None:
        return "rejected", "the id is a cotonoma's coto"
    if existing is None:
        return "inserted", None
    if existing[2] == coto.content and existing[3] == coto.posted_in_key:
        return "unchanged", None
    return "updated", None


def _time(value: object, what: str) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                return moment
        except ValueError:
            pass
    raise falcon.HTTPBadRequest(title="Invalid body", description=f"{what} must be an ISO 8601 time with its zone.")


def _key(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not COTONOMA_KEY.fullmatch(value):
        raise falcon.HTTPBadRequest(title="Invalid body", description=f"{what} must be a cotonoma key or null.")
    return value


def parse_coto(item: object, index: int) -> ImportedCoto:
    """One coto of an import batch, or a 400: archive sends only what it checked."""
    what = f"cotos[{index}]"
    if not isinstance(item, dict):
        raise falcon.HTTPBadRequest(title="Invalid body", description=f"{what} must be an object.")
    reject_unknown_fields(item, ("id", "content", "posted_in_key", "cotonoma_key", "created_at", "updated_at"))
    try:
        coto_id = str(uuid.UUID(str(item.get("id"))))
    except (TypeError, ValueError, AttributeError):
        raise falcon.HTTPBadRequest(title="Invalid body", description=f"{what}.id must be a UUID.") from None
    cotonoma_key = _key(item.get("cotonoma_key"), f"{what}.cotonoma_key")
    content = item.get("content")
    most = MAX_COTONOMA_NAME_CHARS if cotonoma_key else MAX_CONTENT_CHARS
    if (
        not isinstance(content, str)
        or not content.strip()
        or len(content) > most
        or not is_clean_text(content, one_line=bool(cotonoma_key))
    ):
        raise falcon.HTTPBadRequest(
            title="Invalid body", description=f"{what}.content must be 1 to {most} characters of text."
        )
    return ImportedCoto(
        id=coto_id,
        content=content,
        posted_in_key=_key(item.get("posted_in_key"), f"{what}.posted_in_key"),
        cotonoma_key=cotonoma_key,
        created_at=_time(item.get("created_at"), f"{what}.created_at"),
        updated_at=_time(item.get("updated_at"), f"{what}.updated_at"),
    )


class ArchiveCotosResource:
    """/internal/archive/cotos: GET a page of a person's cotos for an export
    (?amishi_id=&after=&limit=), POST a batch to import ({author, cotos})."""

    def __init__(self, store: ArchiveCotoStore):
        self.store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi_id = _uuid_param(req, "amishi_id", required=True)
        assert amishi_id is not None
        after = _uuid_param(req, "after", required=False)
        limit = limit_param(req, default=500, maximum=MAX_BATCH)
        cotos, next_cursor = self.store.export_page(amishi_id, after, limit)
        resp.media = {"cotos": cotos, "next": next_cursor}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_object(req)
        reject_unknown_fields(body, ("author", "cotos"))
        author = _author(body, "author")
        items = body.get("cotos")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
            raise falcon.HTTPBadRequest(
                title="Invalid body", description=f"cotos must be a list of 1 to {MAX_BATCH} cotos."
            )
        cotos = [parse_coto(item, index) for index, item in enumerate(items)]
        try:
            results = self.store.import_batch(author, cotos)
        except psycopg.errors.ForeignKeyViolation:
            # A cotonoma named was deleted between the check and the insert: nothing was written.
            raise falcon.HTTPConflict(
                title="Cotonoma gone", description="A cotonoma went while the batch was written; send it again."
            ) from None
        resp.media = {"results": results}


def _uuid_param(req: falcon.Request, name: str, required: bool) -> str | None:
    raw = req.get_param(name)
    if raw is None:
        if required:
            raise falcon.HTTPBadRequest(title=f"Invalid {name}", description=f"{name} is required.")
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise falcon.HTTPBadRequest(title=f"Invalid {name}", description=f"{name} must be a UUID.") from None
