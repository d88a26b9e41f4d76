from falcon import testing

from cotoami_common.testing import ServiceContract


class TestServiceContract(ServiceContract):
    """Health, readiness, JSON errors, request ids and config errors, as every service."""


def test_readyz_reports_whether_the_mail_worker_runs(make_app, start_worker):
    worker = start_worker()
    client = testing.TestClient(make_app({"worker": worker.check}))
    assert client.simulate_get("/readyz").json == {"status": "ready", "checks": {"worker": "ok"}}
    worker.stop()
    result = client.simulate_get("/readyz")
    assert result.status_code == 503 and result.json == {"status": "not ready", "checks": {"worker": "failing"}}
