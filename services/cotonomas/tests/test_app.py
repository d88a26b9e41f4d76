from cotoami_common.testing import ServiceContract


class TestServiceContract(ServiceContract):
    """Health, readiness, JSON errors, request ids and config errors, as every service."""
