"""What every service's tests share, kept out of the images: a database of its
own with the service's migrations applied, a Redis database wiped around each
test, helpers for test doubles (`cotoami_testing.fixtures`) and the contract
every service keeps (`cotoami_testing.contracts`).

A service's conftest.py imports this package before anything that imports its
app, enables the fixtures with `pytest_plugins = ["cotoami_testing.fixtures"]`
and provides `service_dir`, `config_class` and `make_app(checks)`; its
test_app.py subclasses ServiceContract, its test_openapi.py OpenApiContract.

Importing it puts the test run's metrics in multiprocess mode, as gunicorn's
workers keep them: PROMETHEUS_MULTIPROC_DIR is set (to a new temporary
directory, which the `metrics_dir` fixture removes at the end) before anything
imports prometheus_client, which chooses the mode then.
"""

import os
import sys
import tempfile

import pytest

MADE_METRICS_DIR: str | None = None

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    if "prometheus_client" in sys.modules:
        raise ImportError(
            "import cotoami_testing before anything that imports prometheus_client"
            " (the app): metrics must be kept in multiprocess mode, as under gunicorn"
        )
    MADE_METRICS_DIR = tempfile.mkdtemp(prefix="cotoami-test-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = MADE_METRICS_DIR

# Their asserts explain a failure as a test's own do; conftest.py imports them
# before pytest would rewrite them as plugins.
pytest.register_assert_rewrite("cotoami_testing.fixtures", "cotoami_testing.contracts")
