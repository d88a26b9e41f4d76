"""HTTP resources of the archive service. No storage code here."""

import contextlib
import time
import uuid

import falcon
import orjson

from archive.export import Export
from archive.fileformat import InvalidFile, check_file
from archive.owners import Owners
from archive.store import AlreadyImporting, JobStore, JobView
from archive.worker import ImportWorker
from cotoami_common.internal import ServiceUnavailable
from cotoami_common.web import ErrorAnswers, require_amishi

POLL_SECONDS = 0.1
# A file of 50 MiB holds some 150,000 cotos (three objects each at most); this is far more.
MAX_CONTAINERS = 2_000_000
JOB_PATH = "/api/import/jobs/{}"


def _unavailable(error: ServiceUnavailable) -> falcon.HTTPError:
    return falcon.HTTPServiceUnavailable(
        title="Service unavailable",
        description=f"The {error.service} service is not answering; try again shortly.",
        retry_after=5,
    )


def _already_importing(error: AlreadyImporting) -> falcon.HTTPError:
    return falcon.HTTPConflict(
        title="Import in progress",
        description="An import of yours is not finished yet; wait for it, then import again.",
        headers={"Location": JOB_PATH.format(error.job_id)} if error.job_id else None,
    )


ERROR_ANSWERS: ErrorAnswers = {
    ServiceUnavailable: _unavailable,
    AlreadyImporting: _already_importing,
}


class ExportResource:
    """GET /api/export: the signed-in person's data as cotoami-export.json."""

    def __init__(self, owners: Owners):
        self.owners = owners

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        export = Export(self.owners, require_amishi(req))
        resp.content_type = falcon.MEDIA_JSON
        resp.downloadable_as = "cotoami-export.json"
        resp.stream = iter(export)


def _is_json(req: falcon.Request) -> bool:
    return req.content_type is not None and req.content_type.split(";")[0].strip().lower() == falcon.MEDIA_JSON


class ImportResource:
    """POST /api/import: the file as the JSON body. Answers 200 with the result
    when the import is done within a moment (IMPORT_WAIT_MS), else 202 with the
    job to follow; `Prefer: respond-async` asks for the 202 at once (the web
    client, to show progress). Either way the job is at its Location."""

    def __init__(self, jobs: JobStore, worker: ImportWorker, max_bytes: int, wait_seconds: float):
        self.jobs = jobs
        self.worker = worker
        self.max_bytes = max_bytes
        self.wait_seconds = wait_seconds

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi = require_amishi(req)
        if not _is_json(req):
            raise falcon.HTTPUnsupportedMediaType(description="Send the file as the body, as application/json.")
        file = req.bounded_stream.read(self.max_bytes + 1)
        if len(file) > self.max_bytes:
            raise falcon.HTTPContentTooLarge(description=f"The file is larger than {self.max_bytes} bytes.")
        # Every object and list costs memory once parsed, however little the file spends on it
        # ("{}," is 3 bytes): a file of millions of them is refused before it is parsed.
        if file.count(b"{") + file.count(b"[") > MAX_CONTAINERS:
            raise falcon.HTTPBadRequest(
                title="Too many items",
                description=f"The file holds more than {MAX_CONTAINERS:,} objects and lists.",
            )
        try:
            data = orjson.loads(file)
        except orjson.JSONDecodeError as error:
            raise falcon.HTTPBadRequest(
                title="Invalid JSON",
                description=f"The file is not JSON, or is nested more than 1,024 deep ({error.msg}).",
            ) from None
        try:
            total = check_file(data)
        except InvalidFile as error:
            raise falcon.HTTPBadRequest(title="Invalid data structure", description=str(error)) from None
        del data
        job_id = self.jobs.create(amishi, file, total)
        del file
        self.worker.wake()
        resp.location = JOB_PATH.format(job_id)
        respond_async = "respond-async" in (req.get_header("Prefer") or "").lower()
        deadline = time.monotonic() + (0 if respond_async else self.wait_seconds)
        while True:
            job = self.jobs.get(job_id, amishi.id)
            assert job is not None, "the job was just made"
            if job["state"] == "done" and job["result"] is not None:
                resp.media = job["result"]
                return
            if job["state"] == "failed" or time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
        resp.status = falcon.HTTP_202
        resp.media = {"job": job}


class ImportJobResource:
    """GET /api/import/jobs/{job_id}: the person's own job; anyone else's is 404."""

    def __init__(self, jobs: JobStore):
        self.jobs = jobs

    def on_get(self, req: falcon.Request, resp: falcon.Response, job_id: str) -> None:
        amishi = require_amishi(req)
        job: JobView | None = None
        with contextlib.suppress(ValueError):
            job = self.jobs.get(str(uuid.UUID(job_id)), amishi.id)
        if job is None:
            raise falcon.HTTPNotFound(title="No such job", description="You have no import job with this id.")
        resp.media = {"job": job}
