from dataclasses import dataclass, field

from cotoami_common.config import Env, TokenConfig, WebConfig


@dataclass(frozen=True)
class Config(WebConfig):
    """live has no database: WebConfig, not ServiceConfig."""

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
            **WebConfig.web_settings(env),
            tokens=TokenConfig.from_env(env),
            internal_token=env.secret("INTERNAL_TOKEN"),
            cotonomas_internal_url=env.url("COTONOMAS_INTERNAL_URL", "http://127.0.0.1:8003").rstrip("/"),
            access_ttl_seconds=env.int("LIVE_ACCESS_TTL_MS", 2000, minimum=100, maximum=4000) / 1000,
            keepalive_seconds=env.int("LIVE_KEEPALIVE_SECONDS", 15, minimum=1, maximum=60),
            listener_queue_size=env.int("LIVE_LISTENER_QUEUE_SIZE", 256, minimum=1, maximum=100_000),
        )
