"""The manifests run: the minikube overlay, rendered by `kubectl kustomize`, played with
`podman kube play` (k8s/podman_play.py makes it playable on one machine, for podman only),
pointed at this machine's PostgreSQL and Redis. The migration Jobs (played as Pods) run to
completion; each Deployment's pod runs the image with the manifest's environment, secret
volumes, security contexts and resources, and answers its probes as the kubelet asks them.

Ports from the e2e profile's gateway port + 500 (COTOAMI_E2E_SLOT moves them), databases
cotoami_kube_SLOT_SVC on 127.0.0.1:5432, Redis database 8 + SLOT on 127.0.0.1:6379."""

import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import requests
import yaml
from conftest import PYTHON, ROOT

from cotoami_stack.profiles import PROFILES

PLAYED = ("auth", "cotos", "cotonomas", "live")
SLOT = int(os.environ.get("COTOAMI_E2E_SLOT") or 0)
FIRST_PORT = PROFILES["e2e"].gateway_port + 500
DATABASE_PREFIX = f"cotoami_kube_{SLOT}_"
REDIS_URL = f"redis://127.0.0.1:6379/{8 + SLOT}"
Document = dict[str, Any]


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)


def psql(sql: str) -> None:
    subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", sql], check=True)


def port(service: str) -> int:
    return FIRST_PORT + PLAYED.index(service)


class Played:
    def __init__(self, documents: list[Document], directory: Path):
        self.documents = documents
        self.directory = directory

    def of_kind(self, kind: str) -> list[Document]:
        return [d for d in self.documents if d["kind"] == kind]

    def deployment(self, service: str) -> Document:
        return next(d for d in self.of_kind("Deployment") if d["metadata"]["name"] == service)

    def container(self, service: str) -> str:
        """The name podman gives the Deployment's container: DEPLOYMENT-pod-0-CONTAINER."""
        return f"{service}-pod-0-{self.deployment(service)['spec']['template']['spec']['containers'][0]['name']}"


def probe_ok(probe: Document) -> bool:
    get = probe["httpGet"]
    try:
        return requests.get(f"http://127.0.0.1:{get['port']}{get['path']}", timeout=probe.get("timeoutSeconds", 1)).ok
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    directory = tmp_path_factory.mktemp("kube-play")
    keys = directory / "keys"
    subprocess.run([PYTHON, "-m", "cotoami_common.tokens", "generate-keys", str(keys)], check=True)
    (keys / "internal-token").write_text(os.urandom(24).hex() + "\n")
    for service in PLAYED:
        if service != "live":  # live has no database
            psql(f'DROP DATABASE IF EXISTS "{DATABASE_PREFIX}{service}" WITH (FORCE)')
            psql(f'CREATE DATABASE "{DATABASE_PREFIX}{service}"')
    redis.Redis.from_url(REDIS_URL).flushdb()
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "k8s" / "overlays" / "minikube")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    transformed = subprocess.run(
        [
            PYTHON,
            str(ROOT / "k8s" / "podman_play.py"),
            *PLAYED,
            f"--port={FIRST_PORT}",
            f"--database-prefix={DATABASE_PREFIX}",
            f"--redis={REDIS_URL}",
            f"--keys={keys}",
            f"--secrets={directory / 'secrets'}",
        ],
        input=rendered,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    documents = list(yaml.safe_load_all(transformed))
    secrets = sorted((directory / "secrets").glob("*.yaml"))
    for secret in secrets:
        podman("secret", "rm", secret.stem)
        created = podman("secret", "create", secret.stem, str(secret))
        assert created.returncode == 0, created.stderr
    # The Jobs first (as `make deploy-SVC` runs each before its rollout), then the Deployments.
    jobs = directory / "jobs.yaml"
    jobs.write_text(yaml.safe_dump_all([d for d in documents if d["kind"] == "Pod"]))
    deployments = directory / "deployments.yaml"
    deployments.write_text(yaml.safe_dump_all([d for d in documents if d["kind"] != "Pod"]))
    files = (jobs, deployments)
    for file in files:
        podman("kube", "down", str(file))  # what an interrupted run left
    try:
        played_jobs = podman("kube", "play", "--network=host", str(jobs), timeout=300)
        assert played_jobs.returncode == 0, played_jobs.stderr
        played_deployments = podman("kube", "play", "--network=host", str(deployments), timeout=300)
        assert played_deployments.returncode == 0, played_deployments.stderr
        yield Played(documents, directory)
    finally:
        for file in files:
            podman("kube", "down", str(file))
        for secret in secrets:
            podman("secret", "rm", secret.stem)
        for service in PLAYED:
            if service != "live":
                psql(f'DROP DATABASE IF EXISTS "{DATABASE_PREFIX}{service}" WITH (FORCE)')
        redis.Redis.from_url(REDIS_URL).flushdb()


def test_the_migration_jobs_run_to_completion(played):
    for pod in played.of_kind("Pod"):
        name = f"{pod['metadata']['name']}-{pod['spec']['containers'][0]['name']}"
        waited = podman("wait", name, timeout=120)
        assert waited.stdout.strip() == "0", f"{name}: {podman('logs', name).stderr[-2000:]}"
        service = pod["metadata"]["name"].removesuffix("-migrate")
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DATABASE_PREFIX}{service}") as conn:
            tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables and tables[0] > 1, f"{service}'s migrations made its tables"


def test_each_deployment_passes_its_startup_liveness_and_readiness_probes(played):
    for service in PLAYED:
        container = played.deployment(service)["spec"]["template"]["spec"]["containers"][0]
        startup = container["startupProbe"]
        # As the kubelet: the startup probe within failureThreshold x periodSeconds, then the others.
        deadline = time.monotonic() + startup["failureThreshold"] * startup.get("periodSeconds", 10)
        while not probe_ok(startup):
            assert time.monotonic() < deadline, (
                f"{service} failed its startup probe: {podman('logs', played.container(service)).stderr[-2000:]}"
            )
            time.sleep(startup.get("periodSeconds", 10))
        readiness = container["readinessProbe"]
        deadline = time.monotonic() + readiness["failureThreshold"] * readiness.get("periodSeconds", 10) + 30
        while not probe_ok(readiness):
            assert time.monotonic() < deadline, (
                f"{service} never ready: {podman('logs', played.container(service)).stderr[-2000:]}"
            )
            time.sleep(1)
        assert probe_ok(container["livenessProbe"]), service
        ready = requests.get(f"http://127.0.0.1:{port(service)}/readyz", timeout=5).json()
        assert ready["status"] == "ready", ready
        if service != "live":
            assert ready["checks"]["postgres"] == "ok" and ready["checks"]["redis"] == "ok", ready


def test_the_pods_run_as_their_security_contexts_and_resources_say(played):
    for service in PLAYED:
        spec = played.deployment(service)["spec"]["template"]["spec"]
        container = spec["containers"][0]
        found = json.loads(podman("inspect", played.container(service)).stdout)[0]
        host = found["HostConfig"]
        assert found["State"]["Running"], service
        assert (
            found["Config"]["User"] == f"{spec['securityContext']['runAsUser']}:{spec['securityContext']['runAsGroup']}"
        )
        assert host["ReadonlyRootfs"] is container["securityContext"]["readOnlyRootFilesystem"] is True
        assert "no-new-privileges" in host["SecurityOpt"], service
        assert host["NetworkMode"] == "host"
        assert set(host["CapDrop"]) >= {"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_KILL"}, host["CapDrop"]
        assert not host["CapAdd"], service
        assert host["Memory"] == 256 * 1024 * 1024 == parse_memory(container["resources"]["limits"]["memory"])
        status = Path(f"/proc/{found['State']['Pid']}/status").read_text()
        assert f"Uid:\t{spec['securityContext']['runAsUser']}\t" in status, service
        written = podman("exec", played.container(service), "touch", "/written-here")
        assert written.returncode != 0 and "Read-only file system" in written.stderr, service
        assert podman("exec", played.container(service), "touch", "/tmp/scratch").returncode == 0, "/tmp: its emptyDir"


def test_the_secret_volumes_hold_the_values_the_services_read(played):
    for service in PLAYED:
        name = played.container(service)
        environment = dict(
            line.split("=", 1) for line in podman("exec", name, "env").stdout.splitlines() if "=" in line
        )
        assert "DATABASE_URL" not in environment, "a secret is a file, never in the environment"
        assert environment["REDIS_URL_FILE"] == "/etc/cotoami/redis/url"
        assert podman("exec", name, "cat", "/etc/cotoami/redis/url").stdout == REDIS_URL
        if service != "live":
            url = podman("exec", name, "cat", environment["DATABASE_URL_FILE"]).stdout
            assert url == f"postgresql://postgres@127.0.0.1:5432/{DATABASE_PREFIX}{service}"
        token = podman("exec", name, "cat", "/etc/cotoami/keys/internal-token").stdout
        assert token == (played.directory / "keys" / "internal-token").read_text()
        assert podman("exec", name, "sh", "-c", "echo x >> /etc/cotoami/keys/internal-token").returncode != 0
        signing = podman("exec", name, "test", "-e", "/etc/cotoami/signing/signing-key.pem").returncode
        assert signing == (0 if service == "auth" else 1), f"{service}: only auth mounts the signing key"


def test_a_played_service_takes_its_credential_from_its_secret_volume(played):
    """cotos checks the service credential it read from /etc/cotoami/keys: the right one in, any other out."""
    token = (played.directory / "keys" / "internal-token").read_text().strip()
    url = f"http://127.0.0.1:{port('cotos')}/internal/anonymous-pads/{uuid.uuid4().hex}"
    right = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    wrong = requests.get(url, headers={"Authorization": f"Bearer {'x' * len(token)}"}, timeout=5)
    # Past the credential: the pad is unknown (a wrong credential never gets that far).
    assert right.status_code == 404 and right.json()["title"] == "No such pad", right.text
    assert wrong.status_code in (401, 403) and wrong.json()["title"], wrong.text
    # And auth answers as it does anywhere: nobody is signed in.
    session = requests.get(f"http://127.0.0.1:{port('auth')}/api/auth/session", timeout=5)
    assert session.status_code == 200 and session.json()["amishi"] is None, session.text


def parse_memory(quantity: str) -> int:
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(quantity.removesuffix(suffix)) * factor
    return int(quantity)
