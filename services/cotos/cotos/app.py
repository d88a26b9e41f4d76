"""Wiring of the cotos service: create_app() for tests, get_app() for gunicorn."""

import os

import falcon

from cotoami_common.backing import Backing
from cotoami_common.config import load_config
from cotoami_common.health import add_health_routes
from cotoami_common.web import new_app
from cotos.config import Config
from cotos.resources import CotosResource
from cotos.store import AnonymousCotoStore


def create_app(config: Config, anonymous_cotos: AnonymousCotoStore, checks: dict) -> falcon.App:
    app = new_app(config.max_body_bytes, config.allowed_origins)
    add_health_routes(app, checks)
    cotos = CotosResource(anonymous_cotos, anonymous_ttl_seconds=config.anonymous_ttl_seconds)
    app.add_route("/api/cotos", cotos)
    app.add_route("/api/cotos/{coto_id:uuid}", cotos, suffix="item")
    return app


def get_app() -> falcon.App:
    config = load_config(Config.from_env, os.environ)
    backing = Backing.open(config)
    anonymous_cotos = AnonymousCotoStore(backing.redis, ttl_seconds=config.anonymous_ttl_seconds)
    return create_app(config, anonymous_cotos, checks=backing.checks)
