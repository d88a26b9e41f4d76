import pytest

from cotoami_testing.contracts import ServiceContract, TokenAndCredentialContract
from cotoami_testing.fixtures import INTERNAL_TOKEN

PUBLIC_ROUTES = [
    ("GET", "/api/cotonomas", None),
    ("POST", "/api/cotonomas", {"name": "Ideas"}),
    ("GET", "/api/cotonomas/key-00001", None),
    ("PATCH", "/api/cotonomas/key-00001", {"name": "Ideas"}),
    ("GET", "/api/cotonomas/key-00001/members", None),
    ("POST", "/api/cotonomas/key-00001/members", {"email": "bob@example.com"}),
    ("DELETE", "/api/cotonomas/key-00001/members/bob@example.com", None),
]


class TestServiceContract(ServiceContract):
    """Health, readiness, JSON errors, request ids and config errors, as every service."""


class TestTokenAndCredentialContract(TokenAndCredentialContract):
    """The access-token keys and the service credential, as every service that uses them."""


@pytest.mark.parametrize("method,path,body", PUBLIC_ROUTES)
def test_every_public_route_asks_the_anonymous_to_sign_in(client, method, path, body, rows):
    result = client.simulate_request(method, path, json=body)
    assert result.status_code == 401 and result.json["title"] == "Sign in"
    assert rows() == []


@pytest.mark.parametrize("cookie", ["access_token=forged", "access_token=a.b.c"])
def test_a_bad_access_token_is_401(client, cookie):
    result = client.simulate_get("/api/cotonomas", headers={"Cookie": cookie})
    assert result.status_code == 401 and result.json["title"] == "Invalid session"


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {INTERNAL_TOKEN}", f"Bearer {INTERNAL_TOKEN}x"]
)
def test_the_internal_route_needs_the_service_credential(client, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    result = client.simulate_get(
        "/internal/cotonomas/key-00001/access",
        params={"amishi_id": "00000000-0000-4000-8000-000000000001", "email": "a@b.co"},
        headers=headers,
    )
    assert result.status_code == 401 and result.json["title"] == "Unauthorized"
