"""Sign-in keeps its promises when processes die: no mail lost or doubled, nothing signed-in lost with Redis."""

import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import PROFILE, sign_in, unique_address


def kill_hard(stack, program: str) -> None:
    """SIGKILL a service's gunicorn master and its workers, as a crash would."""
    master = stack.pid(program)
    workers = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    for pid in (master, *map(int, workers)):
        os.kill(pid, signal.SIGKILL)


def test_every_address_gets_exactly_one_mail_across_a_mailer_crash(stack, mailbox):
    addresses = [unique_address(f"burst{n}") for n in range(50)]

    def ask(address):
        return requests.post(stack.url + "/api/auth/signin", json={"email": address}, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        first = list(pool.map(ask, addresses[:25]))
        kill_hard(stack, "mailer")
        second = list(pool.map(ask, addresses[25:]))
    assert first + second == [202] * 50, "sign-in does not wait on the mailer"
    stack.wait_until(lambda: all(len(mailbox.mails_to(a)) >= 1 for a in addresses), 60, "every mail delivered")
    counts = {address: len(mailbox.mails_to(address)) for address in addresses}
    assert counts == {address: 1 for address in addresses}


def test_a_redis_restart_loses_no_account_coto_or_session(stack, mailbox):
    address = unique_address()
    device = requests.Session()
    device.headers["Origin"] = stack.url
    amishi = sign_in(stack, mailbox, device, address)
    coto = device.post(stack.url + "/api/cotos", json={"content": "kept in PostgreSQL"}, timeout=5).json()["coto"]

    stack.supervisorctl("restart", "redis")
    stack.wait_until(lambda: all(
        requests.get(f"http://127.0.0.1:{PROFILE.service_port(s)}/readyz", timeout=2).ok for s in ("auth", "cotos")
    ), 20, "services ready again")

    assert device.get(stack.url + "/api/auth/session", timeout=5).json()["amishi"]["id"] == amishi["id"]
    assert device.get(stack.url + "/api/cotos", timeout=5).json()["cotos"][0]["id"] == coto["id"]
    assert device.post(stack.url + "/api/auth/refresh", json={}, timeout=5).status_code == 200
    # The mail queue resumes: a new sign-in from another device works.
    phone = requests.Session()
    phone.headers["Origin"] = stack.url
    assert sign_in(stack, mailbox, phone, address)["id"] == amishi["id"]
