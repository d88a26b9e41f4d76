"""The archive case of `make bench` (bench/run.py runs it): a file of the
original Cotoami's format with 100,000 cotos (10,000 with --quick) imported
through the gateway as a new person, then exported again, then imported a
second time (nothing to insert). Each is timed from the request to its end
(the import's job done; the export's last byte read), and the archive
service's processes are sampled meanwhile for their resident memory (the most
any one of them held), which is what a file that size costs it.

The cotos are those of a person nobody else knows (a new amishi id signed as
auth signs tokens): the import goes through cotos' internal batches like any
other, so the seeded million are around it."""

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import requests

from cotoami_common.tokens import AccessTokenSigner, Amishi

SAMPLE_SECONDS = 0.05


class ArchiveError(Exception):
    """Why the archive case cannot go on, in one line."""


@dataclass(frozen=True)
class ArchiveRun:
    cotos: int
    file_mb: float
    import_seconds: float
    import_peak_mb: float
    export_seconds: float
    export_mb: float
    export_peak_mb: float
    reimport_seconds: float
    reimport_inserts: int
    idle_mb: float


def _resident_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakMemory:
    """The most resident memory any one of the processes held while it ran (sampled)."""

    def __init__(self, pids: Callable[[], Iterable[int]]):
        self.pids = pids
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max([self.peak, *(_resident_mb(pid) for pid in self.pids())])
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def export_file(amishi_id: str, cotos: int) -> bytes:
    """A file as the original Cotoami exported it: UUIDv4 ids, unix milliseconds, a few pins."""
    started = 1_400_000_000_000
    items = [
        {
            "id": str(uuid.uuid4()),
            "content": f"Note {n}: a thought written down on day {n // 50}, with a few words more to be typical.",
            "summary": None,
            "posted_in_id": None,
            "as_cotonoma": False,
            "cotonoma": None,
            "inserted_at": started + n * 60_000,
            "updated_at": started + n * 60_000,
        }
        for n in range(cotos)
    ]
    pins = [
        {"start": amishi_id, "end": items[n]["id"], "order": n, "created_by": amishi_id, "created_at": started + n}
        for n in range(min(10, cotos))
    ]
    return json.dumps({"amishi": {"id": amishi_id}, "cotos": items, "connections": pins}).encode()


def _cookie(secrets_dir: Path, amishi: Amishi) -> str:
    signer = AccessTokenSigner(
        (secrets_dir / "signing-key.pem").read_bytes(), "cotoami-auth", "cotoami", lifetime_seconds=3600
    )
    return "access_token=" + signer.sign(amishi)


def _import(session: requests.Session, url: str, body: bytes, timeout: float) -> dict[str, object]:
    answer = session.post(
        url + "/api/import",
        data=body,
        headers={"Content-Type": "application/json", "Prefer": "respond-async"},
        timeout=timeout,
    )
    if answer.status_code != 202:
        raise ArchiveError(f"POST /api/import answered {answer.status_code}: {answer.text[:200]}")
    location = url + answer.headers["Location"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = session.get(location, timeout=10).json()["job"]
        if job["state"] == "done":
            result: dict[str, object] = job["result"]
            return result
        if job["state"] == "failed":
            raise ArchiveError(f"the import failed: {job['error']}")
        time.sleep(0.2)
    raise ArchiveError(f"the import did not finish within {timeout:.0f} s")


def measure(public_url: str, secrets_dir: Path, pids: Callable[[], Iterable[int]], cotos: int) -> ArchiveRun:
    amishi = Amishi(str(uuid.uuid4()), "archive-bench@example.com", "Archive bench", public_url + "/avatars/x")
    body = export_file(amishi.id, cotos)
    idle = max(_resident_mb(pid) for pid in pids())
    with requests.Session() as session:
        session.headers.update({"Cookie": _cookie(secrets_dir, amishi), "Origin": public_url})
        with PeakMemory(pids) as imported:
            began = time.monotonic()
            result = _import(session, public_url, body, timeout=1800)
            import_seconds = time.monotonic() - began
        counts = result["cotos"]
        if not isinstance(counts, dict) or counts.get("inserts") != cotos:
            raise ArchiveError(f"the import inserted {counts!r}, not {cotos:,} cotos")
        with PeakMemory(pids) as exported:
            began = time.monotonic()
            size = 0
            with session.get(public_url + "/api/export", stream=True, timeout=600) as answer:
                if answer.status_code != 200:
                    raise ArchiveError(f"GET /api/export answered {answer.status_code}")
                for chunk in answer.iter_content(chunk_size=1 << 16):
                    size += len(chunk)
            export_seconds = time.monotonic() - began
        began = time.monotonic()
        again = _import(session, public_url, body, timeout=1800)
        reimport_seconds = time.monotonic() - began
    again_counts = again["cotos"]
    return ArchiveRun(
        cotos=cotos,
        file_mb=len(body) / 2**20,
        import_seconds=import_seconds,
        import_peak_mb=imported.peak,
        export_seconds=export_seconds,
        export_mb=size / 2**20,
        export_peak_mb=exported.peak,
        reimport_seconds=reimport_seconds,
        reimport_inserts=int(again_counts["inserts"]) if isinstance(again_counts, dict) else -1,
        idle_mb=idle,
    )


def summary(run: ArchiveRun) -> str:
    return (
        f"  archive {run.cotos:,} cotos ({run.file_mb:.1f} MiB): import {run.import_seconds:.1f} s "
        f"(peak {run.import_peak_mb:.0f} MB), export {run.export_seconds:.1f} s ({run.export_mb:.1f} MiB, "
        f"peak {run.export_peak_mb:.0f} MB), again {run.reimport_seconds:.1f} s ({run.reimport_inserts} inserts)"
    )


def markdown(run: ArchiveRun) -> str:
    """The archive's section of BENCHMARKS.md's generated part."""
    return "\n".join(
        [
            "",
            "### Archive: export and import",
            "",
            f"A file of the original Cotoami's format with {run.cotos:,} cotos ({run.file_mb:.1f} MiB, UUIDv4 ids, "
            "ten pins) imported through the gateway as a new person (bench/archive.py), the job followed to its "
            "end; then exported (streamed, every byte read); then imported again. Resident memory: the most any "
            f"one archive process held while it ran (sampled every {SAMPLE_SECONDS * 1000:.0f} ms; "
            f"{run.idle_mb:.0f} MB before).",
            "",
            "| | seconds | cotos a second | peak MB |",
            "| --- | ---: | ---: | ---: |",
            f"| import | {run.import_seconds:.1f} | {run.cotos / run.import_seconds:,.0f} | {run.import_peak_mb:.0f} |",
            f"| export ({run.export_mb:.1f} MiB) | {run.export_seconds:.1f} | "
            f"{run.cotos / run.export_seconds:,.0f} | {run.export_peak_mb:.0f} |",
            f"| import again ({run.reimport_inserts} inserted) | {run.reimport_seconds:.1f} | "
            f"{run.cotos / run.reimport_seconds:,.0f} | |",
            "",
        ]
    )
