"""Putting mail jobs on the Redis stream the mailer reads: one field `job`
holding {"id", "kind", "to", "data"} as JSON. The services queue a mail and
answer at once; the mailer delivers it, retrying, exactly once per job id."""

import json
import uuid
from collections.abc import Mapping

import redis

MAIL_STREAM = "mail"


def enqueue_mail(client: redis.Redis, kind: str, to: str, data: Mapping[str, object], stream: str = MAIL_STREAM) -> str:
    """Queue one mail; its job id lets the mailer deliver it exactly once."""
    job_id = str(uuid.uuid4())
    client.xadd(stream, {"job": json.dumps({"id": job_id, "kind": kind, "to": to, "data": data}, ensure_ascii=False)})
    return job_id
