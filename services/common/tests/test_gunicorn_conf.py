"""The shared gunicorn configuration, run for real with tests/metrics_app.py."""

import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from under_gunicorn import worker_pids

from cotoami_common import gunicorn_conf


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"  # after (comm)
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
    # Nothing holds the port: a connection is refused rather than left waiting in a dead
    # socket's queue (the kernel releases an exited process's last socket a moment late).
    while True:
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                break
        assert time.monotonic() < deadline + 0.5, "the killed master's socket still takes connections"
        time.sleep(0.01)


def test_a_graceful_stop_still_ends_the_workers_cleanly(gunicorn):
    process, _ = gunicorn()
    workers = worker_pids(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert not any(alive(pid) for pid in workers)


def test_a_stopping_instance_leaves_the_shared_port_to_the_others_at_once(gunicorn):
    """Two instances on one port (reuse_port), as a service's instances are: while one
    drains after SIGTERM, every new connection is answered by the other, none left
    waiting in the stopping one's socket."""
    # Threads enough that the held connections leave each worker some free.
    stopping, url = gunicorn(GRACEFUL_TIMEOUT="30", WEB_THREADS="8")
    port = int(url.rsplit(":", 1)[1])
    staying, _ = gunicorn(PORT=str(port), WEB_THREADS="8")
    # Kept-alive connections to both: the stopping one drains its own for 2 s (STOP_KEEPALIVE_LINGER).
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
    for connection in held:
        connection.sendall(b"GET /hello/held HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b" 200 " in connection.recv(4096)
    stopping.send_signal(signal.SIGTERM)
    time.sleep(1.2)  # its workers have seen the signal (their loop wakes every second)
    started = time.monotonic()
    while time.monotonic() - started < 2:  # the stopping one's drain
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"GET /hello/new HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert b" 200 " in connection.recv(4096), "a new connection waited in a stopping instance's socket"
        time.sleep(0.05)  # a few dozen: the fixture's log pipe is read only at the end
    for connection in held:
        connection.close()
    assert stopping.wait(timeout=15) == 0
    assert staying.poll() is None


def test_a_worker_builds_no_access_log_line():
    """Each service logs its requests itself; gunicorn, seeing logconfig_dict, would build every
    request's access-log fields for a logger that drops them. After the hook, the worker's
    access() touches nothing it is given."""

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"access() read {name}")

    def gunicorns_access(resp: object, req: object, environ: object, request_time: object) -> None:
        raise AssertionError("gunicorn's access log ran")

    class Log:
        def __init__(self) -> None:
            self.access: Callable[[object, object, object, object], None] = gunicorns_access

    class Worker:
        pid = ppid = 0
        alive = True

        def __init__(self) -> None:
            self.sockets: list[socket.socket] = []
            self.log: gunicorn_conf.AccessLog = Log()

        def set_accept_enabled(self, enabled: bool) -> None:
            pass

    worker = Worker()
    gunicorn_conf.post_worker_init(worker)
    worker.log.access(Untouchable(), Untouchable(), Untouchable(), Untouchable())  # raised nothing
