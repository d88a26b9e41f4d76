"""Connections to the backing services, made the same way by every service."""

from dataclasses import dataclass

import psycopg_pool
import redis

from cotoami_common.config import ServiceConfig
from cotoami_common.health import Check, postgres_check, redis_check


def postgres_pool(url: str, max_size: int) -> psycopg_pool.ConnectionPool:
    # Opened without waiting: the process starts fast and /readyz reports
    # the database until it answers. Connections are checked on checkout so
    # a restarted PostgreSQL costs one retry, not an error. A request waits
    # at most 2 s for a connection: less than any gateway waits for an answer
    # (3 s in the test stack), so an outage is the service's own 503, not a 504.
    return psycopg_pool.ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        timeout=2,
        kwargs={"connect_timeout": 3, "application_name": "cotoami"},
        check=psycopg_pool.ConnectionPool.check_connection,
        open=True,
    )


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=2,
        socket_connect_timeout=2,
        health_check_interval=15,
    )


@dataclass(frozen=True)
class Backing:
    """A service's own PostgreSQL pool and Redis client, and the readiness checks of both."""

    pool: psycopg_pool.ConnectionPool
    redis: redis.Redis

    @classmethod
    def open(cls, config: ServiceConfig) -> "Backing":
        return cls(postgres_pool(config.database_url, config.db_pool_size), redis_client(config.redis_url))

    @property
    def checks(self) -> dict[str, Check]:
        return {"postgres": postgres_check(self.pool), "redis": redis_check(self.redis)}
