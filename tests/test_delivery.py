"""What a cluster would check, checked here: images' Dockerfiles, the manifests, the routes."""

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".venv-tools" / "bin"
# The services with a database and a migration Job.
SERVICES = ("auth", "cotos", "cotonomas", "mailer", "graph", "archive")
# ...and live, which has neither: it reads Redis and asks cotonomas.
PYTHON_SERVICES = (*SERVICES, "live")
DOCKERFILES = [ROOT / "services" / s / "Dockerfile" for s in PYTHON_SERVICES] + [ROOT / "gateway" / "Dockerfile"]
# The oldest and newest Kubernetes minors we support.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
# One document of a render, as PyYAML loads it.
Doc = dict[str, Any]


def kustomize(path: str) -> str:
    return subprocess.run(["kubectl", "kustomize", str(ROOT / path)], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rendered = tmp_path_factory.mktemp("k8s") / "base.yaml"
    rendered.write_text(kustomize("k8s/base"))
    return rendered


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_dockerfiles_pass_hadolint(dockerfile):
    result = subprocess.run(
        [str(TOOLS / "hadolint"), "--failure-threshold", "warning", str(dockerfile)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_images_run_as_a_non_root_user_from_a_pinned_base(dockerfile):
    text = dockerfile.read_text()
    assert re.search(r"^USER \d+", text, re.M), "a numeric non-root user"
    for image in re.findall(r"^FROM (\S+)", text, re.M):
        assert re.search(r":\d+\.\d+\.\d+", image), f"{image} is pinned to a release"


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_each_image_runs_exactly_the_command_make_up_runs(service):
    cmd = next(
        line
        for line in (ROOT / "services" / service / "Dockerfile").read_text().splitlines()
        if line.startswith("CMD ")
    )
    # live's app is ASGI: the same gunicorn configuration, with uvicorn's worker.
    worker = ["--worker-class", "uvicorn_worker.UvicornWorker"] if service == "live" else []
    assert json.loads(cmd[4:]) == [
        "gunicorn",
        "--config",
        "python:cotoami_common.gunicorn_conf",
        *worker,
        f"{service}.app:get_app()",
    ]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_base_is_valid_kubernetes(base, version):
    result = subprocess.run(
        [str(TOOLS / "kubernetes-validate"), "--strict", "--quiet", "-k", version, str(base)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _gateway_routes() -> dict[tuple[str, str], str]:
    template = (ROOT / "gateway" / "nginx" / "cotoami.conf.template").read_text()
    routes = {}
    for exact, path, service in re.findall(r"location (=\s+)?(/api/\S*)\s+\{\s*proxy_pass http://(\w+);", template):
        routes[(path, "Exact" if exact else "Prefix")] = service
    return routes


def _ingress_table(rendered: str) -> dict[tuple[str, str], str]:
    """Every Ingress's paths in one table (the controller merges them into one server)."""
    import yaml

    ingresses = [doc for doc in yaml.safe_load_all(rendered) if doc and doc["kind"] == "Ingress"]
    paths = [p for ingress in ingresses for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    table = {(p["path"], p["pathType"]): p["backend"]["service"]["name"] for p in paths}
    assert len(table) == len(paths), "no path is in two Ingresses"
    return table


def _ingress_routes(rendered: str) -> dict[tuple[str, str], str]:
    return {key: service for key, service in _ingress_table(rendered).items() if key[0].startswith("/api")}


def test_the_ingress_routes_what_the_gateway_routes(base):
    gateway = _gateway_routes()
    assert gateway, "the gateway's routes were found"
    assert _ingress_routes(base.read_text()) == gateway
    assert "/internal" not in base.read_text().split("kind: Ingress", 1)[1]


def _as_any_service(doc: Doc, service: str) -> Doc:
    """DOC with SERVICE's name, wherever it stands alone, replaced by SVC."""
    shaped: Doc = json.loads(re.sub(rf"\b{service}\b", "SVC", json.dumps(doc)))
    return shaped


def _without_the_signing_key(deployment: Doc) -> Doc:
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    container["env"] = [e for e in container["env"] if e["name"] != "JWT_SIGNING_KEY_FILE"]
    container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "signing-key"]
    spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "signing-key"]
    return deployment


def _without_the_database(deployment: Doc) -> Doc:
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    container["env"] = [e for e in container["env"] if e["name"] != "DATABASE_URL_FILE"]
    container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "database"]
    spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "database"]
    return deployment


def _without_the_grace(deployment: Doc) -> Doc:
    spec = deployment["spec"]["template"]["spec"]
    del spec["terminationGracePeriodSeconds"]
    spec["containers"][0]["env"] = [e for e in spec["containers"][0]["env"] if e["name"] != "GRACEFUL_TIMEOUT"]
    return deployment


def _without_the_import_room(deployment: Doc) -> Doc:
    """archive's one worker and its memory for a 50 MiB import, left out."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    del container["resources"]
    container["env"] = [e for e in container["env"] if e["name"] != "WEB_CONCURRENCY"]
    return deployment


def test_every_service_has_one_shape(base):
    # k8s/components/service gives the five services everything but their names, their
    # database (live has none, and no Job), auth's signing key, live's longer grace,
    # archive's room for an import and their NetworkPolicy peers.
    docs = _docs(base)
    for kind in ("ServiceAccount", "Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "Job"):
        shapes = {}
        for service in SERVICES if kind == "Job" else PYTHON_SERVICES:
            doc = _as_any_service(_one(docs, kind, f"{service}-migrate" if kind == "Job" else service), service)
            if kind == "Deployment":
                doc = _without_the_grace(_without_the_database(doc))
            if kind == "Deployment" and service == "auth":
                doc = _without_the_signing_key(doc)
            if kind == "Deployment":
                doc = _without_the_import_room(doc)
            if kind == "NetworkPolicy":
                # The peers: who calls it besides Prometheus, and whom it calls besides Redis.
                del doc["spec"]["ingress"][0]["from"][1:], doc["spec"]["egress"][1:]
            shapes[service] = doc
        assert all(shape == shapes["cotos"] for shape in shapes.values()), kind
    auth = _one(docs, "Deployment", "auth")["spec"]["template"]["spec"]
    assert {"name": "signing-key", "secret": {"secretName": "cotoami-signing-key"}} in auth["volumes"]


def test_live_has_no_database_and_drains_its_streams_before_it_is_killed(base):
    docs = _docs(base)
    assert not [doc for doc in docs if doc["metadata"]["name"] == "live-migrate"]
    spec = _one(docs, "Deployment", "live")["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert not {"DATABASE_URL", "DATABASE_URL_FILE"} & set(env)
    assert not [v for v in spec["volumes"] if "database" in json.dumps(v)]
    # The preStop pause, then gunicorn's graceful time to end each stream with `retry:`,
    # all inside the grace period; longer than the other services', which end requests.
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    graceful = int(env["GRACEFUL_TIMEOUT"])
    assert spec["terminationGracePeriodSeconds"] > pause + graceful
    cotos = _one(docs, "Deployment", "cotos")["spec"]["template"]["spec"]
    assert graceful > int(_config(docs)["GRACEFUL_TIMEOUT"])
    assert spec["terminationGracePeriodSeconds"] > cotos["terminationGracePeriodSeconds"]


def test_live_may_reach_only_redis_and_cotonomas_and_cotonomas_admits_it(base):
    docs = _docs(base)
    policy = _one(docs, "NetworkPolicy", "live")["spec"]
    assert policy["egress"] == [
        {"ports": [{"port": 6379}]},
        {"to": [{"podSelector": {"matchLabels": {"app": "cotonomas"}}}], "ports": [{"port": 8000}]},
    ]
    (rule,) = policy["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
    ]
    cotonomas = _one(docs, "NetworkPolicy", "cotonomas")["spec"]["ingress"][0]["from"]
    assert {"podSelector": {"matchLabels": {"app": "live"}}} in cotonomas
    # No one else calls live, and live calls nothing else.
    for doc in docs:
        if doc["kind"] == "NetworkPolicy" and doc["metadata"]["name"] not in ("live", "cotonomas"):
            assert '"live"' not in json.dumps(doc["spec"]), doc["metadata"]["name"]


def test_the_live_streams_are_routed_unbuffered_with_long_timeouts(base, rendered):
    for path in (base, rendered["minikube"], rendered["production"]):
        docs = _docs(path)
        live = _one(docs, "Ingress", "cotoami-live")
        annotations = live["metadata"]["annotations"]
        assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
        # The service sends a comment every 15 s: only a dead stream waits an hour.
        assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
        assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
        assert "nginx.ingress.kubernetes.io/affinity" not in annotations, "a stream resumes on any pod"
        assert {p["path"] for rule in live["spec"]["rules"] for p in rule["http"]["paths"]} == {"/api/live/"}
        # ...and the main Ingress keeps its short timeout and its buffering.
        main = _one(docs, "Ingress", "cotoami")["metadata"]["annotations"]
        assert int(main["nginx.ingress.kubernetes.io/proxy-read-timeout"]) <= 60
        assert "nginx.ingress.kubernetes.io/proxy-buffering" not in main
    route = _one(_docs(rendered["production-gateway-api"]), "HTTPRoute", "cotoami")
    (rule,) = [r for r in route["spec"]["rules"] if r["backendRefs"][0]["name"] == "live"]
    assert [m["path"] for m in rule["matches"]] == [{"type": "PathPrefix", "value": "/api/live/"}]
    assert rule["timeouts"] == {"request": "3600s", "backendRequest": "3600s"}
    assert all("timeouts" not in r for r in route["spec"]["rules"] if r is not rule)


def _selectors(node: object) -> Iterator[object]:
    """Every label selector in NODE: the values of any key that names one."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith(("selector", "Selector")):
                yield value
            yield from _selectors(value)
    elif isinstance(node, list):
        for item in node:
            yield from _selectors(item)


def test_every_app_label_has_its_recommended_name_label_outside_selectors(base, rendered):
    # Selectors stay on `app` alone: a live Deployment's selector cannot change.
    for doc in _docs(base):
        template = doc.get("spec", {}).get("template", {})
        for labels in (doc["metadata"].get("labels", {}), template.get("metadata", {}).get("labels", {})):
            if "app" in labels:
                assert labels["app.kubernetes.io/name"] == labels["app"], f"{doc['kind']}/{doc['metadata']['name']}"
    for overlay in OVERLAYS:
        for doc in _docs(rendered[overlay]):
            assert "app.kubernetes.io/name" not in json.dumps(list(_selectors(doc))), doc["metadata"]["name"]


# --- the overlays -------------------------------------------------------------------

OVERLAYS = ("minikube", "production", "production-gateway-api")
IMAGES = (*PYTHON_SERVICES, "gateway")
# What the production overlay expects the operator to create (and the README to name).
PRODUCTION_SECRETS = {
    "auth-database": ("url",),
    "cotos-database": ("url",),
    "cotonomas-database": ("url",),
    "mailer-database": ("url",),
    "archive-database": ("url",),
    "graph-database": ("url",),
    "cotoami-redis": ("url",),
    "cotoami-smtp": ("url",),
    "cotoami-keys": ("jwks.json", "internal-token"),
    "cotoami-signing-key": ("signing-key.pem",),
    "cotoami-tls": ("tls.crt", "tls.key"),
}
# Made in the cluster by the minikube overlay's keys Job, never rendered.
KEY_SECRETS = {"cotoami-keys", "cotoami-signing-key"}


def _docs(path: Path) -> list[Doc]:
    import yaml

    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _one(docs: list[Doc], kind: str, name: str) -> Doc:
    return next(doc for doc in docs if doc["kind"] == kind and doc["metadata"]["name"] == name)


def _pod_specs(docs: list[Doc]) -> list[tuple[Doc, Doc]]:
    return [
        (doc, doc["spec"]["template"]["spec"]) for doc in docs if doc["kind"] in ("Deployment", "StatefulSet", "Job")
    ]


def _config(docs: list[Doc]) -> dict[str, str]:
    return next(
        doc["data"]
        for doc in docs
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("cotoami-config")
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each overlay rendered with `kubectl kustomize`, in a directory of its own (for checkov)."""
    paths = {}
    for overlay in OVERLAYS:
        path = tmp_path_factory.mktemp(overlay) / f"{overlay}.yaml"
        path.write_text(kustomize(f"k8s/overlays/{overlay}"))
        paths[overlay] = path
    return paths


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """k8s/monitoring rendered with `kubectl kustomize`, in a directory of its own (for checkov)."""
    path = tmp_path_factory.mktemp("monitoring") / "monitoring.yaml"
    path.write_text(kustomize("k8s/monitoring"))
    return path


@pytest.fixture(scope="module")
def checkov_runs(rendered, monitoring) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """checkov over every overlay and the monitoring at once (it takes seconds each); each test waits for its own."""
    runs = {
        overlay: subprocess.Popen(
            [
                str(TOOLS / "checkov"),
                "--framework",
                "kubernetes",
                "--skip-download",
                "--compact",
                "--quiet",
                "--config-file",
                str(ROOT / "k8s" / ".checkov.yaml"),
                "-d",
                str(path.parent),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for overlay, path in {**rendered, "monitoring": monitoring}.items()
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
    result = subprocess.run(
        [str(TOOLS / "kubernetes-validate"), "--strict", "--quiet", "-k", version, str(rendered[overlay])],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("overlay", (*OVERLAYS, "monitoring"))
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
    assert (ROOT / "k8s" / "all-in-one.yaml").read_text() == rendered["minikube"].read_text(), (
        "k8s/all-in-one.yaml is stale: run `make all-in-one`"
    )


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
    found = re.search(r"^VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert found, "the Makefile sets VERSION"
    version = found[1]
    for overlay in OVERLAYS:
        for _, spec in _pod_specs(_docs(rendered[overlay])):
            for container in spec["containers"]:
                if re.search(rf"/({'|'.join(IMAGES)}):", container["image"]):
                    assert container["image"].endswith(f":{version}"), (overlay, container["image"])


def test_minikube_uses_the_loaded_images_and_production_always_pulls(rendered):
    # k8s/.checkov.yaml skips "pull Always" for minikube's sake; production must keep it.
    for _, spec in _pod_specs(_docs(rendered["minikube"])):
        assert {c["imagePullPolicy"] for c in spec["containers"]} == {"IfNotPresent"}
    for overlay in ("production", "production-gateway-api"):
        for _, spec in _pod_specs(_docs(rendered[overlay])):
            assert {c["imagePullPolicy"] for c in spec["containers"]} == {"Always"}


def _mounted_secrets(spec: Doc) -> set[str]:
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
    init = next(
        doc for doc in docs if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("postgres-init")
    )
    created = set(re.findall(r"CREATE DATABASE (\w+);", init["data"]["init-databases.sql"]))
    urls = {
        doc["metadata"]["name"].rsplit("-", 2)[0]: base64.b64decode(doc["data"]["url"]).decode()
        for doc in docs
        if doc["kind"] == "Secret" and "-database-" in doc["metadata"]["name"]
    }
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
        allowed = set(peer["podSelector"].get("matchExpressions", [{}])[0].get("values", [])) or {
            peer["podSelector"]["matchLabels"]["app"]
        }
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
        assert re.search(rf"^#   {name}\s+{re.escape(', '.join(keys))}\s", kustomization, re.M), (
            f"the production kustomization's header documents {name}"
        )
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
    for name in ("cotoami", "cotoami-live"):
        ingress = _one(docs, "Ingress", name)["spec"]
        assert [rule["host"] for rule in ingress["rules"]] == [host], name
        assert [entry["hosts"] for entry in ingress["tls"]] == [[host]], name
        assert [entry["secretName"] for entry in ingress["tls"]] == ["cotoami-tls"], name


def test_the_httproute_routes_what_the_ingress_routes(rendered):
    docs = _docs(rendered["production-gateway-api"])
    assert not [doc for doc in docs if doc["kind"] == "Ingress"], "the HTTPRoute replaces the Ingress"
    route = _one(docs, "HTTPRoute", "cotoami")
    gateway = _one(docs, "Gateway", "cotoami")
    assert route["apiVersion"] == gateway["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert [ref["name"] for ref in route["spec"]["parentRefs"]] == ["cotoami"]
    services = {
        doc["metadata"]["name"]: {p["port"] for p in doc["spec"]["ports"]} for doc in docs if doc["kind"] == "Service"
    }
    table = {}
    for rule in route["spec"]["rules"]:
        (backend,) = rule["backendRefs"]
        assert backend["port"] in services[backend["name"]], backend
        for match in rule["matches"]:
            assert set(match) == {"path"}
            kind = {"Exact": "Exact", "PathPrefix": "Prefix"}[match["path"]["type"]]
            table[(match["path"]["value"], kind)] = backend["name"]
    assert table == _ingress_table(rendered["production"].read_text())
    assert {k: v for k, v in table.items() if k[0].startswith("/api")} == _gateway_routes()
    assert "/internal" not in json.dumps(route)
    https = next(listener for listener in gateway["spec"]["listeners"] if listener["protocol"] == "HTTPS")
    assert [ref["name"] for ref in https["tls"]["certificateRefs"]] == ["cotoami-tls"]
    # The Gateway's data plane may reach the pods the HTTPRoute sends to.
    for name in {backend for backend in table.values()}:
        policy = _one(docs, "NetworkPolicy", name)
        namespaces = [
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for peer in policy["spec"]["ingress"][0]["from"]
            if "namespaceSelector" in peer
        ]
        assert "envoy-gateway-system" in namespaces, name


# --- per-service delivery targets ------------------------------------------------------


def make(*args: str) -> subprocess.CompletedProcess[str]:
    """make ARGS in the repository, free of any settings the caller's environment (or an outer make) holds."""
    import os

    unset = {
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
        "TAG",
        "DRY_RUN",
        "REGISTRY",
        "OVERLAY",
        "KUBECTL",
        "ROLLOUT_TIMEOUT",
        "MIGRATE_TIMEOUT",
    }
    environ = {name: value for name, value in os.environ.items() if name not in unset}
    return subprocess.run(
        ["make", "-s", "--no-print-directory", *args], cwd=ROOT, capture_output=True, text=True, env=environ, timeout=60
    )


def _commands(result: subprocess.CompletedProcess[str]) -> list[str]:
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
    if image not in SERVICES:
        assert commands == rollout, f"{image} has no migration"
    else:
        assert commands == [
            f"kubectl -n cotoami delete job {image}-migrate --ignore-not-found",
            "kubectl kustomize k8s/overlays/minikube"
            f" | .venv/bin/python k8s/migration_job.py {image} cotoami/{image}:1.2.3 | kubectl apply -f -",
            f"kubectl -n cotoami wait --for=condition=complete job/{image}-migrate --timeout=300s",
            *rollout,
        ]


def test_deploy_takes_the_overlay_and_registry_it_is_given():
    commands = _commands(
        make("deploy-cotos", "TAG=2.0.0", "DRY_RUN=1", "OVERLAY=production", "REGISTRY=registry.example.com/cotoami")
    )
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
    dockerfile, context = (
        ("gateway/Dockerfile", "gateway") if image == "gateway" else (f"services/{image}/Dockerfile", "services")
    )
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
        ["-n", "cotoami", "delete", "job"],
        ["apply", "-f", "-"],
        ["-n", "cotoami", "wait", "--for=condition=complete"],
        ["-n", "cotoami", "set", "image"],
        ["-n", "cotoami", "rollout", "status"],
    ]
    (job,) = [doc for doc in yaml.safe_load_all(calls[1]["stdin"]) if doc]
    assert (job["kind"], job["metadata"]["name"]) == ("Job", "mailer-migrate")
    assert [c["image"] for c in job["spec"]["template"]["spec"]["containers"]] == ["cotoami/mailer:1.2.3"]
    # It mounts the overlay's own (generated) database Secret.
    assert any(
        v.get("secret", {}).get("secretName", "").startswith("mailer-database-")
        for v in job["spec"]["template"]["spec"]["volumes"]
    )


def test_deploy_stops_when_the_migration_job_cannot_be_rendered(fake_kubectl):
    script, log = fake_kubectl
    result = make("deploy-auth", "TAG=1.2.3", f"KUBECTL={script}", "OVERLAY=no-such-overlay")
    assert result.returncode != 0
    assert "set" not in {call["args"][2] for call in map(json.loads, log.read_text().splitlines())}


# --- monitoring (k8s/monitoring, and /metrics in every service) ----------------------------

MONITORING_IMAGES = {
    "prometheus": "prom/prometheus",
    "node-exporter": "prom/node-exporter",
    "grafana": "grafana/grafana",
}
# The one workload allowed the host's namespaces and filesystem (k8s/.checkov.yaml says why).
HOST_WORKLOAD = ("DaemonSet", "node-exporter")


def _workloads(docs: list[Doc]) -> list[tuple[Doc, Doc]]:
    return [
        (doc, doc["spec"]["template"]["spec"])
        for doc in docs
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")
    ]


def _uses_the_host(spec: Doc) -> set[str]:
    used = {field for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field)}
    if any("hostPath" in volume for volume in spec.get("volumes", [])):
        used.add("hostPath")
    return used


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_monitoring_is_valid_kubernetes(monitoring, version):
    result = subprocess.run(
        [str(TOOLS / "kubernetes-validate"), "--strict", "--quiet", "-k", version, str(monitoring)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_monitoring_runs_prometheus_node_exporter_and_grafana_in_its_namespace(monitoring):
    docs = _docs(monitoring)
    workloads = {(doc["kind"], doc["metadata"]["name"]) for doc, _ in _workloads(docs)}
    assert workloads == {("Deployment", "prometheus"), ("DaemonSet", "node-exporter"), ("Deployment", "grafana")}
    assert _one(docs, "Namespace", "monitoring")
    elsewhere = {
        (doc["kind"], doc["metadata"]["name"], doc["metadata"]["namespace"])
        for doc in docs
        if doc["kind"] != "Namespace" and doc["metadata"]["namespace"] != "monitoring"
    }
    # Only what lets Prometheus list the pods it scrapes lives in the app's namespace.
    assert elsewhere == {
        ("Role", "prometheus-discovery", "cotoami"),
        ("RoleBinding", "prometheus-discovery", "cotoami"),
    }


def test_monitoring_containers_are_locked_down_with_probes_and_resources(monitoring):
    for owner, spec in _workloads(_docs(monitoring)):
        name = owner["metadata"]["name"]
        where = f"monitoring: {owner['kind']}/{name}"
        pod = spec["securityContext"]
        assert spec["automountServiceAccountToken"] is False, where
        assert pod["seccompProfile"]["type"] == "RuntimeDefault" and pod["runAsNonRoot"] is True, where
        assert pod["runAsUser"] >= 10000 and pod["runAsGroup"] >= 10000, where
        expected_host = {"hostNetwork", "hostPID", "hostPath"} if (owner["kind"], name) == HOST_WORKLOAD else set()
        assert _uses_the_host(spec) == expected_host, where
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"] and "add" not in security["capabilities"], where
            assert "privileged" not in security, where
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
            assert {"readinessProbe", "livenessProbe", "startupProbe"} <= set(container), where
            assert re.fullmatch(rf"{MONITORING_IMAGES[name]}:v?\d+\.\d+\.\d+", container["image"]), where
            assert container["imagePullPolicy"] == "Always", where
            for mount in container.get("volumeMounts", []):
                host = next(v for v in spec["volumes"] if v["name"] == mount["name"])
                if "hostPath" in host:
                    assert mount["readOnly"] is True, f"{where}: {mount['mountPath']} is read-only"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_app_workload_uses_the_host(rendered, overlay):
    # k8s/.checkov.yaml skips the host namespace checks for node-exporter's sake; this keeps them for the app.
    for owner, spec in _workloads(_docs(rendered[overlay])):
        assert not _uses_the_host(spec), f"{overlay}: {owner['kind']}/{owner['metadata']['name']}"


def _prometheus_config(docs: list[Doc]) -> Doc:
    import yaml

    config_map = next(
        doc for doc in docs if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("prometheus-config")
    )
    config: Doc = yaml.safe_load(config_map["data"]["prometheus.yml"])
    return config


def test_prometheus_scrapes_exactly_the_services_where_they_serve_metrics(monitoring, base):
    config = _prometheus_config(_docs(monitoring))
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "cotoami")
    (discovery,) = job["kubernetes_sd_configs"]
    assert discovery["role"] == "pod" and discovery["namespaces"]["names"] == ["cotoami"]
    keep_apps = next(
        rule
        for rule in job["relabel_configs"]
        if rule["source_labels"] == ["__meta_kubernetes_pod_label_app"] and rule.get("action") == "keep"
    )
    assert set(keep_apps["regex"].split("|")) == set(PYTHON_SERVICES)
    assert {"service", "pod", "namespace"} <= {rule.get("target_label") for rule in job["relabel_configs"]}
    assert any(j["job_name"] == "node-exporter" for j in config["scrape_configs"])
    # Each service's pods are annotated for it, on the port their container serves.
    docs = _docs(base)
    for service in PYTHON_SERVICES:
        template = _one(docs, "Deployment", service)["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        (container,) = template["spec"]["containers"]
        port = next(p for p in container["ports"] if p["name"] == "http")
        assert annotations == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port["containerPort"]),
            "prometheus.io/path": "/metrics",
        }, service
        # ...and their NetworkPolicy admits the monitoring namespace on it.
        policy = _one(docs, "NetworkPolicy", service)
        assert any(
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}} in rule["from"]
            and {"port": port["containerPort"]} in rule["ports"]
            for rule in policy["spec"]["ingress"]
        ), service
    assert "annotations" not in _one(docs, "Deployment", "gateway")["spec"]["template"]["metadata"]


def test_prometheus_may_only_read_pods_with_a_short_lived_token(monitoring):
    docs = _docs(monitoring)
    assert not [doc for doc in docs if doc["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    for role in (doc for doc in docs if doc["kind"] == "Role"):
        assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]
    for binding in (doc for doc in docs if doc["kind"] == "RoleBinding"):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "prometheus", "namespace": "monitoring"}]
    spec = _one(docs, "Deployment", "prometheus")["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "prometheus"
    (token,) = [
        source["serviceAccountToken"]
        for volume in spec["volumes"]
        for source in volume.get("projected", {}).get("sources", [])
        if "serviceAccountToken" in source
    ]
    assert token["expirationSeconds"] <= 3600


def test_metrics_are_never_routed_from_outside(base, rendered):
    # Only /api/ paths go to a service; everything else (/metrics too) falls to the gateway,
    # whose nginx serves files and answers 404 for what it does not have.
    assert all(path.startswith("/api/") or path == "/api" for path, _ in _gateway_routes())
    for overlay in OVERLAYS:
        docs = _docs(rendered[overlay])
        for ingress in (doc for doc in docs if doc["kind"] == "Ingress"):
            for rule in ingress["spec"]["rules"]:
                for path in rule["http"]["paths"]:
                    assert path["path"].startswith("/api") or path["backend"]["service"]["name"] == "gateway", path
        for route in (doc for doc in docs if doc["kind"] == "HTTPRoute"):
            for rule in route["spec"]["rules"]:
                for match in rule["matches"]:
                    assert match["path"]["value"].startswith("/api") or [
                        ref["name"] for ref in rule["backendRefs"]
                    ] == ["gateway"], match
    template = (ROOT / "gateway" / "nginx" / "cotoami.conf.template").read_text()
    assert not re.search(r"location[^{]*metrics", template), "the gateway has no location for /metrics"


# Run in a process of its own, which finds the services' packages (not installed: each image
# copies its own) through PYTHONPATH.
EXPORTED = """
import json
from cotoami_common.metrics import REQUESTS, REQUEST_DURATION, sample_names
from cotoami_common.outbox import EVENTS_RELAYED, OutboxLagCollector
import auth.metrics, cotos.metrics, cotonomas.metrics, mailer.metrics, live.metrics, graph.metrics
collectors = [REQUESTS, REQUEST_DURATION, mailer.metrics.MailQueueCollector(None, "mail")]
collectors += [EVENTS_RELAYED, OutboxLagCollector(None)]
for service in (auth, cotos, cotonomas, mailer, graph):
    collectors += service.metrics.METRICS
collectors += [live.metrics.OPEN_STREAMS, live.metrics.EVENTS_SENT, live.metrics.STREAMS_ENDED, live.metrics.FANOUT_LAG]
print(json.dumps(sorted(sample_names(collectors))))
"""
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def _exported_metric_names() -> set[str]:
    import os

    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(ROOT / "services" / name) for name in PYTHON_SERVICES),
    }
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", EXPORTED],
        capture_output=True,
        text=True,
        check=True,
        env=environ,
    )
    names: list[str] = json.loads(result.stdout)
    return set(names)


def _queried_metric_names(expr: str) -> set[str]:
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", expr)  # matchers and ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)  # label lists
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        if expr[match.end() :].lstrip().startswith("(") or match.group().lower() in PROMQL_KEYWORDS:
            continue  # a function or an aggregation
        names.add(match.group())
    return names


def test_the_dashboard_queries_only_metrics_the_services_export(monitoring):
    path = ROOT / "k8s" / "monitoring" / "dashboards" / "cotoami.json"
    dashboard = json.loads(path.read_text())
    docs = _docs(monitoring)
    config_map = next(
        doc for doc in docs if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("grafana-dashboards")
    )
    assert json.loads(config_map["data"]["cotoami.json"]) == dashboard
    exported = _exported_metric_names()
    assert {
        "cotoami_http_requests_total",
        "cotoami_http_request_duration_seconds_bucket",
        "cotoami_mail_queue_depth",
    } <= exported
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    queried = set()
    for panel in panels:
        assert panel["datasource"]["uid"] == "prometheus", panel["title"]
        for target in panel["targets"]:
            names = _queried_metric_names(target["expr"])
            assert names, (panel["title"], target["expr"])
            assert names <= exported, (panel["title"], names - exported)
            queried |= names
    for variable in dashboard["templating"]["list"]:
        metric = re.search(r"label_values\((\w+)", variable["definition"])
        assert metric and metric[1] in exported, variable["definition"]
    # What the dashboard is for: requests, errors and latency per service and route, and the domain.
    assert queried >= {
        "cotoami_http_requests_total",
        "cotoami_http_request_duration_seconds_bucket",
        "cotoami_cotos_posted_total",
        "cotoami_signin_links_requested_total",
        "cotoami_sessions_started_total",
        "cotoami_mails_sent_total",
        "cotoami_mails_failed_total",
        "cotoami_mail_queue_depth",
        # ...and the live events: from the outboxes to the browsers.
        "cotoami_events_relayed_total",
        "cotoami_outbox_lag_seconds",
        "cotoami_live_open_streams",
        "cotoami_live_events_sent_total",
        "cotoami_live_fanout_lag_seconds_bucket",
    }
    exprs = " ".join(target["expr"] for panel in panels for target in panel["targets"])
    for quantile in ("0.5", "0.99"):
        assert f"histogram_quantile({quantile}, sum by (service, route, le)" in exprs
    # Grafana's data source is the one the panels name.
    import yaml

    provisioning = next(
        doc for doc in docs if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith("grafana-provisioning")
    )
    (source,) = yaml.safe_load(provisioning["data"]["datasources.yaml"])["datasources"]
    assert source["uid"] == "prometheus" and source["url"] == "http://prometheus:9090"


def test_the_gateway_images_configuration_is_valid_nginx(tmp_path):
    """The template as the image renders it (one upstream server per Service) passes `nginx -t`."""
    import string

    rendered = string.Template((ROOT / "gateway" / "nginx" / "cotoami.conf.template").read_text()).safe_substitute(
        LISTEN_PORT="18999",
        WEB_ROOT=str(ROOT / "gateway" / "web"),
        UPSTREAM_TIMEOUT="30s",
        AVATAR_ORIGIN="https://www.gravatar.com",
        AUTH_UPSTREAM="127.0.0.1:8001",
        COTOS_UPSTREAM="127.0.0.1:8002",
        COTONOMAS_UPSTREAM="127.0.0.1:8003",
        LIVE_UPSTREAM="127.0.0.1:8005",
        GRAPH_UPSTREAM="127.0.0.1:8006",
        ARCHIVE_UPSTREAM="127.0.0.1:8007",
        **{name: value for name, value in _image_environment().items() if name.startswith("CLIENT_")},
    )
    (tmp_path / "cotoami.conf").write_text(rendered)
    temp = tmp_path / "temp"
    temp.mkdir()
    modules = re.findall(r"^load_module .*$", (ROOT / "gateway" / "nginx" / "nginx.conf").read_text(), re.M)
    (tmp_path / "nginx.conf").write_text(
        "\n".join(modules) + f"\npid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{ include /etc/nginx/mime.types; client_body_temp_path {temp}; proxy_temp_path {temp};"
        f" fastcgi_temp_path {temp}; uwsgi_temp_path {temp}; scgi_temp_path {temp};"
        f" include {tmp_path}/cotoami.conf; }}\n"
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    result = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def _image_environment() -> dict[str, str]:
    """The gateway image's ENV defaults."""
    dockerfile = (ROOT / "gateway" / "Dockerfile").read_text()
    block = re.search(r"^ENV ((?:.*\\\n)*.*)$", dockerfile, re.M)
    assert block, "the gateway image sets its environment"
    return dict(pair.split("=", 1) for pair in block[1].replace("\\\n", " ").split())


def test_the_gateway_image_renders_every_name_its_template_uses():
    """start.sh's envsubst list, the image's ENV and the template's ${NAMES} are one set:
    a name left out would reach nginx as the literal ${NAME}."""
    template = (ROOT / "gateway" / "nginx" / "cotoami.conf.template").read_text()
    names = set(re.findall(r"\$\{([A-Z_]+)\}", re.sub(r"(?m)^\s*#.*$", "", template)))
    start = (ROOT / "gateway" / "nginx" / "start.sh").read_text()
    (listed,) = re.findall(r"envsubst '([^']*)'", start)
    assert set(listed.replace("$", "").split()) == names
    assert set(_image_environment()) == names


def _template_header(name: str) -> str:
    template = (ROOT / "gateway" / "nginx" / "cotoami.conf.template").read_text()
    (value,) = re.findall(rf'^\s*add_header {name} "?([^"\n]*?)"? always;', template, re.M)
    return str(value)


# What the production edges add to every answer: the local gateway's own, and HSTS (https only).
EDGE_HEADERS = ("Permissions-Policy", "Cross-Origin-Opener-Policy")


def _assert_edge_headers(headers: dict[str, str]) -> None:
    for name in EDGE_HEADERS:
        assert headers[name] == _template_header(name), name
    hsts = headers["Strict-Transport-Security"]
    assert int(re.fullmatch(r"max-age=(\d+); includeSubDomains", hsts)[1]) >= 31536000, hsts  # type: ignore[index]


def test_the_production_ingress_sends_hsts_and_the_gateways_headers_and_limits_each_client(rendered):
    from cotoami_stack.profiles import PROFILES

    docs = _docs(rendered["production"])
    for ingress in ("cotoami", "cotoami-live"):
        annotations = _one(docs, "Ingress", ingress)["metadata"]["annotations"]
        namespace, name = annotations["nginx.ingress.kubernetes.io/custom-headers"].split("/")
        headers = _one(docs, "ConfigMap", name)
        assert headers["metadata"]["namespace"] == namespace
        _assert_edge_headers(headers["data"])
        # The same limits per client as the local gateway's (dev) profile.
        dev = PROFILES["dev"]
        rps = int(annotations["nginx.ingress.kubernetes.io/limit-rps"])
        assert int(annotations["nginx.ingress.kubernetes.io/limit-connections"]) == dev.gateway_connections_per_client
        assert rps == dev.gateway_requests_per_second
        assert rps * int(annotations["nginx.ingress.kubernetes.io/limit-burst-multiplier"]) == dev.gateway_request_burst


def test_every_httproute_rule_sends_hsts_and_the_gateways_headers(rendered):
    route = _one(_docs(rendered["production-gateway-api"]), "HTTPRoute", "cotoami")
    for rule in route["spec"]["rules"]:
        (modifier,) = [f["responseHeaderModifier"] for f in rule["filters"] if f["type"] == "ResponseHeaderModifier"]
        _assert_edge_headers({header["name"]: header["value"] for header in modifier["set"]})


def test_hsts_is_only_where_the_site_is_https(rendered):
    """The local gateway and minikube are plain http: HSTS there is ignored, or worse, pins a
    browser to https on a host that has none."""
    assert "Strict-Transport-Security" not in (ROOT / "gateway" / "nginx" / "cotoami.conf.template").read_text()
    assert "Strict-Transport-Security" not in rendered["minikube"].read_text()
