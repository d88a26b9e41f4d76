"""Wiring of the archive service: create_app() for tests, get_app() for gunicorn."""

import os
from dataclasses import dataclass

import falcon

from archive.config import Config
from archive.importer import Importer
from archive.owners import Owners
from archive.resources import ERROR_ANSWERS, ExportResource, ImportJobResource, ImportResource
from archive.store import JobStore
from archive.worker import ImportWorker
from cotoami_common.backing import ServiceDependencies
from cotoami_common.config import load_config
from cotoami_common.health import keep_running
from cotoami_common.tokens import AccessTokenVerifier
from cotoami_common.web import service_app


@dataclass(frozen=True, kw_only=True)
class Dependencies(ServiceDependencies):
    verifier: AccessTokenVerifier
    owners: Owners
    worker: ImportWorker

    @staticmethod
    def worker_of(config: Config, jobs: JobStore, owners: Owners) -> ImportWorker:
        importer = Importer(jobs, owners, config.import_lease_seconds)
        return ImportWorker(jobs, importer, config.import_lease_seconds, config.import_max_attempts)

    @classmethod
    def open(cls, config: Config) -> "Dependencies":
        """Called in each gunicorn worker process after the fork (no preload),
        so each process runs an import worker of its own."""
        backing = cls.open_backing(config)
        owners = Owners.at(
            config.cotos_internal_url, config.cotonomas_internal_url, config.graph_internal_url, config.internal_token
        )
        worker = cls.worker_of(config, JobStore(backing["pool"]), owners)
        liveness = keep_running("import-worker", worker)
        return cls(**backing, liveness=liveness, verifier=config.tokens.verifier(), owners=owners, worker=worker)


def create_app(config: Config, deps: Dependencies) -> falcon.App[falcon.Request, falcon.Response]:
    app = service_app(
        config, deps, error_answers=ERROR_ANSWERS, verifier=deps.verifier, internal_token=config.internal_token
    )
    jobs = JobStore(deps.pool)
    app.add_route("/api/export", ExportResource(deps.owners))
    app.add_route("/api/import", ImportResource(jobs, deps.worker, config.max_body_bytes, config.import_wait_seconds))
    app.add_route("/api/import/jobs/{job_id}", ImportJobResource(jobs))
    return app


def get_app() -> falcon.App[falcon.Request, falcon.Response]:
    config = load_config(Config.from_env, os.environ)
    return create_app(config, Dependencies.open(config))
