"""The import worker: a thread in each process that takes up import jobs (the
oldest queued, or one whose process died: its lease ran out) and runs them.
No Falcon here."""

import logging
import threading

import psycopg
import psycopg_pool

from archive.importer import Importer, LeaseLost
from archive.store import JobStore
from cotoami_common.health import BackgroundThread
from cotoami_common.internal import ServiceUnavailable

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0
# How often the finished jobs older than 30 days are forgotten (in idle turns).
FORGET_EVERY = 3600


class ImportWorker(BackgroundThread):
    def __init__(self, jobs: JobStore, importer: Importer, lease_seconds: int, max_attempts: int):
        super().__init__("import-worker")
        self.jobs = jobs
        self.importer = importer
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self._wake = threading.Event()

    def wake(self) -> None:
        """A job was just queued in this process: take it now rather than at the next turn."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        super().stop(timeout)

    def run(self) -> None:
        turns = 0
        while not self._stopping.is_set():
            try:
                worked = self.work_once()
                if not worked and turns % FORGET_EVERY == 0:
                    self.jobs.forget_finished()
            except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
                log.warning("import jobs cannot be read; trying again shortly: %s", error)
                worked = False
            except Exception:  # a bug must not end the worker
                log.exception("the import worker failed")
                worked = False
            turns += 1
            if not worked:
                self._wake.wait(IDLE_SECONDS)
                self._wake.clear()

    def work_once(self) -> bool:
        """Runs one job if there is one to take; whether there was."""
        job = self.jobs.claim(self.lease_seconds)
        if job is None:
            return False
        fields = {"job": job.id, "amishi": job.amishi.id, "attempt": job.attempts}
        log.info("import job taken", extra={"fields": fields})
        try:
            self.importer.run(job)
        except LeaseLost:
            log.warning("import job taken over by another worker", extra={"fields": fields})
        except (ServiceUnavailable, psycopg.Error, psycopg_pool.PoolTimeout) as error:
            if job.attempts >= self.max_attempts:
                log.error("import job given up on: %s", error, extra={"fields": fields})
                self.jobs.fail(job.id, f"Gave up after {job.attempts} attempts: {error}")
            else:
                log.warning("import job stopped; it will be taken up again: %s", error, extra={"fields": fields})
                self.jobs.release(job.id, min(2.0**job.attempts, 60.0))
        except Exception as error:
            log.exception("import job failed", extra={"fields": fields})
            self.jobs.fail(job.id, f"The import failed: {type(error).__name__}")
        else:
            log.info("import job done", extra={"fields": fields})
        return True
