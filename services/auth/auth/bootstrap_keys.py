"""Makes the key Secrets in a cluster that has none yet (the minikube overlay's
`cotoami-keys` Job), so that no private key is ever committed:

    python -m auth.bootstrap_keys [--api-url URL] [--service-account DIR]

- `cotoami-signing-key` (signing-key.pem): auth's ES256 private key;
- `cotoami-keys` (jwks.json, internal-token): the public key set every service
  verifies with, and the service credential for /internal/ calls.

What exists is kept. The signing key is made first and the key set is derived
from whichever signing key the cluster holds, so two runs racing (a 409 on
create: someone else made it) or a run stopped half way still end with a key
set that matches the signing key. In production the operator makes both
Secrets from `python -m cotoami_common.tokens generate-keys` instead.
"""

import argparse
import base64
import json
import secrets
import sys
import tempfile
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cotoami_common.tokens import generate_keys, public_jwk

API_URL = "https://kubernetes.default.svc"
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
SIGNING_KEY = "cotoami-signing-key"
KEYS = "cotoami-keys"
TIMEOUT_SECONDS = 10


class KubernetesSecrets:
    """Get and create Secrets in one namespace, as the pod's service account."""

    def __init__(self, api_url: str, service_account: Path):
        self.session = requests.Session()
        # Only the service account's CA, and no proxy: the environment's settings are for elsewhere.
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"Bearer {(service_account / 'token').read_text().strip()}"
        ca = service_account / "ca.crt"
        self.session.verify = str(ca) if ca.exists() else True
        namespace = (service_account / "namespace").read_text().strip()
        self.url = f"{api_url.rstrip('/')}/api/v1/namespaces/{namespace}/secrets"

    def get(self, name: str) -> dict[str, str] | None:
        """The Secret's data, decoded; None if there is no such Secret."""
        response = self.session.get(f"{self.url}/{name}", timeout=TIMEOUT_SECONDS)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return {key: base64.b64decode(value).decode() for key, value in response.json().get("data", {}).items()}

    def create(self, name: str, data: dict[str, str]) -> bool:
        """Create the Secret; False if it exists already (409: someone else made it)."""
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "cotoami"}},
            "type": "Opaque",
            "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
        }
        response = self.session.post(self.url, json=body, timeout=TIMEOUT_SECONDS)
        if response.status_code == 409:
            return False
        response.raise_for_status()
        return True


def new_signing_key() -> str:
    with tempfile.TemporaryDirectory() as directory:
        generate_keys(Path(directory))
        return (Path(directory) / "signing-key.pem").read_text()


def key_set(signing_key_pem: str) -> str:
    key = serialization.load_pem_private_key(signing_key_pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise RuntimeError(f"{SIGNING_KEY} does not hold an EC private key")
    return json.dumps({"keys": [public_jwk(key.public_key())]}, indent=2) + "\n"


def bootstrap(cluster: KubernetesSecrets) -> list[str]:
    """Make what is missing; return the names of the Secrets made now."""
    made = []
    signing = cluster.get(SIGNING_KEY)
    if signing is None:
        if cluster.create(SIGNING_KEY, {"signing-key.pem": new_signing_key()}):
            made.append(SIGNING_KEY)
        signing = cluster.get(SIGNING_KEY)
    if signing is None:
        raise RuntimeError(f"{SIGNING_KEY} vanished while being made: run this again")
    jwks = key_set(signing["signing-key.pem"])
    keys = cluster.get(KEYS)
    if keys is None:
        if cluster.create(KEYS, {"jwks.json": jwks, "internal-token": secrets.token_urlsafe(32)}):
            made.append(KEYS)
        keys = cluster.get(KEYS)
    if keys is None:
        raise RuntimeError(f"{KEYS} vanished while being made: run this again")
    kid = json.loads(jwks)["keys"][0]["kid"]
    if kid not in {key.get("kid") for key in json.loads(keys["jwks.json"]).get("keys", [])}:
        raise RuntimeError(f"{KEYS}'s jwks.json lacks the key of {SIGNING_KEY}: delete {KEYS} and run this again")
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", default=API_URL)
    parser.add_argument(
        "--service-account", type=Path, default=SERVICE_ACCOUNT, help="directory holding token, ca.crt and namespace"
    )
    args = parser.parse_args(argv)
    try:
        made = bootstrap(KubernetesSecrets(args.api_url, args.service_account))
    except KeyError as error:
        print(f"bootstrap_keys: a key Secret lacks its entry {error}", file=sys.stderr)
        return 1
    except (OSError, requests.RequestException, RuntimeError, ValueError) as error:
        print(f"bootstrap_keys: {error}", file=sys.stderr)
        return 1
    print(f"bootstrap_keys: made {', '.join(made)}" if made else "bootstrap_keys: the key Secrets exist already")
    return 0


if __name__ == "__main__":
    sys.exit(main())
