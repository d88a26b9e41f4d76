"""InternalClient against a real HTTP server on this machine: the credential and
request id on every call, connections kept per thread, and what each failure
says about whether the call may have taken effect."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cotoami_common import internal
from cotoami_common.internal import InternalClient, ServiceUnavailable
from cotoami_common.logs import request_id
from cotoami_testing.fixtures import send_json, serving


class Handler(BaseHTTPRequestHandler):
    # Keep-alive, as gunicorn answers.
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        server = self.server
        assert isinstance(server, PeerServer)
        server.seen.append({"path": self.path, "port": self.client_address[1], "headers": dict(self.headers)})
        if self.path == "/slow":
            time.sleep(0.5)
        if self.path == "/hang-up":
            self.close_connection = True
            return
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/cookie":
            self.send_response(200)
            self.send_header("Set-Cookie", "kept=yes; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, body = {"/missing": (404, b'{"title": "No"}'), "/html": (200, b"<p>hi</p>")}.get(
            self.path, (200, b'{"ok": true}')
        )
        send_json(self, status, body)

    def log_message(self, *args):
        pass


class PeerServer(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[dict[str, object]]


@pytest.fixture
def peer():
    server = PeerServer(("127.0.0.1", 0), Handler)
    server.seen = []
    with serving(server):
        yield server


def client_of(server: PeerServer, timeout_seconds: float = 2.0) -> InternalClient:
    return InternalClient("peer", f"http://127.0.0.1:{server.server_port}/", "the-credential", timeout_seconds)


def test_a_call_carries_the_credential_and_this_requests_id(peer):
    client = client_of(peer)
    token = request_id.set("trace-me")
    try:
        answer = client.call("GET", "/ok", expect=(200,))
    finally:
        request_id.reset(token)
    assert (answer.status, answer.json()) == (200, {"ok": True})
    client.call("GET", "/ok", expect=(200,))
    first, second = (seen["headers"] for seen in peer.seen)
    assert first["Authorization"] == second["Authorization"] == "Bearer the-credential"
    assert first["X-Request-ID"] == "trace-me"
    assert len(second["X-Request-ID"]) == 32, "outside a request, one is made"


def test_an_expected_status_is_an_answer_and_another_is_unavailable(peer):
    client = client_of(peer)
    assert client.call("GET", "/missing", expect=(200, 404)).status == 404
    with pytest.raises(ServiceUnavailable, match="answered GET /missing with 404") as raised:
        client.call("GET", "/missing", expect=(200,))
    assert raised.value.maybe_done and raised.value.service == "peer"


def test_an_answer_that_is_not_json_is_unavailable(peer):
    answer = client_of(peer).call("GET", "/html", expect=(200,))
    with pytest.raises(ServiceUnavailable, match="other than JSON") as raised:
        answer.json()
    assert raised.value.maybe_done


def test_redirects_are_not_followed(peer):
    with pytest.raises(ServiceUnavailable, match="302"):
        client_of(peer).call("GET", "/redirect", expect=(200,))
    assert [seen["path"] for seen in peer.seen] == ["/redirect"]


def test_no_cookie_is_carried_from_one_call_to_the_next(peer):
    client = client_of(peer)
    client.call("GET", "/cookie", expect=(200,))
    client.call("GET", "/ok", expect=(200,))
    assert "Cookie" not in peer.seen[1]["headers"]


def test_a_thread_reuses_its_connection(peer):
    client = client_of(peer)
    for _ in range(3):
        client.call("GET", "/ok", expect=(200,))
    assert len({seen["port"] for seen in peer.seen}) == 1


def test_a_connection_idle_for_longer_than_the_servers_keepalive_allows_is_not_reused(peer, monkeypatch):
    monkeypatch.setattr(internal, "REUSE_IDLE_SECONDS", 0.05)
    client = client_of(peer)
    client.call("GET", "/ok", expect=(200,))
    client.call("GET", "/ok", expect=(200,))
    time.sleep(0.1)
    client.call("GET", "/ok", expect=(200,))
    first, second, third = (seen["port"] for seen in peer.seen)
    assert first == second != third


def test_threads_share_a_client_each_with_a_connection_of_its_own(peer):
    client = client_of(peer)
    errors: list[Exception] = []

    def calls() -> None:
        try:
            for _ in range(5):
                client.call("GET", "/ok", expect=(200,))
        except Exception as error:  # any at all fails the test
            errors.append(error)

    threads = [threading.Thread(target=calls) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(peer.seen) == 20
    assert len({seen["port"] for seen in peer.seen}) == 4


def test_a_refused_connection_certainly_did_nothing():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = InternalClient("peer", f"http://127.0.0.1:{port}", "the-credential", 1.0)
    with pytest.raises(ServiceUnavailable, match="peer cannot be reached") as raised:
        client.call("PUT", "/things/1", expect=(200,), json={"a": 1})
    assert not raised.value.maybe_done


def test_a_call_that_times_out_may_have_been_done(peer):
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="did not answer") as raised:
        client_of(peer, timeout_seconds=0.2).call("GET", "/slow", expect=(200,))
    assert time.monotonic() - started < 0.45
    assert raised.value.maybe_done


def test_a_connection_closed_after_sending_may_have_been_done(peer):
    with pytest.raises(ServiceUnavailable, match="did not answer") as raised:
        client_of(peer).call("GET", "/hang-up", expect=(200,))
    assert raised.value.maybe_done
    assert client_of(peer).call("GET", "/ok", expect=(200,)).status == 200, "the next call starts afresh"
