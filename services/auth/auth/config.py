from dataclasses import dataclass

from cotoami_common.config import Env


@dataclass(frozen=True)
class Config:
    database_url: str
    redis_url: str
    allowed_origins: tuple[str, ...]
    max_body_bytes: int
    db_pool_size: int

    @classmethod
    def from_env(cls, env: Env) -> "Config":
        return cls(
            database_url=env.url("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/cotoami_auth", schemes=("postgresql", "postgres")),
            redis_url=env.url("REDIS_URL", "redis://127.0.0.1:6379/0", schemes=("redis", "rediss")),
            allowed_origins=env.origins("ALLOWED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000"),
            max_body_bytes=env.int("MAX_BODY_BYTES", 256 * 1024, minimum=1024, maximum=16 * 1024 * 1024),
            db_pool_size=env.int("DB_POOL_SIZE", 8, minimum=1, maximum=100),
        )
