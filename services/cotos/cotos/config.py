from dataclasses import dataclass

from cotoami_common.config import Env, ServiceConfig


@dataclass(frozen=True)
class Config(ServiceConfig):
    anonymous_ttl_days: int

    @property
    def anonymous_ttl_seconds(self) -> int:
        return self.anonymous_ttl_days * 86400

    @classmethod
    def from_env(cls, env: Env) -> "Config":
        return cls(
            **ServiceConfig.common_settings(env, "cotos"),
            anonymous_ttl_days=env.int("ANONYMOUS_TTL_DAYS", 30, minimum=1, maximum=3650),
        )
