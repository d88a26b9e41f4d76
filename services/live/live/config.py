from dataclasses import dataclass, field

from cotoami_common.config import Env, Network, TokenConfig


@dataclass(frozen=True)
class Config:
    """live has no database, so not ServiceConfig (which requires one): the
    same variables it shares with every service, read with the same defaults."""

    redis_url: str
    allowed_origins: tuple[str, ...]
    trusted_proxies: tuple[Network, ...]
    max_body_bytes: int
    tokens: TokenConfig
    # The service credential we present on cotonomas' access check. Kept out of repr so it never reaches a log.
    internal_token: str = field(repr=False)
    cotonomas_internal_url: str
    # How long an access decision is kept; also how often open streams are decided again.
    access_ttl_seconds: float
    keepalive_seconds: int
    # Events waiting for one listener; a listener that falls this far behind is ended (it resumes with Last-Event-ID).
    listener_queue_size: int

    @classmethod
    def from_env(cls, env: Env) -> "Config":
        return cls(
            redis_url=env.url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss")),
            allowed_origins=env.origins("ALLOWED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000"),
            trusted_proxies=env.networks("TRUSTED_PROXIES", "127.0.0.1/32,::1/128"),
            max_body_bytes=env.int("MAX_BODY_BYTES", 256 * 1024, minimum=1024, maximum=16 * 1024 * 1024),
            tokens=TokenConfig.from_env(env),
            internal_token=env.secret("INTERNAL_TOKEN"),
            cotonomas_internal_url=env.url("COTONOMAS_INTERNAL_URL", "http://127.0.0.1:8003").rstrip("/"),
            access_ttl_seconds=env.int("LIVE_ACCESS_TTL_MS", 2000, minimum=100, maximum=4000) / 1000,
            keepalive_seconds=env.int("LIVE_KEEPALIVE_SECONDS", 15, minimum=1, maximum=60),
            listener_queue_size=env.int("LIVE_LISTENER_QUEUE_SIZE", 256, minimum=1, maximum=100_000),
        )
