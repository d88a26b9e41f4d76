"""HTTP resources of the cotonomas service. No SQL here.

A cotonoma someone may not reach is 404 to them, exactly as an unknown key
is: its existence is private. Owner-only actions are 403 to those who may
reach it but do not own it.
"""

import unicodedata
import uuid
from datetime import datetime, timedelta

import falcon
import redis

from cotoami_common.addresses import MAX_ADDRESS_CHARS, is_mail_address
from cotoami_common.internal import ServiceUnavailable
from cotoami_common.mail import enqueue_mail
from cotoami_common.text import is_clean_text
from cotoami_common.tokens import Amishi
from cotoami_common.web import (
    ErrorAnswers,
    json_object,
    limit_param,
    reject_unknown_fields,
    require_amishi,
    text_field,
)
from cotonomas.consistency import CotonomaWrites
from cotonomas.cotos_client import CannotBecomeCotonoma
from cotonomas.invitations import InvitationBudget, TooManyInvitations
from cotonomas.metrics import COTONOMAS_CREATED
from cotonomas.store import (
    AlreadyMember,
    CotonomaNotEmpty,
    CotonomaStore,
    MadeAlready,
    NameTaken,
    NoSuchCotonoma,
    Place,
    Viewer,
    parse_cursor,
)

MAX_NAME_CHARS = 50
# A creation under way is finished or undone within seconds (its calls to cotos time out in ~2 s).
NAME_PENDING_RETRY_SECONDS = 2


def cotonoma_name(body: dict[str, object]) -> str:
    return text_field(body, "name", MAX_NAME_CHARS, one_line=True)


def parent_key_field(body: dict[str, object]) -> str | None:
    parent_key = body.get("parent_key")
    if parent_key is not None and not isinstance(parent_key, str):
        raise falcon.HTTPBadRequest(title="Invalid parent_key", description="parent_key must be a string or null.")
    return parent_key


def is_address(email: str) -> bool:
    """Whether a lower-cased address is one a member may have: one the mailer
    accepts, and without "/": the gateway refuses an encoded slash in a path,
    so such a member could not be removed."""
    return is_mail_address(email) and "/" not in email


def member_email(body: dict[str, object]) -> str:
    email = body.get("email")
    if not isinstance(email, str):
        raise falcon.HTTPBadRequest(title="Invalid email", description="email must be a string.")
    email = email.strip().lower()
    if not is_address(email):
        raise falcon.HTTPBadRequest(title="Invalid email", description="That does not look like an email address.")
    return email


def cursor_param(req: falcon.Request) -> tuple[datetime, str] | None:
    raw = req.get_param("before")
    if raw is None:
        return None
    cursor = parse_cursor(raw)
    if cursor is None:
        raise falcon.HTTPBadRequest(title="Invalid cursor", description="before must be a cursor from a previous page.")
    return cursor


def no_such_cotonoma() -> falcon.HTTPNotFound:
    return falcon.HTTPNotFound(title="No such cotonoma", description="There is no cotonoma with this key.")


def name_taken(error: NameTaken) -> falcon.HTTPError:
    if error.pending:
        # A conflict with another request, not an outage: that creation may yet fail and free the name.
        return falcon.HTTPConflict(
            title="Name in use",
            headers={"Retry-After": str(NAME_PENDING_RETRY_SECONDS)},
            description="A cotonoma of this name is being created or undone here right now;"
            " try again in a moment to see whether the name is free.",
        )
    return falcon.HTTPConflict(title="Name taken", description="You already have a cotonoma of this name here.")


TOO_MANY_INVITATIONS = {
    "recipient": "This address has been sent too many invitations lately.",
    "inviter": "You have sent too many invitations lately.",
    "cotonoma": "This cotonoma has sent too many invitations lately.",
}


def too_many_invitations(error: TooManyInvitations) -> falcon.HTTPTooManyRequests:
    return falcon.HTTPTooManyRequests(
        title="Too many invitations",
        description=f"{TOO_MANY_INVITATIONS[error.by]} Nobody was added and no mail was sent; try again later.",
        retry_after=error.retry_after,
    )


def cotos_unavailable() -> falcon.HTTPServiceUnavailable:
    return falcon.HTTPServiceUnavailable(
        title="Cotos unavailable",
        retry_after=5,
        description="The cotos service is not answering, so nothing was changed; try again shortly.",
    )


def _counted(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def not_empty(error: CotonomaNotEmpty) -> falcon.HTTPConflict:
    held = [_counted(n, what) for n, what in ((error.cotos, "coto"), (error.cotonomas, "cotonoma")) if n]
    return falcon.HTTPConflict(
        title="Cotonoma not empty",
        description=f"It still holds {' and '.join(held)}. Only an empty cotonoma can be deleted.",
    )


# What the stores and the writes may raise, as the answer each one means; create_app registers them.
ERROR_ANSWERS: ErrorAnswers = {
    NoSuchCotonoma: lambda error: no_such_cotonoma(),
    NameTaken: name_taken,
    AlreadyMember: lambda error: falcon.HTTPConflict(
        title="Already a member", description=f"{error.email} is a member already."
    ),
    CotonomaNotEmpty: not_empty,
    ServiceUnavailable: lambda error: cotos_unavailable(),
    TooManyInvitations: too_many_invitations,
}


class CotonomasResource:
    """/api/cotonomas: mine and shared with me; create one."""

    def __init__(self, store: CotonomaStore, writes: CotonomaWrites):
        self.store = store
        self.writes = writes

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        viewer = Viewer.of(require_amishi(req))
        before = cursor_param(req)
        limit = limit_param(req, default=200, maximum=200)
        cotonomas, next_cursor = self.store.page(viewer, before, limit)
        resp.media = {"cotonomas": cotonomas, "next": next_cursor}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi = require_amishi(req)
        body = json_object(req)
        if "coto_id" in body:
            reject_unknown_fields(body, ("coto_id",))
            self._cotonomatize(amishi, body["coto_id"], resp)
            return
        reject_unknown_fields(body, ("name", "parent_key"))
        name, parent_key = cotonoma_name(body), parent_key_field(body)
        cotonoma = self.writes.create(amishi, name, parent_key)
        COTONOMAS_CREATED.labels("top" if parent_key is None else "nested").inc()
        resp.status = falcon.HTTP_201
        resp.location = f"/api/cotonomas/{cotonoma['key']}"
        resp.media = {"cotonoma": cotonoma}

    def _cotonomatize(self, amishi: Amishi, raw_id: object, resp: falcon.Response) -> None:
        """POST /api/cotonomas {coto_id}: one's own coto made a cotonoma where it
        was posted, keeping its id. Exactly once: asked again (a retry, or two
        at once), it answers the cotonoma made the first time."""
        try:
            coto_id = str(uuid.UUID(raw_id)) if isinstance(raw_id, str) else None
        except ValueError:
            coto_id = None
        if coto_id is None:
            raise falcon.HTTPBadRequest(title="Invalid coto_id", description="coto_id must be a coto id.")
        made = self.store.made_from(coto_id)
        if made is None:
            coto = self.writes.cotos.coto(coto_id)
            if coto is None or not isinstance(coto.get("amishi"), dict) or coto["amishi"].get("id") != amishi.id:
                raise falcon.HTTPNotFound(title="No such coto", description="There is no coto of yours with this id.")
            if coto.get("as_cotonoma"):
                raise falcon.HTTPConflict(title="A cotonoma already", description="This coto stands for a cotonoma.")
            name = cotonomatized_name(coto.get("content"))
            posted_in = coto.get("posted_in")
            parent_key = posted_in.get("key") if isinstance(posted_in, dict) else None
            try:
                cotonoma = self.writes.cotonomatize(amishi, coto_id, name, parent_key)
            except MadeAlready as already:
                made = (already.key, already.ready)
            except CannotBecomeCotonoma:
                raise falcon.HTTPConflict(
                    title="Cannot become a cotonoma",
                    description="The coto changed or moved meanwhile; try again.",
                ) from None
            else:
                COTONOMAS_CREATED.labels("top" if parent_key is None else "nested").inc()
        if made is not None:
            key, ready = made
            if not ready:
                raise falcon.HTTPConflict(
                    title="Being made", description="This coto is being made a cotonoma just now; try again shortly."
                )
            cotonoma = self.store.one(key)
            if cotonoma["owner"]["id"] != amishi.id:
                raise falcon.HTTPNotFound(title="No such coto", description="There is no coto of yours with this id.")
        resp.status = falcon.HTTP_201
        resp.location = f"/api/cotonomas/{cotonoma['key']}"
        resp.media = {"cotonoma": cotonoma}


def cotonomatized_name(content: object) -> str:
    """A coto's content as a cotonoma's name: 1 to 50 characters of one line once trimmed, else 422."""
    text = content.strip() if isinstance(content, str) else ""
    if not 1 <= len(text) <= MAX_NAME_CHARS or not is_clean_text(text, one_line=True):
        raise falcon.HTTPUnprocessableEntity(
            title="Not a cotonoma name",
            description=f"A cotonoma's name is one line of 1 to {MAX_NAME_CHARS} characters; this coto is not one.",
        )
    return text


def reachable(store: CotonomaStore, viewer: Viewer, key: str) -> Place:
    place = store.reach(key, viewer)
    if place is None:
        raise no_such_cotonoma()
    return place


def owned(store: CotonomaStore, viewer: Viewer, key: str) -> Place:
    place = reachable(store, viewer, key)
    if not place.owned_by(viewer):
        raise falcon.HTTPForbidden(title="Owner only", description="Only the owner of this cotonoma may do this.")
    return place


class CotonomaResource:
    """/api/cotonomas/{key}: one cotonoma with its ancestors and children; rename it; delete it."""

    def __init__(self, store: CotonomaStore, writes: CotonomaWrites):
        self.store = store
        self.writes = writes

    def on_get(self, req: falcon.Request, resp: falcon.Response, key: str) -> None:
        place = reachable(self.store, Viewer.of(require_amishi(req)), key)
        cotonoma, children = self.store.with_children(place.key)
        resp.media = {"cotonoma": cotonoma, "ancestors": place.ancestors, "children": children}

    def on_patch(self, req: falcon.Request, resp: falcon.Response, key: str) -> None:
        amishi = require_amishi(req)
        body = json_object(req)
        reject_unknown_fields(body, ("name",))
        name = cotonoma_name(body)
        owned(self.store, Viewer.of(amishi), key)
        cotonoma = self.writes.rename(amishi, key, name)
        resp.media = {"cotonoma": cotonoma}

    def on_delete(self, req: falcon.Request, resp: falcon.Response, key: str) -> None:
        """Its owner deletes it, if it holds no cotos and no cotonomas (409
        says what is left); its coto goes with it, and its members lose it."""
        amishi = require_amishi(req)
        owned(self.store, Viewer.of(amishi), key)
        self.writes.delete(amishi, key)
        resp.status = falcon.HTTP_204


class MembersResource:
    """/api/cotonomas/{key}/members and .../members/{email}: the owner shares a cotonoma."""

    def __init__(self, store: CotonomaStore, mail: redis.Redis, invitations: InvitationBudget, public_url: str):
        self.store = store
        self.mail = mail
        self.invitations = invitations
        self.quiet = timedelta(hours=invitations.limits.quiet_hours)
        self.public_url = public_url

    def on_get(self, req: falcon.Request, resp: falcon.Response, key: str) -> None:
        place = owned(self.store, Viewer.of(require_amishi(req)), key)
        resp.media = {"members": self.store.members(place.key)}

    def on_post(self, req: falcon.Request, resp: falcon.Response, key: str) -> None:
        amishi = require_amishi(req)
        body = json_object(req)
        reject_unknown_fields(body, ("email",))
        email = member_email(body)
        viewer = Viewer.of(amishi)
        place = owned(self.store, viewer, key)
        if email == viewer.email:
            raise falcon.HTTPBadRequest(title="Invalid email", description="You own this cotonoma already.")
        # Spent in the member's transaction, once the row is in: an add that fails
        # spends nothing, and one refused leaves no member.
        with self.store.adding_member(place.key, amishi, email, self.quiet) as addition:
            if addition.mail_due:
                self.invitations.spend(amishi.id, place.key, email)
        # Queued only once committed, so that no mail goes for an add that failed.
        if addition.mail_due:
            try:
                enqueue_mail(
                    self.mail,
                    "invitation",
                    email,
                    {
                        "link": f"{self.public_url}/cotonomas/{place.key}",
                        "cotonoma_name": place.name,
                        "inviter_name": amishi.display_name,
                        "inviter_email": amishi.email,
                    },
                )
            except redis.RedisError:
                # Then no member either, so that adding the address again mails it.
                self.store.undo_addition(addition)
                raise
        resp.status = falcon.HTTP_201
        resp.media = {"member": addition.member}

    def on_delete_item(self, req: falcon.Request, resp: falcon.Response, key: str, email: str) -> None:
        amishi = require_amishi(req)
        place = owned(self.store, Viewer.of(amishi), key)
        email = email.strip().lower()
        # Only addresses were ever added: anything else is no member (and not for the database to read).
        if not is_address(email) or not self.store.remove_member(place.key, amishi, email):
            raise falcon.HTTPNotFound(title="No such member", description="That address is not a member.")
        resp.status = falcon.HTTP_204


def _viewer(req: falcon.Request) -> Viewer:
    """The person an internal question is about: ?amishi_id=&email= as their token says."""
    amishi_id = req.get_param("amishi_id", required=True)
    email = req.get_param("email", required=True)
    try:
        amishi_id = str(uuid.UUID(amishi_id))
    except ValueError:
        raise falcon.HTTPBadRequest(title="Invalid amishi_id", description="amishi_id must be a UUID.") from None
    # Not the strict rule of member_email: the token's address is whatever auth accepted.
    if len(email) > MAX_ADDRESS_CHARS or any(unicodedata.category(char) in ("Cc", "Cs") for char in email):
        raise falcon.HTTPBadRequest(title="Invalid email", description="email must be an address.")
    return Viewer(amishi_id, email.strip().lower())


class AccessResource:
    """GET /internal/cotonomas/{key}/access?amishi_id=&email=: whether that person
    may read and post in the cotonoma (for the cotos service)."""

    def __init__(self, store: CotonomaStore):
        self.store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response, key: str) -> None:
        place = self.store.reach(key, _viewer(req))
        if place is None:
            raise no_such_cotonoma()
        resp.media = {"key": place.key, "name": place.name, "owner_id": place.owner_id}


class ReachableResource:
    """GET /internal/cotonomas?amishi_id=&email=: the keys of every cotonoma that
    person may read and post in (for searching what they may read, in cotos)."""

    def __init__(self, store: CotonomaStore):
        self.store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"keys": self.store.reachable(_viewer(req))}
