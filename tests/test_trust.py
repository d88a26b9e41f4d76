"""What the services believe, end to end: the client address and scheme only
from a trusted proxy (a service's own port, reached from elsewhere, takes no
X-Real-IP), answers no cache keeps, an access token in one spelling only, and
mail addresses refused at the door."""

import base64
import http.client
import json
from collections.abc import Iterator

import pytest
import redis
import requests
from conftest import PROFILE, Json, Mailbox, Person, unique_address

# Not the gateway: on Linux every 127.0.0.0/8 address is this machine's, and
# TRUSTED_PROXIES trusts 127.0.0.1 alone of them.
ELSEWHERE = "127.0.0.5"
SPOOFED = {"X-Real-IP": "6.6.6.6", "X-Forwarded-For": "6.6.6.6"}
# The order of P-256's group: a signature (r, s) verifies as (r, n - s) too.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def direct(
    service: str, method: str, path: str, body: Json, headers: dict[str, str], source: str = ELSEWHERE
) -> tuple[int, http.client.HTTPResponse, bytes]:
    """A request to the service's own port (bypassing the gateway), sent from `source`."""
    port = PROFILE.service_port(service)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request(method, path, body=json.dumps(body), headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        return response.status, response, response.read()
    finally:
        conn.close()


@pytest.fixture
def stack_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(PROFILE.redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def counters(stack_redis) -> Iterator[dict[str, str]]:
    """The per-client counters of ELSEWHERE, each put back as it was afterwards."""
    keys = {
        "signin": f"ratelimit:signin:client:{ELSEWHERE}",
        "anonymous writes": f"ratelimit:anonymous-writes:{ELSEWHERE}",
    }
    saved = {key: (stack_redis.get(key), stack_redis.ttl(key)) for key in keys.values()}
    yield keys
    for key, (value, ttl) in saved.items():
        if value is None:
            stack_redis.delete(key)
        else:
            stack_redis.set(key, value, ex=max(ttl, 1))


def mail_settled(stack, stack_redis: redis.Redis) -> None:
    """Waits until the mailer has settled every queued job: a mail not in maildev then was never queued."""
    stack.wait_until(lambda: stack_redis.xlen("mail") == 0, 30, "the mail queue drained")


# --- the client, as a trusted proxy tells it or as it connected ----------------------


def test_on_a_services_own_port_the_sign_in_mail_names_the_real_peer(stack, mailbox: Mailbox, counters):
    address = unique_address()
    status, _, body = direct("auth", "POST", "/api/auth/signin", {"email": address}, SPOOFED)
    assert status == 202, body
    text = mailbox.wait_for(address)[0]["text"]
    assert f"from the address {ELSEWHERE}." in text and "6.6.6.6" not in text


def test_on_a_services_own_port_a_spoofed_client_gets_no_fresh_rate_limit_bucket(
    stack, mailbox: Mailbox, stack_redis, counters
):
    key = counters["signin"]
    before = int(stack_redis.get(key) or 0)
    status, _, body = direct("auth", "POST", "/api/auth/signin", {"email": unique_address()}, SPOOFED)
    assert status == 202, body
    assert int(stack_redis.get(key)) == before + 1, "counted for the peer, not for the address it claimed"
    # Where SIGNIN_LIMIT_PER_CLIENT requests leave the counter (10,000 here: too many to send in a test).
    stack_redis.set(key, PROFILE.auth_limit_per_client, ex=900)
    refused = unique_address()
    for headers in (SPOOFED, {"X-Real-IP": "198.51.100.1"}, {}):
        status, response, body = direct("auth", "POST", "/api/auth/signin", {"email": refused}, headers)
        assert status == 429 and 0 < int(response.headers["Retry-After"]) <= 900, body
    mail_settled(stack, stack_redis)
    assert mailbox.mails_to(refused) == []


def test_on_a_services_own_port_spoofed_anonymous_writes_are_counted_for_the_peer(stack, stack_redis, counters):
    stack_redis.set(counters["anonymous writes"], PROFILE.anonymous_writes_per_client, ex=900)
    status, _, body = direct("cotos", "POST", "/api/cotos", {"content": "spoofed"}, SPOOFED)
    assert status == 429 and json.loads(body)["title"] == "Too many writes", body


@pytest.mark.parametrize("source,secure", [(ELSEWHERE, False), ("127.0.0.1", True)], ids=["elsewhere", "the gateway"])
def test_x_forwarded_proto_makes_cookies_secure_only_from_a_trusted_proxy(stack, source, secure):
    status, response, body = direct(
        "cotos", "POST", "/api/cotos", {"content": "which scheme"}, {"X-Forwarded-Proto": "https"}, source
    )
    assert status == 201, body
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("anonymous_id=") and ("; Secure" in cookie) is secure, cookie


# --- JSON in any letter case; the site's origin exactly --------------------------------

# One write per service that takes a body, and what it answers when it is done.
WRITES = {
    "cotos": ("POST", "/api/cotos", {"content": "any case"}, 201),
    "cotonomas": ("POST", "/api/cotonomas", {"name": "Any case"}, 201),
    "auth": ("POST", "/api/auth/signin", {"email": "any-case@example.com"}, 202),
}


@pytest.mark.parametrize("media_type", ["Application/JSON", "APPLICATION/JSON; Charset=UTF-8"])
@pytest.mark.parametrize("service", WRITES)
def test_json_is_json_in_any_letter_case(owner: Person, service, media_type):
    method, path, body, done = WRITES[service]
    answer = owner.call(method, path, data=json.dumps(body), headers={"Content-Type": media_type})
    assert answer.status_code == done, answer.text


@pytest.mark.parametrize(
    "origin",
    [f"{PROFILE.public_url}/", f"{PROFILE.public_url}/somewhere", PROFILE.public_url.upper(), "null"],
    ids=["a trailing slash", "a path", "upper case", "null"],
)
@pytest.mark.parametrize("service", WRITES)
def test_an_origin_that_is_not_exactly_the_sites_is_refused_and_changes_nothing(
    owner: Person, stack_redis, service, origin
):
    method, path, body, _ = WRITES[service]
    before = [
        owner.call("GET", "/api/cotos").json(),
        owner.call("GET", "/api/cotonomas").json(),
        stack_redis.xlen("mail"),
    ]
    answer = owner.call(method, path, json=body, headers={"Origin": origin})
    assert answer.status_code == 403, answer.text
    assert "origin" in answer.json()["description"]
    after = [
        owner.call("GET", "/api/cotos").json(),
        owner.call("GET", "/api/cotonomas").json(),
        stack_redis.xlen("mail"),
    ]
    assert after == before


# --- no answer is kept by a cache ------------------------------------------------------


def test_every_services_answers_through_the_gateway_are_never_stored(stack, owner: Person):
    cotonoma = owner.create("Kept by no cache")
    owner.post("in it", cotonoma["key"])
    answers = {
        "timeline": owner.call("GET", "/api/cotos"),
        "a cotonoma's timeline": owner.call("GET", "/api/cotos", params={"cotonoma": cotonoma["key"]}),
        "a cotonoma": owner.call("GET", f"/api/cotonomas/{cotonoma['key']}"),
        "the cotonomas": owner.call("GET", "/api/cotonomas"),
        "its members": owner.call("GET", f"/api/cotonomas/{cotonoma['key']}/members"),
        "the session": owner.call("GET", "/api/auth/session"),
        "a new coto": owner.call("POST", "/api/cotos", json={"content": "new"}),
        "an anonymous timeline": requests.get(stack.url + "/api/cotos", timeout=10),
        "a service's own 404": owner.call("GET", "/api/cotonomas/no-such-cotonoma"),
    }
    for what, answer in answers.items():
        assert answer.status_code < 500, (what, answer.text)
        assert answer.headers.get("Cache-Control") == "no-store", what


# --- an access token has one spelling ----------------------------------------------------


def b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def s_of(token: str) -> int:
    return int.from_bytes(b64decode(token.rsplit(".", 1)[1])[32:], "big")


def with_other_s(token: str) -> str:
    """The same token signed (r, n - s): a signature of the same claims, which verifies too."""
    signing_input, signature = token.rsplit(".", 1)
    raw = b64decode(signature)
    flipped = P256_ORDER - int.from_bytes(raw[32:], "big")
    return f"{signing_input}.{b64encode(raw[:32] + flipped.to_bytes(32, 'big'))}"


def test_an_access_token_with_its_signatures_other_s_is_refused_by_every_service(stack, owner: Person):
    token = owner.session.cookies["access_token"]
    for path in ("/api/auth/session", "/api/cotos", "/api/cotonomas"):
        genuine = requests.get(stack.url + path, cookies={"access_token": token}, timeout=10)
        assert genuine.status_code == 200, (path, genuine.text)
        flipped = requests.get(stack.url + path, cookies={"access_token": with_other_s(token)}, timeout=10)
        assert flipped.status_code == 401 and flipped.json()["title"] == "Invalid session", (path, flipped.text)


def test_every_access_token_auth_issues_is_low_s_and_taken(stack, owner: Person):
    # Half of all ECDSA signatures have a high s: 20 low ones in a row are not chance.
    for _ in range(20):
        refreshed = owner.call("POST", "/api/auth/refresh")
        assert refreshed.status_code == 200, refreshed.text
        token = refreshed.cookies["access_token"]
        assert s_of(token) <= P256_ORDER // 2
        session = requests.get(stack.url + "/api/auth/session", cookies={"access_token": token}, timeout=10)
        assert session.json()["amishi"]["id"] == owner.amishi["id"]


# --- mail addresses at the door -----------------------------------------------------------


def not_addresses() -> list[str]:
    """Addresses the mailer could not send to, each unique to this run so that no mail to it is another test's."""
    tag = unique_address("x").split("@")[0]
    return [f"a..{tag}@example.com", f".{tag}@example.com", f"{tag}.@example.com"]


def test_sign_in_refuses_what_is_not_a_mail_address_and_mails_nothing(stack, mailbox: Mailbox, stack_redis):
    addresses = not_addresses()
    for address in addresses:
        answer = requests.post(stack.url + "/api/auth/signin", json={"email": address}, timeout=10)
        assert answer.status_code == 400 and answer.json()["title"] == "Invalid email", (address, answer.text)
    mail_settled(stack, stack_redis)
    assert [mailbox.mails_to(address) for address in addresses] == [[] for _ in addresses]


def test_members_refuse_what_is_not_a_mail_address(stack, owner: Person, stack_redis, mailbox: Mailbox):
    key = owner.create("Careful invitations")["key"]
    addresses = not_addresses()
    for address in addresses:
        answer = owner.call("POST", f"/api/cotonomas/{key}/members", json={"email": address})
        assert answer.status_code == 400 and answer.json()["title"] == "Invalid email", (address, answer.text)
    assert owner.call("GET", f"/api/cotonomas/{key}/members").json()["members"] == []
    mail_settled(stack, stack_redis)
    assert [mailbox.mails_to(address) for address in addresses] == [[] for _ in addresses]
