"""Prints one service's migration Job from a rendered overlay, with a new image:

    kubectl kustomize k8s/overlays/OVERLAY | python3 k8s/migration-job.py SVC IMAGE | kubectl apply -f -

which is what `make deploy-SVC TAG=...` runs before the rollout. The Job comes
from the overlay, so it mounts the same Secrets as the Deployment. Reads
kustomize's output as text (no YAML library needed on the operator's machine).
"""

import re
import sys


def migration_job(rendered: str, service: str, image: str) -> str:
    name = re.escape(f"{service}-migrate")
    for document in re.split(r"(?m)^---\n", rendered):
        if re.search(r"(?m)^kind: Job$", document) and re.search(
            rf"(?m)^metadata:\n(?:  .*\n)*?  name: {name}$", document
        ):
            return re.sub(r"(?m)^(\s+)image: \S+$", rf"\g<1>image: {image}", document)
    raise SystemExit(f"migration-job: no Job {service}-migrate in the input")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python3 k8s/migration-job.py SERVICE IMAGE < rendered.yaml")
    sys.stdout.write(migration_job(sys.stdin.read(), sys.argv[1], sys.argv[2]))
