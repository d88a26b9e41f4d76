"""The one gunicorn configuration of every service, read from the environment.

Every Dockerfile's CMD and `make up` run `gunicorn -c python:cotoami_common.gunicorn_conf APP`.
"""

import ctypes
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cotoami_common.config import ConfigError, Env
from cotoami_common.logs import logging_config

_env = Env(os.environ)
try:
    bind = f"{_env.str('BIND_HOST', '0.0.0.0')}:{_env.int('PORT', 8000, minimum=1, maximum=65535)}"
    workers = _env.int("WEB_CONCURRENCY", 2, minimum=1, maximum=64)
    threads = _env.int("WEB_THREADS", 4, minimum=1, maximum=64)
    # Kubernetes' grace period is set longer than this, so in-flight requests finish.
    graceful_timeout = _env.int("GRACEFUL_TIMEOUT", 20, minimum=1, maximum=300)
    # Longer than the proxy in front keeps idle connections (the local gateway 4 s,
    # ingress-nginx 60 s), so the proxy never sends on a connection being closed.
    keepalive = _env.int("KEEPALIVE_SECONDS", 5, minimum=1, maximum=600)
    logconfig_dict = logging_config(_env.str("LOG_LEVEL", "INFO", pattern="DEBUG|INFO|WARNING|ERROR"))
except ConfigError as error:
    raise SystemExit(f"configuration error: {error}") from None

worker_class = "gthread"
# A master that died leaves its workers draining on the port for a while; the
# master restarted in its place must be able to bind it at once.
reuse_port = True
timeout = 30
# The gateway's own limits are lower, so it answers over-long requests first.
limit_request_line = 8190
# Its default path is shared by every gunicorn of the user and needs a writable home.
control_socket_disable = True
accesslog = None  # each service logs its requests itself, with the request id
proc_name = os.environ.get("SERVICE_NAME", "cotoami")


# --- Prometheus metrics in multiprocess mode (cotoami_common.metrics) --------------------
# Each worker writes its metrics to files in one directory that /metrics adds
# up. The master makes it before any worker forks (the variable must be set
# before a worker first imports prometheus_client): a fresh one under the temp
# directory (/tmp, an emptyDir in Kubernetes), unless PROMETHEUS_MULTIPROC_DIR
# names one, which is then emptied, since files left by an earlier run would
# be counted again.
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Names the directory the master made, to remove at exit (in the environment,
# which outlives a reload of this module on SIGHUP).
MADE_METRICS_DIR_ENV = "COTOAMI_MADE_METRICS_DIR"


# What the hooks use of gunicorn's Arbiter and Worker (gunicorn ships no type hints).
class _Log(Protocol):
    def info(self, msg: str, *args: object) -> None: ...


class Server(Protocol):
    @property
    def log(self) -> _Log: ...


class Worker(Protocol):
    @property
    def pid(self) -> int: ...

    @property
    def ppid(self) -> int: ...


# prctl(2) option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def post_fork(server: Server, worker: Worker) -> None:
    """A worker dies with its master, as a container's processes die with its
    PID 1. An orphan would otherwise drain for up to GRACEFUL_TIMEOUT while
    holding the master's reuse_port socket open without accepting: the kernel
    still hands that socket new connections, which wait there in vain while
    the restarted master's socket serves the rest. (A graceful stop of
    the master is unaffected: it stops its workers itself.)"""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        server.log.info("could not ask to end with the master: errno %s", ctypes.get_errno())
        return
    if os.getppid() != worker.ppid:  # the master died before the request took effect
        os.kill(os.getpid(), signal.SIGKILL)


class AccessLog(Protocol):
    access: Callable[[object, object, object, object], None]


class ThreadWorker(Worker, Protocol):
    alive: bool
    sockets: list[socket.socket]
    log: AccessLog

    def set_accept_enabled(self, enabled: bool) -> None: ...


def _no_access_log(resp: object, req: object, environ: object, request_time: object) -> None:
    return


def post_worker_init(worker: ThreadWorker) -> None:
    """A stopping worker lets go of the listening socket at once. gunicorn's
    gthread worker stops accepting, drains its connections (up to
    GRACEFUL_TIMEOUT) and only then closes its copy of the socket; meanwhile the
    kernel still hands that socket its share of the port's new connections
    (reuse_port), which then wait unanswered while other instances serve: an
    internal call to a service mid-rollout timed out that way. Closed when the
    worker stops accepting for good, the socket leaves the port's group once
    its master's and its siblings' copies are closed too; a worker replaced on
    a reload leaves it to the master and the new workers.

    And it writes no access log: each service writes one JSON line per request
    itself (with the request id), while gunicorn, seeing logconfig_dict set,
    would build every request's access-log fields only for its gunicorn.access
    logger (WARNING) to drop the line: a twentieth of a page's CPU (BENCHMARKS.md)."""
    worker.log.access = _no_access_log
    if not hasattr(worker, "set_accept_enabled"):
        return  # not gthread: live's uvicorn worker closes its listeners first as it stops
    stop_accepting = worker.set_accept_enabled

    def set_accept_enabled(enabled: bool) -> None:
        stop_accepting(enabled)
        if not enabled and not worker.alive:
            for listener in worker.sockets:
                listener.close()

    worker.set_accept_enabled = set_accept_enabled  # type: ignore[method-assign]


def on_starting(server: Server) -> None:
    given = os.environ.get(METRICS_DIR_ENV, "").strip()
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    else:
        directory = Path(tempfile.mkdtemp(prefix=f"cotoami-metrics-{proc_name}-"))
        os.environ[MADE_METRICS_DIR_ENV] = str(directory)
    os.environ[METRICS_DIR_ENV] = str(directory)
    server.log.info("metrics directory %s", directory)


def child_exit(server: Server, worker: Worker) -> None:
    # Its counters and histograms still count; its live gauges stop counting.
    from prometheus_client import multiprocess  # only now: the master records nothing itself

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]  # prometheus-client leaves it unannotated


def on_exit(server: Server) -> None:
    made = os.environ.get(MADE_METRICS_DIR_ENV)
    if made and made == os.environ.get(METRICS_DIR_ENV):
        shutil.rmtree(made, ignore_errors=True)
