"""Wiring of the cotos service: create_app() for tests, get_app() for gunicorn."""

import logging
import os

import falcon

from cotoami_common.backing import Backing
from cotoami_common.config import load_config
from cotoami_common.health import add_health_routes
from cotoami_common.ratelimit import RateLimiter
from cotoami_common.tokens import AccessTokenVerifier
from cotoami_common.web import new_app
from cotos.config import Config
from cotos.cotonoma_access import CotonomaAccess, CotonomasUnavailable
from cotos.resources import AnonymousCotoClaimsResource, CotonomaCotosResource, CotosResource
from cotos.store import AnonymousCotoStore, CotoStore

log = logging.getLogger(__name__)


def _cotonomas_unavailable(req, resp, error, params):
    # Fail closed: without a decision from cotonomas, nobody enters a cotonoma.
    log.warning("cotonomas unavailable: %s", error)
    raise falcon.HTTPServiceUnavailable(
        description="Cotonomas cannot be reached just now; try again shortly.", retry_after=5
    )


def create_app(
    config: Config,
    verifier: AccessTokenVerifier,
    cotos: CotoStore,
    anonymous_cotos: AnonymousCotoStore,
    cotonoma_access: CotonomaAccess,
    limits: RateLimiter,
    checks: dict,
) -> falcon.App:
    app = new_app(
        config.max_body_bytes, config.allowed_origins, verifier=verifier, internal_token=config.internal_token
    )
    app.add_error_handler(CotonomasUnavailable, _cotonomas_unavailable)
    add_health_routes(app, checks)
    cotos_resource = CotosResource(
        cotos,
        anonymous_cotos,
        cotonoma_access,
        anonymous_ttl_seconds=config.anonymous_ttl_seconds,
        limits=limits,
        anonymous_writes_per_client=config.anonymous_writes_per_client,
    )
    app.add_route("/api/cotos", cotos_resource)
    app.add_route("/api/cotos/{coto_id:uuid}", cotos_resource, suffix="item")
    app.add_route("/internal/anonymous-cotos/claims", AnonymousCotoClaimsResource(cotos, anonymous_cotos))
    app.add_route("/internal/cotonoma-cotos/{key}", CotonomaCotosResource(cotos))
    return app


def get_app() -> falcon.App:
    config = load_config(Config.from_env, os.environ)
    backing = Backing.open(config)
    anonymous_cotos = AnonymousCotoStore(
        backing.redis, ttl_seconds=config.anonymous_ttl_seconds, max_cotos=config.anonymous_pad_max_cotos
    )
    cotonoma_access = CotonomaAccess(config.cotonomas_internal_url, config.internal_token)
    limits = RateLimiter(backing.redis, config.rate_limit_window_seconds)
    return create_app(
        config,
        config.tokens.verifier(),
        CotoStore(backing.pool),
        anonymous_cotos,
        cotonoma_access,
        limits,
        checks=backing.checks,
    )
