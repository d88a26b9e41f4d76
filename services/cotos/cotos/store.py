"""Storage of cotos. No Falcon here."""

import json
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime

import redis

# Deletes or updates a coto only if it is still there, atomically with the index.
_UPDATE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class TimeOrderedIds:
    """UUIDv7s (RFC 9562) with a counter: ids made by one process sort in the
    order they were made, even within a millisecond, so id order is posting
    order and an id serves as a pagination cursor."""

    def __init__(self):
        self._lock = threading.Lock()
        self._ms = 0
        self._counter = 0

    def __call__(self) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms > self._ms:
                # Start low in the 12-bit counter to leave room to count up.
                self._ms, self._counter = ms, secrets.randbelow(1 << 11)
            else:
                self._counter += 1
                if self._counter >= 1 << 12:
                    self._ms, self._counter = self._ms + 1, 0
            ms, counter = self._ms, self._counter
        value = ms << 80 | 0x7 << 76 | counter << 64 | 0x2 << 62 | secrets.randbits(62)
        return str(uuid.UUID(int=value))


new_coto_id = TimeOrderedIds()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AnonymousCotoStore:
    """The memo pad of one browser, in Redis, kept for `ttl_seconds` after its last use.

    Per anonymous id: a sorted set of coto ids (all score 0, so ordered by the
    time-ordered id) and a hash of id -> coto JSON.
    """

    def __init__(self, client: redis.Redis, ttl_seconds: int):
        self.client = client
        self.ttl_seconds = ttl_seconds
        self._update = client.register_script(_UPDATE)

    @staticmethod
    def _keys(anonymous_id: str) -> tuple[str, str]:
        return f"anon:{anonymous_id}:timeline", f"anon:{anonymous_id}:cotos"

    def _touch(self, pipe: redis.client.Pipeline, anonymous_id: str) -> None:
        for key in self._keys(anonymous_id):
            pipe.expire(key, self.ttl_seconds)

    def post(self, anonymous_id: str, content: str) -> dict:
        now = utc_now()
        coto = {
            "id": new_coto_id(),
            "content": content,
            "amishi": None,
            "posted_in": None,
            "as_cotonoma": False,
            "cotonoma_key": None,
            "created_at": now,
            "updated_at": now,
        }
        timeline, cotos = self._keys(anonymous_id)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(cotos, coto["id"], json.dumps(coto, ensure_ascii=False))
            pipe.zadd(timeline, {coto["id"]: 0})
            self._touch(pipe, anonymous_id)
            pipe.execute()
        return coto

    def timeline(self, anonymous_id: str, before: str | None, limit: int) -> tuple[list[dict], str | None]:
        timeline, cotos = self._keys(anonymous_id)
        start = f"({before}" if before else "+"
        ids = self.client.zrange(timeline, start, "-", desc=True, bylex=True, offset=0, num=limit + 1)
        page = ids[:limit]
        with self.client.pipeline(transaction=False) as pipe:
            if page:
                pipe.hmget(cotos, page)
            self._touch(pipe, anonymous_id)
            results = pipe.execute()
        found = [json.loads(raw) for raw in results[0] if raw] if page else []
        return found, (page[-1] if len(ids) > limit else None)

    def get(self, anonymous_id: str, coto_id: str) -> dict | None:
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hget(self._keys(anonymous_id)[1], coto_id)
            self._touch(pipe, anonymous_id)
            raw = pipe.execute()[0]
        return json.loads(raw) if raw else None

    def update(self, anonymous_id: str, coto_id: str, content: str) -> dict | None:
        coto = self.get(anonymous_id, coto_id)
        if coto is None:
            return None
        coto.update(content=content, updated_at=utc_now())
        if not self._update(keys=[self._keys(anonymous_id)[1]], args=[coto_id, json.dumps(coto, ensure_ascii=False)]):
            return None  # deleted meanwhile
        return coto

    def delete(self, anonymous_id: str, coto_id: str) -> bool:
        timeline, cotos = self._keys(anonymous_id)
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hdel(cotos, coto_id)
            pipe.zrem(timeline, coto_id)
            self._touch(pipe, anonymous_id)
            removed = pipe.execute()[0]
        return bool(removed)
