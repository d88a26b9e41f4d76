"""Wiring of the cotonomas service: create_app() for tests, get_app() for gunicorn."""

import atexit
import os

import falcon
import redis

from cotoami_common.backing import Backing
from cotoami_common.config import load_config
from cotoami_common.health import Check, add_health_routes
from cotoami_common.web import new_app
from cotonomas.config import Config
from cotonomas.consistency import CotonomaWrites, Reconciler
from cotonomas.cotos_client import CotosClient
from cotonomas.resources import (
    AccessResource,
    CotonomaResource,
    CotonomasResource,
    MembersResource,
    add_domain_error_handlers,
)
from cotonomas.store import CotonomaStore


def create_app(
    config: Config,
    store: CotonomaStore,
    cotos: CotosClient,
    redis_client: redis.Redis,
    checks: dict[str, Check],
    liveness: dict[str, Check] | None = None,
) -> falcon.App:
    app = new_app(
        config.max_body_bytes,
        config.allowed_origins,
        verifier=config.tokens.verifier(),
        internal_token=config.internal_token,
    )
    add_health_routes(app, checks, liveness)
    add_domain_error_handlers(app)
    writes = CotonomaWrites(store, cotos)
    members = MembersResource(store, redis_client, config.public_url)
    app.add_route("/api/cotonomas", CotonomasResource(store, writes))
    app.add_route("/api/cotonomas/{key}", CotonomaResource(store, writes))
    app.add_route("/api/cotonomas/{key}/members", members)
    app.add_route("/api/cotonomas/{key}/members/{email}", members, suffix="item")
    app.add_route("/internal/cotonomas/{key}/access", AccessResource(store))
    return app


def get_app() -> falcon.App:
    """Called in each gunicorn worker process after the fork (no preload), so
    each process runs a reconciler of its own."""
    config = load_config(Config.from_env, os.environ)
    backing = Backing.open(config)
    store = CotonomaStore(backing.pool)
    cotos = CotosClient(config.cotos_internal_url, config.internal_token)
    reconciler = Reconciler(CotonomaWrites(store, cotos))
    reconciler.start()
    atexit.register(reconciler.stop)
    return create_app(
        config, store, cotos, backing.redis, checks=backing.checks, liveness={"reconciler": reconciler.check}
    )
