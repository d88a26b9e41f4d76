import pytest
from under_gunicorn import run_gunicorn

pytest_plugins = ["cotoami_testing.fixtures"]

gunicorn = pytest.fixture(run_gunicorn)
