from pathlib import Path

from cotoami_common.testing import OpenApiContract


class TestOpenApiContract(OpenApiContract):
    """openapi.yaml is valid and lists exactly the routes and methods the app serves."""

    document_path = Path(__file__).parents[1] / "openapi.yaml"
