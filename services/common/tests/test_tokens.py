import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.utils import base64url_decode, base64url_encode

from cotoami_common.tokens import (
    P256_ORDER,
    AccessTokenSigner,
    AccessTokenVerifier,
    ExpiredToken,
    InvalidToken,
    generate_keys,
    low_s,
)
from cotoami_testing.fixtures import new_amishi


@pytest.fixture
def verifier(token_keys):
    return AccessTokenVerifier(token_keys.jwks, "cotoami-auth", "cotoami")


def test_a_signed_token_verifies_to_its_amishi(token_keys, verifier):
    amishi = new_amishi()
    assert verifier.verify(token_keys.access_token(amishi)) == amishi


def test_claims_follow_the_design(token_keys):
    token = token_keys.access_token(new_amishi())
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "ES256" and header["kid"] == token_keys.signer.key_id
    assert {"iss", "aud", "sub", "exp", "iat", "jti", "name", "picture", "email"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 600


def test_key_ids_are_key_thumbprints(tmp_path, token_keys):
    generate_keys(tmp_path)
    assert json.loads((tmp_path / "jwks.json").read_text())["keys"][0]["kid"] != token_keys.signer.key_id
    assert (tmp_path / "signing-key.pem").stat().st_mode & 0o077 == 0, "the private key is readable by its owner only"


def _forge(claims: dict[str, object], header: dict[str, object], key, algorithm: str) -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers=header)


def _claims(**overrides):
    now = int(time.time())
    claims = {
        "iss": "cotoami-auth",
        "aud": "cotoami",
        "sub": "5d1f6d2e-8b8a-4c1e-9f57-0d5b6a1c2e3f",
        "iat": now,
        "exp": now + 600,
        "jti": "j",
        "email": "a@b.c",
        "name": "a",
        "picture": "p",
    }
    return {**claims, **overrides}


def test_expired_tokens_are_told_apart(token_keys, verifier):
    token = token_keys.access_token(new_amishi(), now=time.time() - 3600)
    with pytest.raises(ExpiredToken):
        verifier.verify(token)


def test_a_verified_token_is_remembered_until_it_expires(token_keys, monkeypatch):
    verifier = AccessTokenVerifier(token_keys.jwks, "cotoami-auth", "cotoami", leeway_seconds=0)
    amishi = new_amishi()
    token = token_keys.access_token(amishi)
    assert verifier.verify(token) == amishi

    def never(*args, **kwargs):
        raise AssertionError("checked again")

    monkeypatch.setattr(jwt, "decode", never)
    assert verifier.verify(token) == amishi
    expiry = time.time() + 600
    monkeypatch.setattr(time, "time", lambda: expiry + 1)
    with pytest.raises(ExpiredToken):
        verifier.verify(token)


def test_only_so_many_verified_tokens_are_remembered(token_keys, monkeypatch):
    verifier = AccessTokenVerifier(token_keys.jwks, "cotoami-auth", "cotoami", remembered=2)
    first, second, third = (token_keys.access_token(new_amishi(f"{name}@example.com")) for name in ("a", "b", "c"))
    for token in (first, second, third):
        verifier.verify(token)
    checked = []
    real_decode = jwt.decode

    def counted_decode(*args, **kwargs):
        checked.append(1)
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted_decode)
    verifier.verify(third)
    verifier.verify(first)  # the oldest was forgotten
    assert checked == [1]


def test_refused_tokens(token_keys, verifier):
    kid = token_keys.signer.key_id
    stranger = ec.generate_private_key(ec.SECP256R1())
    signer_key = serialization.load_pem_private_key((token_keys.directory / "signing-key.pem").read_bytes(), None)
    public_pem = signer_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    good = token_keys.access_token(new_amishi())
    head, body, signature = good.split(".")
    tampered_body = (
        base64.urlsafe_b64encode(
            json.dumps({**json.loads(base64.urlsafe_b64decode(body + "==")), "sub": "someone-else"}).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    none_header = (
        base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": kid, "typ": "at+jwt"}).encode())
        .rstrip(b"=")
        .decode()
    )
    hs_header = (
        base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": kid, "typ": "at+jwt"}).encode())
        .rstrip(b"=")
        .decode()
    )
    hs_signature = (
        base64.urlsafe_b64encode(hmac.new(public_pem, f"{hs_header}.{body}".encode(), hashlib.sha256).digest())
        .rstrip(b"=")
        .decode()
    )
    header = {"kid": kid, "typ": "at+jwt"}
    refused = {
        "tampered": f"{head}.{tampered_body}.{signature}",
        "alg none": f"{none_header}.{body}.",
        "HS256 with the public key": f"{hs_header}.{body}.{hs_signature}",
        "another key, same kid": _forge(_claims(), header, stranger, "ES256"),
        "unknown kid": _forge(_claims(), {"kid": "nope", "typ": "at+jwt"}, signer_key, "ES256"),
        "no kid": _forge(_claims(), {"typ": "at+jwt"}, signer_key, "ES256"),
        "wrong iss": _forge(_claims(iss="evil"), header, signer_key, "ES256"),
        "wrong aud": _forge(_claims(aud="other"), header, signer_key, "ES256"),
        "not an access token": _forge(_claims(), {"kid": kid}, signer_key, "ES256"),
        "no exp": _forge({k: v for k, v in _claims().items() if k != "exp"}, header, signer_key, "ES256"),
        "no profile": _forge(_claims(name=""), header, signer_key, "ES256"),
        "subject not an amishi id": _forge(_claims(sub="x"), header, signer_key, "ES256"),
        "subject not canonical": _forge(
            _claims(sub="5D1F6D2E-8B8A-4C1E-9F57-0D5B6A1C2E3F"), header, signer_key, "ES256"
        ),
        "garbage": "not.a.token",
        "empty": "",
    }
    for name, token in refused.items():
        with pytest.raises(InvalidToken):
            verifier.verify(token)
            pytest.fail(f"accepted: {name}")


def test_the_signer_takes_only_p256_keys():
    other = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="P-256"):
        AccessTokenSigner(other, "i", "a", 60)


def _signature_of(token: str) -> tuple[int, int]:
    raw = base64url_decode(token.rsplit(".", 1)[1])
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")


def _with_signature(token: str, r: int, s: int) -> str:
    return f"{token.rsplit('.', 1)[0]}.{base64url_encode(r.to_bytes(32, 'big') + s.to_bytes(32, 'big')).decode()}"


def test_a_token_with_its_signatures_other_s_is_refused(token_keys, verifier):
    token = token_keys.access_token(new_amishi())
    r, s = _signature_of(token)
    flipped = _with_signature(token, r, P256_ORDER - s)
    # A genuine signature of the same claims, which PyJWT alone would take.
    assert jwt.decode(flipped, options={"verify_signature": False}) == jwt.decode(
        token, options={"verify_signature": False}
    )
    with pytest.raises(InvalidToken, match="one spelling"):
        verifier.verify(flipped)
    verifier.verify(token)
    with pytest.raises(InvalidToken, match="one spelling"):
        verifier.verify(flipped)  # nor once the token itself is remembered


def test_a_token_spelled_with_other_spare_base64_bits_is_refused(token_keys, verifier):
    token = token_keys.access_token(new_amishi())
    # 64 bytes are 86 base64url characters, whose last carries 4 bits that decoders ignore.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    respelled = token[:-1] + alphabet[last ^ 0b0001]
    assert base64url_decode(respelled.rsplit(".", 1)[1]) == base64url_decode(token.rsplit(".", 1)[1])
    for spelling in (respelled, token + "==", token + "."):
        with pytest.raises(InvalidToken):
            verifier.verify(spelling)
    assert verifier.verify(token)


def test_every_token_the_signer_issues_is_low_s_and_verifies(token_keys, verifier):
    # A signature's s is above n / 2 half the time: 200 tokens all low-s is not chance.
    for _ in range(200):
        amishi = new_amishi()
        token = token_keys.access_token(amishi)
        assert _signature_of(token)[1] <= P256_ORDER // 2
        assert verifier.verify(token) == amishi


def test_low_s_keeps_a_signature_that_verifies(token_keys):
    signer_key = serialization.load_pem_private_key((token_keys.directory / "signing-key.pem").read_bytes(), None)
    header = {"kid": token_keys.signer.key_id, "typ": "at+jwt"}
    assert isinstance(signer_key, ec.EllipticCurvePrivateKey)
    public = signer_key.public_key()
    for _ in range(20):
        token = _forge(_claims(), header, signer_key, "ES256")
        normal = low_s(token)
        assert low_s(normal) == normal and _signature_of(normal)[1] <= P256_ORDER // 2
        jwt.decode(normal, public, algorithms=["ES256"], audience="cotoami")
