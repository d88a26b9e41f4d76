from dataclasses import dataclass, field

from cotoami_common.config import Env, ServiceConfig, TokenConfig


@dataclass(frozen=True)
class Config(ServiceConfig):
    tokens: TokenConfig
    # The credential for /internal/ calls, both ways; kept out of repr so it never reaches a log.
    internal_token: str = field(repr=False)
    cotos_internal_url: str
    # The web address in invitation links.
    public_url: str

    @classmethod
    def from_env(cls, env: Env) -> "Config":
        return cls(
            **ServiceConfig.common_settings(env, "cotonomas"),
            tokens=TokenConfig.from_env(env),
            internal_token=env.secret("INTERNAL_TOKEN"),
            cotos_internal_url=env.url("COTOS_INTERNAL_URL", "http://127.0.0.1:8002").rstrip("/"),
            public_url=env.url("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
        )
