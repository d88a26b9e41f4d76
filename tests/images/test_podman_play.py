"""k8s/podman_play.py on its own (no podman): what it changes for podman, and that it changes
nothing else of what the overlay renders, nor the overlay itself."""

import base64
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

# k8s/ is no package: the script is loaded from its file, as it runs.
_spec = importlib.util.spec_from_file_location("podman_play", ROOT / "k8s" / "podman_play.py")
assert _spec is not None and _spec.loader is not None
podman_play = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(podman_play)
KEY_SECRETS, local_url, playable = podman_play.KEY_SECRETS, podman_play.local_url, podman_play.playable

PORTS = {"cotos": 19500, "cotonomas": 19501}


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "k8s" / "overlays" / "minikube")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return list(yaml.safe_load_all(out))


def test_addresses_in_the_cluster_become_this_machines(rendered):
    assert local_url("http://cotos:8000", PORTS, "p_", "redis://r/1") == "http://127.0.0.1:19500"
    assert local_url("http://cotonomas:8000/x", PORTS, "p_", "redis://r/1") == "http://127.0.0.1:19501/x"
    assert local_url("postgresql://postgres@postgres:5432/cotoami_cotos", PORTS, "p_", "r") == (
        "postgresql://postgres@127.0.0.1:5432/p_cotos"
    )
    assert local_url("redis://redis:6379/0", PORTS, "p_", "redis://127.0.0.1:6379/9") == "redis://127.0.0.1:6379/9"
    # An address of nothing played stays as it is.
    assert local_url("smtp://maildev:1025", PORTS, "p_", "r") == "smtp://maildev:1025"


def test_only_what_podman_cannot_take_changes(rendered):
    original = yaml.safe_dump_all(rendered)
    documents, secrets = playable(rendered, ["cotos", "cotonomas"], 19500, "p_", "redis://127.0.0.1:6379/9")
    assert yaml.safe_dump_all(rendered) == original, "the rendered documents are not touched"
    kinds = [d["kind"] for d in documents]
    assert kinds == ["ConfigMap", "Pod", "Deployment", "Pod", "Deployment"]
    before = {d["metadata"]["name"]: d for d in rendered if d["kind"] == "Deployment"}
    for deployment in (d for d in documents if d["kind"] == "Deployment"):
        name = deployment["metadata"]["name"]
        spec, was = deployment["spec"]["template"]["spec"], before[name]["spec"]["template"]["spec"]
        assert deployment["spec"]["replicas"] == 1
        assert spec["securityContext"] == was["securityContext"]
        (container,), (old,) = spec["containers"], was["containers"]
        assert "ports" not in container
        for same in ("image", "envFrom", "securityContext", "resources", "volumeMounts", "lifecycle"):
            assert container.get(same) == old.get(same), f"{name}: {same}"
        port = PORTS[name]
        assert container["env"][: len(old["env"])] == old["env"]
        assert container["env"][len(old["env"]) :] == [
            {"name": "PORT", "value": str(port)},
            {"name": "BIND_HOST", "value": "127.0.0.1"},
        ]
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert container[probe]["httpGet"] == old[probe]["httpGet"] | {"port": port}
        for volume, old_volume in zip(spec["volumes"], was["volumes"], strict=True):
            if "secret" in volume:
                assert volume["secret"] == old_volume["secret"] | {"optional": False}
            else:
                assert volume == old_volume
    (config,) = (d for d in documents if d["kind"] == "ConfigMap")
    assert config["data"]["COTOS_INTERNAL_URL"] == "http://127.0.0.1:19500"
    assert config["data"]["COTONOMAS_INTERNAL_URL"] == "http://127.0.0.1:19501"
    # Secrets: the overlay's, decoded and pointed here; the keys Job's, left to --keys.
    database = next(value for name, value in secrets.items() if name.startswith("cotos-database-"))
    assert database == {"url": "postgresql://postgres@127.0.0.1:5432/p_cotos"}
    assert set(KEY_SECRETS) >= {
        name for name in secrets if not name.startswith(("cotos-", "cotonomas-", "cotoami-redis"))
    }


def test_a_migration_job_becomes_a_pod_that_runs_once(rendered):
    documents, _ = playable(rendered, ["cotos"], 19500, "p_", "redis://127.0.0.1:6379/9")
    (pod,) = (d for d in documents if d["kind"] == "Pod")
    job = next(d for d in rendered if d["kind"] == "Job" and d["metadata"]["name"] == "cotos-migrate")
    assert pod["metadata"]["name"] == "cotos-migrate" and pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["containers"][0]["command"] == job["spec"]["template"]["spec"]["containers"][0]["command"]


def test_an_unknown_service_or_secret_is_refused(rendered):
    with pytest.raises(SystemExit, match="no Deployment nosuch"):
        playable(rendered, ["nosuch"], 19500, "p_", "r")
    broken = [dict(d) for d in rendered if d["kind"] != "Secret"]
    with pytest.raises(SystemExit, match="neither in the input nor made by the keys Job"):
        playable(broken, ["cotos"], 19500, "p_", "r")


def test_the_secrets_files_hold_plain_values_for_podman(rendered, tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("jwks.json", "internal-token", "signing-key.pem"):
        (keys / name).write_text(f"{name} content\n")
    rendered_text = yaml.safe_dump_all(rendered)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "k8s" / "podman_play.py"),
            "auth",
            "--port=19500",
            "--database-prefix=p_",
            "--redis=redis://127.0.0.1:6379/9",
            f"--keys={keys}",
            f"--secrets={tmp_path / 'secrets'}",
        ],
        input=rendered_text,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    files = {path.stem: yaml.safe_load(path.read_text()) for path in Path(tmp_path / "secrets").glob("*.yaml")}
    assert files["cotoami-signing-key"]["data"] == {"signing-key.pem": "signing-key.pem content\n"}
    assert files["cotoami-keys"]["data"] == {
        "jwks.json": "jwks.json content\n",
        "internal-token": "internal-token content\n",
    }
    auth_database = next(secret for name, secret in files.items() if name.startswith("auth-database-"))
    assert auth_database["data"] == {"url": "postgresql://postgres@127.0.0.1:5432/p_auth"}
    with pytest.raises(ValueError):  # plain, not base64 (podman 4.3 mounts data undecoded)
        base64.b64decode(auth_database["data"]["url"], validate=True)
    assert all(oct(path.stat().st_mode)[-3:] == "600" for path in Path(tmp_path / "secrets").glob("*.yaml"))
