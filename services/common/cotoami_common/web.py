"""The Falcon app every service starts from: request ids, the client as a
trusted proxy tells it, access logs, request metrics and /metrics, body limits,
cross-site write refusal, no caching of answers and JSON errors that never leak
a trace."""

import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

import falcon
import falcon.asgi
import falcon.media
import orjson
import psycopg
import psycopg_pool
import redis
from prometheus_client.registry import Collector

from cotoami_common.backing import ServiceDependencies
from cotoami_common.config import Network, WebConfig
from cotoami_common.health import add_health_routes
from cotoami_common.logs import request_id
from cotoami_common.metrics import METRICS_PATH, RequestMetrics, add_metrics_route
from cotoami_common.text import is_clean_text
from cotoami_common.tokens import AccessTokenVerifier, Amishi, ExpiredToken, InvalidToken

log = logging.getLogger("cotoami.http")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def path_area(path: str) -> str:
    """The first segment of a path as Falcon's router reads it: leading slashes
    are ignored, so "//internal/x" (or "/%2Finternal/x") routes as "/internal/x"
    and must be guarded as it."""
    return path.lstrip("/").split("/", 1)[0]


class RequestContext:
    """Takes the gateway's X-Request-ID (or makes one), who the client is and
    whether it came over HTTPS, and logs each request once.

    X-Real-IP and X-Forwarded-Proto are believed only from a trusted proxy (the
    gateway, the Ingress controller): anyone else who reaches a service's port
    is the client itself, whatever headers it sends, so it can neither take a
    fresh rate-limit bucket nor put an address of its choosing in a mail."""

    def __init__(self, trusted_proxies: Iterable[Network]):
        self.trusted_proxies = tuple(trusted_proxies)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        incoming = req.get_header("X-Request-ID") or ""
        rid = incoming if _REQUEST_ID.fullmatch(incoming) else secrets.token_hex(16)
        req.context.request_id = rid
        req.context.started = time.perf_counter()
        request_id.set(rid)
        resp.set_header("X-Request-ID", rid)
        peer = _ip_address(req.remote_addr)
        if peer is not None and _is_trusted(peer, self.trusted_proxies):
            client = _ip_address(req.get_header("X-Real-IP")) or peer
            req.context.client_address = str(client)
            req.context.https = (req.get_header("X-Forwarded-Proto") or "").lower() == "https"
        else:
            req.context.client_address = str(peer) if peer is not None else req.remote_addr or "unknown"
            req.context.https = False

    async def process_request_async(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.process_request(req, resp)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        elapsed_ms = (time.perf_counter() - req.context.started) * 1000
        if req.path not in ("/healthz", "/readyz", METRICS_PATH) or resp.status_code >= 400:
            log.info(
                "%s %s %s",
                req.method,
                req.path,
                resp.status_code,
                extra={
                    "fields": {
                        "method": req.method,
                        "path": req.path,
                        "status": resp.status_code,
                        "duration_ms": round(elapsed_ms, 2),
                        "client": client_address(req),
                    }
                },
            )
        request_id.set(None)

    async def process_response_async(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        self.process_response(req, resp, resource, req_succeeded)


# Both are asked on every request, mostly about the same few addresses (the
# gateway's, the clients behind it); parsing them anew cost a small request a
# tenth of its time in Python. Bounded, as the addresses come from outside.
@functools.lru_cache(maxsize=4096)
def _is_trusted(peer: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: tuple[Network, ...]) -> bool:
    return any(peer in network for network in proxies)


@functools.lru_cache(maxsize=4096)
def _ip_address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address, or None if it is not one; an IPv4 peer on a dual-stack socket
    (::ffff:10.1.2.3) as the IPv4 address it is, so IPv4 networks match it."""
    try:
        address = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class NoStore:
    """Cache-Control: no-store on every answer whose resource chose no caching
    of its own: what the services answer is someone's, and must not stay in a
    shared cache (or the browser's) for the next person."""

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        if resp.get_header("Cache-Control") is None:
            resp.set_header("Cache-Control", "no-store")

    async def process_response_async(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        self.process_response(req, resp, resource, req_succeeded)


class BodyLimit:
    """Refuses bodies larger than the service accepts before anything reads them."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.content_length is not None and req.content_length > self.max_bytes:
            raise falcon.HTTPContentTooLarge(description=f"The request body is larger than {self.max_bytes} bytes.")

    async def process_request_async(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.process_request(req, resp)


class CrossSiteWriteGuard:
    """Refuses state-changing requests that a browser sent on behalf of another
    site, so cookies alone can never authorise a write (defence beside SameSite)."""

    def __init__(self, allowed_origins: Iterable[str]):
        self.allowed_origins = frozenset(allowed_origins)

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.method not in UNSAFE_METHODS or path_area(req.path) == "internal":
            return
        # A cross-site form always sends a form or text type; JSON would need a preflight we never allow.
        if req.content_type and not _is_json(req):
            raise falcon.HTTPUnsupportedMediaType(description="Send the body as application/json.")
        fetch_site = req.get_header("Sec-Fetch-Site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            raise falcon.HTTPForbidden(description="Cross-site requests may not change anything.")
        # A browser sends the origin serialized, never with a path: compared exactly
        # with ALLOWED_ORIGINS (serialized alike); "null" is never one of them.
        origin = req.get_header("Origin")
        if origin is not None and origin not in self.allowed_origins:
            raise falcon.HTTPForbidden(description="Requests from this origin may not change anything.")

    async def process_request_async(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.process_request(req, resp)


def _is_json(req: falcon.Request) -> bool:
    """Whether the body is declared JSON; a media type's letter case means nothing
    and parameters (; charset=utf-8) may follow it."""
    return req.content_type is not None and req.content_type.split(";")[0].strip().lower() == falcon.MEDIA_JSON


ACCESS_COOKIE = "access_token"


def authenticate(req: falcon.Request, verifier: AccessTokenVerifier) -> Amishi | None:
    """The signed-in Amishi from the access token cookie, or None for an anonymous
    visitor. A token that is present but expired or invalid is a 401, so the web
    client refreshes it instead of silently showing the anonymous pad."""
    token = next(iter(req.get_cookie_values(ACCESS_COOKIE) or []), None)
    if not token:
        return None
    try:
        return verifier.verify(token)
    except ExpiredToken:
        raise falcon.HTTPUnauthorized(
            title="Session expired",
            description="Refresh the session and try again.",
            challenges=['Bearer error="invalid_token"'],
        ) from None
    except InvalidToken:
        raise falcon.HTTPUnauthorized(
            title="Invalid session",
            description="Sign in again.",
            challenges=['Bearer error="invalid_token"'],
        ) from None


class Authentication:
    """Sets req.context.amishi on every public API request, verified locally."""

    def __init__(self, verifier: AccessTokenVerifier):
        self.verifier = verifier

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.amishi = authenticate(req, self.verifier) if path_area(req.path) == "api" else None

    async def process_request_async(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.process_request(req, resp)


class InternalCredential:
    """Internal paths answer only callers holding the service credential.

    The gateway and the Ingress never route /internal/; this holds even if
    someone reaches a service directly."""

    def __init__(self, token: str | None):
        self.expected = f"Bearer {token}".encode() if token else None

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if path_area(req.path) != "internal":
            return
        given = (req.get_header("Authorization") or "").encode()
        if self.expected is None or not hmac.compare_digest(given, self.expected):
            raise falcon.HTTPUnauthorized(
                title="Unauthorized", description="A service credential is required.", challenges=["Bearer"]
            )

    async def process_request_async(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.process_request(req, resp)


def require_amishi(req: falcon.Request) -> Amishi:
    amishi: Amishi | None = req.context.amishi
    if amishi is None:
        raise falcon.HTTPUnauthorized(title="Sign in", description="Sign in to do this.", challenges=["Cookie"])
    return amishi


def _unavailable(req: falcon.Request, resp: falcon.Response, error: Exception, params: dict[str, Any]) -> NoReturn:
    log.warning("backing service unavailable: %s", error)
    raise falcon.HTTPServiceUnavailable(
        description="A backing service is not answering; try again shortly.", retry_after=5
    )


def _json_error(req: falcon.Request, resp: falcon.Response, error: falcon.HTTPError) -> None:
    # Falcon's default follows Accept: XML for application/xml, an empty body for
    # text/html. The contract's errors are JSON whatever the client asked for.
    resp.content_type = falcon.MEDIA_JSON
    resp.data = error.to_json()


def _unexpected(req: falcon.Request, resp: falcon.Response, error: Exception, params: dict[str, Any]) -> NoReturn:
    if isinstance(error, falcon.HTTPError):
        # Falcon's own errors (404, 405, 415 ...) keep their status and shape.
        raise error
    log.exception("unhandled error")
    raise falcon.HTTPInternalServerError(description="Something went wrong on our side.")


# An error a service's own code raises, and the HTTP answer it means.
ErrorAnswers = Mapping[type[Exception], Callable[[Any], falcon.HTTPError]]


def add_error_answers(app: falcon.App[falcon.Request, falcon.Response], answers: ErrorAnswers) -> None:
    """Registers, for each error that a service's stores and clients raise, the
    answer it means, so that resources let errors rise and never translate them."""
    for error_class, answer in answers.items():
        app.add_error_handler(error_class, _answering_with(answer))


def _answering_with(
    answer: Callable[[Any], falcon.HTTPError],
) -> Callable[[falcon.Request, falcon.Response, Exception, dict[str, Any]], NoReturn]:
    def handle(req: falcon.Request, resp: falcon.Response, error: Exception, params: dict[str, Any]) -> NoReturn:
        raise answer(error) from None

    return handle


def _middleware(
    router: falcon.routing.CompiledRouter,
    max_body_bytes: int,
    allowed_origins: Iterable[str],
    trusted_proxies: Iterable[Network],
    verifier: AccessTokenVerifier | None,
    internal_token: str | None,
) -> list[Any]:
    """Every app's middleware, in order. Each class also has coroutine methods
    (process_request_async ...) calling its own, so the ASGI app takes it too."""
    middleware: list[Any] = [
        RequestMetrics(router),
        RequestContext(trusted_proxies),
        NoStore(),
        BodyLimit(max_body_bytes),
        CrossSiteWriteGuard(allowed_origins),
        InternalCredential(internal_token),
    ]
    if verifier is not None:
        middleware.append(Authentication(verifier))
    return middleware


# Answers are encoded with orjson, several times faster than the json module
# for a page of cotos, and able to take JSON that is encoded already as it is
# (orjson.Fragment: what a store keeps as JSON, like the anonymous pad's cotos).
# Bodies are still read with the json module: they are small, and it reports
# what a client got wrong as the contract's errors (lone surrogates reach
# text_field, which says so).
JSON_HANDLER = falcon.media.JSONHandler(dumps=orjson.dumps, loads=json.loads)


def answer_json(req: falcon.Request, resp: falcon.Response, media: object) -> None:
    """Answers `media` as JSON with a strong ETag of its bytes, or 304 with no
    body when the request's If-None-Match names that tag, so a client reading
    a page again learns that it is unchanged without receiving it. The tag is
    made from the answer each time, never remembered: a 304 can only stand for
    the very bytes a 200 would carry now."""
    body = JSON_HANDLER.serialize(media, falcon.MEDIA_JSON)
    tag = hashlib.blake2b(body, digest_size=16).hexdigest()
    resp.etag = tag
    if any(known == "*" or str(known) == tag for known in req.if_none_match or ()):
        resp.status = falcon.HTTP_304
        return
    resp.content_type = falcon.MEDIA_JSON
    resp.data = body


def use_json_handler(app: falcon.App[Any, Any]) -> None:
    app.resp_options.media_handlers[falcon.MEDIA_JSON] = JSON_HANDLER
    app.req_options.media_handlers[falcon.MEDIA_JSON] = JSON_HANDLER


UNAVAILABLE_ERRORS = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
)


def new_app(
    max_body_bytes: int,
    allowed_origins: Iterable[str],
    trusted_proxies: Iterable[Network],
    verifier: AccessTokenVerifier | None = None,
    internal_token: str | None = None,
    metrics_collectors: Iterable[Collector] = (),
) -> falcon.App[falcon.Request, falcon.Response]:
    """trusted_proxies: whose X-Real-IP and X-Forwarded-Proto are believed;
    metrics_collectors: what /metrics computes at each scrape besides the counters."""
    router = falcon.routing.CompiledRouter()
    middleware = _middleware(router, max_body_bytes, allowed_origins, trusted_proxies, verifier, internal_token)
    app = falcon.App(middleware=middleware, router=router, cors_enable=False)
    use_json_handler(app)
    app.set_error_serializer(_json_error)
    add_metrics_route(app, metrics_collectors)
    # Registered in this order so the more specific handlers win.
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(UNAVAILABLE_ERRORS, _unavailable)
    return app


AsgiApp = falcon.asgi.App[falcon.asgi.Request, falcon.asgi.Response]


async def _unavailable_async(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, error: Exception, params: dict[str, Any]
) -> NoReturn:
    _unavailable(req, resp, error, params)


async def _unexpected_async(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, error: Exception, params: dict[str, Any]
) -> NoReturn:
    _unexpected(req, resp, error, params)


def new_asgi_app(
    max_body_bytes: int,
    allowed_origins: Iterable[str],
    trusted_proxies: Iterable[Network],
    verifier: AccessTokenVerifier | None = None,
    internal_token: str | None = None,
    app_class: type[AsgiApp] = AsgiApp,
) -> AsgiApp:
    """new_app for an ASGI service (live): the same middleware, error shape and
    answers to a backing service that is down; its routes, health and metrics
    included, are the service's own (Falcon's ASGI app takes coroutine responders only)."""
    router = falcon.routing.CompiledRouter()
    middleware = _middleware(router, max_body_bytes, allowed_origins, trusted_proxies, verifier, internal_token)
    app = app_class(middleware=middleware, router=router, cors_enable=False)
    use_json_handler(app)
    app.set_error_serializer(_json_error)
    app.add_error_handler(Exception, _unexpected_async)
    for unavailable in UNAVAILABLE_ERRORS:  # one at a time: the typed overload of the ASGI app
        app.add_error_handler(unavailable, _unavailable_async)
    return app


def service_app(
    config: WebConfig,
    deps: ServiceDependencies,
    *,
    error_answers: ErrorAnswers,
    verifier: AccessTokenVerifier | None = None,
    internal_token: str | None = None,
    metrics_collectors: Iterable[Collector] = (),
) -> falcon.App[falcon.Request, falcon.Response]:
    """A service's app before its routes: the base app with its health routes
    and the answers to its own errors. verifier: the Authentication middleware
    (every /api/ request's amishi); internal_token: the credential its
    /internal/ paths require."""
    app = new_app(
        config.max_body_bytes,
        config.allowed_origins,
        config.trusted_proxies,
        verifier,
        internal_token,
        metrics_collectors,
    )
    add_health_routes(app, deps.checks, deps.liveness)
    add_error_answers(app, error_answers)
    return app


def json_object(req: falcon.Request) -> dict[str, object]:
    """The request body as a JSON object, or a 4xx saying what is wrong."""
    if not _is_json(req):
        raise falcon.HTTPUnsupportedMediaType(description="Send the body as application/json.")
    # The JSON handler itself, not req.get_media(): Falcon looks the handler up by
    # the media type's exact letters, so "Application/JSON" would be a 415.
    handler = req.options.media_handlers[falcon.MEDIA_JSON]
    try:
        body = handler.deserialize(req.bounded_stream, falcon.MEDIA_JSON, req.content_length)
    except RecursionError:
        # json.loads recurses once per nesting level: a body of 100,000 "[" must be a 400, not a 500.
        raise falcon.HTTPBadRequest(title="Invalid JSON", description="The body is nested too deeply.") from None
    if not isinstance(body, dict):
        raise falcon.HTTPBadRequest(title="Invalid body", description="The body must be a JSON object.")
    return body


def reject_unknown_fields(body: Mapping[str, object], allowed: Iterable[str]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise falcon.HTTPBadRequest(title="Invalid body", description=f"Unknown field(s): {', '.join(unknown)}.")


# Never in what people write: control characters (but tab and newlines in
# multi-line text) and lone surrogates; in one-line text no line separators either.
def text_field(body: Mapping[str, object], field: str, max_chars: int, one_line: bool) -> str:
    """body[field] trimmed: 1 to max_chars characters of text, or a 400 saying what is wrong."""
    value = body.get(field)
    title = f"Invalid {field}"
    if not isinstance(value, str):
        raise falcon.HTTPBadRequest(title=title, description=f"{field} must be a string.")
    value = value.strip()
    if not value:
        raise falcon.HTTPBadRequest(title=title, description=f"{field} must not be blank.")
    if len(value) > max_chars:
        raise falcon.HTTPBadRequest(title=title, description=f"{field} must be at most {max_chars} characters.")
    if not is_clean_text(value, one_line):
        lines = "one line of text" if one_line else "text"
        raise falcon.HTTPBadRequest(title=title, description=f"{field} must be {lines} without control characters.")
    return value


_LIMIT = re.compile(r"[0-9]{1,9}")


def limit_param(req: falcon.Request, default: int, maximum: int) -> int:
    raw = req.get_param("limit")
    if raw is None:
        return default
    # ASCII digits only, and few: str.isdigit() takes "²", which int() refuses, and int() refuses 4,301 digits.
    if not _LIMIT.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        raise falcon.HTTPBadRequest(title="Invalid limit", description=f"limit must be an integer from 1 to {maximum}.")
    return int(raw)


def clear_cookie(resp: falcon.Response, name: str, path: str = "/") -> None:
    resp.unset_cookie(name, same_site="Lax", path=path)


def client_address(req: falcon.Request) -> str:
    """The client: as a trusted proxy saw it, or whoever connected (RequestContext)."""
    address: str = req.context.client_address
    return address


def set_cookie(
    req: falcon.Request, resp: falcon.Response, name: str, value: str, max_age: int, path: str = "/"
) -> None:
    """Cookies are HttpOnly and SameSite=Lax always, Secure when a trusted proxy
    says it was reached over HTTPS (RequestContext)."""
    resp.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        secure=req.context.https,
        http_only=True,
        same_site="Lax",
    )
