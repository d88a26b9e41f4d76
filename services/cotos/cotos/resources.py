"""HTTP resources of the cotos service. No storage code here."""

import re
import secrets
import uuid

import falcon

from cotoami_common.web import json_object, limit_param, reject_unknown_fields, set_cookie
from cotos.store import AnonymousCotoStore, CotoStore

ANONYMOUS_COOKIE = "anonymous_id"
MAX_CONTENT_CHARS = 10_000  # the README documents it; the web client enforces it too
_ANONYMOUS_ID = re.compile(r"[0-9a-f]{32}")
# Control characters other than tab and newlines have no place in a note.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def coto_content(body: dict) -> str:
    content = body.get("content")
    if not isinstance(content, str):
        raise falcon.HTTPBadRequest(title="Invalid content", description="content must be a string.")
    content = content.strip()
    if not content:
        raise falcon.HTTPBadRequest(title="Invalid content", description="content must not be blank.")
    if len(content) > MAX_CONTENT_CHARS:
        raise falcon.HTTPBadRequest(
            title="Invalid content", description=f"content must be at most {MAX_CONTENT_CHARS} characters."
        )
    if _CONTROL.search(content):
        raise falcon.HTTPBadRequest(title="Invalid content", description="content must not contain control characters.")
    try:
        content.encode("utf-8")
    except UnicodeEncodeError:
        raise falcon.HTTPBadRequest(title="Invalid content", description="content must be valid Unicode text.") from None
    return content


def cursor_param(req: falcon.Request) -> str | None:
    raw = req.get_param("before")
    if raw is None:
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise falcon.HTTPBadRequest(title="Invalid cursor", description="before must be a cursor from a previous page.") from None


def _no_such_coto() -> falcon.HTTPNotFound:
    return falcon.HTTPNotFound(title="No such coto", description="There is no coto with this id.")


def _no_such_cotonoma() -> falcon.HTTPNotFound:
    # No cotonoma exists yet; this is what an unknown one will answer.
    return falcon.HTTPNotFound(title="No such cotonoma", description="There is no cotonoma with this key.")


class CotosResource:
    """/api/cotos and /api/cotos/{coto_id}.

    A signed-in amishi's cotos live in PostgreSQL and only their author sees
    them (404 to anyone else); the anonymous cookie is ignored meanwhile.
    Anonymous visitors keep a memo pad known by a cookie.
    """

    def __init__(self, cotos: CotoStore, anonymous_cotos: AnonymousCotoStore, anonymous_ttl_seconds: int):
        self.cotos = cotos
        self.anonymous_cotos = anonymous_cotos
        self.anonymous_ttl_seconds = anonymous_ttl_seconds

    def _anonymous_id(self, req: falcon.Request) -> str | None:
        values = req.get_cookie_values(ANONYMOUS_COOKIE) or []
        return next((v for v in values if _ANONYMOUS_ID.fullmatch(v)), None)

    def _keep_cookie(self, req: falcon.Request, resp: falcon.Response, anonymous_id: str) -> None:
        # Re-sent on every use: the pad lives for its TTL after the last use, not the first.
        set_cookie(req, resp, ANONYMOUS_COOKIE, anonymous_id, self.anonymous_ttl_seconds)

    def _owned(self, req: falcon.Request, resp: falcon.Response) -> str:
        anonymous_id = self._anonymous_id(req)
        if anonymous_id is None:
            raise _no_such_coto()
        self._keep_cookie(req, resp, anonymous_id)
        return anonymous_id

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi = req.context.amishi
        if req.get_param("cotonoma") is not None:
            if amishi is None:
                raise falcon.HTTPUnauthorized(title="Sign in", description="Sign in to read a cotonoma.")
            raise _no_such_cotonoma()
        before = cursor_param(req)
        limit = limit_param(req, default=50, maximum=200)
        if amishi is not None:
            cotos, next_cursor = self.cotos.timeline(amishi.id, before, limit)
            resp.media = {"cotos": cotos, "next": next_cursor}
            return
        anonymous_id = self._anonymous_id(req)
        if anonymous_id is None:
            resp.media = {"cotos": [], "next": None}
            return
        cotos, next_cursor = self.anonymous_cotos.timeline(anonymous_id, before, limit)
        self._keep_cookie(req, resp, anonymous_id)
        resp.media = {"cotos": cotos, "next": next_cursor}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi = req.context.amishi
        body = json_object(req)
        reject_unknown_fields(body, ("content", "cotonoma_key"))
        content = coto_content(body)
        if body.get("cotonoma_key") is not None:
            if amishi is None:
                raise falcon.HTTPUnauthorized(title="Sign in", description="Sign in to post into a cotonoma.")
            raise _no_such_cotonoma()
        if amishi is not None:
            coto = self.cotos.post(amishi, content)
        else:
            anonymous_id = self._anonymous_id(req) or secrets.token_hex(16)
            coto = self.anonymous_cotos.post(anonymous_id, content)
            self._keep_cookie(req, resp, anonymous_id)
        resp.status = falcon.HTTP_201
        resp.location = f"/api/cotos/{coto['id']}"
        resp.media = {"coto": coto}

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, coto_id: uuid.UUID) -> None:
        amishi = req.context.amishi
        if amishi is not None:
            coto = self.cotos.get(str(coto_id))
            if coto is not None and coto["amishi"]["id"] != amishi.id:
                coto = None  # nothing is shared yet: another's coto does not exist for you
        else:
            coto = self.anonymous_cotos.get(self._owned(req, resp), str(coto_id))
        if coto is None:
            raise _no_such_coto()
        resp.media = {"coto": coto}

    def on_patch_item(self, req: falcon.Request, resp: falcon.Response, coto_id: uuid.UUID) -> None:
        amishi = req.context.amishi
        body = json_object(req)
        reject_unknown_fields(body, ("content",))
        content = coto_content(body)
        if amishi is not None:
            coto = self.cotos.update(amishi, str(coto_id), content)
        else:
            coto = self.anonymous_cotos.update(self._owned(req, resp), str(coto_id), content)
        if coto is None:
            raise _no_such_coto()
        resp.media = {"coto": coto}

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, coto_id: uuid.UUID) -> None:
        amishi = req.context.amishi
        if amishi is not None:
            deleted = self.cotos.delete(amishi.id, str(coto_id))
        else:
            deleted = self.anonymous_cotos.delete(self._owned(req, resp), str(coto_id))
        if not deleted:
            raise _no_such_coto()
        resp.status = falcon.HTTP_204


def _claim_author(body: dict) -> dict:
    author = body.get("amishi")
    if not isinstance(author, dict):
        raise falcon.HTTPBadRequest(title="Invalid body", description="amishi must be an object.")
    reject_unknown_fields(author, ("id", "display_name", "avatar_url"))
    for name in ("id", "display_name", "avatar_url"):
        if not isinstance(author.get(name), str) or not author[name].strip():
            raise falcon.HTTPBadRequest(title="Invalid body", description=f"amishi.{name} must be a non-empty string.")
    try:
        amishi_id = str(uuid.UUID(author["id"]))
    except ValueError:
        raise falcon.HTTPBadRequest(title="Invalid body", description="amishi.id must be a UUID.") from None
    return {**author, "id": amishi_id}


class AnonymousCotoClaimsResource:
    """POST /internal/anonymous-cotos/claims: auth, on sign-in, moves a memo
    pad into the amishi's account.

    Exactly once even when retried or interrupted: the cotos are inserted
    (keeping their ids) and committed before the pad forgets them, so a retry
    after a crash in between inserts nothing twice and still clears the pad.
    """

    def __init__(self, cotos: CotoStore, anonymous_cotos: AnonymousCotoStore):
        self.cotos = cotos
        self.anonymous_cotos = anonymous_cotos

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_object(req)
        reject_unknown_fields(body, ("anonymous_id", "amishi"))
        anonymous_id = body.get("anonymous_id")
        if not isinstance(anonymous_id, str) or not _ANONYMOUS_ID.fullmatch(anonymous_id):
            raise falcon.HTTPBadRequest(
                title="Invalid body", description="anonymous_id must be 32 lowercase hex digits."
            )
        author = _claim_author(body)
        pad = self.anonymous_cotos.all(anonymous_id)
        moved = self.cotos.save_anonymous(author, pad) if pad else 0
        self.anonymous_cotos.forget(anonymous_id, [coto["id"] for coto in pad])
        resp.media = {"moved": moved}
