"""Wiring of the cotonomas service: create_app() for tests, get_app() for gunicorn."""

import os

import falcon

from cotoami_common.backing import postgres_pool, redis_client
from cotoami_common.config import load_config
from cotoami_common.health import Check, add_health_routes, postgres_check, redis_check
from cotoami_common.web import new_app
from cotonomas.config import Config


def create_app(config: Config, checks: dict[str, Check]) -> falcon.App:
    app = new_app(config.max_body_bytes, config.allowed_origins)
    add_health_routes(app, checks)
    return app


def get_app() -> falcon.App:
    config = load_config(Config.from_env, os.environ)
    pool = postgres_pool(config.database_url, config.db_pool_size)
    redis = redis_client(config.redis_url)
    return create_app(config, checks={"postgres": postgres_check(pool), "redis": redis_check(redis)})
