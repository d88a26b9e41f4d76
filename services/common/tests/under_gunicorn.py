"""Running tests/metrics_app.py under the shared gunicorn configuration, as every service runs."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Connection": "close"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


Start = Callable[..., tuple[subprocess.Popen[str], str]]


def run_gunicorn() -> Iterator[Start]:
    """Starts tests/metrics_app.py under gunicorn with two workers; stops what it started."""
    started = []

    def start(**environ: str) -> tuple[subprocess.Popen[str], str]:
        port = int(environ.get("PORT") or free_port())  # PORT given: beside another on that port
        env = {name: value for name, value in os.environ.items() if name != "PROMETHEUS_MULTIPROC_DIR"}
        env.update(
            {
                "BIND_HOST": "127.0.0.1",
                "PORT": str(port),
                "WEB_CONCURRENCY": "2",
                "WEB_THREADS": "1",
                "GRACEFUL_TIMEOUT": "2",
                "SERVICE_NAME": "metrics-test",
                **environ,
            }
        )
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "python:cotoami_common.gunicorn_conf",
                "--chdir",
                str(HERE),
                "metrics_app:get_app()",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if get(f"{url}/healthz")[0] == 200 and len(worker_pids(process.pid)) == 2:
                    break
            except OSError:
                pass
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        return process, url

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        assert process.stdout is not None  # started with stdout=PIPE
        process.stdout.close()
