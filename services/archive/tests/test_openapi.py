from cotoami_testing.contracts import OpenApiContract


class TestOpenApiContract(OpenApiContract):
    """openapi.yaml is valid and lists exactly the routes and methods the app serves."""
