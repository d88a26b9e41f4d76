"""Wiring of the mailer service: create_app() for tests, get_app() for gunicorn."""

import atexit
import os

import falcon
import redis

from cotoami_common.backing import Backing
from cotoami_common.config import load_config
from cotoami_common.health import Check, add_health_routes
from cotoami_common.web import new_app
from mailer.config import Config
from mailer.metrics import MailQueueCollector
from mailer.worker import MailWorker


def create_app(
    config: Config, redis_client: redis.Redis, checks: dict[str, Check], liveness: dict[str, Check] | None = None
) -> falcon.App:
    app = new_app(
        config.max_body_bytes,
        config.allowed_origins,
        metrics_collectors=[MailQueueCollector(redis_client, config.mail_stream)],
    )
    add_health_routes(app, checks, liveness)
    return app


def get_app() -> falcon.App:
    """Called in each gunicorn worker process after the fork (no preload), so
    each process runs a delivery worker of its own: a consumer of the group."""
    config = load_config(Config.from_env, os.environ)
    backing = Backing.open(config)
    worker = MailWorker.from_config(config, backing.pool, backing.redis)
    worker.start()
    # gunicorn's SIGTERM ends the process with sys.exit() once requests have
    # drained; the worker then finishes or leaves its job before Python exits.
    atexit.register(worker.stop)
    return create_app(config, backing.redis, checks=backing.checks, liveness={"worker": worker.check})
