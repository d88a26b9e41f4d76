import copy
import re

import pytest
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from cotoami_common.health import add_health_routes
from cotoami_common.web import new_app
from cotoami_testing.contracts import OpenApiContract, documented_operations, served_operations


class Things:
    def on_get(self, req, resp):
        resp.media = {"things": []}

    def on_post(self, req, resp):
        resp.status = 201

    def on_get_item(self, req, resp, thing_id):
        resp.media = {"thing": str(thing_id)}

    def on_delete_item(self, req, resp, thing_id):
        resp.status = 204


class Secret:
    def on_put(self, req, resp, key):
        resp.media = {}


def make_things_app(checks=None):
    app = new_app(
        max_body_bytes=1024, allowed_origins=["http://127.0.0.1:8000"], trusted_proxies=[], internal_token="t"
    )
    add_health_routes(app, checks or {})
    things = Things()
    app.add_route("/api/things", things)
    app.add_route("/api/things/{thing_id:uuid}", things, suffix="item")
    app.add_route("/internal/secrets/{key}", Secret())
    return app


def _operation(status: str) -> dict[str, object]:
    return {"responses": {status: {"description": "as said"}}}


DOCUMENT: dict[str, object] = {
    "openapi": "3.1.0",
    "info": {"title": "things", "version": "1"},
    "paths": {
        "/api/things": {"get": _operation("200"), "post": _operation("201")},
        "/api/things/{thing_id}": {"$ref": "#/components/pathItems/Thing"},
        "/internal/secrets/{key}": {
            "parameters": [{"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
            "put": _operation("200") | {"security": [{"credential": []}]},
        },
        "/healthz": {"get": _operation("200")},
        "/readyz": {"get": _operation("200")},
        "/metrics": {"get": _operation("200")},
    },
    "components": {
        "securitySchemes": {"credential": {"type": "http", "scheme": "bearer"}},
        "pathItems": {
            "Thing": {
                "parameters": [
                    {"name": "thing_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
                ],
                "get": _operation("200"),
                "delete": _operation("204"),
            },
        },
    },
}

SERVED = {
    ("/api/things", "get"),
    ("/api/things", "post"),
    ("/api/things/{thing_id}", "get"),
    ("/api/things/{thing_id}", "delete"),
    ("/internal/secrets/{key}", "put"),
    ("/healthz", "get"),
    ("/readyz", "get"),
    ("/metrics", "get"),
}


def test_served_operations_are_the_resources_own_responders_suffixed_ones_included():
    # Not Falcon's 405 and OPTIONS responders, which every route has.
    assert served_operations(make_things_app()) == SERVED


def test_documented_operations_follow_path_item_references():
    assert documented_operations(DOCUMENT) == SERVED


class TestOpenApiContract(OpenApiContract):
    """The contract holds for an app and a document that agree."""

    @pytest.fixture
    def document(self) -> dict[str, object]:
        return copy.deepcopy(DOCUMENT)

    @pytest.fixture
    def make_app(self):
        return make_things_app


def _at(document: dict[str, object], *keys: str) -> dict[str, object]:
    """The JSON object at document[keys[0]][keys[1]]..."""
    node = document
    for key in keys:
        child = node[key]
        assert isinstance(child, dict), f"{key} holds no JSON object"
        node = child
    return node


@pytest.fixture
def contract() -> TestOpenApiContract:
    return TestOpenApiContract()


def test_a_route_missing_from_the_document_fails_the_contract(contract):
    document = copy.deepcopy(DOCUMENT)
    del _at(document, "components", "pathItems", "Thing")["delete"]
    with pytest.raises(
        AssertionError, match=r"served but not in openapi.yaml: \[\('/api/things/\{thing_id\}', 'delete'\)\]"
    ):
        contract.test_every_route_served_is_documented(make_things_app, document)


def test_an_operation_the_app_does_not_serve_fails_the_contract(contract):
    document = copy.deepcopy(DOCUMENT)
    _at(document, "paths", "/api/things")["patch"] = _operation("200")
    with pytest.raises(AssertionError, match=r"in openapi.yaml but not served: \[\('/api/things', 'patch'\)\]"):
        contract.test_every_documented_operation_is_served(make_things_app, document)


def test_an_invalid_document_fails_the_contract(contract):
    document = copy.deepcopy(DOCUMENT)
    del _at(document, "paths", "/api/things", "get", "responses", "200")["description"]
    with pytest.raises(OpenAPIValidationError):
        contract.test_the_document_is_valid_openapi(document)


@pytest.mark.parametrize("security", [[], [{}], [{}, {"credential": []}], [{"cookie": []}]])
def test_an_internal_operation_open_without_the_credential_fails_the_contract(contract, security):
    document = copy.deepcopy(DOCUMENT)
    _at(document, "components", "securitySchemes")["cookie"] = {"type": "apiKey", "in": "cookie", "name": "c"}
    _at(document, "paths", "/internal/secrets/{key}", "put")["security"] = security
    with pytest.raises(
        AssertionError, match=re.escape("PUT /internal/secrets/{key} must require the bearer credential alone")
    ):
        contract.test_internal_operations_require_the_service_credential(document)
