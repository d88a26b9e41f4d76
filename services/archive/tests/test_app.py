from cotoami_testing.contracts import ServiceContract, TokenAndCredentialContract


class TestServiceContract(ServiceContract):
    """Health, readiness, JSON errors, request ids and config errors, as every service."""


class TestTokenAndCredentialContract(TokenAndCredentialContract):
    """The access-token keys and the service credential, as every service that uses them."""
