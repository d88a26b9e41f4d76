"""/healthz says the process is alive; /readyz says its own backing services answer."""

import logging
from collections.abc import Callable, Mapping

import falcon
import psycopg_pool
import redis

log = logging.getLogger(__name__)

Check = Callable[[], None]


class HealthResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class ReadinessResource:
    def __init__(self, checks: Mapping[str, Check]):
        self.checks = checks

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        results = {}
        for name, check in self.checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as error:  # any failure means not ready, whatever its kind
                log.warning("readiness check %s failed: %s", name, error)
                results[name] = "failing"
        ready = all(state == "ok" for state in results.values())
        resp.status = falcon.HTTP_200 if ready else falcon.HTTP_503
        resp.media = {"status": "ready" if ready else "not ready", "checks": results}


def postgres_check(pool: psycopg_pool.ConnectionPool) -> Check:
    def check() -> None:
        with pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
    return check


def redis_check(client: redis.Redis) -> Check:
    def check() -> None:
        client.ping()
    return check


def add_health_routes(app: falcon.App, checks: Mapping[str, Check]) -> None:
    app.add_route("/healthz", HealthResource())
    app.add_route("/readyz", ReadinessResource(checks))
