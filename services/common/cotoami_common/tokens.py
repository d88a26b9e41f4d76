"""Access tokens: JWTs signed by auth with an ES256 key, verified locally by
every service with auth's public keys, so no request waits on auth.

    python -m cotoami_common.tokens generate-keys DIR

writes a new signing key (DIR/signing-key.pem, for auth) and the public key set
(DIR/jwks.json, for every service). A key set may hold several keys: add the new
public key everywhere first, then switch auth to the new signing key.
"""

import base64
import hashlib
import json
import secrets
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.utils import base64url_decode, base64url_encode

# Fixed: a token's own `alg` header is never trusted (no "none", no HS256 with a public key).
ALGORITHMS = ["ES256"]
ACCESS_TOKEN_TYPE = "at+jwt"
# The order n of P-256's group. An ECDSA signature (r, s) verifies as (r, n - s)
# too: only the one with s at most n / 2 (low s) is taken, so a token has one spelling.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


class InvalidToken(Exception):
    """Not a token we issued, tampered with, or not meant for us."""


class ExpiredToken(InvalidToken):
    """A genuine token past its expiry: the client should refresh it."""


@dataclass(frozen=True)
class Amishi:
    """The signed-in person, as their access token tells it."""

    id: str
    email: str
    display_name: str
    avatar_url: str

    def public(self) -> dict[str, str]:
        return {"id": self.id, "display_name": self.display_name, "avatar_url": self.avatar_url}

    def own(self) -> dict[str, str]:
        """What a person sees of themselves: their address too."""
        return {**self.public(), "email": self.email}


def _b64(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(32, "big")).rstrip(b"=").decode()


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    jwk = {"crv": "P-256", "kty": "EC", "x": _b64(numbers.x), "y": _b64(numbers.y)}
    # RFC 7638 thumbprint as the key id: derived from the key, so it cannot be misconfigured.
    thumbprint = hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()).digest()
    return {**jwk, "kid": base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode(), "use": "sig", "alg": "ES256"}


class AccessTokenSigner:
    """Used by auth alone: it holds the private key."""

    def __init__(self, private_key_pem: bytes, issuer: str, audience: str, lifetime_seconds: int):
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("the signing key must be an EC P-256 private key")
        self._key = key
        self.key_id = public_jwk(key.public_key())["kid"]
        self.issuer = issuer
        self.audience = audience
        self.lifetime_seconds = lifetime_seconds

    def sign(self, amishi: Amishi, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": amishi.id,
            "iat": issued,
            "exp": issued + self.lifetime_seconds,
            "jti": secrets.token_urlsafe(16),
            "email": amishi.email,
            "name": amishi.display_name,
            "picture": amishi.avatar_url,
        }
        return low_s(
            jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.key_id, "typ": ACCESS_TOKEN_TYPE})
        )


def low_s(token: str) -> str:
    """The ES256 token with its signature's s in the lower half (n - s if it was
    not), which verifies as well and is the only spelling the verifier takes."""
    signing_input, signature = token.rsplit(".", 1)
    raw = base64url_decode(signature)
    s = int.from_bytes(raw[32:], "big")
    if s > P256_ORDER // 2:
        raw = raw[:32] + (P256_ORDER - s).to_bytes(32, "big")
    return f"{signing_input}.{base64url_encode(raw).decode()}"


def _is_its_one_spelling(token: str) -> bool:
    """Whether the token is written the one way its signer writes it: every
    segment canonical base64url (decoders ignore a last character's spare bits,
    so 16 spellings of a signature would decode alike) and the signature low-s.
    Otherwise one token could be sent, and remembered, in many spellings."""
    segments = token.split(".")
    try:
        decoded = [base64url_decode(segment) for segment in segments]
    except ValueError:  # binascii.Error, non-ASCII
        return False
    if any(base64url_encode(raw).decode() != segment for raw, segment in zip(decoded, segments, strict=True)):
        return False
    signature = decoded[-1]
    return len(segments) == 3 and len(signature) == 64 and int.from_bytes(signature[32:], "big") <= P256_ORDER // 2


class AccessTokenVerifier:
    """Used by every service: it holds only public keys, by key id.

    A browser sends the same token with every request for its ten minutes, and
    checking an ES256 signature is most of what a small request costs in CPU
    (BENCHMARKS.md): so a token that verified is remembered, until it expires,
    instead of being checked again. Only tokens that verified are kept, at
    most `remembered` of them (the oldest go first)."""

    def __init__(
        self, jwks: dict[str, object], issuer: str, audience: str, leeway_seconds: int = 5, remembered: int = 4096
    ):
        self._keys = {key.key_id: key.key for key in jwt.PyJWKSet.from_dict(jwks).keys if key.key_id}
        if not self._keys:
            raise ValueError("the key set holds no key with a key id")
        self.issuer = issuer
        self.audience = audience
        self.leeway_seconds = leeway_seconds
        self._remembered = remembered
        self._verified: dict[str, tuple[float, Amishi]] = {}  # token -> (valid until, its amishi), oldest first
        self._lock = threading.Lock()

    def verify(self, token: str) -> Amishi:
        known = self._verified.get(token)
        if known is not None:
            valid_until, amishi = known
            if time.time() < valid_until:
                return amishi
            raise ExpiredToken("the token has expired")
        amishi, expires = self._verify(token)
        with self._lock:
            while len(self._verified) >= self._remembered:
                del self._verified[next(iter(self._verified))]
            # As PyJWT allows: until `leeway_seconds` after exp.
            self._verified[token] = (expires + self.leeway_seconds, amishi)
        return amishi

    def _verify(self, token: str) -> tuple[Amishi, int]:
        """The token's amishi and expiry, its signature and claims checked."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidToken(f"malformed token: {error}") from None
        # An unknown key id is refused outright: nothing is fetched, so it costs nothing.
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("unknown key id")
        if header.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidToken("not an access token")
        if not _is_its_one_spelling(token):
            raise InvalidToken("not the token's one spelling (a high-s signature, or base64url not canonical)")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": ["iss", "aud", "sub", "iat", "exp", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise ExpiredToken("the token has expired") from None
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from None
        fields = (claims["sub"], claims.get("email"), claims.get("name"), claims.get("picture"))
        profile = [field for field in fields if isinstance(field, str) and field]
        if len(profile) != len(fields):
            raise InvalidToken("the token lacks the amishi's profile")
        sub, email, display_name, avatar_url = profile
        if not _is_canonical_uuid(sub):
            raise InvalidToken("the subject is not an amishi id")
        return Amishi(sub, email, display_name, avatar_url), claims["exp"]


def _is_canonical_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def generate_keys(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    private = directory / "signing-key.pem"
    private.touch(mode=0o600)
    private.write_bytes(pem)
    (directory / "jwks.json").write_text(json.dumps({"keys": [public_jwk(key.public_key())]}, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "generate-keys":
        sys.exit("usage: python -m cotoami_common.tokens generate-keys DIR")
    generate_keys(Path(sys.argv[2]))
