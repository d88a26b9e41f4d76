"""The stack run from its images (`make up IMAGES=1`, here on the e2e profile's ports): every
service and the gateway a podman container of the image `make images` built, driven through
the gateway as a person would; each container as the image says (its user, its command, no
test tools) and as the manifests ask (read-only root, secrets as read-only files); healed
when it dies, rolled out with no request lost, and gone after `down`.

`make test-images` builds the images first; run alone, `make images` must have run."""

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from conftest import PROFILE, PYTHON, ROOT, Mailbox, Person, Stack

from cotoami_stack.profiles import SERVICES

IMAGES = (*SERVICES, "gateway")


def podman(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=60)


def inspect(container: str) -> dict[str, Any]:
    found = podman("inspect", container)
    assert found.returncode == 0, f"no container {container}: {found.stderr}"
    inspected: dict[str, Any] = json.loads(found.stdout)[0]
    return inspected


def dockerfile_cmd(image: str) -> list[str]:
    dockerfile = ROOT / ("gateway/Dockerfile" if image == "gateway" else f"services/{image}/Dockerfile")
    cmd = [line for line in dockerfile.read_text().splitlines() if line.startswith("CMD ")][-1]
    parsed: list[str] = json.loads(cmd[4:])
    return parsed


def containers(stack: Stack) -> dict[str, str]:
    """Every container of the stack by name, with the image it should run."""
    found = {f"cotoami-{PROFILE.name}-gateway": "gateway"}
    for service in SERVICES:
        for k in range(1, stack.replicas() + 1):
            found[f"cotoami-{PROFILE.name}-{service}-{k}"] = service
    return found


def stack_containers() -> list[str]:
    listed = podman("ps", "-a", "--format", "{{.Names}}", f"--filter=label=cotoami.stack={PROFILE.name}")
    return listed.stdout.split()


@pytest.fixture(scope="module")
def stack():
    stack = Stack(url=PROFILE.public_url, inbox_url=f"http://127.0.0.1:{PROFILE.inbox_port}")
    started = subprocess.run(
        [PYTHON, "-m", "cotoami_stack", "up", "--fresh", "--images", "--profile", "e2e"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if started.returncode != 0:
        pytest.fail(f"the stack did not start from its images:\n{started.stdout}\n{started.stderr}")
    assert "from images" in started.stdout
    yield stack
    stack.stack_command("down")


@pytest.fixture(scope="module")
def mailbox(stack) -> Mailbox:
    return Mailbox(stack.inbox_url)


def test_the_web_a_sign_in_a_post_and_a_cotonoma_through_the_gateway(stack, mailbox):
    page = requests.get(stack.url + "/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<script" in page.text and 'type="module"' in page.text
    script = requests.get(stack.url + "/app.js", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]

    ann = Person(stack, mailbox, "ann")  # by mail, through maildev, as a person signs in
    assert ann.call("GET", "/api/auth/session").json()["amishi"]["id"] == ann.amishi["id"]
    note = ann.post("written to a stack of containers")
    room = ann.create("Containers")
    inside = ann.post("inside a cotonoma", room["key"])
    assert [c["id"] for c in ann.timeline(room["key"])] == [inside["id"]]
    home = [c["id"] for c in ann.timeline()]
    assert note["id"] in home and inside["id"] in home
    assert ann.call("GET", f"/api/cotonomas/{room['key']}").json()["cotonoma"]["name"] == "Containers"
    # Someone else sees none of it.
    bob = Person(stack, mailbox, "bob")
    assert bob.call("GET", "/api/cotos", params={"cotonoma": room["key"]}).status_code == 404
    assert note["id"] not in [c["id"] for c in bob.timeline()]


def test_every_process_is_its_image_as_built_run_read_only_as_its_user(stack):
    for name, image in containers(stack).items():
        container = inspect(name)
        config, host = container["Config"], container["HostConfig"]
        assert container["State"]["Running"], name
        assert container["ImageName"].endswith(f"cotoami/{image}:0.1.0"), name
        assert config["Cmd"] == dockerfile_cmd(image), f"{name} runs its image's CMD unchanged"
        assert host["ReadonlyRootfs"] is True and host["NetworkMode"] == "host", name
        assert "no-new-privileges" in host["SecurityOpt"], name
        # The process as the host sees it: not root.
        status = Path(f"/proc/{container['State']['Pid']}/status").read_text()
        uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.M)
        assert uids and uids.group(1) != "0" and uids.group(2) != "0", f"{name} runs as root"
        assert uids.group(1) == config["User"].split(":")[0], name
        assert re.search(r"^CapEff:\s+0+$", status, re.M), f"{name} holds capabilities"

        if not name.endswith(("-1", "-gateway")):
            continue  # inside one instance of each image: the others run the same
        written = podman("exec", name, "touch", "/written-here")
        assert written.returncode != 0 and "Read-only file system" in written.stderr, name
        assert podman("exec", name, "sh", "-c", "echo x > /tmp/scratch").returncode == 0, f"{name}: /tmp"
        no_pytest = podman("exec", name, "sh", "-c", "PATH=/venv/bin:$PATH python -c 'import pytest'")
        assert "No module named 'pytest'" in no_pytest.stderr, name
        assert podman("exec", name, "sh", "-c", "ls -d /app/tests /src 2>/dev/null").stdout == "", name
        if image != "gateway":
            # The keys as files: the image's user's, read-only, readable by nobody else.
            for key in ("internal-token", "jwks.json", *(["signing-key.pem"] if image == "auth" else [])):
                stat = podman("exec", name, "stat", "-c", "%u %a", f"/etc/cotoami/keys/{key}").stdout.split()
                assert stat == [config["User"].split(":")[0], "400"], f"{name}: {key} {stat}"
            assert podman("exec", name, "sh", "-c", "echo x >> /etc/cotoami/keys/jwks.json").returncode != 0
            assert podman("exec", name, "test", "-e", "/etc/cotoami/keys/signing-key.pem").returncode == (
                0 if image == "auth" else 1
            ), f"{name}: only auth holds the signing key"


@pytest.mark.parametrize("process", ["cotos-1", "gateway"])
def test_a_killed_container_is_replaced_and_serves(stack, process):
    name = f"cotoami-{PROFILE.name}-{process}"
    before = inspect(name)
    os.kill(before["State"]["Pid"], signal.SIGKILL)  # its PID 1 (gunicorn's or nginx's master): it ends
    url = f"http://127.0.0.1:{PROFILE.instance_port('cotos', 1)}/readyz" if process == "cotos-1" else stack.url + "/"

    def replaced() -> bool:
        found = podman("inspect", "--format", "{{.Id}} {{.State.Running}}", name).stdout.split()
        if len(found) != 2 or found[0] == before["Id"] or found[1] != "true":
            return False
        try:
            return requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    stack.wait_until(replaced, 60, f"a new {process} container, serving")
    assert inspect(name)["Id"] != before["Id"]


def test_a_rollout_builds_the_image_and_loses_no_request(stack, mailbox):
    """cotos rolled out under writes at home, which reach it through the gateway alone. (Writes in
    a cotonoma during a cotonomas rollout also call cotonomas on its shared port, where a stopping
    instance's socket can hold a call until it times out: a limit of the local stack, venv or images,
    README "Rolling out on the local stack".)"""
    ann = Person(stack, mailbox, "rolling")
    before = {k: inspect(f"cotoami-{PROFILE.name}-cotos-{k}")["Id"] for k in range(1, stack.replicas() + 1)}
    statuses: list[int] = []
    failures: list[str] = []
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            # A new connection each time, as in tests/test_rollout.py: a gateway reload closes idle
            # kept-alive client connections, which a browser retries on its own and a bare client would not.
            body = {"content": "still here"}
            try:
                response = ann.call("POST", "/api/cotos", json=body, headers={"Connection": "close"})
            except requests.RequestException as error:
                failures.append(repr(error))
                continue
            statuses.append(response.status_code)
            time.sleep(0.05)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        rolled = stack.stack_command("rollout", "cotos")
    finally:
        stop.set()
        writer.join(30)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert "cotoami/cotos:0.1.0 built" in rolled.stdout, "the rollout builds the service's image first"
    assert not failures, failures
    assert statuses and set(statuses) == {201}, f"{len(statuses)} writes: {sorted(set(statuses))}"
    with psycopg.connect(PROFILE.database_url("cotos")) as conn:
        kept = conn.execute("SELECT count(*) FROM cotos WHERE content = 'still here'").fetchone()
    assert kept == (len(statuses),), "every write answered 201 was kept"
    for k, old in before.items():
        now = inspect(f"cotoami-{PROFILE.name}-cotos-{k}")
        assert now["State"]["Running"] and now["Id"] != old, f"cotos-{k} is a new container"
    assert f"cotoami-{PROFILE.name}-cotos-surge" not in stack_containers(), "the extra one is gone"


def test_down_stops_and_removes_every_container_and_secret(stack):
    assert len(stack_containers()) == len(containers(stack))
    stopped = stack.stack_command("down")
    assert stopped.returncode == 0, stopped.stderr
    assert stack_containers() == []
    secrets = podman("secret", "ls", "--format", "{{.Name}}").stdout.split()
    assert not [name for name in secrets if name.startswith(f"cotoami-{PROFILE.name}--")]
    with pytest.raises(requests.ConnectionError):
        requests.get(stack.url + "/", timeout=2)
