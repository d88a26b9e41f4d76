"""Wiring of the graph service: create_app() for tests, get_app() for gunicorn."""

import os
from dataclasses import dataclass

import falcon

from cotoami_common.backing import ServiceDependencies
from cotoami_common.config import load_config
from cotoami_common.cotonoma_access import CotonomaAccess
from cotoami_common.health import keep_running
from cotoami_common.outbox import OutboxLagCollector, OutboxRelay
from cotoami_common.tokens import AccessTokenVerifier
from cotoami_common.web import service_app
from graph.config import Config
from graph.cotos_client import CotoLookup
from graph.events import DeletionFeed, DeletionReader
from graph.internal import ExportConnectionsResource, ExportPinsResource, ImportResource
from graph.resources import ERROR_ANSWERS, ConnectionsResource, CotoGraphResource, PinsResource, Readers
from graph.store import GraphStore


@dataclass(frozen=True, kw_only=True)
class Dependencies(ServiceDependencies):
    # Planned once: every read goes along one index whatever the values
    # (tests/test_query_plans.py); planning the stock's walk cost more than running it.
    generic_plans = True
    verifier: AccessTokenVerifier
    cotos: CotoLookup
    cotonomas: CotonomaAccess

    @classmethod
    def open(cls, config: Config) -> "Dependencies":
        """Called in each gunicorn worker process after the fork (no preload),
        so each process runs an outbox relay and a deletion reader of its own."""
        backing = cls.open_backing(config)
        liveness = {
            **keep_running("outbox-relay", OutboxRelay(backing["pool"], backing["redis"], "graph")),
            **keep_running("deletion-reader", DeletionReader(GraphStore(backing["pool"]), backing["redis"])),
        }
        return cls(
            **backing,
            liveness=liveness,
            verifier=config.tokens.verifier(),
            cotos=CotoLookup.asking(config.cotos_internal_url, config.internal_token),
            cotonomas=CotonomaAccess.asking(config.cotonomas_internal_url, config.internal_token),
        )


def create_app(config: Config, deps: Dependencies) -> falcon.App[falcon.Request, falcon.Response]:
    app = service_app(
        config,
        deps,
        error_answers=ERROR_ANSWERS,
        verifier=deps.verifier,
        internal_token=config.internal_token,
        metrics_collectors=[OutboxLagCollector(deps.pool)],
    )
    store = GraphStore(deps.pool)
    readers = Readers(deps.cotos, deps.cotonomas)
    feed = DeletionFeed(deps.redis)
    connections = ConnectionsResource(store, readers, feed)
    app.add_route("/api/graph/connections", connections)
    app.add_route("/api/graph/connections/{connection_id:uuid}", connections, suffix="item")
    cotos = CotoGraphResource(store, readers)
    app.add_route("/api/graph/cotos/{coto_id:uuid}", cotos)
    app.add_route("/api/graph/cotos/{coto_id:uuid}/outgoing", cotos, suffix="outgoing")
    app.add_route("/api/graph/cotos/{coto_id:uuid}/incoming", cotos, suffix="incoming")
    app.add_route("/api/graph/cotos/{coto_id:uuid}/order", cotos, suffix="order")
    pins = PinsResource(store, readers, feed)
    app.add_route("/api/graph/pins", pins)
    app.add_route("/api/graph/pins/order", pins, suffix="order")
    app.add_route("/api/graph/pins/{coto_id:uuid}", pins, suffix="item")
    app.add_route("/internal/graph/connections", ExportConnectionsResource(store))
    app.add_route("/internal/graph/pins", ExportPinsResource(store))
    app.add_route("/internal/graph/import", ImportResource(store, readers, feed))
    return app


def get_app() -> falcon.App[falcon.Request, falcon.Response]:
    config = load_config(Config.from_env, os.environ)
    return create_app(config, Dependencies.open(config))
