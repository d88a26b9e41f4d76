"""Connections to the backing services, made the same way by every service."""

import psycopg_pool
import redis


def postgres_pool(url: str, max_size: int) -> psycopg_pool.ConnectionPool:
    # Opened without waiting: the process starts fast and /readyz reports
    # the database until it answers. Connections are checked on checkout so
    # a restarted PostgreSQL costs one retry, not an error.
    return psycopg_pool.ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        timeout=5,
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
