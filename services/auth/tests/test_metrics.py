"""The auth service's domain counters, read through its own /metrics."""

from cotoami_testing.fixtures import sample

SIGNIN = "/api/auth/signin"
SESSION = "/api/auth/session"


def link_token(mail_jobs) -> str:
    link = mail_jobs()[-1]["data"]["link"]
    assert isinstance(link, str)
    return link.rsplit("/", 1)[1]


def test_signin_links_requested_count_only_links_queued(client, mail_jobs):
    before = sample(client, "cotoami_signin_links_requested_total")
    assert client.simulate_post(SIGNIN, json={"email": "ann@example.com"}).status_code == 202
    assert client.simulate_post(SIGNIN, json={"email": "not-an-address"}).status_code == 400
    assert sample(client, "cotoami_signin_links_requested_total") == before + 1
    for _ in range(4):
        client.simulate_post(SIGNIN, json={"email": "ann@example.com"})
    assert client.simulate_post(SIGNIN, json={"email": "ann@example.com"}).status_code == 429
    assert sample(client, "cotoami_signin_links_requested_total") == before + 5 == before + len(mail_jobs())


def test_sessions_started_count_new_and_returning_amishis(client, mail_jobs):
    def started(amishi: str) -> float:
        return sample(client, "cotoami_sessions_started_total", amishi=amishi)

    new, returning = started("new"), started("returning")
    for _expected in ("new", "returning"):
        client.simulate_post(SIGNIN, json={"email": "ann@example.com"})
        token = link_token(mail_jobs)
        assert client.simulate_post(SESSION, json={"token": token}).status_code == 200
        # A link that is used up starts nothing.
        assert client.simulate_post(SESSION, json={"token": token}).status_code != 200
    assert (started("new"), started("returning")) == (new + 1, returning + 1)


def test_request_metrics_name_auths_routes(client):
    labels = {"route": SIGNIN, "method": "POST", "status": "202"}
    before = sample(client, "cotoami_http_requests_total", **labels)
    client.simulate_post(SIGNIN, json={"email": "ann@example.com"})
    assert sample(client, "cotoami_http_requests_total", **labels) == before + 1
