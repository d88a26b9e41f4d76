"""Attacks (issue 6), each a test through the real stack: the gateway, or a
service's own port where the attack is reaching it directly. Each test checks
the refusal and that nothing changed. Attacks other files prove already stay
there, named where they would belong here (test_gateway.py, test_signin.py,
test_cotonomas.py, test_memo_pad.py, test_browser.py); the browser's side is
test_attacks_browser.py."""

import base64
import contextlib
import functools
import hashlib
import hmac
import json
import re
import secrets
import select
import socket
import statistics
import time
import uuid
from typing import Any

import jwt
import psycopg
import pytest
import redis
import requests
from conftest import PROFILE, Json, sign_in, unique_address
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cotoami_common.tokens import low_s


@functools.cache
def signing_key() -> ec.EllipticCurvePrivateKey:
    """The stack's own signing key (made when the stack first starts, so read only once a test runs)."""
    key = serialization.load_pem_private_key((PROFILE.secrets_dir / "signing-key.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey), "auth signs with ES256"
    return key


CLIENT = "127.0.0.1"  # every test request reaches the gateway from here: the address auth counts per client
MISSING_KEY = "nosuchkey000"


class Person:
    """A signed-in browser. Its requests carry no Origin unless a test gives one,
    as curl's would (the services accept those: no browser sent them for another site)."""

    def __init__(self, stack, mailbox, name: str):
        self.url = stack.url
        self.address = unique_address(name)
        self.session = requests.Session()
        self.amishi = sign_in(stack, mailbox, self.session, self.address)

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.session.request(method, self.url + path, timeout=10, **kwargs)
        if response.status_code == 401 and response.json()["title"] == "Session expired":
            # As the web client does: this module's people outlive a 10-minute access token.
            self.session.post(self.url + "/api/auth/refresh", json={}, timeout=10).raise_for_status()
            response = self.session.request(method, self.url + path, timeout=10, **kwargs)
        return response

    def made(self, method: str, path: str, body: Json) -> Json:
        response = self.call(method, path, json=body)
        assert response.status_code == 201, response.text
        made: Json = response.json()
        return made

    def cookie(self, name: str) -> str:
        value = next(c.value for c in self.session.cookies if c.name == name)
        assert value is not None, f"the {name} cookie has a value"
        return value


class Owner(Person):
    """Someone with a cotonoma, a coto inside it, a member, and a coto at home."""

    def __init__(self, stack, mailbox):
        super().__init__(stack, mailbox, "owner")
        self.room: str = self.made("POST", "/api/cotonomas", {"name": "Private room"})["cotonoma"]["key"]
        self.room_coto: str = next(
            c["id"] for c in self.call("GET", "/api/cotos").json()["cotos"] if c["cotonoma_key"] == self.room
        )
        inside = self.made("POST", "/api/cotos", {"content": "inside", "cotonoma_key": self.room})
        self.inside: str = inside["coto"]["id"]
        self.home_coto: str = self.made("POST", "/api/cotos", {"content": "at home"})["coto"]["id"]
        self.member = unique_address("member")
        self.made("POST", f"/api/cotonomas/{self.room}/members", {"email": self.member})


def outcome(response: requests.Response) -> tuple[int, Json]:
    return response.status_code, response.json()


@pytest.fixture(scope="module")
def owner(stack, mailbox):
    return Owner(stack, mailbox)


def owners_view(owner: Owner) -> list[tuple[int, Json]]:
    """Everything the owner sees of what is theirs."""
    paths = [
        "/api/cotos",
        f"/api/cotos?cotonoma={owner.room}",
        f"/api/cotonomas/{owner.room}",
        f"/api/cotonomas/{owner.room}/members",
        "/api/cotonomas",
        f"/api/cotos/{owner.inside}",
        f"/api/cotos/{owner.home_coto}",
        "/api/auth/session",
    ]
    return [outcome(owner.call("GET", path)) for path in paths]


@pytest.fixture(scope="module")
def stranger(stack, mailbox):
    return Person(stack, mailbox, "stranger")


# --- another person's coto, cotonoma or member list ---------------------------

# {key}, {id}, {stand}: the owner's cotonoma, a coto inside it and the coto standing for it, and then, to
# compare with, a key and ids that do not exist: nothing may tell the two apart. {member} is the owner's
# member, {email} the attacker's own address.
ANOTHERS_THINGS = [
    ("read the cotonoma", "GET", "/api/cotonomas/{key}", None, 404),
    ("rename the cotonoma", "PATCH", "/api/cotonomas/{key}", {"name": "taken over"}, 404),
    ("delete the cotonoma", "DELETE", "/api/cotonomas/{key}", None, 404),
    ("read its timeline", "GET", "/api/cotos?cotonoma={key}", None, 404),
    ("post into it", "POST", "/api/cotos", {"content": "planted", "cotonoma_key": "{key}"}, 404),
    ("nest a cotonoma in it", "POST", "/api/cotonomas", {"name": "squat", "parent_key": "{key}"}, 404),
    ("read its members", "GET", "/api/cotonomas/{key}/members", None, 404),
    ("add oneself as a member", "POST", "/api/cotonomas/{key}/members", {"email": "{email}"}, 404),
    ("remove its member", "DELETE", "/api/cotonomas/{key}/members/{member}", None, 404),
    ("read a coto inside", "GET", "/api/cotos/{id}", None, 404),
    ("edit a coto inside", "PATCH", "/api/cotos/{id}", {"content": "defaced"}, 404),
    ("delete a coto inside", "DELETE", "/api/cotos/{id}", None, 404),
    ("rename the coto standing for it", "PATCH", "/api/cotos/{stand}", {"content": "defaced"}, 404),
    ("delete the coto standing for it", "DELETE", "/api/cotos/{stand}", None, 404),
]


def fill(template, values: dict[str, str]):
    if isinstance(template, str):
        return template.format(**values)
    return None if template is None else {name: fill(value, values) for name, value in template.items()}


@pytest.mark.parametrize("attacker", ["stranger", "nobody signed in"])
@pytest.mark.parametrize(
    "method,path,body,status", [row[1:] for row in ANOTHERS_THINGS], ids=[row[0] for row in ANOTHERS_THINGS]
)
def test_anothers_cotonoma_is_as_if_it_did_not_exist(stack, owner, stranger, attacker, method, path, body, status):
    call = (
        stranger.call
        if attacker == "stranger"
        else (lambda method, path, **kwargs: requests.request(method, stack.url + path, timeout=10, **kwargs))
    )
    before = owners_view(owner)

    def attempt(key, coto_id, stand):
        values = {"member": owner.member, "email": stranger.address, "key": key, "id": coto_id, "stand": stand}
        return call(method, fill(path, values), json=fill(body, values))

    theirs = attempt(owner.room, owner.inside, owner.room_coto)
    missing = attempt(MISSING_KEY, uuid.uuid4(), uuid.uuid4())
    assert outcome(theirs) == outcome(missing)
    if attacker == "stranger":
        assert theirs.status_code == status
    else:
        assert theirs.status_code in (401, 404, 405)
    assert owners_view(owner) == before


@pytest.fixture(scope="module")
def pads(stack):
    """Two anonymous browsers, each with a coto on its memo pad."""

    def pad(content):
        session = requests.Session()
        session.headers["Origin"] = stack.url
        coto = session.post(stack.url + "/api/cotos", json={"content": content}, timeout=10).json()["coto"]
        return session, coto["id"]

    return pad("the victim's pad"), pad("the attacker's pad")


# Signed in against signed in is test_signin.py::test_one_person_cannot_touch_anothers_cotos.
COTO_ATTACKS = [
    ("anonymous", "no cookies"),
    ("anonymous", "another pad"),
    ("anonymous", "signed in"),
    ("signed in", "no cookies"),
    ("signed in", "another pad"),
]


@pytest.mark.parametrize("method,body", [("GET", None), ("PATCH", {"content": "defaced"}), ("DELETE", None)])
@pytest.mark.parametrize("victim,attacker", COTO_ATTACKS, ids=[f"{v} coto, {a}" for v, a in COTO_ATTACKS])
def test_anothers_coto_is_as_if_it_did_not_exist(stack, owner, stranger, pads, victim, attacker, method, body):
    (victim_pad, victim_pad_coto), (attacker_pad, _) = pads
    owners = victim_pad if victim == "anonymous" else owner.session
    coto = victim_pad_coto if victim == "anonymous" else owner.home_coto
    session = {"no cookies": requests.Session(), "another pad": attacker_pad, "signed in": stranger.session}[attacker]

    def read():
        return outcome(owners.get(f"{stack.url}/api/cotos/{coto}", timeout=10))

    def attempt(coto_id):
        return session.request(
            method, f"{stack.url}/api/cotos/{coto_id}", json=body, headers={"Origin": stack.url}, timeout=10
        )

    before = read()
    theirs, missing = attempt(coto), attempt(uuid.uuid4())
    assert theirs.status_code == 404 and outcome(theirs) == outcome(missing)
    assert read() == before


# --- /internal/ -----------------------------------------------------------------

# The forms tests/test_gateway.py::test_unknown_and_internal_paths_are_404_json does not try; each
# also with the real service credential, which the gateway must not honour either. The gateway
# answers itself, but for paths that no service router can match to anything but a 404 (SERVICE_404).
SERVICE_404 = {
    "/api/cotos/%252e%252e/%252e%252e/internal/anything",
    "/api/cotos/..%252f..%252finternal/anything",
    "/api/cotos/..;/..;/internal/anything",
}
INTERNAL_DISGUISES = [
    ("GET", "/%2Finternal/cotonomas/{room}/access"),
    ("GET", "/%2finternal/anything"),
    ("GET", "/%5cinternal/anything"),
    ("GET", "/\\internal/anything"),
    ("GET", "/INTERNAL/anything"),
    ("GET", "/Internal/cotonomas/{room}/access"),
    ("GET", "/internal?x=1"),
    ("GET", "/internal/"),
    ("GET", "/./internal/anything"),
    ("GET", "/api/../internal/anything"),
    ("GET", "/internal/../api/cotos"),
    ("GET", "/internal/cotonomas/{room}/access/../../../../api/cotos"),
    ("GET", "/api/cotos/x/.."),
    ("GET", "/api/cotos/..\\..\\internal/anything"),
    ("GET", "/api/cotos/.%2e/.%2e/internal/anything"),
    ("GET", "/api/cotos/%252e%252e/%252e%252e/internal/anything"),
    ("GET", "/api/cotos/..%252f..%252finternal/anything"),
    ("GET", "/api/cotos/..;/..;/internal/anything"),
    ("GET", "/api/cotonomas/x/..%2F..%2F..%2Finternal/cotonomas/{room}/access"),
    ("GET", "/api/auth/%2e%2e/%2e%2e/internal/anything"),
    ("GET", "//api/cotos"),
    ("GET", "/api//cotos"),
    ("GET", "http://127.0.0.1/internal/cotonomas/{room}/access"),
    ("DELETE", "/internal/cotonoma-cotos/{room}"),
    ("DELETE", "//internal/cotonoma-cotos/{room}"),
    ("DELETE", "/api/cotos/..%2f..%2finternal/cotonoma-cotos/{room}"),
    ("PUT", "/internal/cotonoma-cotos/{room}"),
    ("POST", "/internal/anonymous-cotos/claims"),
    ("GET", "/internal/anonymous-pads/{room}"),
]


@pytest.mark.parametrize("credential", [False, True], ids=["no credential", "the service credential"])
@pytest.mark.parametrize("method,path", INTERNAL_DISGUISES, ids=[f"{m} {p}" for m, p in INTERNAL_DISGUISES])
def test_internal_paths_in_disguise_are_404_json_at_the_gateway(stack, owner, method, path, credential):
    before = owners_view(owner) if method != "GET" else None
    headers = {"Content-Type": "application/json"}
    if credential:
        headers["Authorization"] = "Bearer " + (PROFILE.secrets_dir / "internal-token").read_text().strip()
    status, response_headers, body = stack.raw(method, path.format(room=owner.room), body=b"{}", headers=headers)
    assert status == 404, body
    assert response_headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["title"] == ("404 Not Found" if path in SERVICE_404 else "Not Found")
    if before is not None:
        assert owners_view(owner) == before


def internal_state(owner: Owner, victim_pad: requests.Session) -> list[object]:
    """What the internal routes below could change: the owner's home and room, the victim's pad."""
    return [
        outcome(owner.call("GET", "/api/cotos")),
        outcome(owner.call("GET", f"/api/cotos?cotonoma={owner.room}")),
        victim_pad.get(owner.url + "/api/cotos", timeout=10).json(),
    ]


def internal_calls(owner: Owner, victim_pad: str) -> dict[str, tuple[str, str, str, Json | None]]:
    """What a caller holding the service credential could do, one call per internal route."""
    squatter = {"id": str(uuid.uuid4()), "display_name": "mallory", "avatar_url": "http://evil.example/a.png"}
    return {
        "ask whether someone may enter a cotonoma": (
            "cotonomas",
            "GET",
            f"/internal/cotonomas/{owner.room}/access?amishi_id={owner.amishi['id']}&email={owner.address}",
            None,
        ),
        "plant a cotonoma's coto": (
            "cotos",
            "PUT",
            f"/internal/cotonoma-cotos/{uuid.uuid4().hex[:12]}",
            {"name": "planted", "parent_key": owner.room, "owner": squatter},
        ),
        "delete a cotonoma's coto": ("cotos", "DELETE", f"/internal/cotonoma-cotos/{owner.room}", None),
        "take someone's memo pad": (
            "cotos",
            "POST",
            "/internal/anonymous-cotos/claims",
            {"anonymous_id": victim_pad, "amishi": squatter},
        ),
        "count someone's memo pad": ("cotos", "GET", f"/internal/anonymous-pads/{victim_pad}", None),
    }


INTERNAL_ROUTES = [
    "ask whether someone may enter a cotonoma",
    "plant a cotonoma's coto",
    "delete a cotonoma's coto",
    "take someone's memo pad",
    "count someone's memo pad",
]
# Leading slashes and an encoded one: a service's router reads "//internal/x" as "/internal/x".
PREFIXES = ["", "/", "/%2F"]
WRONG_CREDENTIALS = {
    "none": None,
    "a wrong one": "Bearer not-the-credential",
    "the right one as Basic": "Basic {token}",
    "the right one and more": "Bearer {token}x",
    "the right one cut short": "Bearer {short}",
}


@pytest.mark.parametrize("credential", WRONG_CREDENTIALS.values(), ids=WRONG_CREDENTIALS.keys())
@pytest.mark.parametrize("prefix", PREFIXES, ids=["/internal", "//internal", "/%2Finternal"])
@pytest.mark.parametrize("route", INTERNAL_ROUTES)
def test_internal_routes_on_a_services_own_port_need_the_credential(stack, owner, pads, route, prefix, credential):
    (victim_pad, _), _ = pads
    pad_id = victim_pad.cookies["anonymous_id"]
    token = (PROFILE.secrets_dir / "internal-token").read_text().strip()
    service, method, path, body = internal_calls(owner, pad_id)[route]
    headers = {"Authorization": credential.format(token=token, short=token[:-1])} if credential else {}
    before = internal_state(owner, victim_pad)
    answer = requests.request(
        method,
        f"http://127.0.0.1:{PROFILE.service_port(service)}{prefix}{path}",
        json=body,
        headers=headers,
        timeout=10,
    )
    assert answer.status_code == 401 and answer.json()["title"] == "Unauthorized", answer.text
    assert internal_state(owner, victim_pad) == before


@pytest.mark.parametrize("prefix", PREFIXES, ids=["/internal", "//internal", "/%2Finternal"])
def test_the_service_credential_opens_an_internal_route_however_it_is_spelled(owner, prefix):
    # The other side of the test above: those 401s come from the credential check, not from a missed route.
    token = (PROFILE.secrets_dir / "internal-token").read_text().strip()
    _, method, path, _ = internal_calls(owner, "0" * 32)["ask whether someone may enter a cotonoma"]
    answer = requests.request(
        method,
        f"http://127.0.0.1:{PROFILE.service_port('cotonomas')}{prefix}{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["key"] == owner.room


# --- cross-site writes with the victim's cookies --------------------------------


@pytest.fixture(scope="module")
def victim(stack, mailbox, owner):
    """The owner, plus a sign-in link of an attacker's own (a login CSRF would sign the victim in with it)."""
    attacker = unique_address("mallory")
    owner.attacker_link = mailbox.new_link_token(
        attacker,
        lambda: requests.post(stack.url + "/api/auth/signin", json={"email": attacker}, timeout=10).raise_for_status(),
    )
    owner.baseline = owners_view(owner)
    return owner


CROSS_SITE_WRITES = {
    "post a coto": ("POST", "/api/cotos", {"content": "planted"}),
    "edit a coto": ("PATCH", "/api/cotos/{home_coto}", {"content": "defaced"}),
    "delete a coto": ("DELETE", "/api/cotos/{home_coto}", None),
    "make a cotonoma": ("POST", "/api/cotonomas", {"name": "planted"}),
    "rename a cotonoma": ("PATCH", "/api/cotonomas/{room}", {"name": "defaced"}),
    "add a member": ("POST", "/api/cotonomas/{room}/members", {"email": "mallory@example.com"}),
    "remove a member": ("DELETE", "/api/cotonomas/{room}/members/{member}", None),
    "sign out": ("DELETE", "/api/auth/session", None),
    "refresh the session": ("POST", "/api/auth/refresh", {}),
    "sign in as the attacker": ("POST", "/api/auth/session", {"token": "{attacker_link}"}),
    "ask for a sign-in link": ("POST", "/api/auth/signin", {"email": "{address}"}),
}
# What a page on another site can make the victim's browser send; each refused by a defence of its own.
CROSS_SITE_REQUESTS = {
    "foreign Origin": ({"Origin": "https://evil.example"}, "application/json", 403),
    "null Origin (sandboxed frame, data: URL)": ({"Origin": "null"}, "application/json", 403),
    "Origin extending ours": ({"Origin": "{url}.evil.example"}, "application/json", 403),
    "cross-site fetch without Origin": ({"Sec-Fetch-Site": "cross-site"}, "application/json", 403),
    "same-site fetch from a sibling host": ({"Sec-Fetch-Site": "same-site"}, "application/json", 403),
    "our Origin but a cross-site fetch": ({"Origin": "{url}", "Sec-Fetch-Site": "cross-site"}, "application/json", 403),
    "form-encoded body": ({}, "application/x-www-form-urlencoded", 415),
    "text/plain body holding JSON": ({}, "text/plain", 415),
    "multipart form": ({}, "multipart/form-data; boundary=x", 415),
}


@pytest.mark.parametrize("headers,content_type,status", CROSS_SITE_REQUESTS.values(), ids=CROSS_SITE_REQUESTS.keys())
@pytest.mark.parametrize("method,path,body", CROSS_SITE_WRITES.values(), ids=CROSS_SITE_WRITES.keys())
def test_cross_site_writes_with_the_victims_cookies_are_refused(
    stack, victim, method, path, body, headers, content_type, status
):
    values = {
        "home_coto": victim.home_coto,
        "room": victim.room,
        "member": victim.member,
        "attacker_link": victim.attacker_link,
        "address": victim.address,
    }
    body = json.dumps(fill(body, values) if body is not None else {})
    if content_type.startswith("application/x-www-form-urlencoded"):
        body = "content=planted&name=planted"
    headers = {name: value.format(url=stack.url) for name, value in headers.items()} | {"Content-Type": content_type}
    answer = victim.call(method, fill(path, values), data=body.encode(), headers=headers)
    assert answer.status_code == status, answer.text
    assert "title" in answer.json()
    assert owners_view(victim) == victim.baseline
    link = requests.post(stack.url + "/api/auth/link", json={"token": victim.attacker_link}, timeout=10)
    assert link.status_code == 200, "the attacker's link is still unused"


# --- tokens -------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def kid() -> str:
    found: str = json.loads((PROFILE.secrets_dir / "jwks.json").read_text())["keys"][0]["kid"]
    return found


def claims_of(person: Person, **changes) -> Json:
    now = int(time.time())
    return {
        "iss": "cotoami-auth",
        "aud": "cotoami",
        "sub": person.amishi["id"],
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "email": person.address,
        "name": person.amishi["display_name"],
        "picture": person.amishi["avatar_url"],
    } | changes


def signed(claims: Json, key: ec.EllipticCurvePrivateKey | None = None, **header) -> str:
    """Signed as auth signs: in the one spelling the services accept (low s)."""
    token = jwt.encode(
        claims, key or signing_key(), algorithm="ES256", headers={"kid": kid(), "typ": "at+jwt"} | header
    )
    return low_s(token)


def unsigned(claims: Json, alg: str, secret: bytes | None) -> str:
    head = b64(json.dumps({"alg": alg, "kid": kid(), "typ": "at+jwt"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = b64(hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()) if secret else ""
    return f"{head}.{body}.{signature}"


def public_pem() -> bytes:
    return (
        signing_key()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def tampered(victim: Person, attacker: Person) -> str:
    head, body, signature = signed(claims_of(attacker)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    return ".".join([head, b64(json.dumps(claims | {"sub": victim.amishi["id"]}).encode()), signature])


# Each pretends to be the owner; built with the stack's own signing key wherever a signature is wanted.
FORGERIES = {
    "tampered subject": tampered,
    "alg none": lambda v, a: unsigned(claims_of(v), "none", None),
    "HS256 keyed with the public key": lambda v, a: unsigned(claims_of(v), "HS256", public_pem()),
    "signed by another key under our kid": lambda v, a: signed(claims_of(v), ec.generate_private_key(ec.SECP256R1())),
    "expired": lambda v, a: signed(claims_of(v, iat=int(time.time()) - 1200, exp=int(time.time()) - 600)),
    "wrong iss": lambda v, a: signed(claims_of(v, iss="evil")),
    "wrong aud": lambda v, a: signed(claims_of(v, aud="another-app")),
    "unknown kid": lambda v, a: signed(claims_of(v), kid="another-key"),
    "not typed as an access token": lambda v, a: signed(claims_of(v), typ="JWT"),
    "the refresh token": lambda v, a: v.cookie("refresh_token"),
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
def test_forged_access_tokens_are_refused_by_every_service(stack, owner, stranger, forge):
    # Minted the same way, untouched, the token is taken: what each forgery changes is what is refused.
    genuine = requests.get(
        stack.url + "/api/auth/session", cookies={"access_token": signed(claims_of(owner))}, timeout=10
    )
    assert genuine.json()["amishi"]["id"] == owner.amishi["id"]
    before = owners_view(owner)
    forged = {"access_token": forge(owner, stranger)}
    expected = "Session expired" if forge is FORGERIES["expired"] else "Invalid session"
    for method, path in [
        ("GET", "/api/auth/session"),
        ("GET", "/api/cotos"),
        ("GET", "/api/cotonomas"),
        ("GET", f"/api/cotos/{owner.home_coto}"),
        ("POST", "/api/cotos"),
        ("PATCH", f"/api/cotonomas/{owner.room}"),
    ]:
        answer = requests.request(
            method,
            stack.url + path,
            cookies=forged,
            json={"content": "x", "name": "x"},
            headers={"Origin": stack.url},
            timeout=10,
        )
        assert answer.status_code == 401 and answer.json()["title"] == expected, (path, answer.text)
    assert owners_view(owner) == before


@pytest.mark.parametrize(
    "path,status,shown",
    [
        ("/api/auth/session", 200, {"amishi": None}),
        ("/api/cotos", 200, {"cotos": []}),
        ("/api/cotonomas", 401, {"title": "Sign in"}),
    ],
)
def test_a_refresh_token_as_a_bearer_header_signs_no_one_in(stack, owner, path, status, shown):
    # The services read the access token from its cookie alone; a header is no way in.
    answer = requests.get(
        stack.url + path, headers={"Authorization": f"Bearer {owner.cookie('refresh_token')}"}, timeout=10
    )
    assert answer.status_code == status and answer.json().items() >= shown.items(), answer.text


def test_an_access_token_is_no_refresh_token(stack, owner):
    before = owners_view(owner)
    answer = requests.post(
        stack.url + "/api/auth/refresh", cookies={"refresh_token": owner.cookie("access_token")}, json={}, timeout=10
    )
    assert answer.status_code == 401 and answer.json()["title"] == "Signed out"
    assert owners_view(owner) == before


# --- signing in ---------------------------------------------------------------------


@pytest.mark.parametrize("how", ["used", "expired"])
def test_a_used_or_expired_link_signs_no_one_in(stack, mailbox, how):
    titles = {"used": "already used", "expired": "expired"}
    address = unique_address()
    token = mailbox.new_link_token(
        address,
        lambda: requests.post(stack.url + "/api/auth/signin", json={"email": address}, timeout=10).raise_for_status(),
    )
    if how == "used":
        assert requests.post(stack.url + "/api/auth/session", json={"token": token}, timeout=10).status_code == 200
    else:
        # Ten minutes passing, for this link alone: auth compares with the database's clock.
        with psycopg.connect(PROFILE.database_url("auth"), autocommit=True) as conn:
            aged = conn.execute(
                "UPDATE signin_tokens SET created_at = now() - interval '11 minutes',"
                " expires_at = now() - interval '1 minute' WHERE token_hash = %s",
                (hashlib.sha256(token.encode()).digest(),),
            )
            assert aged.rowcount == 1
    for path in ("/api/auth/link", "/api/auth/session"):
        answer = requests.post(stack.url + path, json={"token": token}, timeout=10)
        assert answer.status_code == 410 and answer.json()["title"] == f"Sign-in link {titles[how]}"
        assert "access_token" not in answer.cookies and "refresh_token" not in answer.cookies


@pytest.fixture
def counters():
    """auth's per-client counters in the stack's Redis, each put back as it was afterwards."""
    client = redis.Redis.from_url(PROFILE.redis_url)
    saved: dict[str, tuple[Any, int]] = {}  # key: its value (None: absent) and time to live

    def counter(kind: str) -> str:
        key = f"ratelimit:{kind}:client:{CLIENT}"
        saved.setdefault(key, (client.get(key), client.ttl(key)))
        return key

    yield client, counter
    for key, (value, ttl) in saved.items():
        if value is None:
            client.delete(key)
        else:
            client.set(key, value, ex=max(ttl, 1))
    client.close()


@pytest.mark.parametrize("path", ["/api/auth/session", "/api/auth/link"])
def test_guessing_link_tokens_is_counted_per_client_and_limited(stack, mailbox, counters, path):
    client, counter = counters
    key = counter("session")
    guess = {"token": secrets.token_urlsafe(32)}
    count = int(client.get(key) or 0)
    # A spoofed client address changes nothing: the gateway's is the one counted.
    answer = requests.post(stack.url + path, json=guess, headers={"X-Real-IP": "203.0.113.7"}, timeout=10)
    assert answer.status_code == 400 and answer.json()["title"] == "Invalid sign-in link"
    assert int(client.get(key)) == count + 1
    address = unique_address()
    genuine = mailbox.new_link_token(
        address,
        lambda: requests.post(stack.url + "/api/auth/signin", json={"email": address}, timeout=10).raise_for_status(),
    )
    # Where SESSION_LIMIT_PER_CLIENT guesses leave the counter (10,000 here: too many to send in a test).
    client.set(key, PROFILE.auth_limit_per_client, ex=900)
    for token in (guess["token"], genuine):
        refused = requests.post(
            stack.url + path, json={"token": token}, headers={"X-Real-IP": "203.0.113.8"}, timeout=10
        )
        assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 900, refused.text
    client.delete(key)
    link = requests.post(stack.url + "/api/auth/link", json={"token": genuine}, timeout=10)
    assert link.status_code == 200, "refused while limited, the genuine link was not used up"


def test_flooding_sign_in_from_one_client_is_limited(stack, mailbox, counters):
    client, counter = counters
    # Where SIGNIN_LIMIT_PER_CLIENT requests leave the counter (10,000 here).
    client.set(counter("signin"), PROFILE.auth_limit_per_client, ex=900)
    addresses = [unique_address(), unique_address()]
    for address, spoofed in zip(
        addresses, ({}, {"X-Real-IP": "203.0.113.9", "X-Forwarded-For": "203.0.113.9"}), strict=True
    ):
        answer = requests.post(stack.url + "/api/auth/signin", json={"email": address}, headers=spoofed, timeout=10)
        assert answer.status_code == 429 and 0 < int(answer.headers["Retry-After"]) <= 900, answer.text
    mail_settled(stack)
    assert [mailbox.mails_to(address) for address in addresses] == [[], []]


def mail_settled(stack) -> None:
    """Waits until the mailer has settled every queued job (sent, or given up on)."""
    client = redis.Redis.from_url(PROFILE.redis_url)
    try:
        stack.wait_until(lambda: client.xlen("mail") == 0, 30, "the mail queue drained")
    finally:
        client.close()


@pytest.mark.parametrize("known", [True, False], ids=["an amishi's address", "an unknown address"])
def test_flooding_one_address_is_limited_alike_whoever_it_is(stack, mailbox, known):
    address = unique_address("flooded")
    if known:
        with requests.Session() as session:
            sign_in(stack, mailbox, session, address)  # its first mail
    asked = [
        requests.post(stack.url + "/api/auth/signin", json={"email": address}, timeout=10)
        for _ in range(6 - int(known))
    ]
    assert [a.status_code for a in asked] == [202] * (5 - int(known)) + [429]
    refused = asked[-1]
    assert 0 < int(refused.headers["Retry-After"]) <= 900
    assert refused.json()["title"] == "Too many sign-in requests"
    mail_settled(stack)
    assert len(mailbox.mails_to(address)) == 5


Comparable = tuple[int, tuple[tuple[str, str], ...], bytes]  # an answer, but for its date and request id


def comparable(response: requests.Response) -> Comparable:
    headers = sorted((k.lower(), v) for k, v in response.headers.items() if k.lower() not in ("date", "x-request-id"))
    return response.status_code, tuple(headers), response.content


def test_sign_in_tells_nothing_about_whether_an_address_has_an_account(stack, mailbox):
    # Five mails per address: five amishis answer the four requests each has left after signing in.
    known = []
    for n in range(5):
        address = unique_address(f"known{n}")
        with requests.Session() as session:
            sign_in(stack, mailbox, session, address)
        known += [address] * 4
    unknown = [unique_address("nobody") for _ in known]
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    answers: dict[str, set[Comparable]] = {"known": set(), "unknown": set()}
    with requests.Session() as session:
        session.post(stack.url + "/api/auth/signin", json={"email": unique_address("warm")}, timeout=10)
        for pair in zip(known, unknown, strict=True):
            for kind, address in zip(("known", "unknown"), pair, strict=True):
                started = time.perf_counter()
                answer = session.post(stack.url + "/api/auth/signin", json={"email": address}, timeout=10)
                times[kind].append(time.perf_counter() - started)
                answers[kind].add(comparable(answer))
    assert len(answers["known"]) == 1 and answers["known"] == answers["unknown"], answers
    assert next(iter(answers["known"]))[0] == 202
    # Generous for a loaded 2-core machine, where the medians lie a few ms apart; work done for
    # one kind of address alone (a mail sent inline, a lookup with a timeout) would show.
    gap = abs(statistics.median(times["known"]) - statistics.median(times["unknown"]))
    assert gap < 0.05, (gap, times)


# --- the gateway ------------------------------------------------------------------------


def chunked(size: int) -> bytes:
    chunk = b"x" * 65536
    parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * (size // len(chunk))
    return b"".join(parts) + b"0\r\n\r\n"


# A body with Content-Length over 1 MiB is test_gateway.py::test_a_2mb_body_is_413_json.
OVERSIZED = {
    "2 MiB chunked, no length given": (
        {"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        chunked(2 << 20),
        413,
        "Payload Too Large",
    ),
    "640 KiB chunked: under the gateway's cap, over the service's": (
        {"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        chunked(640 << 10),
        413,
        "413 Content Too Large",
    ),
    "a 6 KiB header": ({"X-Padding": "x" * 6144, "Content-Type": "application/json"}, b"{}", 400, "Bad Request"),
    "a huge length announced": (
        {"Content-Length": str(1 << 40), "Content-Type": "application/json"},
        b"",
        413,
        "Payload Too Large",
    ),
}


def read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """An answer's head and body, read as soon as they are complete (nginx may linger before closing)."""
    reply = b""
    while True:
        head, separator, payload = reply.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        if separator and length and len(payload) >= int(length.group(1)):
            return head, payload
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""  # the answer came before the reset, or the caller's assertions say it did not
        if not chunk:
            return head, payload
        reply += chunk


@pytest.mark.parametrize("headers,body,status,title", OVERSIZED.values(), ids=OVERSIZED.keys())
def test_oversized_requests_are_refused_in_json(stack, headers, body, status, title):
    with socket.create_connection(("127.0.0.1", PROFILE.gateway_port), timeout=20) as sock:
        lines = [
            "POST /api/cotos HTTP/1.1",
            f"Host: 127.0.0.1:{PROFILE.gateway_port}",
            "Connection: close",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # refused before the whole body: wanted
            sock.sendall(body)
        head, payload = read_answer(sock)
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), head[:200]
    assert b"Content-Type: application/json" in head and json.loads(payload)["title"] == title


def closed_or_timed_out(sock: socket.socket, deadline: float, trickle: bytes) -> float:
    """Trickles a byte string into the socket once a second until the gateway ends the request; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() < deadline:
        try:
            sock.sendall(trickle)
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - started
        readable, _, _ = select.select([sock], [], [], 1.0)
        if readable:
            reply = sock.recv(4096)
            assert reply == b"" or reply.startswith(b"HTTP/1.1 408"), reply[:200]
            return time.monotonic() - started
    pytest.fail("the gateway kept a trickling client")


def test_a_client_trickling_its_headers_is_cut_off(stack):
    # client_header_timeout (10 s) bounds the whole header, however steadily it trickles in.
    with socket.create_connection(("127.0.0.1", PROFILE.gateway_port), timeout=30) as sock:
        sock.sendall(b"GET /api/cotos HTTP/1.1\r\nHost: x\r\n")
        took = closed_or_timed_out(sock, time.monotonic() + 25, b"X-Slow: 1\r\n")
    assert took < 20


def test_slow_bodies_hold_no_service(stack):
    """More slow uploads than the cotos service has threads (2 instances x 2 workers x 4): the
    gateway buffers them, so the service answers everyone else meanwhile."""
    sockets = []
    try:
        for _ in range(24):
            sock = socket.create_connection(("127.0.0.1", PROFILE.gateway_port), timeout=10)
            sock.sendall(
                b"POST /api/cotos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"content": "'
            )
            sockets.append(sock)
        started = time.monotonic()
        with requests.Session() as other:
            other.headers["Origin"] = stack.url
            assert other.post(stack.url + "/api/cotos", json={"content": "meanwhile"}, timeout=5).status_code == 201
            assert other.get(stack.url + "/api/cotos", timeout=5).json()["cotos"][0]["content"] == "meanwhile"
        assert time.monotonic() - started < 5
    finally:
        for sock in sockets:
            sock.close()


SPOOFED_HOSTS = [{"Host": "evil.example"}, {"X-Forwarded-Host": "evil.example"}, {"Forwarded": "host=evil.example"}]


@pytest.mark.parametrize("spoofed", SPOOFED_HOSTS, ids=[next(iter(h)) for h in SPOOFED_HOSTS])
def test_a_spoofed_host_cannot_redirect_a_sign_in_link(stack, mailbox, spoofed):
    address = unique_address()
    mailbox.new_link_token(
        address,
        lambda: requests.post(
            stack.url + "/api/auth/signin", json={"email": address}, headers=spoofed, timeout=10
        ).raise_for_status(),
    )
    text = mailbox.mails_to(address)[-1]["text"]
    assert f"{stack.url}/signin/" in text and "evil.example" not in text


# --- the page: security headers everywhere --------------------------------------------------

# "/" itself is test_gateway.py::test_serves_the_web_client_with_security_headers.
PAGES = [
    ("the confirm page", "GET", "/signin/" + "A" * 43, None, 200, "no-referrer"),
    ("a cotonoma's page", "GET", "/cotonomas/somekey12345", None, 200, "same-origin"),
    ("the script", "GET", "/app.js", None, 200, "same-origin"),
    ("an API answer", "GET", "/api/cotos", None, 200, "same-origin"),
    ("a service's error", "GET", "/api/cotos/00000000-0000-7000-8000-000000000000", None, 404, "same-origin"),
    ("a service's refusal", "POST", "/api/cotos", b"x=1", 415, "same-origin"),
    ("the gateway's 404", "GET", "/nothing-here", None, 404, "same-origin"),
    ("the gateway's 400", "GET", "/../etc/passwd", None, 400, "same-origin"),
    ("the gateway's 413", "POST", "/api/cotos", b"x" * (1 << 21), 413, "same-origin"),
    ("the gateway's 414", "GET", "/api/cotos/" + "9" * 5000, None, 414, "same-origin"),
]


def directives(csp: str) -> dict[str, list[str]]:
    return {parts[0].lower(): parts[1:] for parts in (d.split() for d in csp.split(";")) if parts}


@pytest.mark.parametrize("method,path,body,status,referrer", [p[1:] for p in PAGES], ids=[p[0] for p in PAGES])
def test_every_answer_carries_the_security_headers(stack, method, path, body, status, referrer):
    status_got, headers, _ = stack.raw(
        method, path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status_got == status
    csp = directives(headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"], "no inline script, no eval, no other origin"
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"] and headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == referrer
