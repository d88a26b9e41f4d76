"""The rendered manifests made playable by `podman kube play` (podman 4.3) on one machine,
for tests only (tests/images/test_kube_play.py); the real manifests are never changed:

    kubectl kustomize k8s/overlays/minikube \\
      | .venv/bin/python k8s/podman_play.py --port 19500 --database-prefix cotoami_kube_ \\
          --redis redis://127.0.0.1:6379/5 --keys KEYS_DIR --secrets SECRETS_DIR SERVICE... > play.yaml
    for f in SECRETS_DIR/*.yaml; do podman secret create "$(basename "$f" .yaml)" "$f"; done
    podman kube play --network host play.yaml

Prints, for each SERVICE (the Nth on port PORT+N), its migration Job as a Pod (podman plays
no Job) and its Deployment, after the ConfigMap they read; and writes every Secret they mount
into SECRETS_DIR as NAME.yaml, for `podman secret create`: podman 4.3 writes a secret
volume's files from the Secret's `data` undecoded, so the services would read base64 from a
Secret it played; these hold the values plain, for podman only. Each Deployment is kept
as rendered (its image, command, environment, security contexts, volumes, probes, resources)
but for what podman cannot take or what one machine's network needs:

- host networking (no cluster network, no Service DNS): `ports:` removed (podman refuses them
  with host networking), each service's PORT and BIND_HOST set to its own port on 127.0.0.1,
  the probes' named port `http` replaced by that number, and the ConfigMap's and Secrets'
  addresses of the played services, PostgreSQL and Redis replaced by those on this machine;
- one replica (podman plays one pod per Deployment);
- `optional: false` written on every secret volume (podman 4.3 dereferences it unchecked);
- imagePullPolicy Always replaced by IfNotPresent (the images are local: `make images`).
"""

import argparse
import base64
import copy
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import yaml

Document = dict[str, Any]
# The Secrets the cluster's keys Job makes (k8s/overlays/minikube/keys-job.yaml): files of `--keys`.
KEY_SECRETS = {"cotoami-keys": ("jwks.json", "internal-token"), "cotoami-signing-key": ("signing-key.pem",)}


def by_kind(documents: list[Document], kind: str) -> dict[str, Document]:
    return {d["metadata"]["name"]: d for d in documents if isinstance(d, dict) and d.get("kind") == kind}


def local_url(url: str, ports: dict[str, int], database_prefix: str, redis: str) -> str:
    """An address in the cluster as one on this machine: a played service's, PostgreSQL's, Redis's."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme in ("postgresql", "postgres"):
        user = f"{parts.username}@" if parts.username else ""
        database = parts.path.lstrip("/").removeprefix("cotoami_")
        return f"{parts.scheme}://{user}127.0.0.1:5432/{database_prefix}{database}"
    if parts.scheme == "redis":
        return redis
    if host in ports:
        return urllib.parse.urlunsplit((parts.scheme, f"127.0.0.1:{ports[host]}", parts.path, "", ""))
    return url


def playable_pod_spec(spec: Document, port: int | None) -> Document:
    spec = copy.deepcopy(spec)
    for container in spec["containers"]:
        container.pop("ports", None)
        if container.get("imagePullPolicy", "Always") == "Always":
            container["imagePullPolicy"] = "IfNotPresent"
        if port is not None:
            env = [e for e in container.get("env", []) if e["name"] not in ("PORT", "BIND_HOST")]
            container["env"] = [*env, {"name": "PORT", "value": str(port)}, {"name": "BIND_HOST", "value": "127.0.0.1"}]
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                if get := container.get(probe, {}).get("httpGet"):
                    get["port"] = port
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            volume["secret"].setdefault("optional", False)
    return spec


def playable(
    documents: list[Document], services: list[str], first_port: int, database_prefix: str, redis: str
) -> tuple[list[Document], dict[str, dict[str, str]]]:
    """The documents to play, and the Secrets to create (name: key: value)."""
    ports = {service: first_port + n for n, service in enumerate(services)}
    deployments, jobs = by_kind(documents, "Deployment"), by_kind(documents, "Job")
    config_maps, secrets = by_kind(documents, "ConfigMap"), by_kind(documents, "Secret")
    missing = [service for service in services if service not in deployments]
    if missing:
        raise SystemExit(f"podman_play: no Deployment {', '.join(missing)} in the input")
    played: list[Document] = []
    wanted: dict[str, dict[str, str]] = {}
    used_config_maps: set[str] = set()

    def pod_spec(spec: Document, port: int | None) -> Document:
        for container in spec["containers"]:
            used_config_maps.update(
                ref["configMapRef"]["name"] for ref in container.get("envFrom", []) if "configMapRef" in ref
            )
        for volume in spec.get("volumes", []):
            name = volume.get("secret", {}).get("secretName")
            if name in secrets:
                data = secrets[name].get("data", {})
                wanted[name] = {
                    key: local_url(base64.b64decode(value).decode(), ports, database_prefix, redis)
                    for key, value in data.items()
                }
            elif name in KEY_SECRETS:
                wanted[name] = {}
            elif name is not None:
                raise SystemExit(f"podman_play: Secret {name} is neither in the input nor made by the keys Job")
        return playable_pod_spec(spec, port)

    for service in services:
        if job := jobs.get(f"{service}-migrate"):
            spec = pod_spec(job["spec"]["template"]["spec"], None)
            spec["restartPolicy"] = "Never"
            metadata = {"name": f"{service}-migrate", "labels": job["spec"]["template"]["metadata"].get("labels", {})}
            played.append({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
        deployment = copy.deepcopy(deployments[service])
        deployment["spec"]["replicas"] = 1
        deployment["spec"]["template"]["spec"] = pod_spec(deployment["spec"]["template"]["spec"], ports[service])
        played.append(deployment)
    maps = []
    for name in sorted(used_config_maps):
        config_map = copy.deepcopy(config_maps[name])
        config_map["data"] = {
            key: local_url(value, ports, database_prefix, redis) if "://" in value else value
            for key, value in config_map.get("data", {}).items()
        }
        maps.append(config_map)
    return maps + played, wanted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("services", nargs="+")
    parser.add_argument("--port", type=int, required=True, help="the first service's port (the Nth: PORT+N)")
    parser.add_argument("--database-prefix", required=True, help="cotoami_SVC becomes PREFIXSVC on 127.0.0.1:5432")
    parser.add_argument("--redis", required=True, help="the Redis URL in place of the cluster's")
    parser.add_argument("--keys", type=Path, required=True, help="jwks.json, internal-token, signing-key.pem")
    parser.add_argument("--secrets", type=Path, required=True, help="where the Secrets go, one NAME.yaml each")
    args = parser.parse_args()
    documents = list(yaml.safe_load_all(sys.stdin))
    played, secrets = playable(documents, args.services, args.port, args.database_prefix, args.redis)
    args.secrets.mkdir(parents=True, exist_ok=True)
    for name, data in secrets.items():
        if name in KEY_SECRETS:
            data = {key: (args.keys / key).read_text() for key in KEY_SECRETS[name]}
        # podman 4.3 writes a secret volume's files from `data` as it finds it, never decoded
        # (and ignores stringData): the values go there plain.
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data}
        path = args.secrets / f"{name}.yaml"
        path.touch(mode=0o600)
        path.write_text(yaml.safe_dump(secret))
    yaml.safe_dump_all(played, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
