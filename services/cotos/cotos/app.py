"""Wiring of the cotos service: create_app() for tests, get_app() for gunicorn."""

import os

import falcon

from cotoami_common.backing import postgres_pool, redis_client
from cotoami_common.config import load_config
from cotoami_common.health import add_health_routes, postgres_check, redis_check
from cotoami_common.web import new_app
from cotos.config import Config
from cotos.resources import CotosResource
from cotos.store import AnonymousCotoStore


def create_app(config: Config, anonymous_cotos: AnonymousCotoStore, checks: dict) -> falcon.App:
    app = new_app(config.max_body_bytes, config.allowed_origins)
    add_health_routes(app, checks)
    cotos = CotosResource(anonymous_cotos, anonymous_ttl_seconds=config.anonymous_ttl_days * 86400)
    app.add_route("/api/cotos", cotos)
    app.add_route("/api/cotos/{coto_id:uuid}", cotos, suffix="item")
    return app


def get_app() -> falcon.App:
    config = load_config(Config.from_env, os.environ)
    redis = redis_client(config.redis_url)
    pool = postgres_pool(config.database_url, config.db_pool_size)
    return create_app(
        config,
        AnonymousCotoStore(redis, ttl_seconds=config.anonymous_ttl_days * 86400),
        checks={"postgres": postgres_check(pool), "redis": redis_check(redis)},
    )
