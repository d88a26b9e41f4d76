from dataclasses import dataclass, field

from cotoami_common.config import Env, ServiceConfig, TokenConfig


@dataclass(frozen=True)
class Config(ServiceConfig):
    anonymous_ttl_days: int
    tokens: TokenConfig
    # The service credential: auth and cotonomas present it on our /internal/ paths, and we on
    # cotonomas'. Kept out of repr so it never reaches a log.
    internal_token: str = field(repr=False)
    # Where the cotonomas service answers who may read and post in a cotonoma.
    cotonomas_internal_url: str

    @property
    def anonymous_ttl_seconds(self) -> int:
        return self.anonymous_ttl_days * 86400

    @classmethod
    def from_env(cls, env: Env) -> "Config":
        return cls(
            **ServiceConfig.common_settings(env, "cotos"),
            anonymous_ttl_days=env.int("ANONYMOUS_TTL_DAYS", 30, minimum=1, maximum=3650),
            tokens=TokenConfig.from_env(env),
            internal_token=env.secret("INTERNAL_TOKEN"),
            cotonomas_internal_url=env.url("COTONOMAS_INTERNAL_URL", "http://127.0.0.1:8003").rstrip("/"),
        )
