"""Importing this puts a test run's metrics in multiprocess mode, as gunicorn's
workers keep them: PROMETHEUS_MULTIPROC_DIR is set (to a new temporary
directory, which cotoami_common.testing's `metrics_dir` fixture removes at the
end) before anything imports prometheus_client, which chooses the mode then.

A service's conftest.py imports it before anything that imports its app.
"""

import os
import sys
import tempfile

MADE_METRICS_DIR: str | None = None

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    if "prometheus_client" in sys.modules:
        raise ImportError(
            "import cotoami_common.testing_env before anything that imports prometheus_client"
            " (the app): metrics must be kept in multiprocess mode, as under gunicorn"
        )
    MADE_METRICS_DIR = tempfile.mkdtemp(prefix="cotoami-test-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = MADE_METRICS_DIR
