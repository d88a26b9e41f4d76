"""HTTP resources of the auth service: sign-in links, sessions, refresh. No SQL here."""

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import falcon
import redis

from auth.config import Config
from auth.cotos_client import CotosClient
from auth.metrics import SESSIONS_STARTED, SIGNIN_LINKS_REQUESTED
from auth.profiles import Profiles
from auth.store import AccountStore, AmishiRecord, LinkRefused, SessionEnded
from cotoami_common.addresses import is_mail_address
from cotoami_common.internal import ServiceUnavailable
from cotoami_common.mail import enqueue_mail
from cotoami_common.ratelimit import RateLimiter
from cotoami_common.tokens import AccessTokenVerifier, Amishi
from cotoami_common.web import (
    ACCESS_COOKIE,
    ErrorAnswers,
    authenticate,
    clear_cookie,
    client_address,
    json_object,
    reject_unknown_fields,
    set_cookie,
)

log = logging.getLogger(__name__)

REFRESH_COOKIE = "refresh_token"
# The refresh cookie goes only to auth: to refresh, and to sign out (which revokes it).
REFRESH_COOKIE_PATH = "/api/auth/"
ANONYMOUS_COOKIE = "anonymous_id"  # set by the cotos service for the anonymous pad

_LINK_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_ANONYMOUS_ID = re.compile(r"[0-9a-f]{32}")

LINK_REFUSALS = {
    "unknown": (falcon.HTTP_400, "Invalid sign-in link", "This link is not a sign-in link. Ask for a new one."),
    "used": (falcon.HTTP_410, "Sign-in link already used", "Each link works once. Ask for a new one."),
    "expired": (falcon.HTTP_410, "Sign-in link expired", "Links work for a few minutes. Ask for a new one."),
}


def masked(email: str) -> str:
    """a…@example.com: what the confirm page showed before it showed the whole
    address; answered still as `email_hint` for web clients of that time."""
    local, domain = email.split("@", 1)
    return f"{local[0]}…@{domain}"


def normalised_email(body: dict[str, object]) -> str:
    email = body.get("email")
    if not isinstance(email, str):
        raise falcon.HTTPBadRequest(title="Invalid email", description="email must be a string.")
    email = email.strip().lower()
    if not is_mail_address(email):
        raise falcon.HTTPBadRequest(title="Invalid email", description="That does not look like an email address.")
    return email


def save_anonymous_field(body: dict[str, object], default: bool) -> bool:
    save_anonymous = body.get("save_anonymous", default)
    if not isinstance(save_anonymous, bool):
        raise falcon.HTTPBadRequest(title="Invalid save_anonymous", description="save_anonymous must be true or false.")
    return save_anonymous


def link_token(req: falcon.Request, body: dict[str, object], limits: RateLimiter, config: Config) -> str:
    """The sign-in link token in the body; attempts are limited per client."""
    wait = limits.hit(f"session:client:{client_address(req)}", config.session_limit_per_client)
    if wait is not None:
        raise falcon.HTTPTooManyRequests(title="Too many attempts", description="Wait a while.", retry_after=wait)
    token = body.get("token")
    if not isinstance(token, str) or not _LINK_TOKEN.fullmatch(token):
        raise LinkRefused("unknown")
    return token


def link_refusal(refused: LinkRefused) -> falcon.HTTPError:
    status, title, description = LINK_REFUSALS[refused.reason]
    return falcon.HTTPError(status, title=title, description=description)


# What the store raises, as the answer each one means; create_app registers them.
ERROR_ANSWERS: ErrorAnswers = {LinkRefused: link_refusal}


class SessionCookies:
    """Issues and clears the access and refresh cookies."""

    def __init__(self, config: Config, profiles: Profiles):
        self.config = config
        self.profiles = profiles

    def amishi(self, record: AmishiRecord) -> Amishi:
        return Amishi(record.id, record.email, record.display_name, self.profiles.avatar(record.email))

    def issue(self, req: falcon.Request, resp: falcon.Response, amishi: Amishi, refresh_token: str | None) -> None:
        # The access cookie outlives its token, so an expired token still reaches
        # the services, which answer 401 and the web client refreshes.
        lifetime = self.config.refresh_token_seconds
        set_cookie(req, resp, ACCESS_COOKIE, self.config.signer.sign(amishi), lifetime)
        if refresh_token is not None:
            set_cookie(req, resp, REFRESH_COOKIE, refresh_token, lifetime, path=REFRESH_COOKIE_PATH)

    @staticmethod
    def clear(resp: falcon.Response) -> None:
        clear_cookie(resp, ACCESS_COOKIE)
        clear_cookie(resp, REFRESH_COOKIE, path=REFRESH_COOKIE_PATH)


def signed_out(req: falcon.Request, resp: falcon.Response, error: SessionEnded, params: dict[str, Any]) -> NoReturn:
    """The error handler for SessionEnded: the answer clears both cookies, so
    the browser stops presenting a session that is over."""
    SessionCookies.clear(resp)
    raise falcon.HTTPUnauthorized(
        title="Signed out", description="The session has ended; sign in again.", challenges=["Cookie"]
    )


class AnonymousCotoClaims:
    """Hands recorded claims to the cotos service until it confirms them."""

    def __init__(self, accounts: AccountStore, cotos: CotosClient):
        self.accounts = accounts
        self.cotos = cotos

    def deliver(self, amishi: Amishi) -> int | None:
        """How many cotos moved into the account now (0: no claim was waiting),
        or None when a claim is left for later because cotos did not take it."""
        saved = 0
        for anonymous_id in self.accounts.pending_claims(amishi.id):
            try:
                moved = self.cotos.claim_anonymous_cotos(anonymous_id, amishi)
            except ServiceUnavailable as error:
                # Retried on the next session check or refresh.
                log.warning("saving anonymous cotos deferred: %s", error)
                return None
            self.accounts.claim_done(anonymous_id)
            log.info("saved %d anonymous cotos", moved, extra={"fields": {"amishi_id": amishi.id}})
            saved += moved
        return saved


class SigninResource:
    """POST /api/auth/signin: mail a sign-in link."""

    def __init__(self, config: Config, accounts: AccountStore, limits: RateLimiter, mail: redis.Redis):
        self.config = config
        self.accounts = accounts
        self.limits = limits
        self.mail = mail

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_object(req)
        reject_unknown_fields(body, ("email", "save_anonymous"))
        email = normalised_email(body)
        save_anonymous = save_anonymous_field(body, default=False)
        client = client_address(req)
        waits = [
            self.limits.hit(f"signin:client:{client}", self.config.signin_limit_per_client),
            self.limits.hit(f"signin:address:{email}", self.config.signin_limit_per_address),
        ]
        wait = max((w for w in waits if w is not None), default=None)
        if wait is not None:
            raise falcon.HTTPTooManyRequests(
                title="Too many sign-in requests",
                description="Wait a while before asking for another link.",
                retry_after=wait,
            )
        # Whether cotos issued this id is asked when it matters: the confirm page
        # counts the pad, and a claim of an id never issued moves nothing.
        # Asking for a link does not wait on cotos.
        anonymous_id = next(
            (v for v in req.get_cookie_values(ANONYMOUS_COOKIE) or [] if _ANONYMOUS_ID.fullmatch(v)), None
        )
        minutes = self.config.signin_link_minutes
        token = self.accounts.issue_link(
            email, anonymous_id if save_anonymous else None, save_anonymous, timedelta(minutes=minutes)
        )
        enqueue_mail(
            self.mail,
            "signin",
            email,
            {
                "link": f"{self.config.public_url}/signin/{token}",
                "expires_minutes": minutes,
                "requested_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "requested_from": client,
            },
        )
        SIGNIN_LINKS_REQUESTED.inc()
        # The same answer whoever the address belongs to: nothing to learn from it.
        resp.status = falcon.HTTP_202
        resp.media = {
            "status": "sent",
            "expires_minutes": minutes,
            "description": f"If the address receives mail, a sign-in link is on its way. "
            f"It works once, within {minutes} minutes.",
        }


class LinkResource:
    """POST /api/auth/link {token}: whom a sign-in link is for, and how many
    anonymous cotos it would save, consuming nothing, for the confirm page.
    The token travels in the body, never in a logged URL."""

    def __init__(self, config: Config, accounts: AccountStore, limits: RateLimiter, cotos: CotosClient):
        self.config = config
        self.accounts = accounts
        self.limits = limits
        self.cotos = cotos

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_object(req)
        reject_unknown_fields(body, ("token",))
        link = self.accounts.link(link_token(req, body, self.limits, self.config))
        # The whole address: whoever holds the link got it in that address's mail, and
        # the person about to sign in must be able to tell which account it is.
        resp.media = {
            "email": link.email,
            "email_hint": masked(link.email),
            "anonymous_cotos": self._pad_size(link.anonymous_id),
        }

    def _pad_size(self, anonymous_id: str | None) -> int | None:
        """0 without a pad; None when cotos cannot say just now: the page then
        says that cotos may be saved, and signing in still works."""
        if anonymous_id is None:
            return 0
        try:
            return self.cotos.anonymous_pad_size(anonymous_id)
        except ServiceUnavailable as error:
            log.warning("counting the anonymous cotos of a link failed: %s", error)
            return None


class SessionResource:
    """/api/auth/session: who is signed in; sign in with a link (saving its pad, or declining it); sign out."""

    def __init__(
        self,
        config: Config,
        accounts: AccountStore,
        limits: RateLimiter,
        verifier: AccessTokenVerifier,
        profiles: Profiles,
        cookies: SessionCookies,
        claims: AnonymousCotoClaims,
    ):
        self.config = config
        self.verifier = verifier
        self.accounts = accounts
        self.limits = limits
        self.profiles = profiles
        self.cookies = cookies
        self.claims = claims

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi = authenticate(req, self.verifier)
        if amishi is not None:
            self.claims.deliver(amishi)
        resp.media = {"amishi": amishi.own() if amishi else None}

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = json_object(req)
        reject_unknown_fields(body, ("token", "save_anonymous"))
        token = link_token(req, body, self.limits, self.config)
        # The person using the link may decline the pad of whoever asked for it.
        save_anonymous = save_anonymous_field(body, default=True)
        signin = self.accounts.redeem_link(
            token, timedelta(seconds=self.config.refresh_token_seconds), save_anonymous=save_anonymous
        )
        record = signin.amishi
        if signin.created:
            name = self.profiles.display_name(record.email)
            if name:
                self.accounts.rename(record.id, name)
                record = AmishiRecord(record.id, record.email, name)
        amishi = self.cookies.amishi(record)
        self.cookies.issue(req, resp, amishi, signin.refresh_token)
        saved = self.claims.deliver(amishi)
        SESSIONS_STARTED.labels("new" if signin.created else "returning").inc()
        log.info("signed in", extra={"fields": {"amishi_id": amishi.id, "new_amishi": signin.created}})
        # For the web client's "3 cotos saved to your account", said once.
        resp.media = {"amishi": amishi.own(), "saved_cotos": saved}

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        refresh_token = next(iter(req.get_cookie_values(REFRESH_COOKIE) or []), None)
        if refresh_token:
            self.accounts.sign_out(refresh_token)
        self.cookies.clear(resp)
        resp.status = falcon.HTTP_204


class RefreshResource:
    """POST /api/auth/refresh: a new access token (and refresh token) from the refresh cookie."""

    def __init__(self, config: Config, accounts: AccountStore, cookies: SessionCookies, claims: AnonymousCotoClaims):
        self.config = config
        self.accounts = accounts
        self.cookies = cookies
        self.claims = claims

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        refresh_token = next(iter(req.get_cookie_values(REFRESH_COOKIE) or []), None)
        if not refresh_token:
            raise SessionEnded()
        record, next_token = self.accounts.refresh(refresh_token, timedelta(seconds=self.config.refresh_token_seconds))
        amishi = self.cookies.amishi(record)
        self.cookies.issue(req, resp, amishi, next_token)
        self.claims.deliver(amishi)
        resp.media = {"amishi": amishi.own()}
