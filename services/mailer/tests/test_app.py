import dataclasses

from falcon import testing

from cotoami_testing.contracts import ServiceContract
from mailer.app import create_app


class TestServiceContract(ServiceContract):
    """Health, readiness, JSON errors, request ids and config errors, as every service."""


def test_health_and_readiness_report_whether_the_mail_worker_runs(config_for, deps, start_worker):
    worker = start_worker()
    client = testing.TestClient(create_app(config_for(), dataclasses.replace(deps, liveness={"worker": worker.check})))
    assert client.simulate_get("/readyz").json == {"status": "ready", "checks": {"worker": "ok"}}
    assert client.simulate_get("/healthz").json == {"status": "ok", "checks": {"worker": "ok"}}
    worker.stop()
    # A dead worker thread is a broken process: the liveness probe fails and Kubernetes restarts it.
    result = client.simulate_get("/readyz")
    assert result.status_code == 503 and result.json == {"status": "not ready", "checks": {"worker": "failing"}}
    alive = client.simulate_get("/healthz")
    assert alive.status_code == 503 and alive.json == {"status": "failing", "checks": {"worker": "failing"}}
