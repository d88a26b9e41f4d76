"""Writes that span this service's rows and the cotos service's coto for each
cotonoma: exactly one coto per cotonoma, never an orphan on either side.

Deletion is creation backwards: the row is committed 'deleting' (gone for
everyone) before cotos is asked to delete the coto (which it refuses while
cotos are posted in the cotonoma), and the row is deleted, or put back, once
cotos has answered; one left 'deleting' is settled by the Reconciler, which
asks cotos again (the call is safe to repeat).

Creation commits the row in 'creating' (invisible to everyone) before asking
cotos for the coto, so a crash or a lost answer leaves a trace to undo; the
row stays locked while the coto is being made, so the reconciler never undoes
a creation that is still under way. A creation that could not be finished
nor undone at once is undone later by the Reconciler: a thread in each
gunicorn worker rather than work done by create requests, so that cleaning up
neither waits for someone to create again nor slows down whoever does.
"""

import logging
from datetime import timedelta

import psycopg
import psycopg_pool

from cotoami_common.health import BackgroundThread
from cotoami_common.internal import ServiceUnavailable
from cotoami_common.tokens import Amishi
from cotonomas.cotos_client import CannotBecomeCotonoma, CotosClient
from cotonomas.store import Cotonoma, CotonomaNotEmpty, CotonomaStore, PendingCreation, PendingDeletion

log = logging.getLogger(__name__)

# Far longer than a create request can take (the calls to cotos time out in ~2 s).
STUCK_AFTER = timedelta(seconds=10)
RECONCILE_EVERY_SECONDS = 5.0


class CotonomaWrites:
    def __init__(self, store: CotonomaStore, cotos: CotosClient):
        self.store = store
        self.cotos = cotos

    def create(self, owner: Amishi, name: str, parent_key: str | None) -> Cotonoma:
        """The new cotonoma with its coto made, or ServiceUnavailable with nothing left
        behind (at once, or by the reconciler). NoSuchCotonoma and NameTaken from the store."""
        key = self.store.begin_creation(owner, name, parent_key)
        with self.store.finishing_creation(key) as creation:
            if creation is None:
                raise ServiceUnavailable("cotos", "took so long that the creation was undone", maybe_done=False)
            try:
                self.cotos.put_cotonoma_coto(key, name, parent_key, owner.public())
                return creation.ready()
            except ServiceUnavailable as failure:
                log.warning("creating a cotonoma's coto failed: %s", failure, extra={"fields": {"cotonoma": key}})
                # If this raises too, the row stays 'creating' (the transaction rolls back) for the reconciler.
                self._undo(creation, failure.maybe_done)
                error = failure
        raise error

    def cotonomatize(self, owner: Amishi, coto_id: str, name: str, parent_key: str | None) -> Cotonoma:
        """The cotonoma made from the owner's coto (posted in parent_key, its
        content the name), made as create() makes one: committed 'creating',
        then cotos makes the coto stand for it, then 'ready'; undone (the coto
        given back as a plain coto) if cotos refuses or cannot be reached.
        MadeAlready if it was made from this coto before; CannotBecomeCotonoma
        if cotos refuses."""
        key = self.store.begin_creation(owner, name, parent_key, from_coto=coto_id)
        refusal: Exception | None = None
        with self.store.finishing_creation(key) as creation:
            if creation is None:
                raise ServiceUnavailable("cotos", "took so long that the creation was undone", maybe_done=False)
            try:
                self.cotos.put_cotonoma_coto(key, name, parent_key, owner.public(), coto_id=coto_id)
                return creation.ready()
            except CannotBecomeCotonoma as refused:
                creation.discard()  # cotos changed nothing
                refusal = refused
            except ServiceUnavailable as failure:
                log.warning("cotonomatizing a coto failed: %s", failure, extra={"fields": {"cotonoma": key}})
                self._undo(creation, failure.maybe_done)
                refusal = failure
        assert refusal is not None, "the creation finished or was refused"
        raise refusal

    def _undo(self, creation: PendingCreation, coto_maybe_made: bool) -> None:
        if coto_maybe_made:
            # A coto made a cotonoma's is given back, never deleted: it is someone's writing.
            self.cotos.delete_cotonoma_coto(creation.key, keep_coto=creation.from_coto is not None)
        creation.discard()

    def rename(self, owner: Amishi, key: str, name: str) -> Cotonoma:
        """The renamed cotonoma, its coto renamed too; on ServiceUnavailable neither is."""
        try:
            with self.store.renaming(key, owner, name) as cotonoma:
                self.cotos.put_cotonoma_coto(key, name, cotonoma["parent_key"], owner.public())
                return cotonoma
        except ServiceUnavailable as failure:
            log.warning("renaming a cotonoma's coto failed: %s", failure, extra={"fields": {"cotonoma": key}})
            if failure.maybe_done:
                self._restore_coto_name(owner, key)
            raise

    def _restore_coto_name(self, owner: Amishi, key: str) -> None:
        """The rename may have reached cotos although its answer did not come
        back: put the name the row kept, so that the two agree again."""
        current = self.store.name_and_parent(key)
        if current is None:
            return
        try:
            self.cotos.put_cotonoma_coto(key, current[0], current[1], owner.public())
        except ServiceUnavailable as failure:
            log.warning(
                "the cotonoma's coto may keep the name that was refused: %s",
                failure,
                extra={"fields": {"cotonoma": key}},
            )

    def delete(self, owner: Amishi, key: str) -> None:
        """Deletes the owner's cotonoma if it holds nothing: the row goes
        'deleting' (gone for everyone) and is committed so, cotos deletes its
        coto unless cotos are posted in it, then the row goes, or is put back
        (CotonomaNotEmpty). On ServiceUnavailable it is put back if cotos was
        not reached, else left to the reconciler, which asks cotos again.
        NoSuchCotonoma and CotonomaNotEmpty (sub-cotonomas) from the store."""
        self.store.begin_deletion(key, owner)
        # Raised once the block has committed what it settled (raising inside would roll it back).
        refusal: Exception | None = None
        with self.store.finishing_deletion(key) as deletion:
            if deletion is None:
                raise ServiceUnavailable("cotos", "took so long that the deletion was settled", maybe_done=True)
            try:
                held = self.cotos.delete_cotonoma_coto(key)
            except ServiceUnavailable as failure:
                log.warning("deleting a cotonoma's coto failed: %s", failure, extra={"fields": {"cotonoma": key}})
                if not failure.maybe_done:
                    deletion.keep()
                refusal = failure
            else:
                settle(deletion, held)
                refusal = CotonomaNotEmpty(cotos=held) if held else None
        if refusal is not None:
            raise refusal

    def settle_stuck_deletions(self, older_than: timedelta = STUCK_AFTER) -> int:
        """Settle each deletion left unsettled for longer than `older_than`, as
        cotos now answers: finished if its coto is gone (or goes now), else
        put back. Stops at the first failure, which is the caller's to report;
        returns how many were settled."""
        settled = 0
        while True:
            with self.store.oldest_stuck_deletion(older_than) as deletion:
                if deletion is None:
                    return settled
                held = self.cotos.delete_cotonoma_coto(deletion.key)
                settle(deletion, held)
            log.info("settled an unfinished cotonoma deletion", extra={"fields": {"cotonoma": deletion.key}})
            settled += 1

    def undo_stuck_creations(self, older_than: timedelta = STUCK_AFTER) -> int:
        """Undo each creation left unfinished for longer than `older_than`: delete
        its coto (if any), then its row. Stops at the first failure, which is
        the caller's to report; returns how many were undone."""
        undone = 0
        while True:
            with self.store.oldest_stuck_creation(older_than) as creation:
                if creation is None:
                    return undone
                self._undo(creation, coto_maybe_made=True)
            log.info("undid an unfinished cotonoma creation", extra={"fields": {"cotonoma": creation.key}})
            undone += 1


def settle(deletion: PendingDeletion, held: int) -> None:
    """As cotos answered: holding nothing, its coto is gone, and so goes the row; else it is back."""
    if held:
        deletion.keep()
    else:
        deletion.finish()


class Reconciler(BackgroundThread):
    """Runs undo_stuck_creations and settle_stuck_deletions every few seconds in a daemon thread.

    Every process runs one; row locks (SKIP LOCKED) keep them from undoing the
    same creation twice or one still being finished."""

    def __init__(
        self,
        writes: CotonomaWrites,
        every_seconds: float = RECONCILE_EVERY_SECONDS,
        stuck_after: timedelta = STUCK_AFTER,
    ):
        self.writes = writes
        self.every_seconds = every_seconds
        self.stuck_after = stuck_after
        super().__init__("cotonoma-reconciler")

    def run(self) -> None:
        while not self._stopping.wait(self.every_seconds):
            try:
                self.writes.undo_stuck_creations(self.stuck_after)
                self.writes.settle_stuck_deletions(self.stuck_after)
            except (ServiceUnavailable, psycopg.Error, psycopg_pool.PoolTimeout) as error:
                log.warning("settling unfinished cotonoma creations or deletions failed; retrying later: %s", error)
            except Exception:  # a bug must not end the reconciling
                log.exception("settling unfinished cotonoma creations or deletions failed")
