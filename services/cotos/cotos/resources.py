"""HTTP resources of the cotos service. No storage code here."""

import logging
import os
import re
import signal
import uuid
from collections.abc import Mapping

import falcon

from cotoami_common.cotonoma_access import COTONOMA_KEY, CotonomaAccess
from cotoami_common.internal import ServiceUnavailable
from cotoami_common.ratelimit import RateLimiter
from cotoami_common.text import is_clean_text
from cotoami_common.tokens import Amishi
from cotoami_common.web import (
    ErrorAnswers,
    answer_json,
    client_address,
    json_object,
    limit_param,
    reject_unknown_fields,
    set_cookie,
    text_field,
)
from cotos.config import Config
from cotos.metrics import COTOS_POSTED
from cotos.store import (
    AnonymousCoto,
    AnonymousCotoStore,
    Author,
    CannotStandFor,
    Coto,
    CotonomaNotEmpty,
    CotoStore,
    IdempotencyKeyReused,
    NoSuchCotonoma,
    PadFull,
    Posted,
    StandsForCotonoma,
)

log = logging.getLogger(__name__)

ANONYMOUS_COOKIE = "anonymous_id"
MAX_CONTENT_CHARS = 10_000  # the README documents it; the web client enforces it too
MAX_COTONOMA_NAME_CHARS = 50  # as cotonomas enforces it
_ANONYMOUS_ID = re.compile(r"[0-9a-f]{32}")
# Visible ASCII, as the IETF Idempotency-Key draft's examples (a UUID is typical).
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
# Asks for a fault, when the config's fault_hooks allow it.
FAULT_HEADER = "X-Cotoami-Fault"


def coto_content(body: Mapping[str, object]) -> str:
    return text_field(body, "content", MAX_CONTENT_CHARS, one_line=False)


def cursor_param(req: falcon.Request) -> str | None:
    raw = req.get_param("before")
    if raw is None:
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise falcon.HTTPBadRequest(
            title="Invalid cursor", description="before must be a cursor from a previous page."
        ) from None


def idempotency_key(req: falcon.Request) -> str | None:
    key = req.get_header("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise falcon.HTTPBadRequest(
            title="Invalid Idempotency-Key", description="Idempotency-Key must be 1 to 255 visible ASCII characters."
        )
    return key


def anonymous_id_in(req: falcon.Request) -> str | None:
    """The well-formed id in the anonymous cookie, issued or not."""
    values = req.get_cookie_values(ANONYMOUS_COOKIE) or []
    return next((v for v in values if _ANONYMOUS_ID.fullmatch(v)), None)


def _no_such_coto() -> falcon.HTTPNotFound:
    return falcon.HTTPNotFound(title="No such coto", description="There is no coto with this id.")


def _no_such_cotonoma() -> falcon.HTTPNotFound:
    # Also what a cotonoma one may not access answers: its existence is private.
    return falcon.HTTPNotFound(title="No such cotonoma", description="There is no cotonoma with this key.")


def _stands_for_cotonoma() -> falcon.HTTPConflict:
    # 409 rather than 400: the request is well formed and would succeed on any
    # other coto; what refuses it is this coto's state (it stands for a
    # cotonoma, whose name cotonomas owns), and no change to the body would help.
    return falcon.HTTPConflict(
        title="Coto stands for a cotonoma",
        description="This coto stands for a cotonoma: it changes only with its cotonoma (rename the cotonoma).",
    )


_CANNOT_GO_BACK = "The cotonoma it was posted in is gone, or you may no longer post in it."


def _not_restorable(description: str) -> falcon.HTTPConflict:
    # 409: the coto is the author's and in the trash; what refuses is where it would go back to.
    return falcon.HTTPConflict(title="Cannot restore", description=description)


def _sign_in(description: str) -> falcon.HTTPUnauthorized:
    return falcon.HTTPUnauthorized(title="Sign in", description=description, challenges=["Cookie"])


def _cotonomas_unavailable(error: ServiceUnavailable) -> falcon.HTTPServiceUnavailable:
    # Fail closed: without a decision from cotonomas, nobody enters a cotonoma.
    log.warning("cotonomas unavailable: %s", error)
    return falcon.HTTPServiceUnavailable(
        description="Cotonomas cannot be reached just now; try again shortly.", retry_after=5
    )


# What the stores and the access checks may raise, as the answer each one means; create_app registers them.
ERROR_ANSWERS: ErrorAnswers = {
    IdempotencyKeyReused: lambda error: falcon.HTTPUnprocessableEntity(
        title="Idempotency-Key reused",
        description="This Idempotency-Key was used for another request; use a new key for a new coto.",
    ),
    PadFull: lambda error: falcon.HTTPConflict(
        title="Memo pad full", description=f"An anonymous pad holds {error.max_cotos} cotos; sign in to keep more."
    ),
    StandsForCotonoma: lambda error: _stands_for_cotonoma(),
    NoSuchCotonoma: lambda error: _no_such_cotonoma(),
    ServiceUnavailable: _cotonomas_unavailable,
}


class CotosResource:
    """/api/cotos and /api/cotos/{coto_id}.

    A signed-in amishi's cotos live in PostgreSQL; their author sees them, and
    so does whoever may access the cotonoma they were posted in (cotonomas
    decides); anyone else gets 404. Only the author changes a coto, and not
    the coto standing for a cotonoma (409). The anonymous cookie is ignored
    while signed in. Anonymous visitors keep a
    memo pad known by a cookie this service issued (any other id is no pad),
    and never reach cotonomas.
    """

    def __init__(
        self,
        config: Config,
        cotos: CotoStore,
        anonymous_cotos: AnonymousCotoStore,
        access: CotonomaAccess,
        limits: RateLimiter,
    ):
        self.config = config
        self.cotos = cotos
        self.anonymous_cotos = anonymous_cotos
        self.access = access
        self.limits = limits

    def _limit_anonymous_writes(self, req: falcon.Request) -> None:
        # Nobody is accountable for an anonymous pad, so one client's writes are counted.
        wait = self.limits.hit(f"anonymous-writes:{client_address(req)}", self.config.anonymous_writes_per_client)
        if wait is not None:
            raise falcon.HTTPTooManyRequests(
                title="Too many writes",
                description="Too many anonymous writes from here; wait a while, or sign in.",
                retry_after=wait,
            )

    def _keep_cookie(self, req: falcon.Request, resp: falcon.Response, anonymous_id: str) -> None:
        # Re-sent on every use: the pad lives for its TTL after the last use, not the first.
        set_cookie(req, resp, ANONYMOUS_COOKIE, anonymous_id, self.config.anonymous_ttl_seconds)

    def _pad(self, req: falcon.Request, resp: falcon.Response) -> str | None:
        """The browser's pad, renewed with its cookie, if the cookie names one
        this service issued. Any other id is no pad: one planted in a browser
        must not gather what its owner writes."""
        anonymous_id = anonymous_id_in(req)
        if anonymous_id is None or not self.anonymous_cotos.renew(anonymous_id):
            return None
        self._keep_cookie(req, resp, anonymous_id)
        return anonymous_id

    def _owned(self, req: falcon.Request, resp: falcon.Response) -> str:
        if req.method != "GET":
            self._limit_anonymous_writes(req)
        anonymous_id = self._pad(req, resp)
        if anonymous_id is None:
            raise _no_such_coto()
        return anonymous_id

    def _enter(self, cotonoma_key: str, amishi: Amishi) -> None:
        """Goes on only if this amishi may read and post in the cotonoma."""
        if self.access.cotonoma(cotonoma_key, amishi) is None:
            raise _no_such_cotonoma()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi = req.context.amishi
        cotonoma_key = req.get_param("cotonoma")
        if cotonoma_key is not None and amishi is None:
            raise _sign_in("Sign in to read a cotonoma.")
        before = cursor_param(req)
        limit = limit_param(req, default=50, maximum=200)
        if cotonoma_key is not None:
            self._enter(cotonoma_key, amishi)
            cotos, next_cursor = self.cotos.cotonoma_timeline(cotonoma_key, before, limit)
        elif amishi is not None:
            cotos, next_cursor = self.cotos.timeline(amishi.id, before, limit)
        else:
            # Read and renewed at once (_pad's renewal and the page in one round trip).
            anonymous_id = anonymous_id_in(req)
            found = self.anonymous_cotos.timeline(anonymous_id, before, limit) if anonymous_id else None
            if anonymous_id is not None and found is not None:
                self._keep_cookie(req, resp, anonymous_id)
            pad, next_cursor = found or ([], None)
            answer_json(req, resp, {"cotos": pad, "next": next_cursor})
            return
        # A page read again unchanged (the web client's refresh) is a 304 (answer_json).
        answer_json(req, resp, {"cotos": cotos, "next": next_cursor})

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi = req.context.amishi
        body = json_object(req)
        reject_unknown_fields(body, ("content", "cotonoma_key"))
        content = coto_content(body)
        cotonoma_key = body.get("cotonoma_key")
        key = idempotency_key(req)
        if cotonoma_key is not None and not isinstance(cotonoma_key, str):
            raise falcon.HTTPBadRequest(title="Invalid cotonoma_key", description="cotonoma_key must be a string.")
        if cotonoma_key is not None and amishi is None:
            raise _sign_in("Sign in to post into a cotonoma.")
        posted = self._post(req, resp, amishi, content, cotonoma_key, key)
        if self.config.fault_hooks and req.get_header(FAULT_HEADER) == "kill-after-commit":
            # Dies as a crash would between the commit and the answer (tests/test_events.py).
            os.kill(os.getpid(), signal.SIGKILL)
        if posted.coto is None:
            raise falcon.HTTPConflict(
                title="Already done",
                description="A request with this Idempotency-Key made a coto that has since been deleted.",
            )
        if posted.replayed:
            resp.set_header("Idempotent-Replayed", "true")
        else:
            COTOS_POSTED.labels("signed_in" if amishi is not None else "anonymous").inc()
        resp.status = falcon.HTTP_201
        resp.location = f"/api/cotos/{posted.coto['id']}"
        resp.media = {"coto": posted.coto}

    def _post(
        self,
        req: falcon.Request,
        resp: falcon.Response,
        amishi: Amishi | None,
        content: str,
        cotonoma_key: str | None,
        key: str | None,
    ) -> Posted:
        if amishi is not None:
            if cotonoma_key is not None:
                self._enter(cotonoma_key, amishi)
            return self.cotos.post(amishi, content, cotonoma_key, idempotency_key=key)
        self._limit_anonymous_writes(req)
        # An id the store did not issue is replaced by one it does, with this coto.
        anonymous_id, posted = self.anonymous_cotos.post(anonymous_id_in(req), content, idempotency_key=key)
        self._keep_cookie(req, resp, anonymous_id)
        return posted

    def on_get_item(self, req: falcon.Request, resp: falcon.Response, coto_id: uuid.UUID) -> None:
        amishi = req.context.amishi
        coto: Coto | AnonymousCoto | None
        if amishi is not None:
            coto = self.cotos.get(str(coto_id))
            if coto is not None and coto["amishi"]["id"] != amishi.id and not self._shared_with(coto, amishi):
                coto = None
        else:
            coto = self.anonymous_cotos.get(self._owned(req, resp), str(coto_id))
        if coto is None:
            raise _no_such_coto()
        resp.media = {"coto": coto}

    def _shared_with(self, coto: Coto, amishi: Amishi) -> bool:
        """Whether another's coto was posted in a cotonoma this amishi may access."""
        posted_in = coto["posted_in"]
        return posted_in is not None and self.access.cotonoma(posted_in["key"], amishi) is not None

    def on_patch_item(self, req: falcon.Request, resp: falcon.Response, coto_id: uuid.UUID) -> None:
        amishi = req.context.amishi
        body = json_object(req)
        reject_unknown_fields(body, ("content",))
        content = coto_content(body)
        coto: Coto | AnonymousCoto | None
        if amishi is not None:
            coto = self.cotos.update(amishi, str(coto_id), content)
        else:
            coto = self.anonymous_cotos.update(self._owned(req, resp), str(coto_id), content)
        if coto is None:
            raise _no_such_coto()
        resp.media = {"coto": coto}

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, coto_id: uuid.UUID) -> None:
        """Its author's coto goes to their trash; so does one posted in a
        cotonoma whose owner asks (moderation: the author is not told by whom).
        An anonymous pad's coto is deleted for good (the pad has no trash)."""
        amishi = req.context.amishi
        if amishi is not None:
            deleted = self.cotos.delete(amishi.id, str(coto_id)) or self._moderate(amishi, str(coto_id))
        else:
            deleted = self.anonymous_cotos.delete(self._owned(req, resp), str(coto_id))
        if not deleted:
            raise _no_such_coto()
        resp.status = falcon.HTTP_204

    def _moderate(self, amishi: Amishi, coto_id: str) -> bool:
        """Whether another's coto was removed from a cotonoma this amishi owns
        (cotonomas says whose it is); anyone else's is no coto of theirs to delete."""
        coto = self.cotos.get(coto_id)
        if coto is None or coto["posted_in"] is None:
            return False
        key = coto["posted_in"]["key"]
        decision = self.access.cotonoma(key, amishi)
        if decision is None or decision["owner_id"] != amishi.id:
            return False
        if coto["as_cotonoma"]:
            raise StandsForCotonoma(coto_id)  # a sub-cotonoma goes only with its own deletion
        return self.cotos.moderate(coto_id, key)

    def on_post_restore(self, req: falcon.Request, resp: falcon.Response, coto_id: uuid.UUID) -> None:
        """POST /api/cotos/{id}/restore: its author brings a deleted coto back
        from the trash, where it was, within TRASH_DAYS. Anyone else, and any
        coto not in the author's trash, is 404, as a coto one cannot see."""
        amishi = req.context.amishi
        trashed = self.cotos.trashed(amishi.id, str(coto_id)) if amishi is not None else None
        if amishi is None or trashed is None:
            raise _no_such_coto()
        if trashed.moderated:
            raise _not_restorable("It was removed from the cotonoma it was posted in, and stays removed.")
        if trashed.posted_in_key is not None and self.access.cotonoma(trashed.posted_in_key, amishi) is None:
            raise _not_restorable(_CANNOT_GO_BACK)
        try:
            coto = self.cotos.restore(amishi.id, str(coto_id))
        except NoSuchCotonoma:
            raise _not_restorable(_CANNOT_GO_BACK) from None
        if coto is None:
            raise _no_such_coto()  # restored or purged meanwhile
        resp.media = {"coto": coto}


MAX_SEARCH_CHARS = 200


def search_text(req: falcon.Request) -> str:
    """?q=: 1 to 200 characters after trimming, on one line."""
    text = (req.get_param("q") or "").strip()
    if not 1 <= len(text) <= MAX_SEARCH_CHARS or not is_clean_text(text, one_line=True):
        raise falcon.HTTPBadRequest(
            title="Invalid q",
            description=f"q must be 1 to {MAX_SEARCH_CHARS} characters of text on one line (after trimming).",
        )
    return text


class SearchResource:
    """GET /api/search?q=: the newest cotos containing q, case-insensitively,
    among those the asker may read: their own anywhere and those posted in the
    cotonomas they may enter (cotonomas says which, and fails closed);
    anonymous, their pad."""

    def __init__(self, cotos: CotoStore, anonymous_cotos: AnonymousCotoStore, access: CotonomaAccess):
        self.cotos = cotos
        self.anonymous_cotos = anonymous_cotos
        self.access = access

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi = req.context.amishi
        text = search_text(req)
        before = cursor_param(req)
        limit = limit_param(req, default=50, maximum=200)
        found: list[Coto] | list[AnonymousCoto]
        if amishi is not None:
            found, next_cursor = self.cotos.search(amishi.id, self.access.reachable(amishi), text, before, limit)
        else:
            anonymous_id = anonymous_id_in(req)
            if anonymous_id is not None and self.anonymous_cotos.renew(anonymous_id):
                found, next_cursor = self.anonymous_cotos.search(anonymous_id, text, before, limit)
            else:
                found, next_cursor = [], None
        resp.media = {"cotos": found, "next": next_cursor}


def _author(body: Mapping[str, object], field: str) -> Author:
    """An amishi as another service describes them: {id, display_name, avatar_url}."""
    author = body.get(field)
    if not isinstance(author, dict):
        raise falcon.HTTPBadRequest(title="Invalid body", description=f"{field} must be an object.")
    reject_unknown_fields(author, ("id", "display_name", "avatar_url"))
    for name in ("id", "display_name", "avatar_url"):
        if not isinstance(author.get(name), str) or not author[name].strip() or not is_clean_text(author[name], True):
            raise falcon.HTTPBadRequest(
                title="Invalid body", description=f"{field}.{name} must be one line of text, not blank."
            )
    try:
        amishi_id = str(uuid.UUID(author["id"]))
    except ValueError:
        raise falcon.HTTPBadRequest(title="Invalid body", description=f"{field}.id must be a UUID.") from None
    return Author(id=amishi_id, display_name=author["display_name"], avatar_url=author["avatar_url"])


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
        author = _author(body, "amishi")
        if not self.anonymous_cotos.renew(anonymous_id):
            # Never issued (made up by whoever asked for the link) or expired: nothing to save.
            resp.media = {"moved": 0}
            return
        pad = self.anonymous_cotos.all(anonymous_id)
        moved = self.cotos.save_anonymous(author, pad) if pad else 0
        self.anonymous_cotos.forget(anonymous_id, [coto["id"] for coto in pad])
        resp.media = {"moved": moved}


class AnonymousPadResource:
    """GET /internal/anonymous-pads/{anonymous_id}: how many cotos a pad holds,
    which auth's confirm page tells before a sign-in saves them. Renews nothing:
    looking is not using."""

    def __init__(self, anonymous_cotos: AnonymousCotoStore):
        self.anonymous_cotos = anonymous_cotos

    def on_get(self, req: falcon.Request, resp: falcon.Response, anonymous_id: str) -> None:
        if not _ANONYMOUS_ID.fullmatch(anonymous_id):
            raise falcon.HTTPBadRequest(
                title="Invalid anonymous id", description="An anonymous id is 32 lowercase hex digits."
            )
        size = self.anonymous_cotos.size(anonymous_id)
        if size is None:
            raise falcon.HTTPNotFound(title="No such pad", description="No browser was given this anonymous id.")
        resp.media = {"cotos": size}


def _cotonoma_key(key: object, what: str) -> str:
    if not isinstance(key, str) or not COTONOMA_KEY.fullmatch(key):
        raise falcon.HTTPBadRequest(
            title="Invalid cotonoma key", description=f"{what} must be 8 to 64 letters, digits, '-' or '_'."
        )
    return key


def _cotonoma_name(body: Mapping[str, object]) -> str:
    return text_field(body, "name", MAX_COTONOMA_NAME_CHARS, one_line=True)


MAX_LOOKUP_IDS = 1000
# A coto id as other services send it: a UUID with its hyphens (PostgreSQL reads it).
COTO_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


class CotoLookupResource:
    """POST /internal/cotos/lookup {ids}: the cotos among those ids (at most
    1000), for a service that shows cotos beside its own data (graph). Only
    what was asked; who may read each is for the asking service to decide
    (as GET /api/cotos/{id} does: its author, or who may reach its cotonoma)."""

    def __init__(self, cotos: CotoStore):
        self.cotos = cotos

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_object(req)
        reject_unknown_fields(body, ("ids",))
        ids = body.get("ids")
        if not isinstance(ids, list) or len(ids) > MAX_LOOKUP_IDS or not all(isinstance(i, str) for i in ids):
            raise falcon.HTTPBadRequest(
                title="Invalid ids", description=f"ids must be a list of at most {MAX_LOOKUP_IDS} coto ids."
            )
        # Checked as text, not parsed: uuid.UUID() took 2 ms for a thousand.
        if not all(COTO_ID.fullmatch(i) for i in ids):
            raise falcon.HTTPBadRequest(title="Invalid ids", description="Each of ids must be a coto id.")
        wanted = sorted(set(ids))
        resp.media = {"cotos": self.cotos.lookup(wanted) if wanted else []}


class CotonomaCotosResource:
    """/internal/cotonoma-cotos/{key}: cotonomas keeps the coto that stands for
    each cotonoma. Both methods may be repeated safely: cotonomas retries them
    to keep exactly one coto per cotonoma. A PUT under a parent whose coto is
    gone is 404; a DELETE of a cotonoma that holds cotos is 409.

    Cotonomatize: a PUT with `coto_id` makes that coto of the owner's (posted
    in parent_key) stand for the cotonoma rather than creating one, 409 if it
    cannot; a DELETE with ?keep=coto makes it a plain coto again rather than
    deleting it (a cotonomatize undone: what was written is never lost)."""

    def __init__(self, cotos: CotoStore):
        self.cotos = cotos

    def on_put(self, req: falcon.Request, resp: falcon.Response, key: str) -> None:
        """Creates the coto if absent, else renames it to the name given."""
        _cotonoma_key(key, "The key")
        body = json_object(req)
        reject_unknown_fields(body, ("name", "parent_key", "owner", "coto_id"))
        name = _cotonoma_name(body)
        if "parent_key" not in body:
            raise falcon.HTTPBadRequest(title="Invalid body", description="parent_key is required (null at home).")
        parent_key = None if body["parent_key"] is None else _cotonoma_key(body["parent_key"], "parent_key")
        if parent_key == key:
            raise falcon.HTTPBadRequest(title="Invalid body", description="A cotonoma cannot be its own parent.")
        owner = _author(body, "owner")
        if body.get("coto_id") is not None:
            try:
                coto_id = str(uuid.UUID(str(body["coto_id"])))
            except ValueError:
                raise falcon.HTTPBadRequest(title="Invalid body", description="coto_id must be a coto id.") from None
            try:
                resp.media = {"coto": self.cotos.mark_cotonoma_coto(key, coto_id, name, parent_key, owner)}
            except CannotStandFor:
                raise falcon.HTTPConflict(
                    title="Cannot stand for the cotonoma",
                    description="That coto is not the owner's as it was (gone, moved or another cotonoma's).",
                ) from None
            return
        resp.media = {"coto": self.cotos.put_cotonoma_coto(key, name, parent_key, owner)}

    def on_delete(self, req: falcon.Request, resp: falcon.Response, key: str) -> None:
        """Deletes the coto (and the trash of the cotonoma) unless cotos are
        posted in it: then 409 saying how many, and nothing is deleted."""
        keep = req.get_param("keep")
        if keep not in (None, "coto"):
            raise falcon.HTTPBadRequest(title="Invalid keep", description="keep may only be coto.")
        try:
            if keep == "coto":
                self.cotos.unmark_cotonoma_coto(_cotonoma_key(key, "The key"))
            else:
                self.cotos.delete_cotonoma_coto(_cotonoma_key(key, "The key"))
        except CotonomaNotEmpty as error:
            resp.status = falcon.HTTP_409
            resp.media = {
                "title": "Cotonoma not empty",
                "description": f"{error.cotos} cotos are posted in this cotonoma.",
                "cotos": error.cotos,
            }
            return
        resp.status = falcon.HTTP_204
