"""auth.bootstrap_keys against a real HTTPS server standing in for the Kubernetes API server."""

import base64
import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypedDict

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from auth import bootstrap_keys
from cotoami_common.tokens import AccessTokenSigner, AccessTokenVerifier, Amishi

TOKEN = "service-account-token"
NAMESPACE = "cotoami"
SECRETS_PATH = f"/api/v1/namespaces/{NAMESPACE}/secrets"


class SecretMetadata(TypedDict, total=False):
    name: str
    labels: dict[str, str]


class Secret(TypedDict):
    """A Secret as the API server holds it: data base64-encoded."""

    kind: str
    metadata: SecretMetadata
    data: dict[str, str]


class FakeApiServer(ThreadingHTTPServer):
    """Secrets in one namespace: GET by name, POST to create (409 if it exists)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SecretsHandler)
        self.secrets: dict[str, Secret] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.before_create: Callable[[str], None] | None = None  # called with the name before a create is handled


class SecretsHandler(BaseHTTPRequestHandler):
    server: FakeApiServer

    def log_message(self, *args):
        pass

    def _reply(self, status: int, body: Mapping[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        self.server.requests.append((self.command, self.path))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(401, {"kind": "Status", "code": 401})
            return False
        return True

    def do_GET(self):
        if not self._authorized():
            return
        name = self.path.removeprefix(SECRETS_PATH + "/")
        with self.server.lock:
            secret = self.server.secrets.get(name) if self.path.startswith(SECRETS_PATH + "/") else None
        self._reply(200, secret) if secret else self._reply(404, {"kind": "Status", "code": 404})

    def do_POST(self):
        if not self._authorized():
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != SECRETS_PATH or body.get("kind") != "Secret":
            return self._reply(400, {"kind": "Status", "code": 400})
        name = body["metadata"]["name"]
        if self.server.before_create:
            self.server.before_create(name)
        with self.server.lock:
            if name in self.server.secrets:
                return self._reply(409, {"kind": "Status", "code": 409, "reason": "AlreadyExists"})
            self.server.secrets[name] = body
        self._reply(201, body)


def put_secret(server: FakeApiServer, name: str, data: dict[str, str]) -> None:
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    server.secrets[name] = {"kind": "Secret", "metadata": {"name": name}, "data": encoded}


def secret_data(server: FakeApiServer, name: str) -> dict[str, str]:
    return {key: base64.b64decode(value).decode() for key, value in server.secrets[name]["data"].items()}


def _certificate(subject: str, key, issuer: str, issuer_key, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def cluster_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A cluster CA (ca.crt) and the API server's certificate and key, signed by it."""
    directory.mkdir(exist_ok=True)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("cluster-ca", ca_key, "cluster-ca", ca_key, ca=True)
    server = _certificate("kubernetes", server_key, "cluster-ca", ca_key, ca=False)
    paths = directory / "ca.crt", directory / "server.crt", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@pytest.fixture
def service_account(tmp_path: Path) -> Path:
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text(TOKEN + "\n")
    (directory / "namespace").write_text(NAMESPACE)
    return directory


@pytest.fixture
def api(tmp_path, service_account):
    """An HTTPS API server whose CA certificate is the service account's ca.crt."""
    ca, cert, key = cluster_certificates(tmp_path / "pki")
    (service_account / "ca.crt").write_bytes(ca.read_bytes())
    server = FakeApiServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run(api: FakeApiServer, service_account: Path) -> int:
    return bootstrap_keys.main(
        ["--api-url", f"https://127.0.0.1:{api.server_port}", "--service-account", str(service_account)]
    )


def assert_keys_match(api: FakeApiServer) -> None:
    """A token signed with the signing key verifies with the key set."""
    signer = AccessTokenSigner(
        secret_data(api, "cotoami-signing-key")["signing-key.pem"].encode(), "cotoami-auth", "cotoami", 600
    )
    verifier = AccessTokenVerifier(json.loads(secret_data(api, "cotoami-keys")["jwks.json"]), "cotoami-auth", "cotoami")
    amishi = Amishi("6f1c1c9e-6a55-4f1c-9d0f-2a9f0c6d8e11", "a@example.com", "a", "https://example.com/a.png")
    assert verifier.verify(signer.sign(amishi)) == amishi


def test_a_fresh_cluster_gets_a_signing_key_a_matching_key_set_and_a_service_credential(api, service_account, capsys):
    assert run(api, service_account) == 0
    assert set(api.secrets) == {"cotoami-signing-key", "cotoami-keys"}
    assert set(secret_data(api, "cotoami-keys")) == {"jwks.json", "internal-token"}
    assert len(secret_data(api, "cotoami-keys")["internal-token"]) >= 32
    assert api.secrets["cotoami-keys"]["metadata"]["labels"] == {"app.kubernetes.io/part-of": "cotoami"}
    assert_keys_match(api)
    # The signing key is made first: a run stopped half way leaves a state the next run repairs.
    posts = [path for method, path in api.requests if method == "POST"]
    assert posts == [SECRETS_PATH, SECRETS_PATH]
    assert "made cotoami-signing-key, cotoami-keys" in capsys.readouterr().out


def test_a_second_run_changes_nothing(api, service_account, capsys):
    assert run(api, service_account) == 0
    before = json.dumps(api.secrets, sort_keys=True)
    api.requests.clear()
    assert run(api, service_account) == 0
    assert json.dumps(api.secrets, sort_keys=True) == before
    assert all(method == "GET" for method, _ in api.requests)
    assert "exist already" in capsys.readouterr().out


def test_a_run_stopped_after_the_signing_key_is_completed_with_its_key_set(api, service_account):
    pem = bootstrap_keys.new_signing_key()
    put_secret(api, "cotoami-signing-key", {"signing-key.pem": pem})
    assert run(api, service_account) == 0
    assert secret_data(api, "cotoami-signing-key")["signing-key.pem"] == pem
    assert_keys_match(api)


def test_losing_a_race_to_create_keeps_what_the_winner_made(api, service_account):
    # Another pod creates both Secrets between this run's GETs and its POSTs: each POST gets 409.
    winner = {"cotoami-signing-key": {"signing-key.pem": bootstrap_keys.new_signing_key()}}
    winner["cotoami-keys"] = {
        "jwks.json": bootstrap_keys.key_set(winner["cotoami-signing-key"]["signing-key.pem"]),
        "internal-token": "the-winners-token",
    }

    def other_pod_first(name):
        with api.lock:
            if name not in api.secrets:
                put_secret(api, name, winner[name])

    api.before_create = other_pod_first
    assert run(api, service_account) == 0
    assert secret_data(api, "cotoami-signing-key") == winner["cotoami-signing-key"]
    assert secret_data(api, "cotoami-keys")["internal-token"] == "the-winners-token"
    assert_keys_match(api)


def test_a_key_set_without_the_signing_key_is_reported_not_overwritten(api, service_account, capsys):
    other = bootstrap_keys.key_set(bootstrap_keys.new_signing_key())
    put_secret(api, "cotoami-keys", {"jwks.json": other, "internal-token": "t" * 43})
    assert run(api, service_account) == 1
    assert secret_data(api, "cotoami-keys")["jwks.json"] == other
    assert "delete cotoami-keys" in capsys.readouterr().err


def test_a_refused_request_is_one_line_and_a_failure(api, service_account, capsys):
    (service_account / "token").write_text("not-the-token")
    assert run(api, service_account) == 1
    assert api.secrets == {}
    error = capsys.readouterr().err
    assert "401" in error and error.count("\n") == 1


def test_the_server_certificate_is_checked_against_the_service_accounts_ca(api, service_account, tmp_path, capsys):
    another_ca = cluster_certificates(tmp_path / "another")[0]
    (service_account / "ca.crt").write_bytes(another_ca.read_bytes())
    assert run(api, service_account) == 1
    assert api.secrets == {}
    assert api.requests == []  # refused before a request (and the token) was sent
    assert "certificate verify failed" in capsys.readouterr().err
