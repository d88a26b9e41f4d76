import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from falcon import testing
from prometheus_client.parser import text_string_to_metric_families
from under_gunicorn import get, worker_pids

from cotoami_common.metrics import REQUESTS, counter, route_label, sample_names
from cotoami_common.web import new_app
from cotoami_testing.fixtures import sample, scrape

HERE = Path(__file__).resolve().parent
KINDS = ("cotoami_http_requests_total", "cotoami_http_request_duration_seconds_count")


class Thing:
    def on_get(self, req, resp, thing_id):
        resp.media = {"id": thing_id}

    def on_put_item(self, req, resp, thing_id, part):
        resp.media = {"id": thing_id, "part": part}

    def on_post(self, req, resp, thing_id):
        raise RuntimeError("boom")


class Internal:
    def on_get(self, req, resp, key):
        resp.media = {"key": key}


@pytest.fixture
def client():
    app = new_app(
        max_body_bytes=1024, allowed_origins=["https://cotoami.example"], trusted_proxies=[], internal_token="secret"
    )
    app.add_route("/things/{thing_id:int}", Thing())
    app.add_route("/things/{thing_id:int}/parts/{part}", Thing(), suffix="item")
    app.add_route("/internal/keys/{key}", Internal())
    return testing.TestClient(app)


def labels(route: str, method: str, status: int) -> dict[str, str]:
    return {"route": route, "method": method, "status": str(status)}


def counts(client, route, method, status) -> tuple[float, float]:
    found = scrape(client)
    key = frozenset(labels(route, method, status).items())
    requests, durations = (found.get((name, key), 0.0) for name in KINDS)
    return requests, durations


def test_metrics_are_served_in_the_text_exposition_format(client):
    client.simulate_get("/things/1")
    result = client.simulate_get("/metrics")
    assert result.status_code == 200
    assert result.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {family.name: family for family in text_string_to_metric_families(result.text)}
    assert families["cotoami_http_requests"].type == "counter"
    assert families["cotoami_http_request_duration_seconds"].type == "histogram"
    assert "# TYPE cotoami_http_requests_total counter" in result.text


def test_a_request_moves_the_counter_and_the_histogram_under_its_route_template(client):
    before = counts(client, "/things/{thing_id}", "GET", 200)
    assert client.simulate_get("/things/41").status_code == 200
    assert client.simulate_get("/things/42").status_code == 200
    after = counts(client, "/things/{thing_id}", "GET", 200)
    assert after == (before[0] + 2, before[1] + 2)
    found = scrape(client)
    # The histogram's buckets are cumulative: the +Inf one holds every request.
    inf = frozenset({**labels("/things/{thing_id}", "GET", 200), "le": "+Inf"}.items())
    assert found[("cotoami_http_request_duration_seconds_bucket", inf)] == after[1]
    assert (
        found[
            ("cotoami_http_request_duration_seconds_sum", frozenset(labels("/things/{thing_id}", "GET", 200).items()))
        ]
        > 0
    )
    # Never the raw path, which holds ids.
    assert not [key for key in found if "/things/4" in dict(key[1]).get("route", "")]


def test_suffixed_routes_errors_and_refusals_keep_their_route(client):
    before = {
        "item": counts(client, "/things/{thing_id}/parts/{part}", "PUT", 200),
        "error": counts(client, "/things/{thing_id}", "POST", 500),
        "too_large": counts(client, "/things/{thing_id}", "POST", 413),
        "credential": counts(client, "/internal/keys/{key}", "GET", 401),
        "unmatched": counts(client, "(unmatched)", "GET", 404),
    }
    client.simulate_put("/things/1/parts/wheel", json={})
    client.simulate_post("/things/1", json={})
    # Refused by middleware before routing: still counted under the route it was for.
    client.simulate_post("/things/1", json={"x": "y" * 2000})
    client.simulate_get("/internal/keys/abc")
    client.simulate_get("/nothing/here/7")
    client.simulate_get("/things/not-an-int")  # the converter refuses it: no route
    after = {
        "item": counts(client, "/things/{thing_id}/parts/{part}", "PUT", 200),
        "error": counts(client, "/things/{thing_id}", "POST", 500),
        "too_large": counts(client, "/things/{thing_id}", "POST", 413),
        "credential": counts(client, "/internal/keys/{key}", "GET", 401),
        "unmatched": counts(client, "(unmatched)", "GET", 404),
    }
    grew = {name: (after[name][0] - before[name][0], after[name][1] - before[name][1]) for name in before}
    assert grew == {"item": (1, 1), "error": (1, 1), "too_large": (1, 1), "credential": (1, 1), "unmatched": (2, 2)}


def test_unknown_methods_are_one_label(client):
    before = sample(client, "cotoami_http_requests_total", **labels("/things/{thing_id}", "OTHER", 400))
    with pytest.warns(Warning):  # wsgiref's validator, which the test client uses, warns of them too
        assert client.simulate_request("BREW", "/things/1").status_code == 400
        client.simulate_request("FROBNICATE", "/things/1")
    assert sample(client, "cotoami_http_requests_total", **labels("/things/{thing_id}", "OTHER", 400)) == before + 2
    assert not re.search(r'method="(BREW|FROBNICATE)"', client.simulate_get("/metrics").text)


def test_metrics_need_no_credential_and_are_not_logged(client, caplog):
    with caplog.at_level("INFO", logger="cotoami.http"):
        assert client.simulate_get("/metrics").status_code == 200
    assert not [record for record in caplog.records if "/metrics" in record.getMessage()]


@pytest.mark.parametrize(
    "template,label",
    [
        ("/api/cotos/{coto_id:uuid}", "/api/cotos/{coto_id}"),
        ("/api/cotonomas/{key}/members/{email}", "/api/cotonomas/{key}/members/{email}"),
        ("/a/{n:int(min=1)}/b", "/a/{n}/b"),
        (None, "(unmatched)"),
    ],
)
def test_route_labels(template, label):
    assert route_label(template) == label


def test_domain_counters_are_named_cotoami_something_total():
    with pytest.raises(ValueError):
        counter("signins", "no prefix")
    with pytest.raises(ValueError):
        counter("cotoami_signins", "no _total")


def test_sample_names_are_what_queries_name():
    assert sample_names([REQUESTS]) == {"cotoami_http_requests_total"}


def test_the_metrics_directory_is_the_test_runs(metrics_dir):
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(metrics_dir)
    assert list(metrics_dir.glob("*.db")), "the values are kept in files, as under gunicorn"


# --- under gunicorn, with several workers ------------------------------------------------


def scraped_hello_count(url: str) -> float | None:
    """The count of /hello requests a scrape reports; None when the scrape met a
    connection reset (one queued for a worker just killed)."""
    try:
        return hello_count(get(f"{url}/metrics")[1])
    except ConnectionError:
        return None


def hello_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "cotoami_http_requests_total" and s.labels.get("route") == "/hello/{name}":
                return s.value
    return 0.0


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output: str = process.communicate(timeout=15)[0]
    return output


def test_every_workers_requests_are_counted_and_outlive_the_worker(gunicorn, tmp_path):
    process, url = gunicorn(TMPDIR=str(tmp_path))
    (made,) = tmp_path.glob("cotoami-metrics-metrics-test-*")
    for n in range(30):
        assert get(f"{url}/hello/n{n}")[0] == 200
    # Whichever worker answers the scrape reports both workers' requests.
    assert hello_count(get(f"{url}/metrics")[1]) == 30
    assert len({path.name.split("_")[-1] for path in made.glob("counter_*.db")}) >= 1
    # A worker that dies (gunicorn starts another) still counts.
    os.kill(worker_pids(process.pid)[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while scraped_hello_count(url) != 30 or len(worker_pids(process.pid)) != 2:
        assert time.monotonic() < deadline, "the dead worker's requests were lost"
        time.sleep(0.1)
    # The new worker joining the port's listeners can reset a connection in flight (SO_REUSEPORT).
    while True:
        try:
            assert get(f"{url}/hello/again")[0] == 200
            break
        except ConnectionError:
            assert time.monotonic() < deadline, "the new worker did not answer"
            time.sleep(0.1)
    assert hello_count(get(f"{url}/metrics")[1]) >= 31
    stop(process)
    assert not made.exists(), "the master removes the directory it made"


def test_a_given_metrics_directory_is_emptied_at_start(gunicorn, tmp_path):
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_1.db").write_bytes(b"left by an earlier run")
    process, url = gunicorn(PROMETHEUS_MULTIPROC_DIR=str(given))
    assert get(f"{url}/hello/ann")[0] == 200
    assert hello_count(get(f"{url}/metrics")[1]) == 1
    assert not (given / "counter_1.db").exists()
    stop(process)
    assert given.exists(), "a directory the operator named is left in place"
