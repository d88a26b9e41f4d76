from dataclasses import dataclass, field

from cotoami_common.config import Env, ServiceConfig, TokenConfig


@dataclass(frozen=True)
class Config(ServiceConfig):
    tokens: TokenConfig
    # The service credential: archive presents it on our /internal/ paths, and we on
    # cotos' and cotonomas'. Kept out of repr so it never reaches a log.
    internal_token: str = field(repr=False)
    # Where the cotos service shows cotos (POST /internal/cotos/lookup).
    cotos_internal_url: str
    # Where the cotonomas service answers who may read a cotonoma.
    cotonomas_internal_url: str

    @classmethod
    def from_env(cls, env: Env) -> "Config":
        return cls(
            **ServiceConfig.common_settings(env, "graph"),
            tokens=TokenConfig.from_env(env),
            internal_token=env.secret("INTERNAL_TOKEN"),
            cotos_internal_url=env.url("COTOS_INTERNAL_URL", "http://127.0.0.1:8002").rstrip("/"),
            cotonomas_internal_url=env.url("COTONOMAS_INTERNAL_URL", "http://127.0.0.1:8003").rstrip("/"),
        )
