# First of all: metrics are kept in multiprocess mode, as under gunicorn, only if
# PROMETHEUS_MULTIPROC_DIR is set before the app imports prometheus_client.
import cotoami_testing  # noqa: F401,I001

import json
import random
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from cotoami_testing.fixtures import ServiceUnderTest

from cotoami_common.config import Env
from mailer.app import Dependencies, create_app
from mailer.config import Config
from mailer.worker import Backoff, MailWorker

pytest_plugins = ["cotoami_testing.fixtures"]

MAILDEV = Path(__file__).resolve().parents[3] / "node_modules" / ".bin" / "maildev"
# The ports these tests may use.
PORTS = range(11900, 12000)

SIGNIN_DATA = {
    "link": "http://127.0.0.1:8000/signin/dGhlLXRva2Vu",
    "expires_minutes": 10,
    "requested_at": "2026-11-26T15:04:22.456Z",
    "requested_from": "203.0.113.9",
}


def free_port() -> int:
    for port in random.sample(PORTS, len(PORTS)):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS}")


T = TypeVar("T")


def eventually(condition: Callable[[], T | None], timeout: float = 10.0, what: str = "the condition") -> T:
    """Poll until condition() is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Maildev:
    """A maildev of our own: SMTP on smtp_port, its inbox read through its JSON API."""

    def __init__(self, directory: Path, smtp_port: int | None = None, options: tuple[str, ...] = ()):
        self.smtp_port = smtp_port or free_port()
        self.tls = "--incoming-secure" in options
        self.web_port = free_port()
        directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                str(MAILDEV),
                "--ip",
                "127.0.0.1",
                "--smtp",
                str(self.smtp_port),
                "--web",
                str(self.web_port),
                "--mail-directory",
                str(directory),
                "--silent",
                *options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        eventually(self._answers, timeout=15, what="maildev to start")

    @property
    def smtp_url(self) -> str:
        return f"smtp://127.0.0.1:{self.smtp_port}"

    def _request(self, method: str, path: str) -> object:
        request = urllib.request.Request(f"http://127.0.0.1:{self.web_port}{path}", method=method)
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.load(response)

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError("maildev exited")
        try:
            self._request("GET", "/healthz")
        except OSError:
            return False
        try:
            with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=1) as probe:
                if self.tls:
                    # maildev over TLS dies of a connection closed before the handshake, so it gets one.
                    ssl._create_unverified_context().wrap_socket(probe).close()
        except OSError:
            return False
        return True

    def emails(self) -> list[dict[str, object]]:
        mails = self._request("GET", "/email")
        assert isinstance(mails, list), f"maildev's inbox is not a list: {mails!r}"
        return mails

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, object]]:
        """The inbox once it holds at least count mails."""

        def enough() -> list[dict[str, object]] | None:
            mails = self.emails()
            return mails if len(mails) >= count else None

        return eventually(enough, timeout, f"{count} mails in maildev")

    def clear(self) -> None:
        self._request("DELETE", "/email/all")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def maildev_factory(tmp_path_factory):
    """Starts maildevs (on a given SMTP port, or a free one) and stops them at the end of the run."""
    started: list[Maildev] = []

    def start(smtp_port: int | None = None, options: tuple[str, ...] = ()) -> Maildev:
        started.append(Maildev(tmp_path_factory.mktemp("maildev"), smtp_port, options))
        return started[-1]

    yield start
    for maildev in started:
        maildev.stop()


@pytest.fixture(scope="session")
def session_maildev(maildev_factory: Callable[..., Maildev]) -> Maildev:
    return maildev_factory()


@pytest.fixture
def maildev(session_maildev: Maildev) -> Maildev:
    session_maildev.clear()
    return session_maildev


@pytest.fixture(scope="session")
def service() -> ServiceUnderTest:
    return ServiceUnderTest(Path(__file__).parents[1], Config, create_app, token_service=False)


@pytest.fixture
def config_for(clean_database, redis_url, maildev) -> Callable[..., Config]:
    """A Config for the test database, Redis and maildev, with the given variables on top."""

    def make(**environ: str) -> Config:
        return Config.from_env(
            Env(
                {
                    "DATABASE_URL": clean_database,
                    "REDIS_URL": redis_url,
                    "SMTP_URL": maildev.smtp_url,
                    **environ,
                }
            )
        )

    return make


@pytest.fixture
def deps(pool, redis) -> Dependencies:
    """What get_app would open, on the test database and Redis (no worker: a test starts one when it needs it)."""
    return Dependencies(pool=pool, redis=redis, checks={})


@pytest.fixture
def config(config_for: Callable[..., Config]) -> Config:
    return config_for()


# Quick retries, so that a test sees several attempts in a fraction of a second.
FAST_BACKOFF = Backoff(first=0.05, cap=0.2)


@pytest.fixture
def start_worker(config_for, pool, redis):
    """Starts mail workers (threads in this process, each a consumer of its own); stops them after the test."""
    workers: list[MailWorker] = []

    def start(consumer: str = "test-worker", backoff: Backoff = FAST_BACKOFF, **environ: str) -> MailWorker:
        worker = MailWorker.from_config(config_for(**environ), pool, redis, consumer=consumer, backoff=backoff)
        worker.start()
        workers.append(worker)
        return worker

    yield start
    # All asked at once, so that their last reads time out together.
    for worker in workers:
        worker.request_stop()
    for worker in workers:
        worker.stop()
