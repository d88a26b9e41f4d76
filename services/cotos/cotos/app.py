"""Wiring of the cotos service: create_app() for tests, get_app() for gunicorn."""

import os

import falcon

from cotoami_common.backing import Backing
from cotoami_common.config import load_config
from cotoami_common.health import add_health_routes
from cotoami_common.tokens import AccessTokenVerifier
from cotoami_common.web import new_app
from cotos.config import Config
from cotos.resources import AnonymousCotoClaimsResource, CotosResource
from cotos.store import AnonymousCotoStore, CotoStore


def create_app(
    config: Config,
    verifier: AccessTokenVerifier,
    cotos: CotoStore,
    anonymous_cotos: AnonymousCotoStore,
    checks: dict,
) -> falcon.App:
    app = new_app(config.max_body_bytes, config.allowed_origins, verifier=verifier, internal_token=config.internal_token)
    add_health_routes(app, checks)
    cotos_resource = CotosResource(cotos, anonymous_cotos, anonymous_ttl_seconds=config.anonymous_ttl_seconds)
    app.add_route("/api/cotos", cotos_resource)
    app.add_route("/api/cotos/{coto_id:uuid}", cotos_resource, suffix="item")
    app.add_route("/internal/anonymous-cotos/claims", AnonymousCotoClaimsResource(cotos, anonymous_cotos))
    return app


def get_app() -> falcon.App:
    config = load_config(Config.from_env, os.environ)
    backing = Backing.open(config)
    anonymous_cotos = AnonymousCotoStore(backing.redis, ttl_seconds=config.anonymous_ttl_seconds)
    return create_app(config, config.tokens.verifier(), CotoStore(backing.pool), anonymous_cotos, checks=backing.checks)
