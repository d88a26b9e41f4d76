"""Wiring of the auth service: create_app() for tests, get_app() for gunicorn."""

import os

import falcon
import redis

from auth.config import Config
from auth.cotos_client import CotosClient
from auth.profiles import Profiles
from auth.resources import (
    AnonymousCotoClaims,
    LinkResource,
    RefreshResource,
    SessionCookies,
    SessionResource,
    SigninResource,
)
from auth.store import AccountStore
from cotoami_common.backing import Backing
from cotoami_common.config import load_config
from cotoami_common.health import Check, add_health_routes
from cotoami_common.ratelimit import RateLimiter
from cotoami_common.web import new_app


def create_app(
    config: Config, accounts: AccountStore, redis_client: redis.Redis, cotos: CotosClient, checks: dict[str, Check]
) -> falcon.App:
    # Sessions are read by the resources themselves: signing in must work even
    # with a stale access cookie, so auth does not use the Authentication middleware.
    app = new_app(config.max_body_bytes, config.allowed_origins)
    add_health_routes(app, checks)
    limits = RateLimiter(redis_client, config.rate_limit_window_seconds)
    profiles = Profiles(config.gravatar_url, config.gravatar_profile_url, config.gravatar_timeout_seconds, redis_client)
    cookies = SessionCookies(config, profiles)
    claims = AnonymousCotoClaims(accounts, cotos)
    app.add_route("/api/auth/signin", SigninResource(config, accounts, limits, redis_client))
    app.add_route("/api/auth/link", LinkResource(config, accounts, limits))
    app.add_route("/api/auth/session", SessionResource(config, accounts, limits, profiles, cookies, claims))
    app.add_route("/api/auth/refresh", RefreshResource(config, accounts, cookies, claims))
    return app


def get_app() -> falcon.App:
    config = load_config(Config.from_env, os.environ)
    backing = Backing.open(config)
    cotos = CotosClient(config.cotos_internal_url, config.internal_token)
    return create_app(config, AccountStore(backing.pool), backing.redis, cotos, checks=backing.checks)
