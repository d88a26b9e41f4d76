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


# --- the overlays -------------------------------------------------------------------

OVERLAYS = ("minikube", "production", "production-gateway-api")
IMAGES = (*SERVICES, "gateway")
# What the production overlay expects the operator to create (and the README to name).
PRODUCTION_SECRETS = {
    "auth-database": ("url",), "cotos-database": ("url",), "cotonomas-database": ("url",),
    "mailer-database": ("url",), "cotoami-redis": ("url",), "cotoami-smtp": ("url",),
    "cotoami-keys": ("jwks.json", "internal-token"), "cotoami-signing-key": ("signing-key.pem",),
    "cotoami-tls": ("tls.crt", "tls.key"),
}
# Made in the cluster by the minikube overlay's keys Job, never rendered.
KEY_SECRETS = {"cotoami-keys", "cotoami-signing-key"}


def _docs(path: Path) -> list[dict]:
    import yaml

    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _one(docs: list[dict], kind: str, name: str) -> dict:
    return next(doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"] == name)


def _pod_specs(docs: list[dict]) -> list[tuple[dict, dict]]:
    return [(doc, doc["spec"]["template"]["spec"]) for doc in docs
            if doc["kind"] in ("Deployment", "StatefulSet", "Job")]


def _config(docs: list[dict]) -> dict[str, str]:
    return next(doc["data"] for doc in docs
                if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("cotoami-config"))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    """Each overlay rendered with `kubectl kustomize`, in a directory of its own (for checkov)."""
    paths = {}
    for overlay in OVERLAYS:
        path = tmp_path_factory.mktemp(overlay) / f"{overlay}.yaml"
        path.write_text(kustomize(f"k8s/overlays/{overlay}"))
        paths[overlay] = path
    return paths


@pytest.fixture(scope="module")
def checkov_runs(rendered) -> dict[str, subprocess.Popen]:
    """checkov over every overlay at once (it takes seconds each); each test waits for its own."""
    runs = {
        overlay: subprocess.Popen(
            [str(TOOLS / "checkov"), "--framework", "kubernetes", "--skip-download", "--compact", "--quiet",
             "--config-file", str(ROOT / "k8s" / ".checkov.yaml"), "-d", str(path.parent)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for overlay, path in rendered.items()
    }
    yield runs
    for run in runs.values():
        run.kill()
        run.communicate()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_renders_every_service(rendered, overlay):
    docs = _docs(rendered[overlay])
    assert {doc["metadata"]["name"] for doc in docs if doc["kind"] == "Deployment"} >= set(IMAGES)
    assert {doc["metadata"]["namespace"] for doc in docs if doc["kind"] != "Namespace"} == {"cotoami"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_is_valid_kubernetes(rendered, overlay, version):
    result = subprocess.run([str(TOOLS / "kubernetes-validate"), "--strict", "--quiet", "-k", version,
                             str(rendered[overlay])], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_passes_checkov(checkov_runs, overlay):
    output, _ = checkov_runs[overlay].communicate(timeout=120)
    assert checkov_runs[overlay].returncode == 0, output
    passed = re.search(r"Passed checks: (\d+), Failed checks: (\d+)", output)
    assert passed and int(passed[1]) > 0 and passed[2] == "0", output


def test_every_checkov_skip_has_its_reason():
    import yaml

    path = ROOT / "k8s" / ".checkov.yaml"
    skips = yaml.safe_load(path.read_text())["skip-check"]
    lines = path.read_text().splitlines()
    for check in skips:
        index = lines.index(f"  - {check}")
        assert lines[index - 1].strip().startswith("#"), f"{check} is skipped without a reason above it"


def test_all_in_one_is_the_minikube_overlay(rendered):
    assert (ROOT / "k8s" / "all-in-one.yaml").read_text() == rendered["minikube"].read_text(), \
        "k8s/all-in-one.yaml is stale: run `make all-in-one`"


def test_no_private_key_is_rendered(rendered):
    for path in rendered.values():
        assert "PRIVATE KEY" not in path.read_text()
    assert "PRIVATE KEY" not in (ROOT / "k8s" / "all-in-one.yaml").read_text()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_restricted_with_probes_and_resources(rendered, overlay):
    for owner, spec in _pod_specs(_docs(rendered[overlay])):
        where = f"{overlay}: {owner['kind']}/{owner['metadata']['name']}"
        pod = spec.get("securityContext", {})
        assert spec.get("automountServiceAccountToken") is False, where
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        for container in spec["containers"] + spec.get("initContainers", []):
            security = container["securityContext"]
            assert pod.get("runAsNonRoot") or security.get("runAsNonRoot"), where
            assert security.get("runAsUser", pod.get("runAsUser", 0)) >= 10000, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
            assert re.search(r":\d+\.\d+[.-]", container["image"] + "-"), f"{where}: {container['image']} is a release"
            if owner["kind"] != "Job":
                assert {"readinessProbe", "livenessProbe", "startupProbe"} <= set(container), where


def test_images_are_the_release_in_the_makefile(rendered):
    version = re.search(r"^VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)[1]
    for overlay in OVERLAYS:
        for _, spec in _pod_specs(_docs(rendered[overlay])):
            for container in spec["containers"]:
                if re.search(r"/(auth|cotos|cotonomas|mailer|gateway):", container["image"]):
                    assert container["image"].endswith(f":{version}"), (overlay, container["image"])


def test_minikube_uses_the_loaded_images_and_production_always_pulls(rendered):
    # k8s/.checkov.yaml skips "pull Always" for minikube's sake; production must keep it.
    for _, spec in _pod_specs(_docs(rendered["minikube"])):
        assert {c["imagePullPolicy"] for c in spec["containers"]} == {"IfNotPresent"}
    for overlay in ("production", "production-gateway-api"):
        for _, spec in _pod_specs(_docs(rendered[overlay])):
            assert {c["imagePullPolicy"] for c in spec["containers"]} == {"Always"}


def _mounted_secrets(spec: dict) -> set[str]:
    return {volume["secret"]["secretName"] for volume in spec.get("volumes", []) if "secret" in volume}


def test_minikube_makes_every_secret_it_mounts_and_commits_no_key(rendered):
    docs = _docs(rendered["minikube"])
    secrets = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "Secret"}
    mounted = set().union(*(_mounted_secrets(spec) for _, spec in _pod_specs(docs)))
    assert mounted - set(secrets) == KEY_SECRETS
    assert not KEY_SECRETS & {name.rsplit("-", 1)[0] for name in secrets}
    for name, secret in secrets.items():
        assert set(secret["data"]) == {"url"}, name
    # The keys Job may read exactly the key Secrets, and create Secrets (RBAC cannot name what is created).
    role = _one(docs, "Role", "cotoami-keys")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": sorted(KEY_SECRETS), "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
    ]
    job = _one(docs, "Job", "cotoami-keys")["spec"]["template"]["spec"]
    assert job["serviceAccountName"] == "cotoami-keys"
    assert job["containers"][0]["command"] == ["python", "-m", "auth.bootstrap_keys"]
    assert job["containers"][0]["image"].startswith("cotoami/auth:")


def test_minikube_databases_are_the_ones_its_secrets_name(rendered):
    import base64

    docs = _docs(rendered["minikube"])
    init = next(doc for doc in docs if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("postgres-init"))
    created = set(re.findall(r"CREATE DATABASE (\w+);", init["data"]["init-databases.sql"]))
    urls = {doc["metadata"]["name"].rsplit("-", 2)[0]: base64.b64decode(doc["data"]["url"]).decode()
            for doc in docs if doc["kind"] == "Secret" and "-database-" in doc["metadata"]["name"]}
    assert urls == {s: f"postgresql://postgres@postgres:5432/cotoami_{s}" for s in SERVICES}
    assert created == {f"cotoami_{s}" for s in SERVICES}
    assert _config(docs)["SMTP_URL"] == "smtp://maildev:1025"


def test_minikube_backing_services_accept_exactly_the_pods_that_use_them(rendered):
    docs = _docs(rendered["minikube"])
    users = {"postgres": set(), "redis": set(), "maildev": {"mailer"}}
    for owner, spec in _pod_specs(docs):
        app = owner["spec"]["template"]["metadata"]["labels"]["app"]
        mounted = _mounted_secrets(spec)
        if any(name.startswith(tuple(f"{s}-database" for s in SERVICES)) for name in mounted):
            users["postgres"].add(app)
        if any(name.startswith("cotoami-redis") for name in mounted):
            users["redis"].add(app)
    for backing, apps in users.items():
        policy = _one(docs, "NetworkPolicy", backing)
        (rule,) = policy["spec"]["ingress"]
        (peer,) = rule["from"]
        allowed = set(peer["podSelector"].get("matchExpressions", [{}])[0].get("values", [])) \
            or {peer["podSelector"]["matchLabels"]["app"]}
        assert allowed == apps, backing
    # ...and the migration Jobs may leave their pods for PostgreSQL.
    migrations = _one(docs, "NetworkPolicy", "migrations")
    assert set(migrations["spec"]["podSelector"]["matchExpressions"][0]["values"]) == {f"{s}-migrate" for s in SERVICES}


def test_production_takes_every_secret_from_the_operator(rendered):
    docs = _docs(rendered["production"])
    assert not [doc for doc in docs if doc["kind"] == "Secret"], "production generates no Secret"
    assert not [doc for doc in docs if doc["kind"] in ("Role", "StatefulSet")], "no keys Job, no in-cluster database"
    mounted = set().union(*(_mounted_secrets(spec) for _, spec in _pod_specs(docs)))
    tls = {entry["secretName"] for entry in _one(docs, "Ingress", "cotoami")["spec"]["tls"]}
    assert mounted | tls == set(PRODUCTION_SECRETS)
    kustomization = (ROOT / "k8s" / "overlays" / "production" / "kustomization.yaml").read_text()
    readme = (ROOT / "README.md").read_text()
    for name, keys in PRODUCTION_SECRETS.items():
        assert re.search(rf"^#   {name}\s+{re.escape(', '.join(keys))}\s", kustomization, re.M), \
            f"the production kustomization's header documents {name}"
        assert name in readme.split("## Operations", 1)[1], f"the README's Operations section names {name}"
    mailer = _one(docs, "Deployment", "mailer")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "SMTP_URL_FILE", "value": "/etc/cotoami/smtp/url"} in mailer["env"]
    for deployment in (doc for doc in docs if doc["kind"] == "Deployment"):
        assert deployment["spec"]["replicas"] == 3, deployment["metadata"]["name"]


def test_production_public_host_is_set_in_agreeing_places(rendered):
    from urllib.parse import urlsplit

    docs = _docs(rendered["production"])
    config = _config(docs)
    host = urlsplit(config["PUBLIC_URL"]).hostname
    assert config["PUBLIC_URL"] == f"https://{host}" and config["ALLOWED_ORIGINS"] == config["PUBLIC_URL"]
    ingress = _one(docs, "Ingress", "cotoami")["spec"]
    assert [rule["host"] for rule in ingress["rules"]] == [host]
    assert [entry["hosts"] for entry in ingress["tls"]] == [[host]]


def test_the_httproute_routes_what_the_ingress_routes(rendered):
    docs = _docs(rendered["production-gateway-api"])
    assert not [doc for doc in docs if doc["kind"] == "Ingress"], "the HTTPRoute replaces the Ingress"
    route = _one(docs, "HTTPRoute", "cotoami")
    gateway = _one(docs, "Gateway", "cotoami")
    assert route["apiVersion"] == gateway["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert [ref["name"] for ref in route["spec"]["parentRefs"]] == ["cotoami"]
    services = {doc["metadata"]["name"]: {p["port"] for p in doc["spec"]["ports"]}
                for doc in docs if doc["kind"] == "Service"}
    table = {}
    for rule in route["spec"]["rules"]:
        (backend,) = rule["backendRefs"]
        assert backend["port"] in services[backend["name"]], backend
        for match in rule["matches"]:
            assert set(match) == {"path"}
            kind = {"Exact": "Exact", "PathPrefix": "Prefix"}[match["path"]["type"]]
            table[(match["path"]["value"], kind)] = backend["name"]
    ingress = _one(_docs(rendered["production"]), "Ingress", "cotoami")
    ingress_table = {(p["path"], p["pathType"]): p["backend"]["service"]["name"]
                     for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert table == ingress_table
    assert {k: v for k, v in table.items() if k[0].startswith("/api")} == _gateway_routes()
    assert "/internal" not in json.dumps(route)
    https = next(listener for listener in gateway["spec"]["listeners"] if listener["protocol"] == "HTTPS")
    assert [ref["name"] for ref in https["tls"]["certificateRefs"]] == ["cotoami-tls"]
    # The Gateway's data plane may reach the pods the HTTPRoute sends to.
    for name in {backend for backend in table.values()}:
        policy = _one(docs, "NetworkPolicy", name)
        namespaces = [peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                      for peer in policy["spec"]["ingress"][0]["from"] if "namespaceSelector" in peer]
        assert "envoy-gateway-system" in namespaces, name


# --- per-service delivery targets ------------------------------------------------------


def make(*args: str) -> subprocess.CompletedProcess:
    """make ARGS in the repository, free of any settings the caller's environment (or an outer make) holds."""
    import os

    unset = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "TAG", "DRY_RUN", "REGISTRY", "OVERLAY", "KUBECTL",
             "ROLLOUT_TIMEOUT", "MIGRATE_TIMEOUT"}
    environ = {name: value for name, value in os.environ.items() if name not in unset}
    return subprocess.run(["make", "-s", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True,
                          env=environ, timeout=60)


def _commands(result: subprocess.CompletedProcess) -> list[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def _assert_only(commands: list[str], image: str) -> None:
    for command in commands:
        for other in set(IMAGES) - {image}:
            assert not re.search(rf"\b{other}\b", command), f"{command!r} touches {other}"


@pytest.mark.parametrize("image", IMAGES)
def test_deploy_rolls_out_that_one_service_after_its_migration(image):
    commands = _commands(make(f"deploy-{image}", "TAG=1.2.3", "DRY_RUN=1"))
    _assert_only(commands, image)
    rollout = [
        f"kubectl -n cotoami set image deployment/{image} {image}=cotoami/{image}:1.2.3",
        f"kubectl -n cotoami rollout status deployment/{image} --timeout=300s",
    ]
    if image == "gateway":
        assert commands == rollout, "the gateway has no migration"
    else:
        assert commands == [
            f"kubectl -n cotoami delete job {image}-migrate --ignore-not-found",
            f"kubectl kustomize k8s/overlays/minikube | python3 k8s/migration-job.py {image} cotoami/{image}:1.2.3"
            " | kubectl apply -f -",
            f"kubectl -n cotoami wait --for=condition=complete job/{image}-migrate --timeout=300s",
            *rollout,
        ]


def test_deploy_takes_the_overlay_and_registry_it_is_given():
    commands = _commands(make("deploy-cotos", "TAG=2.0.0", "DRY_RUN=1", "OVERLAY=production",
                              "REGISTRY=registry.example.com/cotoami"))
    assert "kubectl kustomize k8s/overlays/production |" in commands[1]
    assert commands[3] == "kubectl -n cotoami set image deployment/cotos cotos=registry.example.com/cotoami/cotos:2.0.0"


@pytest.mark.parametrize("image", ("auth", "gateway"))
def test_deploy_without_a_tag_is_a_one_line_error(image):
    result = make(f"deploy-{image}", "DRY_RUN=1")
    assert result.returncode != 0 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and "TAG is required" in result.stderr


@pytest.mark.parametrize("image", IMAGES)
def test_build_uses_that_images_dockerfile_and_context(image):
    (command,) = _commands(make(f"build-{image}", "TAG=1.2.3", "DRY_RUN=1"))
    dockerfile, context = ("gateway/Dockerfile", "gateway") if image == "gateway" else \
        (f"services/{image}/Dockerfile", "services")
    assert command == f"docker build -f {dockerfile} -t cotoami/{image}:1.2.3 {context}"
    # Everything the Dockerfile copies is in that context.
    for source in re.findall(r"^COPY (?!--from)(\S+)", (ROOT / dockerfile).read_text(), re.M):
        assert (ROOT / context / source).exists(), f"{dockerfile}: COPY {source} is not in {context}/"
    (push,) = _commands(make(f"push-{image}", "DRY_RUN=1", "REGISTRY=registry.example.com/cotoami"))
    assert push == f"docker push registry.example.com/cotoami/{image}:0.1.0"


@pytest.mark.parametrize("image", IMAGES)
def test_rollback_undoes_that_one_service(image):
    assert _commands(make(f"rollback-{image}", "DRY_RUN=1")) == [
        f"kubectl -n cotoami rollout undo deployment/{image}",
        f"kubectl -n cotoami rollout status deployment/{image} --timeout=300s",
    ]


@pytest.fixture
def fake_kubectl(tmp_path) -> tuple[Path, Path]:
    """A kubectl that logs each call (and what it was given on stdin), rendering with the real one."""
    log = tmp_path / "calls.jsonl"
    script = tmp_path / "kubectl"
    script.write_text(f"""#!/usr/bin/env python3
import json, subprocess, sys
args = sys.argv[1:]
if args[0] == "kustomize":
    sys.exit(subprocess.run(["kubectl", *args]).returncode)
stdin = sys.stdin.read() if args[-2:] == ["-f", "-"] else None
with open({str(log)!r}, "a") as f:
    f.write(json.dumps({{"args": args, "stdin": stdin}}) + "\\n")
""")
    script.chmod(0o755)
    return script, log


def test_deploy_runs_the_commands_it_prints(fake_kubectl):
    import yaml

    script, log = fake_kubectl
    result = make("deploy-mailer", "TAG=1.2.3", f"KUBECTL={script}")
    assert result.returncode == 0, result.stdout + result.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [call["args"][:4] for call in calls] == [
        ["-n", "cotoami", "delete", "job"], ["apply", "-f", "-"], ["-n", "cotoami", "wait", "--for=condition=complete"],
        ["-n", "cotoami", "set", "image"], ["-n", "cotoami", "rollout", "status"],
    ]
    (job,) = [doc for doc in yaml.safe_load_all(calls[1]["stdin"]) if doc]
    assert (job["kind"], job["metadata"]["name"]) == ("Job", "mailer-migrate")
    assert [c["image"] for c in job["spec"]["template"]["spec"]["containers"]] == ["cotoami/mailer:1.2.3"]
    # It mounts the overlay's own (generated) database Secret.
    assert any(v.get("secret", {}).get("secretName", "").startswith("mailer-database-")
               for v in job["spec"]["template"]["spec"]["volumes"])


def test_deploy_stops_when_the_migration_job_cannot_be_rendered(fake_kubectl):
    script, log = fake_kubectl
    result = make("deploy-auth", "TAG=1.2.3", f"KUBECTL={script}", "OVERLAY=no-such-overlay")
    assert result.returncode != 0
    assert "set" not in {call["args"][2] for call in map(json.loads, log.read_text().splitlines())}
