from dataclasses import dataclass, field

from cotoami_common.config import Env, ServiceConfig, TokenConfig


@dataclass(frozen=True)
class Config(ServiceConfig):
    anonymous_ttl_days: int
    anonymous_pad_max_cotos: int
    anonymous_writes_per_client: int
    rate_limit_window_seconds: int
    tokens: TokenConfig
    # The service credential: auth and cotonomas present it on our /internal/ paths, and we on
    # cotonomas'. Kept out of repr so it never reaches a log.
    internal_token: str = field(repr=False)
    # Where the cotonomas service answers who may read and post in a cotonoma.
    cotonomas_internal_url: str
    # Test-only faults a request may ask for (X-Cotoami-Fault); only the e2e stack turns them on.
    fault_hooks: bool

    @property
    def anonymous_ttl_seconds(self) -> int:
        return self.anonymous_ttl_days * 86400

    @classmethod
    def from_env(cls, env: Env) -> "Config":
        return cls(
            **ServiceConfig.common_settings(env, "cotos"),
            anonymous_ttl_days=env.int("ANONYMOUS_TTL_DAYS", 30, minimum=1, maximum=3650),
            anonymous_pad_max_cotos=env.int("ANONYMOUS_PAD_MAX_COTOS", 1000, minimum=1, maximum=100_000),
            anonymous_writes_per_client=env.int("ANONYMOUS_WRITES_PER_CLIENT", 300, minimum=1, maximum=1_000_000),
            rate_limit_window_seconds=env.int("RATE_LIMIT_WINDOW_SECONDS", 900, minimum=1, maximum=86400),
            tokens=TokenConfig.from_env(env),
            internal_token=env.secret("INTERNAL_TOKEN"),
            cotonomas_internal_url=env.url("COTONOMAS_INTERNAL_URL", "http://127.0.0.1:8003").rstrip("/"),
            fault_hooks=env.bool("FAULT_HOOKS", False),
        )
