"""The local stack behaves as Kubernetes would: it heals, and `up` is idempotent."""

import os
import signal
import socket
from pathlib import Path

import requests
from conftest import PROFILE

from cotoami_stack.profiles import SERVICES


def test_a_killed_service_master_is_replaced_and_serves_within_10_seconds(stack, browser):
    coto = browser.post(stack.url + "/api/cotos", json={"content": "survives"}, timeout=5).json()["coto"]
    old = stack.pid("cotos-1")
    os.kill(old, signal.SIGKILL)

    def replaced_and_serving():
        try:
            new = stack.pid("cotos-1")
        except ValueError:
            return False  # between processes
        # RUNNING: up for a second, so the killed master's orphaned workers, which
        # may still answer on its port for that long, are gone.
        if new in (0, old) or "RUNNING" not in stack.supervisorctl("status", "cotos:cotos-1"):
            return False
        try:
            return requests.get(f"http://127.0.0.1:{PROFILE.instance_port('cotos', 1)}/readyz", timeout=1).ok
        except requests.RequestException:
            return False  # an orphaned worker exiting mid-answer: not yet

    took = stack.wait_until(replaced_and_serving, 10, "a new cotos master serving")
    assert took < 10
    listed = browser.get(stack.url + "/api/cotos", timeout=5).json()["cotos"]
    assert coto in listed, "what was written before the crash is still there"


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie (dead, waiting to be reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_masters_workers_die_with_it_and_no_call_waits_on_its_socket(stack, owner):
    """cotos-1's master SIGKILLed: its workers go at once (D111), so nothing is left holding
    the service port's reuse_port socket; cotonomas' calls to cotos find a live one."""
    master = stack.pid("cotos-1")
    workers = [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    assert workers
    os.kill(master, signal.SIGKILL)
    stack.wait_until(lambda: not any(running(pid) for pid in workers), 1, "the orphans gone")
    for n in range(10):
        created = owner.call("POST", "/api/cotonomas", json={"name": f"Right after a crash {n}"})
        assert created.status_code == 201, created.text
        assert created.elapsed.total_seconds() < 1.5, "a call waited on a dead socket"


def test_up_again_is_harmless(stack):
    before = stack.pids()
    assert {"gateway", "maildev", "redis", *(i for s in SERVICES for i in stack.instances(s))} <= set(before)
    again = stack.stack_command("up")
    assert again.returncode == 0, again.stderr
    assert stack.url in again.stdout
    assert stack.pids() == before, "nothing was restarted"


def test_status_reports_every_process_ready(stack):
    status = stack.stack_command("status")
    assert status.returncode == 0, status.stdout
    for name in (*SERVICES, "gateway", "maildev"):
        assert f"{name}" in status.stdout
    assert "NOT READY" not in status.stdout


def our_processes() -> list[str]:
    """Command lines of live processes that belong to the e2e stack."""
    marks = (f"{PROFILE.run_dir}/", f"--smtp {PROFILE.smtp_port}")
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                line = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(mark in line for mark in marks):
            found.append(line)
    return found


def test_down_leaves_no_process_and_up_brings_everything_back(stack, browser):
    coto = browser.post(stack.url + "/api/cotos", json={"content": "kept across down and up"}, timeout=5).json()["coto"]
    ports = [
        PROFILE.gateway_port,
        PROFILE.smtp_port,
        PROFILE.inbox_port,
        PROFILE.redis_port,
        PROFILE.postgres_port,
        *map(PROFILE.service_port, SERVICES),
        *(PROFILE.instance_port(s, k) for s in SERVICES for k in range(1, stack.replicas() + 1)),
    ]
    assert stack.stack_command("down").returncode == 0
    try:
        assert our_processes() == []
        for port in ports:
            with socket.socket() as sock:
                assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
    finally:
        assert stack.stack_command("up").returncode == 0
    assert coto in browser.get(stack.url + "/api/cotos", timeout=5).json()["cotos"]
