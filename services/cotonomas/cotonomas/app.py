"""Wiring of the cotonomas service: create_app() for tests, get_app() for gunicorn."""

import os
from dataclasses import dataclass

import falcon

from cotoami_common.backing import ServiceDependencies
from cotoami_common.config import load_config
from cotoami_common.health import keep_running
from cotoami_common.outbox import OutboxLagCollector, OutboxRelay
from cotoami_common.tokens import AccessTokenVerifier
from cotoami_common.web import service_app
from cotonomas.archive import ArchiveCotonomas, ArchiveCotonomasResource
from cotonomas.config import Config
from cotonomas.consistency import CotonomaWrites, Reconciler
from cotonomas.cotos_client import CotosClient
from cotonomas.invitations import InvitationBudget
from cotonomas.resources import (
    ERROR_ANSWERS,
    AccessResource,
    CotonomaResource,
    CotonomasResource,
    MembersResource,
    ReachableResource,
)
from cotonomas.store import CotonomaStore


@dataclass(frozen=True, kw_only=True)
class Dependencies(ServiceDependencies):
    verifier: AccessTokenVerifier
    cotos: CotosClient

    @classmethod
    def open(cls, config: Config) -> "Dependencies":
        """Called in each gunicorn worker process after the fork (no preload),
        so each process runs a reconciler and an outbox relay of its own."""
        backing = cls.open_backing(config)
        cotos = CotosClient(config.cotos_internal_url, config.internal_token)
        reconciler = Reconciler(CotonomaWrites(CotonomaStore(backing["pool"]), cotos))
        liveness = {
            **keep_running("reconciler", reconciler),
            **keep_running("outbox-relay", OutboxRelay(backing["pool"], backing["redis"], "cotonomas")),
        }
        return cls(**backing, liveness=liveness, verifier=config.tokens.verifier(), cotos=cotos)


def create_app(config: Config, deps: Dependencies) -> falcon.App[falcon.Request, falcon.Response]:
    app = service_app(
        config,
        deps,
        error_answers=ERROR_ANSWERS,
        verifier=deps.verifier,
        internal_token=config.internal_token,
        metrics_collectors=[OutboxLagCollector(deps.pool)],
    )
    store = CotonomaStore(deps.pool)
    writes = CotonomaWrites(store, deps.cotos)
    invitations = InvitationBudget(deps.redis, config.invitations)
    members = MembersResource(store, deps.redis, invitations, config.public_url)
    app.add_route("/api/cotonomas", CotonomasResource(store, writes))
    app.add_route("/api/cotonomas/{key}", CotonomaResource(store, writes))
    app.add_route("/api/cotonomas/{key}/members", members)
    app.add_route("/api/cotonomas/{key}/members/{email}", members, suffix="item")
    app.add_route("/internal/cotonomas", ReachableResource(store))
    app.add_route("/internal/cotonomas/{key}/access", AccessResource(store))
    archive = ArchiveCotonomas(deps.pool, store, deps.cotos.cotos)
    app.add_route("/internal/archive/cotonomas", ArchiveCotonomasResource(archive))
    return app


def get_app() -> falcon.App[falcon.Request, falcon.Response]:
    config = load_config(Config.from_env, os.environ)
    return create_app(config, Dependencies.open(config))
