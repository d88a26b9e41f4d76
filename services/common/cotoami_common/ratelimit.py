"""Limits on how often one client may do a thing, kept in Redis so every
instance of a service counts together. No Falcon here."""

import redis


class RateLimiter:
    """Fixed-window counters in Redis: at most `limit` hits per key per window."""

    def __init__(self, client: redis.Redis, window_seconds: int):
        self.client = client
        self.window_seconds = window_seconds

    def hit(self, key: str, limit: int) -> int | None:
        """Count a hit; None if allowed, else the seconds until the window ends."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(f"ratelimit:{key}")
            pipe.expire(f"ratelimit:{key}", self.window_seconds, nx=True)
            pipe.ttl(f"ratelimit:{key}")
            count, _, ttl = pipe.execute()
        return None if count <= limit else max(int(ttl), 1)
