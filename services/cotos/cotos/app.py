"""Wiring of the cotos service: create_app() for tests, get_app() for gunicorn."""

import os
from dataclasses import dataclass

import falcon

from cotoami_common.backing import PeopleFacingDependencies
from cotoami_common.config import load_config
from cotoami_common.cotonoma_access import CotonomaAccess
from cotoami_common.health import keep_running
from cotoami_common.outbox import OutboxLagCollector, OutboxRelay
from cotoami_common.web import service_app
from cotos.archive import ArchiveCotosResource, ArchiveCotoStore
from cotos.config import Config
from cotos.resources import (
    ERROR_ANSWERS,
    AnonymousCotoClaimsResource,
    AnonymousPadResource,
    CotoLookupResource,
    CotonomaCotosResource,
    CotosResource,
    SearchResource,
)
from cotos.store import AnonymousCotoStore, CotoStore
from cotos.trash import TrashPurger


@dataclass(frozen=True, kw_only=True)
class Dependencies(PeopleFacingDependencies):
    cotonomas: CotonomaAccess
    # Its reads go by key or along an index whatever their values
    # (tests/test_query_plans.py checks them as planned once for any values),
    # and its writes by key. Search alone is planned for its values (CotoStore.search).
    generic_plans = True

    @classmethod
    def open(cls, config: Config) -> "Dependencies":
        """Called in each gunicorn worker process after the fork (no preload),
        so each process runs an outbox relay and a trash purger of its own."""
        backing = cls.open_people_facing(config, config.tokens, config.rate_limit_window_seconds)
        liveness = {
            **keep_running("outbox-relay", OutboxRelay(backing["pool"], backing["redis"], "cotos")),
            **keep_running("trash-purger", TrashPurger(CotoStore(backing["pool"]))),
        }
        return cls(
            **backing,
            liveness=liveness,
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
    cotos = CotoStore(deps.pool)
    anonymous_cotos = AnonymousCotoStore(
        deps.redis, ttl_seconds=config.anonymous_ttl_seconds, max_cotos=config.anonymous_pad_max_cotos
    )
    cotos_resource = CotosResource(config, cotos, anonymous_cotos, deps.cotonomas, deps.limits)
    app.add_route("/api/cotos", cotos_resource)
    app.add_route("/api/cotos/{coto_id:uuid}", cotos_resource, suffix="item")
    app.add_route("/api/cotos/{coto_id:uuid}/restore", cotos_resource, suffix="restore")
    app.add_route("/api/search", SearchResource(cotos, anonymous_cotos, deps.cotonomas))
    app.add_route("/internal/anonymous-cotos/claims", AnonymousCotoClaimsResource(cotos, anonymous_cotos))
    app.add_route("/internal/anonymous-pads/{anonymous_id}", AnonymousPadResource(anonymous_cotos))
    app.add_route("/internal/cotonoma-cotos/{key}", CotonomaCotosResource(cotos))
    app.add_route("/internal/cotos/lookup", CotoLookupResource(cotos))
    app.add_route("/internal/archive/cotos", ArchiveCotosResource(ArchiveCotoStore(deps.pool)))
    return app


def get_app() -> falcon.App[falcon.Request, falcon.Response]:
    config = load_config(Config.from_env, os.environ)
    return create_app(config, Dependencies.open(config))
