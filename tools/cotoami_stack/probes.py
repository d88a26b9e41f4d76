"""Whether something answers: a port, an HTTP endpoint, a process."""

import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from cotoami_stack import StackError
from cotoami_stack.profiles import ROOT

READY_TIMEOUT = 90


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone in all but name: nothing of it runs.
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def wait_ready(waiting: dict[str, str], logs: Path) -> None:
    """Waits until every named URL answers 200; the error names those that never did."""
    deadline = time.monotonic() + READY_TIMEOUT
    while waiting := {name: url for name, url in waiting.items() if not http_ok(url)}:
        if time.monotonic() > deadline:
            raise StackError(
                f"not ready after {READY_TIMEOUT}s: {', '.join(waiting)}; see {logs.relative_to(ROOT)}/NAME.log"
            )
        time.sleep(0.1)
