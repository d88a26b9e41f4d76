from dataclasses import dataclass

from cotoami_common.config import Env, ServiceConfig


@dataclass(frozen=True)
class Config(ServiceConfig):
    @classmethod
    def from_env(cls, env: Env) -> "Config":
        return cls(**ServiceConfig.common_settings(env, "auth"))
