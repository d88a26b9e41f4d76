"""The gateway's answers to people: an address that is no page gets an HTML page in the
app's look with a way home (404, and 50x when a page cannot be served), while the API
keeps its JSON errors; and what it compresses, for whom."""

import gzip
import os
import re
import shutil
import socket
import string
import subprocess
import time
from pathlib import Path

import pytest
import requests
from conftest import PROFILE

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "gateway" / "web"
TEMPLATE = ROOT / "gateway" / "nginx" / "cotoami.conf.template"


def assert_person_page(response: requests.Response, status: int, title: str) -> str:
    """An HTML page of the app's own: its stylesheets and brand, a link home, no script or style
    of its own (the page's policy allows neither inline), never stored."""
    assert response.status_code == status, response.text[:200]
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = response.text
    assert title in page
    assert re.search(r"<h1[^>]*>", page), "a heading of level one"
    assert '<link rel="stylesheet" href="/css/base.css">' in page
    assert 'class="brand" href="/"' in page and re.search(r'<a class="button[^"]*" href="/">Go home</a>', page)
    assert "<script" not in page and "<style" not in page and " style=" not in page
    return page


@pytest.mark.parametrize("accept", [None, "text/html,application/xhtml+xml,*/*;q=0.8", "application/json"])
def test_an_address_that_is_no_page_is_an_html_404_with_a_way_home(stack, accept):
    """By the address alone: whatever the Accept, a page's address gets the page."""
    headers = {"Accept": accept} if accept else {}
    response = requests.get(stack.url + "/nowhere", headers=headers, timeout=5)
    page = assert_person_page(response, 404, "There is no page at this address")
    assert page == (WEB / "404.html").read_text()


@pytest.mark.parametrize(
    "path",
    [
        "/nowhere/deeper",
        "/index.htm",
        "/apix",
        "/cotonomas",
        "/cotonomas/",
        "/cotonomas/abc/def",
        "/signin/",
        "/signin/abc/def",
        "/avatars/0123",
    ],
)
def test_odd_page_addresses_are_the_html_404(stack, path):
    status, headers, body = stack.raw("GET", path, headers={"Accept": "text/html"})
    assert status == 404 and headers["Content-Type"].startswith("text/html"), path
    assert b"There is no page at this address" in body


@pytest.mark.parametrize(
    "path", ["/", "/cotonomas/abc", "/cotonomas/abc/", "/cotonomas/not-a-real-key", "/signin/" + "A" * 43]
)
def test_the_clients_own_routes_are_its_page(stack, path):
    response = requests.get(stack.url + path, headers={"Accept": "text/html"}, timeout=5)
    assert response.status_code == 200 and response.text == (WEB / "index.html").read_text(), path
    assert response.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    "path", ["/api/nowhere", "/api", "/api/cotosx", "/internal", "/internal/x", "/api/?x=1", "/INTERNAL/x", "/Api/x"]
)
def test_the_api_keeps_its_json_404_even_for_a_browser(stack, path):
    status, headers, body = stack.raw("GET", path, headers={"Accept": "text/html,*/*;q=0.8"})
    assert status == 404 and headers["Content-Type"].startswith("application/json"), (path, headers)
    assert b'"title"' in body


def test_pages_are_served_while_the_services_are_down_and_the_api_says_502_in_json(stack, stopped):
    stopped("cotos")
    assert requests.get(stack.url + "/", timeout=10).status_code == 200, "the page does not wait on a service"
    api = requests.get(stack.url + "/api/cotos", headers={"Accept": "text/html"}, timeout=10)
    assert api.status_code == 502 and api.json()["title"] == "Bad Gateway"


# --- a page the gateway cannot serve: 50x, in HTML


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def broken_gateway(tmp_path):
    """A gateway of its own from the same template, whose web root's index.html cannot be read
    (a socket stands in for it: nginx finds it, then fails to open it, a 500) and whose services
    are nowhere (a closed port: 502). The e2e stack's files stay untouched."""
    web = tmp_path / "web"
    shutil.copytree(WEB, web)
    (web / "index.html").unlink()
    index = socket.socket(socket.AF_UNIX)
    index.bind(str(web / "index.html"))
    port, closed = free_port(), free_port()
    gateway = string.Template(TEMPLATE.read_text()).safe_substitute(
        LISTEN_PORT=f"127.0.0.1:{port}",
        WEB_ROOT=str(web),
        UPSTREAM_TIMEOUT="3s",
        AVATAR_ORIGIN="https://www.gravatar.com",
        AUTH_UPSTREAM=f"127.0.0.1:{closed}",
        COTOS_UPSTREAM=f"127.0.0.1:{closed}",
        COTONOMAS_UPSTREAM=f"127.0.0.1:{closed}",
        LIVE_UPSTREAM=f"127.0.0.1:{closed}",
        GRAPH_UPSTREAM=f"127.0.0.1:{closed}",
        ARCHIVE_UPSTREAM=f"127.0.0.1:{closed}",
        CLIENT_CONNECTIONS="32",
        CLIENT_REQUEST_RATE="50",
        CLIENT_REQUEST_BURST="200",
    )
    (tmp_path / "cotoami.conf").write_text(gateway)
    temp = tmp_path / "temp"
    temp.mkdir()
    modules = re.findall(r"^load_module .*$", (ROOT / "gateway" / "nginx" / "nginx.conf").read_text(), re.M)
    user = "user root root;\n" if os.geteuid() == 0 else ""  # as the local stack's gateway (workers read tmp_path)
    (tmp_path / "nginx.conf").write_text(
        user + "\n".join(modules) + f"\ndaemon off;\npid {tmp_path}/nginx.pid;\nerror_log stderr crit;\n"
        "worker_processes 1;\nevents {}\n"
        f"http {{ include /etc/nginx/mime.types; access_log off; client_body_temp_path {temp};"
        f" proxy_temp_path {temp}; fastcgi_temp_path {temp}; uwsgi_temp_path {temp}; scgi_temp_path {temp};"
        f" include {tmp_path}/cotoami.conf; }}\n"
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen(
        [nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                requests.get(url + "/favicon.svg", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        index.close()


def test_a_page_the_gateway_cannot_serve_is_an_html_50x_and_the_api_stays_json(broken_gateway):
    for path in ("/", "/cotonomas/abc"):
        response = requests.get(broken_gateway + path, timeout=5)
        page = assert_person_page(response, 500, "Cotoami is not answering just now")
        assert page == (WEB / "50x.html").read_text()
    api = requests.get(broken_gateway + "/api/cotos", headers={"Accept": "text/html"}, timeout=5)
    assert api.status_code == 502 and api.headers["Content-Type"].startswith("application/json")
    assert api.json()["title"] == "Bad Gateway"
    missing = requests.get(broken_gateway + "/nowhere", timeout=5)
    assert_person_page(missing, 404, "There is no page at this address")


# --- compression


def fetch(stack, path: str, encoding: str | None, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """The answer as sent (raw: not decoded by a client), with or without Accept-Encoding."""
    status, answered, body = stack.raw(
        "GET", path, headers={**({"Accept-Encoding": encoding} if encoding else {}), **headers}
    )
    return int(status), dict(answered), bytes(body)


@pytest.mark.parametrize(
    "path,kind",
    [
        ("/", "text/html"),
        ("/app.js", "javascript"),
        ("/vendor/markdown-it.umd.min.js", "javascript"),
        ("/css/base.css", "text/css"),
        ("/nowhere", "text/html"),
    ],
)
def test_the_web_clients_files_are_gzipped_for_a_client_that_takes_it(stack, path, kind):
    status, headers, body = fetch(stack, path, "gzip, deflate, br")
    assert headers.get("Content-Encoding") == "gzip", (path, headers)
    assert kind in headers["Content-Type"] and "Accept-Encoding" in headers.get("Vary", "")
    plain_status, plain_headers, plain = fetch(stack, path, None)
    assert status == plain_status and "Content-Encoding" not in plain_headers
    assert gzip.decompress(body) == plain
    assert len(body) < len(plain) * 0.6, "worth it"


@pytest.fixture
def pad_cookie(stack) -> str:
    """A pad with a page of cotos long enough to be worth compressing."""
    session = requests.Session()
    session.headers["Origin"] = stack.url
    for n in range(5):
        text = f"coto {n}: long enough that a page of them is worth compressing"
        assert session.post(stack.url + "/api/cotos", json={"content": text}, timeout=5).status_code == 201
    return f"anonymous_id={session.cookies['anonymous_id']}"


def test_the_apis_json_is_gzipped_for_the_web_client_and_never_for_another_site(stack, pad_cookie):
    status, headers, body = fetch(stack, "/api/cotos", "gzip", Cookie=pad_cookie, **{"Sec-Fetch-Site": "same-origin"})
    assert status == 200 and headers.get("Content-Encoding") == "gzip", headers
    assert headers["Content-Type"].startswith("application/json") and "Accept-Encoding" in headers["Vary"]
    _, plain_headers, plain = fetch(stack, "/api/cotos", None, Cookie=pad_cookie)
    assert "Content-Encoding" not in plain_headers
    assert len(gzip.decompress(body)) == len(plain)
    # A request another site makes (a navigation it starts, with the person's cookies) gets
    # nothing compressed: no size to learn a secret from (docs/security.md, "Compression").
    for site in ("cross-site", "same-site"):
        _, other, _ = fetch(stack, "/api/cotos", "gzip", Cookie=pad_cookie, **{"Sec-Fetch-Site": site})
        assert "Content-Encoding" not in other, site


def test_a_short_answer_and_an_event_stream_are_not_compressed(stack, owner):
    _, headers, _ = fetch(stack, "/api/auth/session", "gzip")
    assert "Content-Encoding" not in headers, "a few bytes gain nothing"
    cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in owner.session.cookies)
    with socket.create_connection(("127.0.0.1", PROFILE.gateway_port), timeout=10) as conn:
        conn.sendall(
            b"GET /api/live/home HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAccept-Encoding: gzip\r\n"
            + f"Cookie: {cookies}\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(65536)
    head = head.split(b"\r\n\r\n")[0].lower()
    assert head.startswith(b"http/1.1 200") and b"text/event-stream" in head, head
    assert b"content-encoding" not in head, "each event leaves at once, never held for a compressor"
