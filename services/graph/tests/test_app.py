from cotoami_testing.contracts import ServiceContract, TokenAndCredentialContract


class TestServiceContract(ServiceContract):
    """Health, readiness, JSON errors, request ids, metrics, migrations and config, as every service."""


class TestTokenAndCredential(TokenAndCredentialContract):
    """Auth's keys and the service credential are required; the credential never shows."""
