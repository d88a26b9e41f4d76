"""The purge of the trash: what has been there TRASH_DAYS is forgotten, by a
thread in each gunicorn worker (as the outbox relay), so that no request pays
for it and nothing else has to be deployed to run it."""

import logging

import psycopg
import psycopg_pool

from cotoami_common.health import BackgroundThread
from cotos.store import CotoStore

log = logging.getLogger(__name__)

# Restore already refuses what is older than TRASH_DAYS, so the purge only
# frees space: a few times an hour is plenty.
PURGE_EVERY_SECONDS = 600.0


class TrashPurger(BackgroundThread):
    """Purges the trash every `every_seconds` in a daemon thread, a batch at a
    time until none is left; purges in other processes skip the rows it holds."""

    def __init__(self, cotos: CotoStore, every_seconds: float = PURGE_EVERY_SECONDS):
        self.cotos = cotos
        self.every_seconds = every_seconds
        super().__init__("trash-purger")

    def purge(self) -> int:
        """Everything due, batch by batch; how many cotos were forgotten."""
        purged = 0
        while not self._stopping.is_set():
            batch = self.cotos.purge_trash()
            purged += batch
            if batch == 0:
                break
        return purged

    def run(self) -> None:
        while not self._stopping.wait(self.every_seconds):
            try:
                purged = self.purge()
                if purged:
                    log.info("purged the trash", extra={"fields": {"cotos": purged}})
            except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
                log.warning("purging the trash failed; retrying later: %s", error)
            except Exception:  # a bug must not end the purging
                log.exception("purging the trash failed")
