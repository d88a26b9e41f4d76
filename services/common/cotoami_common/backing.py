"""Connections to the backing services, made the same way by every service."""

import select
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import psycopg
import psycopg_pool
import redis

from cotoami_common.config import ServiceConfig, TokenConfig
from cotoami_common.health import Check, postgres_check, redis_check
from cotoami_common.ratelimit import RateLimiter
from cotoami_common.tokens import AccessTokenVerifier


def postgres_pool(url: str, max_size: int, generic_plans: bool = False) -> psycopg_pool.ConnectionPool:
    # Opened without waiting: the process starts fast and /readyz reports
    # the database until it answers. Connections are checked on checkout so
    # a restarted PostgreSQL costs one retry, not an error (check_if_disturbed).
    # A request waits at most 2 s for a connection: less than any gateway
    # waits for an answer (3 s in the test stack), so an outage is the
    # service's own 503, not a 504. The pool retries a failed connection with
    # a doubling delay; giving up after 5 s, rather than its default of 5
    # minutes of ever longer delays, lets the next request start afresh, so
    # the service is back within seconds of the database, however long it was away.
    # generic_plans: statements psycopg prepares (from their fifth run on a
    # connection) are planned once, not on every run. For a service whose
    # statements' best plans do not depend on their values (its query plan tests
    # say so): PostgreSQL's own choice kept planning a timeline page anew, a
    # third of what the page cost it (BENCHMARKS.md).
    options = "-c jit=off" + (" -c plan_cache_mode=force_generic_plan" if generic_plans else "")
    return psycopg_pool.ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        timeout=2,
        reconnect_timeout=5,
        # No JIT: a request's queries are small, and compiling one costs more
        # than it saves (40 ms for a 4 ms list whose estimate crossed
        # jit_above_cost, in BENCHMARKS.md).
        kwargs={"connect_timeout": 3, "application_name": "cotoami", "options": options},
        check=check_if_disturbed,
        open=True,
    )


def array_literal(values: Iterable[str]) -> str:
    """One PostgreSQL array literal of these values, for a `%s::uuid[]` or
    `%s::text[]` parameter: psycopg dumping a list of 200 strings took 0.3 ms,
    the one string 0.05. Only for values that need no quoting inside an array
    (UUIDs, cotonoma keys: letters, digits, '-' and '_'), as their callers check."""
    return "{" + ",".join(values) + "}"


def check_if_disturbed(conn: psycopg.Connection) -> None:
    """The pool's check on checkout. An idle connection has nothing to read
    unless the server spoke or hung up (a restarting PostgreSQL ends each
    session with a message, then closes it), so only then is it worth a round
    trip to find out: done every time, that round trip cost a request about
    as much as its own query (BENCHMARKS.md)."""
    if not conn.closed:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN)
        if not poller.poll(0):
            return
    psycopg_pool.ConnectionPool.check_connection(conn)  # raises, and the pool takes another connection


@contextmanager
def autocommitting(pool: psycopg_pool.ConnectionPool) -> Iterator[psycopg.Connection]:
    """A pooled connection where each statement is a transaction of its own:
    for reads that need no transaction around them, and for a change made in
    one statement. In autocommit, psycopg sends no BEGIN before the first
    statement nor COMMIT after the last, each a round trip of its own."""
    with pool.connection() as conn:
        conn.autocommit = True
        try:
            yield conn
        finally:
            try:
                conn.autocommit = False
            except psycopg.Error:
                conn.close()  # never back in the pool in autocommit: the pool replaces it


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=2,
        socket_connect_timeout=2,
        health_check_interval=15,
    )


@dataclass(frozen=True, kw_only=True)
class ServiceDependencies:
    """What every service's create_app takes from outside rather than making:
    its own PostgreSQL pool and Redis client, what /readyz checks (the backing
    services) and what /healthz checks too (the process's own threads).

    Each service's Dependencies adds what it uses besides (the token verifier,
    rate limits, clients of other services) and opens it all from its Config
    in `open()`, called by get_app(); tests make one of their own."""

    pool: psycopg_pool.ConnectionPool
    redis: redis.Redis
    checks: Mapping[str, Check]
    liveness: Mapping[str, Check] = field(default_factory=dict)

    # Whether the service's statements are planned once (postgres_pool's generic_plans).
    generic_plans: ClassVar[bool] = False

    @classmethod
    def open_backing(cls, config: ServiceConfig) -> dict[str, Any]:
        """The pool, the Redis client and their checks, opened from config: the
        fields every service's Dependencies starts from."""
        pool = postgres_pool(config.database_url, config.db_pool_size, cls.generic_plans)
        client = redis_client(config.redis_url)
        checks = {"postgres": postgres_check(pool), "redis": redis_check(client)}
        return {"pool": pool, "redis": client, "checks": checks}


@dataclass(frozen=True, kw_only=True)
class PeopleFacingDependencies(ServiceDependencies):
    """What a service that people call directly adds (auth, cotos): the access
    token verifier and the rate limits of their requests."""

    verifier: AccessTokenVerifier
    limits: RateLimiter

    @classmethod
    def open_people_facing(cls, config: ServiceConfig, tokens: TokenConfig, window_seconds: int) -> dict[str, Any]:
        """The backing fields plus the verifier and the limits, opened from config."""
        backing = cls.open_backing(config)
        return {**backing, "verifier": tokens.verifier(), "limits": RateLimiter(backing["redis"], window_seconds)}
