"""The cotos service's domain counter, read through its own /metrics."""

from conftest import put_cotonoma_coto

from cotoami_testing.fixtures import new_amishi, sample


def posted(client, author: str) -> float:
    return sample(client, "cotoami_cotos_posted_total", author=author)


def test_cotos_posted_are_counted_by_author(client, browser, sign_in, new_cotonoma):
    ann = new_amishi("ann@example.com")
    before = {author: posted(client, author) for author in ("anonymous", "signed_in")}
    browser.post("on the pad")
    browser.post("another")
    signed_in = sign_in(ann)
    signed_in.post("at home")
    signed_in.post("in a room", cotonoma_key=new_cotonoma("Room", ann))
    # Refused posts and a cotonoma's own coto (made by cotonomas) are no cotos posted.
    assert browser.request("POST", "/api/cotos", json={"content": ""}).status_code == 400
    put_cotonoma_coto(client, "room-key-0002", "Ideas", ann)
    after = {author: posted(client, author) for author in ("anonymous", "signed_in")}
    assert after == {"anonymous": before["anonymous"] + 2, "signed_in": before["signed_in"] + 2}


def test_request_metrics_use_the_route_template_not_the_coto_id(client, browser):
    coto = browser.post("hello")
    labels = {"route": "/api/cotos/{coto_id}", "method": "GET", "status": "200"}
    before = sample(client, "cotoami_http_requests_total", **labels)
    assert browser.request("GET", f"/api/cotos/{coto['id']}").status_code == 200
    assert sample(client, "cotoami_http_requests_total", **labels) == before + 1
    assert coto["id"] not in client.simulate_get("/metrics").text
