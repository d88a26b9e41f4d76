"""What the archive service reads and writes of cotonomas: a person's
cotonomas (with their members) page by page for an export, and one cotonoma
at a time to import with the key, coto id and times it was given.

An imported cotonoma is made as a created one is (consistency.py): its row is
committed 'creating' (invisible), the cotos service is asked for its coto
(here through the archive import, keeping the coto's id and times), and the
row goes 'ready' with its original times. An import killed in between leaves a
row the reconciler undoes, and an import run again makes it anew. Members are
added without invitations (no mail goes out for an import), and nothing is
written to the outbox (docs/decisions.md D143)."""

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Literal, TypedDict

import falcon
import psycopg
import psycopg_pool

from cotoami_common.cotonoma_access import COTONOMA_KEY
from cotoami_common.internal import InternalClient, ServiceUnavailable
from cotoami_common.text import is_clean_text
from cotoami_common.tokens import Amishi
from cotoami_common.web import json_object, limit_param, reject_unknown_fields
from cotonomas.store import _RECORD_AMISHI, _STILL_READY, CotonomaStore, Viewer, iso_utc

MAX_NAME_CHARS = 50
MAX_MEMBERS = 1000
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,253}")
Outcome = Literal["inserted", "updated", "unchanged", "rejected"]
OTHERS = "the key belongs to someone else"


class ExportedCotonoma(TypedDict):
    key: str
    name: str
    parent_key: str | None
    created_at: str
    updated_at: str
    members: list[str]


_EXPORT_PAGE = """
SELECT c.key, c.name, c.parent_key, c.created_at, c.updated_at,
       coalesce((SELECT array_agg(m.email ORDER BY m.email) FROM members m WHERE m.cotonoma_key = c.key), '{}')
  FROM cotonomas c
 WHERE c.owner_id = %(owner_id)s AND c.state = 'ready' AND c.key > %(after)s
 ORDER BY c.key LIMIT %(limit)s
"""
_ROW = "SELECT owner_id::text, name, parent_key, state FROM cotonomas WHERE key = %s FOR UPDATE"
_INSERT = "INSERT INTO cotonomas (key, name, owner_id, parent_key, state) VALUES (%s, %s, %s, %s, 'creating')"
_READY = "UPDATE cotonomas SET state = 'ready', created_at = %s, updated_at = %s WHERE key = %s"
_RENAME = "UPDATE cotonomas SET name = %s, updated_at = now() WHERE key = %s"
_MEMBERS = """
INSERT INTO members (cotonoma_key, email, added_by)
SELECT %s, email, %s FROM unnest(%s::text[]) AS m(email)
ON CONFLICT DO NOTHING
"""


class ImportedCotonoma(TypedDict):
    key: str
    coto_id: str
    name: str
    parent_key: str | None
    created_at: str
    updated_at: str
    members: list[str]


class ArchiveCotonomas:
    def __init__(self, pool: psycopg_pool.ConnectionPool, store: CotonomaStore, cotos: InternalClient):
        self.pool = pool
        self.store = store
        self.cotos = cotos

    def export_page(self, owner_id: str, after: str | None, limit: int) -> tuple[list[ExportedCotonoma], str | None]:
        with self.pool.connection() as conn:
            rows = conn.execute(_EXPORT_PAGE, {"owner_id": owner_id, "after": after or "", "limit": limit}).fetchall()
        page = [
            ExportedCotonoma(
                key=row[0],
                name=row[1],
                parent_key=row[2],
                created_at=iso_utc(row[3]),
                updated_at=iso_utc(row[4]),
                members=list(row[5]),
            )
            for row in rows
        ]
        return page, (page[-1]["key"] if len(page) == limit else None)

    def import_one(self, owner: Amishi, cotonoma: ImportedCotonoma) -> tuple[Outcome, str | None]:
        """The cotonoma inserted, renamed, left as it is or rejected with a reason.
        ServiceUnavailable when cotos did not answer (what was begun is undone
        by the reconciler, and an import run again makes it)."""
        key = cotonoma["key"]
        with self.pool.connection() as conn:
            with conn.transaction():
                conn.execute(_RECORD_AMISHI, {**owner.public(), "email": owner.email})
            with conn.transaction():
                row = conn.execute(_ROW, (key,)).fetchone()
                if row is not None:
                    owner_id, name, parent_key, state = row
                    if owner_id != owner.id:
                        return "rejected", OTHERS
                    if state == "deleting":
                        return "rejected", "the cotonoma is being deleted"
                    if parent_key != cotonoma["parent_key"]:
                        return "rejected", "a cotonoma cannot move to another parent"
                    if state == "ready":
                        return self._update(conn, owner, cotonoma, name)
                else:
                    refusal = self._begin(conn, owner, cotonoma)
                    if refusal is not None:
                        return "rejected", refusal
            # The row is committed 'creating'; locked while its coto is made, as a creation's.
            with conn.transaction():
                if (
                    conn.execute(
                        "SELECT 1 FROM cotonomas WHERE key = %s AND state = 'creating' FOR UPDATE", (key,)
                    ).fetchone()
                    is None
                ):
                    return "rejected", "its creation was undone meanwhile; import again"
                outcome, reason = self._put_coto(owner, cotonoma)
                if outcome == "rejected":
                    conn.execute("DELETE FROM cotonomas WHERE key = %s", (key,))
                    return outcome, reason
                conn.execute(
                    _READY,
                    (
                        datetime.fromisoformat(cotonoma["created_at"]),
                        datetime.fromisoformat(cotonoma["updated_at"]),
                        key,
                    ),
                )
                conn.execute(_MEMBERS, (key, owner.id, cotonoma["members"]))
                return "inserted", None

    @staticmethod
    def _begin(conn: psycopg.Connection, owner: Amishi, cotonoma: ImportedCotonoma) -> str | None:
        parent_key = cotonoma["parent_key"]
        if parent_key is not None and (
            CotonomaStore._reach(conn, parent_key, Viewer.of(owner)) is None
            or not conn.execute(_STILL_READY, (parent_key,)).fetchone()
        ):
            return f"cotonoma not found: {parent_key}"
        try:
            with conn.transaction():
                conn.execute(_INSERT, (cotonoma["key"], cotonoma["name"], owner.id, parent_key))
        except psycopg.errors.UniqueViolation as error:
            if error.diag.constraint_name == "cotonomas_pkey":
                return OTHERS
            return f'Cotonoma "{cotonoma["name"]}" already exists.'
        return None

    def _update(
        self, conn: psycopg.Connection, owner: Amishi, cotonoma: ImportedCotonoma, name: str
    ) -> tuple[Outcome, str | None]:
        key = cotonoma["key"]
        added = conn.execute(_MEMBERS, (key, owner.id, cotonoma["members"])).rowcount
        if name == cotonoma["name"]:
            return ("updated" if added else "unchanged"), None
        try:
            with conn.transaction():
                conn.execute(
                    "UPDATE cotonomas SET name = %s, updated_at = now() WHERE key = %s", (cotonoma["name"], key)
                )
        except psycopg.errors.UniqueViolation:
            return "rejected", f'Cotonoma "{cotonoma["name"]}" already exists.'
        outcome, reason = self._put_coto(owner, cotonoma)
        if outcome == "rejected":
            raise _Refused(reason or "refused by cotos")
        return "updated", None

    def _put_coto(self, owner: Amishi, cotonoma: ImportedCotonoma) -> tuple[Outcome, str | None]:
        item = {
            "id": cotonoma["coto_id"],
            "content": cotonoma["name"],
            "posted_in_key": cotonoma["parent_key"],
            "cotonoma_key": cotonoma["key"],
            "created_at": cotonoma["created_at"],
            "updated_at": cotonoma["updated_at"],
        }
        answer = self.cotos.call(
            "POST", "/internal/archive/cotos", json={"author": owner.public(), "cotos": [item]}, expect=(200,)
        )
        body = answer.json()
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list) or len(results) != 1 or not isinstance(results[0], dict):
            raise ServiceUnavailable("cotos", "answered an import without its result", maybe_done=True)
        result = results[0]
        outcome = result.get("result")
        if outcome not in ("inserted", "updated", "unchanged", "rejected"):
            raise ServiceUnavailable("cotos", "answered an import with an unknown result", maybe_done=True)
        reason = result.get("reason")
        return outcome, reason if isinstance(reason, str) else None


class _Refused(Exception):
    """cotos refused the renamed coto: the rename is rolled back."""


def _time(value: object, what: str) -> str:
    if isinstance(value, str):
        try:
            if datetime.fromisoformat(value).tzinfo is not None:
                return value
        except ValueError:
            pass
    raise falcon.HTTPBadRequest(title="Invalid body", description=f"{what} must be an ISO 8601 time with its zone.")


def _key(value: object, what: str) -> str:
    if not isinstance(value, str) or not COTONOMA_KEY.fullmatch(value):
        raise falcon.HTTPBadRequest(title="Invalid body", description=f"{what} must be a cotonoma key.")
    return value


def parse_cotonoma(body: Mapping[str, object]) -> ImportedCotonoma:
    item = body.get("cotonoma")
    if not isinstance(item, dict):
        raise falcon.HTTPBadRequest(title="Invalid body", description="cotonoma must be an object.")
    reject_unknown_fields(item, ("key", "coto_id", "name", "parent_key", "created_at", "updated_at", "members"))
    try:
        coto_id = str(uuid.UUID(str(item.get("coto_id"))))
    except (TypeError, ValueError, AttributeError):
        raise falcon.HTTPBadRequest(title="Invalid body", description="cotonoma.coto_id must be a UUID.") from None
    name = item.get("name")
    if not isinstance(name, str) or name != name.strip() or not 1 <= len(name) <= MAX_NAME_CHARS:
        raise falcon.HTTPBadRequest(title="Invalid body", description="cotonoma.name must be 1 to 50 characters.")
    if not is_clean_text(name, one_line=True):
        raise falcon.HTTPBadRequest(title="Invalid body", description="cotonoma.name must be one line of text.")
    members = item.get("members", [])
    if (
        not isinstance(members, list)
        or len(members) > MAX_MEMBERS
        or not all(isinstance(m, str) and _EMAIL.fullmatch(m.strip()) for m in members)
    ):
        raise falcon.HTTPBadRequest(
            title="Invalid body", description=f"cotonoma.members must be a list of at most {MAX_MEMBERS} addresses."
        )
    parent = item.get("parent_key")
    return ImportedCotonoma(
        key=_key(item.get("key"), "cotonoma.key"),
        coto_id=coto_id,
        name=name,
        parent_key=None if parent is None else _key(parent, "cotonoma.parent_key"),
        created_at=_time(item.get("created_at"), "cotonoma.created_at"),
        updated_at=_time(item.get("updated_at"), "cotonoma.updated_at"),
        members=sorted({m.strip().lower() for m in members}),
    )


def parse_owner(body: Mapping[str, object]) -> Amishi:
    owner = body.get("owner")
    if not isinstance(owner, dict):
        raise falcon.HTTPBadRequest(title="Invalid body", description="owner must be an object.")
    reject_unknown_fields(owner, ("id", "email", "display_name", "avatar_url"))
    fields = {}
    for name in ("id", "email", "display_name", "avatar_url"):
        value = owner.get(name)
        if not isinstance(value, str) or not value.strip() or not is_clean_text(value, one_line=True):
            raise falcon.HTTPBadRequest(title="Invalid body", description=f"owner.{name} must be one line of text.")
        fields[name] = value
    try:
        fields["id"] = str(uuid.UUID(fields["id"]))
    except ValueError:
        raise falcon.HTTPBadRequest(title="Invalid body", description="owner.id must be a UUID.") from None
    return Amishi(**fields)


class ArchiveCotonomasResource:
    """/internal/archive/cotonomas: GET a page of a person's cotonomas with their
    members (?owner_id=&after=KEY&limit=), POST one to import ({owner, cotonoma})."""

    def __init__(self, archive: ArchiveCotonomas):
        self.archive = archive

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raw = req.get_param("owner_id") or ""
        try:
            owner_id = str(uuid.UUID(raw))
        except ValueError:
            raise falcon.HTTPBadRequest(title="Invalid owner_id", description="owner_id must be a UUID.") from None
        after = req.get_param("after")
        if after is not None and not COTONOMA_KEY.fullmatch(after):
            raise falcon.HTTPBadRequest(title="Invalid after", description="after must be a cotonoma key.")
        cotonomas, next_key = self.archive.export_page(owner_id, after, limit_param(req, default=500, maximum=1000))
        resp.media = {"cotonomas": cotonomas, "next": next_key}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_object(req)
        reject_unknown_fields(body, ("owner", "cotonoma"))
        owner = parse_owner(body)
        cotonoma = parse_cotonoma(body)
        try:
            outcome, reason = self.archive.import_one(owner, cotonoma)
        except _Refused as refused:
            outcome, reason = "rejected", str(refused)
        resp.media = {"key": cotonoma["key"], "result": outcome, **({"reason": reason} if reason else {})}
