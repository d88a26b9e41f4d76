"""Sign-in keeps its promises when processes die: no mail lost or doubled, nothing signed-in lost with Redis."""

import os
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor

import requests
from conftest import sign_in, unique_address


def kill(stack, program: str, how: signal.Signals) -> int:
    """Signal a service's gunicorn master and its workers; the number of workers hit."""
    master = stack.pid(program)
    workers = [
        int(pid) for pid in subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    ]
    for pid in (master, *workers):
        os.kill(pid, how)
    return len(workers)


def burst_of_signins_across(stack, mailbox, how: signal.Signals) -> tuple[dict[str, int], int]:
    """50 sign-ins, the mailer killed halfway; how many mails each address got."""
    addresses = [unique_address(f"burst{n}") for n in range(50)]

    def ask(address):
        return requests.post(stack.url + "/api/auth/signin", json={"email": address}, timeout=10).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        first = list(pool.map(ask, addresses[:25]))
        killed = kill(stack, "mailer", how)
        second = list(pool.map(ask, addresses[25:]))
    assert first + second == [202] * 50, "sign-in does not wait on the mailer"
    stack.wait_until(lambda: all(len(mailbox.mails_to(a)) >= 1 for a in addresses), 60, "every mail delivered")
    return {address: len(mailbox.mails_to(address)) for address in addresses}, killed


def test_a_killed_and_restarted_mailer_delivers_every_mail_exactly_once(stack, mailbox):
    counts, _ = burst_of_signins_across(stack, mailbox, signal.SIGTERM)
    assert counts == {address: 1 for address in counts}


def test_a_crashed_mailer_loses_no_mail(stack, mailbox):
    # SIGKILL mid-conversation leaves the one mail in flight per worker undecided:
    # the SMTP server may have taken it just before the crash. It is sent again
    # (a duplicate of the same link) rather than risk losing a sign-in.
    counts, killed = burst_of_signins_across(stack, mailbox, signal.SIGKILL)
    assert all(count >= 1 for count in counts.values())
    assert sum(count - 1 for count in counts.values()) <= killed


def test_a_redis_restart_loses_no_account_coto_or_session(stack, mailbox):
    address = unique_address()
    device = requests.Session()
    device.headers["Origin"] = stack.url
    amishi = sign_in(stack, mailbox, device, address)
    coto = device.post(stack.url + "/api/cotos", json={"content": "kept in PostgreSQL"}, timeout=5).json()["coto"]

    stack.supervisorctl("restart", "redis")
    stack.wait_until(lambda: stack.ready("auth", "cotos"), 20, "services ready again")

    assert device.get(stack.url + "/api/auth/session", timeout=5).json()["amishi"]["id"] == amishi["id"]
    assert device.get(stack.url + "/api/cotos", timeout=5).json()["cotos"][0]["id"] == coto["id"]
    assert device.post(stack.url + "/api/auth/refresh", json={}, timeout=5).status_code == 200
    # The mail queue resumes: a new sign-in from another device works.
    phone = requests.Session()
    phone.headers["Origin"] = stack.url
    assert sign_in(stack, mailbox, phone, address)["id"] == amishi["id"]
