"""Running an import job: the file's cotonomas (parents first), then its cotos
in batches, then its connections and pins in batches, each sent to the
service that owns it, with the job's checkpoint (and what its step rejected)
written after each step.

A job taken up again (its process died, or a service did not answer) goes on
from its checkpoint; a step that was sent but not recorded is sent again,
which changes nothing (every import call is idempotent), so the data ends as
one clean run leaves it. Such a step's cotos count as unchanged the second
time, not as inserts: the counts of a resumed job may say fewer inserts than
were made (docs/decisions.md D142). No Falcon here."""

import logging
from typing import Any

import orjson

from archive.fileformat import CotoItem, GraphItem, Plan, plan_import
from archive.owners import Owners
from archive.store import Claimed, JobStore, Progress, Rejected

log = logging.getLogger(__name__)

MAX_BATCH = 1000
# cotos takes bodies up to 256 KiB: a batch of long cotos is cut short of that.
MAX_BATCH_BYTES = 192 * 1024


class LeaseLost(Exception):
    """Another worker took the job up (this one was too slow to say it was alive)."""


def _coto_body(coto: CotoItem) -> dict[str, object]:
    return {
        "id": coto.id,
        "content": coto.content,
        "posted_in_key": coto.posted_in_key,
        "created_at": coto.created_at,
        "updated_at": coto.updated_at,
    }


class Importer:
    def __init__(self, jobs: JobStore, owners: Owners, lease_seconds: int):
        self.jobs = jobs
        self.owners = owners
        self.lease_seconds = lease_seconds

    def run(self, job: Claimed) -> dict[str, Any]:
        """Runs the job from its checkpoint to its end; returns the result, which
        is recorded. ServiceUnavailable and database errors rise (the job is
        then taken up again); LeaseLost when another worker has it."""
        plan = plan_import(orjson.loads(job.file))
        state = _State(job.checkpoint)
        if not job.checkpoint:
            # What the file itself gets wrong, recorded with the first checkpoint.
            state.pending += [Rejected("cotos", r.json, r.reason) for r in plan.coto_rejections]
            state.pending += [Rejected("connections", r.json, r.reason) for r in plan.graph_rejections]
        else:
            state.rejected_ids, state.rejected_keys = self.jobs.rejected_so_far(job.id)
        if state.stage == "cotonomas":
            self._cotonomas(job, plan, state)
        if state.stage == "cotos":
            self._cotos(job, plan, state)
        if state.stage == "connections":
            self._graph(job, plan, state)
        self._save(job, plan, state)
        return self.jobs.finish(job.id, state.counts, state.progress(plan, "done"))

    def _save(self, job: Claimed, plan: Plan, state: "_State") -> None:
        progress = state.progress(plan, state.stage)
        if not self.jobs.checkpoint(job.id, state.checkpoint(), progress, self.lease_seconds, state.pending):
            raise LeaseLost(job.id)
        state.pending = []

    def _cotonomas(self, job: Claimed, plan: Plan, state: "_State") -> None:
        counts = state.counts["cotos"]
        while state.position < len(plan.cotonomas):
            item = plan.cotonomas[state.position]
            body: dict[str, object] = {
                "key": item.key,
                "coto_id": item.coto_id,
                "name": item.name,
                "parent_key": item.parent_key,
                "created_at": item.created_at,
                "updated_at": item.updated_at,
                "members": item.members,
            }
            outcome, reason = self.owners.import_cotonoma(job.amishi, body)
            if outcome == "inserted":
                counts["inserts"] += 1
                counts["cotonomas"] += 1
            elif outcome == "updated":
                counts["updates"] += 1
                counts["cotonomas"] += 1
            elif outcome == "rejected":
                state.reject(Rejected("cotos", item.json, reason or "rejected", item.coto_id, item.key))
            state.position += 1
            state.done += 1
            self._save(job, plan, state)
        state.next_stage("cotos")
        self._save(job, plan, state)

    def _cotos(self, job: Claimed, plan: Plan, state: "_State") -> None:
        counts = state.counts["cotos"]
        reachable = self.owners.reachable(job.amishi)
        sizes = [len(coto.content.encode()) + 200 for coto in plan.cotos]
        while state.position < len(plan.cotos):
            begin = state.position
            end = _cut(sizes, begin, min(begin + MAX_BATCH, len(plan.cotos)))
            sent: list[CotoItem] = []
            for coto in plan.cotos[begin:end]:
                key = coto.posted_in_key
                if key is not None and (key in state.rejected_keys or key not in reachable):
                    state.reject(Rejected("cotos", coto.json, f"cotonoma not found: {key}", coto.id))
                else:
                    sent.append(coto)
            if sent:
                results = self.owners.import_cotos(job.amishi, [_coto_body(coto) for coto in sent])
                for coto, (outcome, reason) in zip(sent, results, strict=True):
                    if outcome == "inserted":
                        counts["inserts"] += 1
                    elif outcome == "updated":
                        counts["updates"] += 1
                    elif outcome == "rejected":
                        state.reject(Rejected("cotos", coto.json, reason or "rejected", coto.id))
            state.position = end
            state.done += end - begin
            self._save(job, plan, state)
        state.next_stage("connections")
        self._save(job, plan, state)

    def _graph(self, job: Claimed, plan: Plan, state: "_State") -> None:
        counts = state.counts["connections"]
        while state.position < len(plan.graph):
            end = min(state.position + MAX_BATCH, len(plan.graph))
            connections: list[GraphItem] = []
            pins: list[GraphItem] = []
            for item in plan.graph[state.position : end]:
                missing = next((coto for coto in item.cotos if coto in state.rejected_ids), None)
                if missing is not None:
                    state.reject(Rejected("connections", item.json, f"its coto was not imported: {missing}"))
                else:
                    (pins if item.kind == "pin" else connections).append(item)
            if connections or pins:
                made, pinned = self.owners.import_graph(
                    job.amishi, [c.body for c in connections], [p.body for p in pins]
                )
                for items, outcome in ((connections, made), (pins, pinned)):
                    counts["ok"] += len(items) - len(outcome.rejected)
                    for index, reason in sorted(outcome.rejected.items()):
                        if 0 <= index < len(items):
                            state.reject(Rejected("connections", items[index].json, reason))
            state.done += end - state.position
            state.position = end
            self._save(job, plan, state)


def _cut(sizes: list[int], begin: int, end: int) -> int:
    """Where a batch from `begin` (at most to `end`) ends to stay under MAX_BATCH_BYTES."""
    weight = 0
    for index in range(begin, end):
        weight += sizes[index]
        if index > begin and weight > MAX_BATCH_BYTES:
            return index
    return end


class _State:
    """Where a job is: its stage, its place in it, the counts so far, what its steps
    rejected since the last checkpoint, and the cotos and cotonomas rejected
    (what depends on them is rejected too)."""

    def __init__(self, checkpoint: dict[str, Any]):
        self.stage: str = checkpoint.get("stage", "cotonomas")
        self.position: int = checkpoint.get("position", 0)
        self.done: int = checkpoint.get("done", 0)
        self.counts: dict[str, Any] = checkpoint.get("counts") or {
            "cotos": {"inserts": 0, "updates": 0, "cotonomas": 0},
            "connections": {"ok": 0},
        }
        self.pending: list[Rejected] = []
        self.rejected_ids: set[str] = set()
        self.rejected_keys: set[str] = set()

    def reject(self, rejected: Rejected) -> None:
        self.pending.append(rejected)
        if rejected.coto_id:
            self.rejected_ids.add(rejected.coto_id)
        if rejected.cotonoma_key:
            self.rejected_keys.add(rejected.cotonoma_key)

    def next_stage(self, stage: str) -> None:
        self.stage, self.position = stage, 0

    def checkpoint(self) -> dict[str, Any]:
        return {"stage": self.stage, "position": self.position, "done": self.done, "counts": self.counts}

    def progress(self, plan: Plan, stage: str) -> Progress:
        return Progress(stage=stage, done=self.done, total=plan.total)
