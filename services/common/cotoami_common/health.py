"""/healthz says the process is alive (its own threads run); /readyz says it can
serve (those threads run and its backing services answer). A backing service
that is down makes a pod unready, never restarted: restarting cannot fix it."""

import atexit
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Protocol

import falcon
import psycopg_pool
import redis

log = logging.getLogger(__name__)

Check = Callable[[], None]


def run_checks(checks: Mapping[str, Check]) -> tuple[bool, dict[str, str]]:
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as error:  # any failure counts, whatever its kind
            log.warning("check %s failed: %s", name, error)
            results[name] = "failing"
    return all(state == "ok" for state in results.values()), results


class HealthResource:
    def __init__(self, liveness: Mapping[str, Check]):
        self.liveness = liveness

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        alive, results = run_checks(self.liveness)
        resp.status = falcon.HTTP_200 if alive else falcon.HTTP_503
        resp.media = {"status": "ok" if alive else "failing", **({"checks": results} if results else {})}


class ReadinessResource:
    def __init__(self, checks: Mapping[str, Check]):
        self.checks = checks

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        ready, results = run_checks(self.checks)
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


def add_health_routes(
    app: falcon.App[falcon.Request, falcon.Response],
    checks: Mapping[str, Check],
    liveness: Mapping[str, Check] | None = None,
) -> None:
    """checks: the backing services; liveness: the process's own threads, part of readiness too."""
    liveness = liveness or {}
    app.add_route("/healthz", HealthResource(liveness))
    app.add_route("/readyz", ReadinessResource({**checks, **liveness}))


class BackgroundWork(Protocol):
    """A thread of the process's own (the mailer's delivery, cotonomas' reconciler)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def check(self) -> None: ...


class BackgroundThread:
    """A daemon thread of the process's own, running `run` until `stop`: the
    one shape of the outbox relay, cotonomas' reconciler, the mailer's worker
    and cotos' trash purger. `run` returns soon after `_stopping` is set."""

    def __init__(self, name: str):
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self.run, name=name, daemon=True)

    def run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Let the work in hand finish (for at most `timeout` seconds), then return."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def check(self) -> None:
        """For liveness (/healthz, and /readyz)."""
        if not self._thread.is_alive():
            raise RuntimeError(f"the {self._thread.name} thread is not running")


def keep_running(name: str, work: BackgroundWork) -> dict[str, Check]:
    """Starts the work in this process and stops it when the process exits;
    returns its check, for liveness. gunicorn's SIGTERM ends a worker with
    sys.exit() once requests have drained; the work then finishes or leaves
    what it holds before Python exits."""
    work.start()
    atexit.register(work.stop)
    return {name: work.check}
