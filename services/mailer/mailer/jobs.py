"""The mail job contract: what producers put on the `mail` stream.

    XADD mail * job '{"id": "<uuid4>", "kind": "signin", "to": "ann@example.com", "data": {...}}'

`id` is unique per job and is what keeps a job from being mailed twice;
`kind` names the templates that render it (templates/KIND.txt.j2 and
KIND.html.j2), which also decide what `data` must hold.
"""

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cotoami_common.addresses import is_mail_address

KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")


class MalformedJob(ValueError):
    """A job no attempt could ever deliver. Its message never quotes the job's
    data, which may hold a sign-in link."""


@dataclass(frozen=True)
class MailJob:
    id: str
    kind: str
    to: str
    data: Mapping[str, Any]


def parse_job(fields: Mapping[str, str]) -> MailJob:
    if "job" not in fields:
        raise MalformedJob("the stream entry has no 'job' field")
    try:
        body = json.loads(fields["job"])
    except ValueError:
        raise MalformedJob("the job is not JSON") from None
    if not isinstance(body, dict):
        raise MalformedJob("the job is not a JSON object")
    for name in ("id", "kind", "to", "data"):
        if name not in body:
            raise MalformedJob(f"the job has no '{name}'")
    job_id, kind, to, data = body["id"], body["kind"], body["to"], body["data"]
    if not isinstance(job_id, str) or not _is_uuid(job_id):
        raise MalformedJob("the job's id is not a UUID")
    if not isinstance(kind, str) or not KIND.fullmatch(kind):
        raise MalformedJob("the job's kind is not a kind name")
    if not isinstance(to, str) or not is_mail_address(to):
        raise MalformedJob("the job's recipient is not a valid address")
    if not isinstance(data, dict):
        raise MalformedJob("the job's data is not a JSON object")
    return MailJob(id=job_id.lower(), kind=kind, to=to, data=data)


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def claimed_labels(fields: Mapping[str, str]) -> tuple[str, str]:
    """The kind and recipient a malformed job claims, as far as it says, for the delivery log."""
    try:
        body = json.loads(fields.get("job", ""))
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    kind, to = body.get("kind"), body.get("to")
    return (kind[:32] if isinstance(kind, str) else "", to[:254] if isinstance(to, str) else "")
