"""The cotonomas service's domain counter, read through its own /metrics."""

from cotoami_testing.fixtures import sample


def created(client, place: str) -> float:
    return sample(client, "cotoami_cotonomas_created_total", place=place)


def test_cotonomas_created_are_counted_top_level_and_nested(client, ann, cotos_double):
    before = {place: created(client, place) for place in ("top", "nested")}
    parent = ann.create("Ideas")
    ann.create("Small ideas", parent_key=parent["key"])
    ann.create("Plans")
    # Refused: a name taken, and cotos not answering. Neither is a cotonoma created.
    assert ann.request("POST", "/api/cotonomas", json={"name": "Plans"}).status_code == 409
    cotos_double.mode = "fail"
    assert ann.request("POST", "/api/cotonomas", json={"name": "Later"}).status_code >= 500
    after = {place: created(client, place) for place in ("top", "nested")}
    assert after == {"top": before["top"] + 2, "nested": before["nested"] + 1}


def test_request_metrics_use_the_route_template_not_the_key(client, ann):
    key = ann.create("Ideas")["key"]
    labels = {"route": "/api/cotonomas/{key}", "method": "GET", "status": "200"}
    before = sample(client, "cotoami_http_requests_total", **labels)
    assert ann.request("GET", f"/api/cotonomas/{key}").status_code == 200
    assert sample(client, "cotoami_http_requests_total", **labels) == before + 1
    assert key not in client.simulate_get("/metrics").text
