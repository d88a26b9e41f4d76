"""What a cluster would check, checked here: images' Dockerfiles, the manifests, the routes."""

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".venv-tools" / "bin"
SERVICES = ("auth", "cotos", "cotonomas", "mailer")
DOCKERFILES = [ROOT / "services" / s / "Dockerfile" for s in SERVICES] + [ROOT / "gateway" / "Dockerfile"]
# The oldest and newest Kubernetes minors we support.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")


def kustomize(path: str) -> str:
    return subprocess.run(["kubectl", "kustomize", str(ROOT / path)], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    rendered = tmp_path_factory.mktemp("k8s") / "base.yaml"
    rendered.write_text(kustomize("k8s/base"))
    return rendered


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfiles_pass_hadolint(dockerfile):
    result = subprocess.run([str(TOOLS / "hadolint"), "--failure-threshold", "warning", str(dockerfile)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_images_run_as_a_non_root_user_from_a_pinned_base(dockerfile):
    text = dockerfile.read_text()
    assert re.search(r"^USER \d+", text, re.M), "a numeric non-root user"
    for image in re.findall(r"^FROM (\S+)", text, re.M):
        assert re.search(r":\d+\.\d+\.\d+", image), f"{image} is pinned to a release"


@pytest.mark.parametrize("service", SERVICES)
def test_each_image_runs_exactly_the_command_make_up_runs(service):
    cmd = next(line for line in (ROOT / "services" / service / "Dockerfile").read_text().splitlines()
               if line.startswith("CMD "))
    assert json.loads(cmd[4:]) == ["gunicorn", "--config", "python:cotoami_common.gunicorn_conf",
                                   f"{service}.app:get_app()"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_base_is_valid_kubernetes(base, version):
    result = subprocess.run([str(TOOLS / "kubernetes-validate"), "--strict", "--quiet", "-k", version, str(base)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _gateway_routes() -> dict[tuple[str, str], str]:
    template = (ROOT / "gateway" / "nginx" / "cotoami.conf.template").read_text()
    routes = {}
    for exact, path, service in re.findall(r"location (=\s+)?(/api/\S*)\s+\{\s*proxy_pass http://(\w+);", template):
        routes[(path, "Exact" if exact else "Prefix")] = service
    return routes


def _ingress_routes(rendered: str) -> dict[tuple[str, str], str]:
    import yaml

    ingress = next(doc for doc in yaml.safe_load_all(rendered) if doc and doc["kind"] == "Ingress")
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    return {(p["path"], p["pathType"]): p["backend"]["service"]["name"] for p in paths if p["path"].startswith("/api")}


def test_the_ingress_routes_what_the_gateway_routes(base):
    gateway = _gateway_routes()
    assert gateway, "the gateway's routes were found"
    assert _ingress_routes(base.read_text()) == gateway
    assert "/internal" not in base.read_text().split("kind: Ingress", 1)[1]
