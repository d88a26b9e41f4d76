"""The shared gunicorn configuration, run for real with tests/metrics_app.py."""

import signal
import socket
import time
from pathlib import Path

from under_gunicorn import worker_pids


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_workers_die_with_a_master_killed_outright(gunicorn):
    process, url = gunicorn(GRACEFUL_TIMEOUT="30")
    workers = worker_pids(process.pid)
    port = int(url.rsplit(":", 1)[1])
    # Connections held open, as the gateway's kept-alive ones are: an orphan would drain them
    # (up to GRACEFUL_TIMEOUT) with its listening socket still open.
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
    for connection in held:
        connection.sendall(b"GET /hello/held HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b" 200 " in connection.recv(4096)
    process.kill()  # SIGKILL: no chance to stop its workers
    process.wait()
    # An orphan notices within a second and then drains kept-alive connections for 2 s more
    # (gunicorn's STOP_KEEPALIVE_LINGER); one that dies with its master is gone at once.
    deadline = time.monotonic() + 1
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "an orphaned worker outlived its master"
        time.sleep(0.05)
    for connection in held:
        connection.close()
    # Nothing holds the port: a connection is refused at once rather than left waiting in a
    # dead socket's queue.
    with socket.socket() as probe:
        probe.settimeout(1)
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_a_graceful_stop_still_ends_the_workers_cleanly(gunicorn):
    process, _ = gunicorn()
    workers = worker_pids(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert not any(alive(pid) for pid in workers)
