"""Wiring of the mailer service: create_app() for tests, get_app() for gunicorn."""

import os
from dataclasses import dataclass

import falcon

from cotoami_common.backing import ServiceDependencies
from cotoami_common.config import load_config
from cotoami_common.health import keep_running
from cotoami_common.web import service_app
from mailer.config import Config
from mailer.metrics import MailQueueCollector
from mailer.worker import MailWorker


@dataclass(frozen=True, kw_only=True)
class Dependencies(ServiceDependencies):
    @classmethod
    def open(cls, config: Config) -> "Dependencies":
        """Called in each gunicorn worker process after the fork (no preload),
        so each process runs a delivery worker of its own: a consumer of the group."""
        backing = cls.open_backing(config)
        worker = MailWorker.from_config(config, backing["pool"], backing["redis"])
        return cls(**backing, liveness=keep_running("worker", worker))


def create_app(config: Config, deps: Dependencies) -> falcon.App[falcon.Request, falcon.Response]:
    # Nothing but health and metrics: the mailer's work is its worker's, on the Redis stream.
    return service_app(
        config, deps, error_answers={}, metrics_collectors=[MailQueueCollector(deps.redis, config.mail_stream)]
    )


def get_app() -> falcon.App[falcon.Request, falcon.Response]:
    config = load_config(Config.from_env, os.environ)
    return create_app(config, Dependencies.open(config))
