"""Prints one service's migration Job from a rendered overlay, with a new image:

    kubectl kustomize k8s/overlays/OVERLAY | .venv/bin/python k8s/migration_job.py SVC IMAGE | kubectl apply -f -

which is what `make deploy-SVC TAG=...` runs before the rollout. The Job comes
from the overlay, so it mounts the same Secrets, generated names included, as
the Deployment does. Only that Job is printed: nothing else is applied.
"""

import sys
from typing import Any

import yaml


def migration_job(rendered: str, service: str, image: str) -> dict[str, Any]:
    """The Job SERVICE-migrate from the documents in RENDERED, every container's image set to IMAGE."""
    name = f"{service}-migrate"
    for document in yaml.safe_load_all(rendered):
        if isinstance(document, dict) and document.get("kind") == "Job" and document["metadata"]["name"] == name:
            for container in document["spec"]["template"]["spec"]["containers"]:
                container["image"] = image
            return document
    raise SystemExit(f"migration_job: no Job {name} in the input")


def main(arguments: list[str]) -> None:
    if len(arguments) != 2:
        sys.exit("usage: kubectl kustomize k8s/overlays/OVERLAY | python k8s/migration_job.py SERVICE IMAGE")
    service, image = arguments
    yaml.safe_dump(migration_job(sys.stdin.read(), service, image), sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main(sys.argv[1:])
