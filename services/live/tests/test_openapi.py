from cotoami_testing.contracts import OpenApiContract


class TestOpenApiContract(OpenApiContract):
    pass
