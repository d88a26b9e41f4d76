"""The gateway: routes, what it refuses, the headers it sets and its own errors."""

import http.client
import json
import re
import socket
import time
from pathlib import Path

import pytest
import requests
from conftest import PROFILE, EventStream

WEB = Path(__file__).resolve().parents[1] / "gateway" / "web"
WEB_TYPES = {
    ".html": "text/html",
    ".js": "javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",  # vendor/'s licence texts
}


def test_serves_the_web_client_with_security_headers(stack):
    response = requests.get(stack.url + "/", timeout=5)
    assert response.status_code == 200
    assert "text/html" in response.headers["Content-Type"]
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"]
    assert "Server" not in response.headers or "nginx/" not in response.headers["Server"]


def test_serves_every_file_of_the_web_client_as_it_is(stack):
    """Each module and stylesheet (gateway/web, by view): its type, revalidated on every
    load (after a deploy no page mixes old and new files), under the page's policy."""
    files = sorted(file for file in WEB.rglob("*") if file.is_file())
    assert {"index.html", "app.js", "css/base.css"} <= {file.relative_to(WEB).as_posix() for file in files}
    for file in files:
        path = "/" + file.relative_to(WEB).as_posix()
        response = requests.get(stack.url + path, timeout=5)
        assert response.status_code == 200 and response.content == file.read_bytes(), path
        assert WEB_TYPES[file.suffix] in response.headers["Content-Type"], path
        assert response.headers["Cache-Control"] == "no-cache", path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "script-src 'self';" in response.headers["Content-Security-Policy"], path


@pytest.mark.parametrize(
    "path,service", [("/api/cotos", "cotos"), ("/api/cotos/00000000-0000-7000-8000-000000000000", "cotos")]
)
def test_routes_api_paths_to_their_service(stack, path, service):
    response = requests.get(stack.url + path, timeout=5)
    assert response.status_code in (200, 404)
    assert stack.logged(service, response.headers["X-Request-ID"])


@pytest.mark.parametrize(
    "path",
    [
        "/api/auth/nothing",
        "/api/nothing",
        "/api",
        "/api/",
        "/api/cotosx",
        "/api/livex",
        "/api/live",
        "/api/live/x",
        "/api/live/../../internal/anything",
        "/api/live/%2e%2e/internal/anything",
        "/internal",
        "/internal/anything",
        "/api/cotos/../../internal/anything",
        "/api/cotos/%2e%2e/%2e%2e/internal/anything",
        "/api/cotos/%2E%2E/%2E%2E/internal/anything",
        "/api/cotos/..%2f..%2finternal/anything",
        "/api/cotos/%2f..%2finternal",
        "/api/cotos/..%5c..%5cinternal",
        "//internal/anything",
        "/api//internal",
    ],
)
def test_unknown_and_internal_paths_are_404_json(stack, path):
    status, headers, body = stack.raw("GET", path)
    assert status == 404, path
    assert headers["Content-Type"].startswith("application/json")
    assert b'"title"' in body


@pytest.mark.parametrize("path", ["/../internal/x", "/%2e%2e/internal/x", "/api/../../internal/x"])
def test_paths_climbing_above_the_root_are_400_json(stack, path):
    status, headers, body = stack.raw("GET", path)
    assert status == 400 and headers["Content-Type"].startswith("application/json") and b'"title"' in body


def test_an_overlong_address_is_414_json(stack):
    status, headers, body = stack.raw("GET", "/api/cotos/" + "9" * 5000)
    assert status == 414 and headers["Content-Type"].startswith("application/json") and b'"title"' in body


def test_internal_paths_never_reach_a_service(stack):
    status, headers, _ = stack.raw("GET", "/api/cotos/%2e%2e/%2e%2e/internal/x")
    rid = headers["X-Request-ID"]
    assert status == 404
    assert not any(line.get("request_id") == rid for line in stack.settled_log_lines("auth", "cotos", "cotonomas"))


def test_request_id_and_client_address_are_the_gateways_not_the_clients(stack):
    response = requests.get(
        stack.url + "/api/cotos",
        headers={"X-Request-ID": "spoofed", "X-Real-IP": "6.6.6.6", "X-Forwarded-For": "6.6.6.6"},
        timeout=5,
    )
    rid = response.headers["X-Request-ID"]
    assert rid != "spoofed" and re.fullmatch(r"[0-9a-f]{32}", rid)
    assert stack.logged("cotos", rid)[0]["client"] == "127.0.0.1"
    assert not any(line.get("request_id") == "spoofed" for line in stack.log_lines("cotos"))


@pytest.mark.parametrize("method,path", [("TRACE", "/api/cotos"), ("TRACE", "/"), ("POST", "/favicon.svg")])
def test_a_method_the_gateway_itself_refuses_is_405_json(stack, method, path):
    status, headers, body = stack.raw(method, path)
    assert status == 405 and headers["Content-Type"].startswith("application/json") and b'"title"' in body


def test_a_2mb_body_is_413_json(stack):
    response = requests.post(
        stack.url + "/api/cotos",
        data=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("application/json") and "title" in response.json()


def test_a_service_that_is_down_is_502_json(stack, stopped):
    stopped("cotos")
    response = requests.get(stack.url + "/api/cotos", timeout=10)
    assert response.status_code == 502
    assert response.json()["title"] == "Bad Gateway"


def test_a_service_that_does_not_answer_is_504_json(stack, paused):
    paused("cotos")
    response = requests.get(stack.url + "/api/cotos", timeout=20)
    assert response.status_code == 504
    assert response.json()["title"] == "Gateway Timeout"


def test_a_slow_client_is_cut_off(stack):
    with socket.create_connection(("127.0.0.1", PROFILE.gateway_port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/cotos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        sock.settimeout(30)
        reply = sock.recv(4096)  # nginx answers 408 or closes once the body timeout passes
    assert reply == b"" or reply.startswith(b"HTTP/1.1 408")


def exchange(request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request written byte for byte on a socket of its own, and the gateway's answer."""
    with socket.create_connection(("127.0.0.1", PROFILE.gateway_port), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
            head, _, body = reply.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length: *(\d+)", head)
            if length and len(body) >= int(length.group(1)):
                break
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


# What nginx itself refuses before any location or service: each in JSON, never its HTML page.
NGINX_REFUSALS = {
    "an unknown transfer encoding": (
        b"POST /api/cotos HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\nConnection: close\r\n\r\n",
        501,
    ),
    "HTTP/2.0 in plain text": (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    "a version the file is not": (
        b'GET /favicon.svg HTTP/1.1\r\nHost: x\r\nIf-Match: "not-this-one"\r\nConnection: close\r\n\r\n',
        412,
    ),
}


@pytest.mark.parametrize("request_bytes,status", NGINX_REFUSALS.values(), ids=NGINX_REFUSALS.keys())
def test_what_nginx_itself_refuses_is_json_never_cached(stack, request_bytes, status):
    got, headers, body = exchange(request_bytes)
    assert got == status, (got, headers)
    assert headers["content-type"].startswith("application/json") and json.loads(body)["title"], body[:200]
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff" and "permissions-policy" in headers


def test_a_range_is_answered_with_the_whole_file(stack):
    """No 416 (nor 206): ranges are ignored, so no answer is nginx's range error."""
    response = requests.get(stack.url + "/favicon.svg", headers={"Range": "bytes=999999-"}, timeout=5)
    assert response.status_code == 200 and response.content == (WEB / "favicon.svg").read_bytes()


@pytest.mark.parametrize("path", ["/", "/app.js", "/api/cotos", "/nothing-here"])
def test_every_answer_denies_what_the_app_does_not_use_and_keeps_its_window(stack, path):
    response = requests.get(stack.url + path, timeout=5)
    policy = dict(item.split("=", 1) for item in response.headers["Permissions-Policy"].split(", "))
    assert {policy[f] for f in ("camera", "microphone", "geolocation", "payment", "usb")} == {"()"}
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    # The local gateway is plain http: HSTS there would be ignored, or pin a browser to https on 127.0.0.1.
    assert "Strict-Transport-Security" not in response.headers


def test_only_the_gateways_own_errors_are_no_store(stack):
    """The gateway's errors are never stored; files are revalidated (no-cache); what a service
    answers carries the service's own Cache-Control, nothing added here."""
    assert requests.get(stack.url + "/nothing-here", timeout=5).headers["Cache-Control"] == "no-store"
    assert requests.get(stack.url + "/app.js", timeout=5).headers["Cache-Control"] == "no-cache"
    api = requests.get(stack.url + "/api/cotos", timeout=5)
    assert api.status_code == 200 and "," not in api.headers.get("Cache-Control", ""), "one Cache-Control at most"
    assert "Retry-After" not in api.headers


def test_live_streams_are_routed_to_live_and_passed_through_unbuffered(stack, owner):
    anonymous = EventStream("/api/live/home")
    assert anonymous.status == 401, "live itself answers: the gateway has the route"
    assert anonymous.headers["content-type"].startswith("application/json")
    assert stack.logged("live", anonymous.headers["x-request-id"])

    home = owner.listen("/api/live/home")
    try:
        assert home.status == 200 and home.headers["content-type"].startswith("text/event-stream"), home.body
        assert home.headers["x-content-type-options"] == "nosniff", "the gateway's headers on a stream too"
        posted = owner.post("through at once")
        # An event arrives while the response goes on: nothing waits for a buffer to fill or the end.
        event = home.wait_for_event("coto", 10)
        assert event.json()["id"] == posted["id"]
        assert not home.ended.is_set(), "the stream is still open"
    finally:
        home.close()


def test_open_streams_have_a_limit_of_their_own_and_leave_a_clients_requests_room(stack, owner):
    """A browser holds a stream or two a tab for as long as the tab is open: they count
    apart from its requests, so many tabs never keep it from loading a page."""
    client = "127.0.0.6"  # an address of its own: other tests' streams do not count
    limit = PROFILE.gateway_connections_per_client
    tabs = [owner.listen("/api/live/home", client=client) for _ in range(limit)]
    try:
        assert [tab.status for tab in tabs] == [200] * limit
        over = owner.listen("/api/live/home", client=client)
        assert over.status == 429 and over.headers["content-type"].startswith("application/json"), over.body
        cookies = "; ".join(f"{c.name}={c.value}" for c in owner.session.cookies)
        conn = http.client.HTTPConnection("127.0.0.1", PROFILE.gateway_port, timeout=10, source_address=(client, 0))
        try:
            conn.request("GET", "/api/cotos", headers={"Cookie": cookies})
            assert conn.getresponse().status == 200, "requests still have their own room"
        finally:
            conn.close()
    finally:
        for tab in tabs:
            tab.close()


def test_a_quiet_stream_outlives_the_upstream_timeout_kept_by_its_comments(stack, owner):
    home = owner.listen("/api/live/home")
    try:
        assert home.status == 200, home.body
        # The e2e upstream timeout is 3 s: only the streams' own read timeout lets a quiet one live.
        stack.wait_until(lambda: home.comments >= 1 or home.ended.is_set(), 20, "a keep-alive comment")
        assert not home.ended.is_set() and home.comments >= 1, "still open, kept alive by a comment"
        assert time.monotonic() - home.opened > 10
    finally:
        home.close()


def test_a_timeline_page_read_again_unchanged_is_304_through_the_gateway(owner):
    owner.post("read twice")
    first = owner.call("GET", "/api/cotos")
    tag = first.headers["ETag"]
    again = owner.call("GET", "/api/cotos", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == tag
    assert again.headers["Cache-Control"] == "no-store", "still kept by no cache but the web client's own"
    owner.post("then a new one")
    changed = owner.call("GET", "/api/cotos", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.json()["cotos"][0]["content"] == "then a new one"
