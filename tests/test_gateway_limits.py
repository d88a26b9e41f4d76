"""The gateway's limits per client address, and its deadline for a request body:
one address trickling hundreds of bodies holds a bounded number of connections
for a bounded time, while everyone else is served as usual.

Every 127.0.0.0/8 address is local on Linux: a socket bound to 127.0.0.3 is
another client to the gateway than one from 127.0.0.1."""

import contextlib
import json
import selectors
import socket
import statistics
import time

import requests
from conftest import PROFILE

SLOW_CLIENT = "127.0.0.3"
FLOODING_CLIENT = "127.0.0.4"
SLOW_CONNECTIONS = 800
BODY_DEADLINE = 10  # seconds from a request's start (cotoami.conf.template)
SLOW_HEAD = (
    b"POST /api/cotos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b'Content-Length: 1000\r\n\r\n{"content": "'
)


def connect_from(address: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", PROFILE.gateway_port), timeout=10, source_address=(address, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # close at once
    return sock


def answers(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Every complete HTTP answer in DATA: status, headers (lower-case names), body."""
    found: list[tuple[int, dict[str, str], bytes]] = []
    while True:
        head, separator, rest = data.partition(b"\r\n\r\n")
        if not separator:
            return found
        lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        if len(rest) < length:
            return found
        found.append((int(lines[0].split()[1]), headers, rest[:length]))
        data = rest[length:]


def assert_json_error(status: int, headers: dict[str, str], body: bytes) -> None:
    assert headers["content-type"].startswith("application/json"), (status, headers)
    assert json.loads(body)["title"] and headers["cache-control"] == "no-store", (status, headers)


def timed(call) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def test_slow_bodies_from_one_address_hold_a_few_connections_for_ten_seconds_and_slow_no_one_else(stack):
    """800 bodies trickled from one address (slowhttptest -B): the gateway lets the first
    CLIENT_CONNECTIONS of them in, refuses the rest at once (429), and ends those it let in at
    the body deadline (408), although each sends a byte every 3 s; another address's
    requests are answered meanwhile as fast as ever."""
    sockets: list[socket.socket] = []
    received: dict[socket.socket, bytes] = {}
    ended: dict[socket.socket, float] = {}
    selector = selectors.DefaultSelector()
    try:
        started = time.monotonic()
        for _ in range(SLOW_CONNECTIONS):
            sock = connect_from(SLOW_CLIENT)
            sock.sendall(SLOW_HEAD)
            sock.setblocking(False)
            sockets.append(sock)
            received[sock] = b""
            selector.register(sock, selectors.EVENT_READ)
        opened = time.monotonic() - started

        # Meanwhile, another client: GETs and POSTs, one at a time, each timed.
        latencies: dict[str, list[float]] = {"GET": [], "POST": []}
        with requests.Session() as other:
            other.headers["Origin"] = stack.url

            def get() -> None:
                other.get(stack.url + "/api/cotos", timeout=5).raise_for_status()

            def post() -> None:
                created = other.post(stack.url + "/api/cotos", json={"content": "meanwhile"}, timeout=5)
                assert created.status_code == 201, created.text

            for n in range(20):
                latencies["GET"].append(timed(get))
                if n % 2:
                    latencies["POST"].append(timed(post))

        # The slow client: trickle a byte every 3 s into what is still open, until every socket ended.
        next_trickle = time.monotonic() + 3
        while len(ended) < len(sockets) and time.monotonic() - started < BODY_DEADLINE + 15:
            for key, _ in selector.select(timeout=0.2):
                sock = key.fileobj  # type: ignore[assignment]
                try:
                    chunk = sock.recv(65536)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    received[sock] += chunk
                    continue
                ended[sock] = time.monotonic() - started
                selector.unregister(sock)
            if time.monotonic() >= next_trickle:
                for sock in sockets:
                    if sock not in ended:
                        with contextlib.suppress(OSError):  # refused and closed: its end is read above
                            sock.send(b"x")
                next_trickle += 3
    finally:
        selector.close()
        for sock in sockets:
            sock.close()

    outcomes = {sock: answers(received[sock]) for sock in sockets}
    refused = [sock for sock, got in outcomes.items() if [status for status, _, _ in got] == [429]]
    timed_out = [sock for sock, got in outcomes.items() if [status for status, _, _ in got] == [408]]
    for got in outcomes.values():
        for status, headers, body in got:
            assert_json_error(status, headers, body)
    assert all(outcomes[sock][0][1]["retry-after"] == "1" for sock in refused)
    held = [ended.get(sock, float("inf")) for sock in timed_out]
    figures = (
        f"opened {SLOW_CONNECTIONS} in {opened:.2f}s; refused {len(refused)}, held {len(timed_out)}"
        f" (ended {min(held, default=0):.1f}-{max(held, default=0):.1f}s after the start);"
        f" other client GET median {statistics.median(latencies['GET']) * 1000:.0f} ms"
        f" max {max(latencies['GET']) * 1000:.0f} ms, POST median {statistics.median(latencies['POST']) * 1000:.0f} ms"
        f" max {max(latencies['POST']) * 1000:.0f} ms"
    )
    print(figures)
    assert len(refused) + len(timed_out) == SLOW_CONNECTIONS, figures
    assert 0 < len(timed_out) <= PROFILE.gateway_connections_per_client, figures
    # Each held body ends at its deadline, counted from its own start (they started over `opened`).
    assert max(held) < BODY_DEADLINE + opened + 3, figures
    assert min(held) > BODY_DEADLINE - 1, figures
    for method, times in latencies.items():
        assert statistics.median(times) < 0.1, figures
        assert max(times) < 1, f"{method}: {figures}"


def test_a_body_trickled_slower_than_the_between_reads_timeout_still_ends_at_the_deadline(stack):
    """A byte every 9 s never trips client_body_timeout (10 s between reads); the deadline still ends it."""
    with connect_from("127.0.0.5") as sock:
        started = time.monotonic()
        sock.sendall(SLOW_HEAD)
        sock.settimeout(9)
        reply = b""
        while time.monotonic() - started < 30:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                sock.sendall(b"x")
                continue
            if not chunk:
                break
            reply += chunk
        took = time.monotonic() - started
    ((status, headers, body),) = answers(reply)
    assert status == 408 and BODY_DEADLINE - 1 < took < BODY_DEADLINE + 3, (status, took)
    assert_json_error(status, headers, body)
    assert headers["connection"] == "close"


def test_a_body_sent_in_time_reaches_the_service_whole(stack):
    """The deadline reads the body on the gateway's side; the service still gets all of it, however sent."""
    content = "y" * 9_000  # under the service's cap on a coto
    body = json.dumps({"content": content}).encode()
    with requests.Session() as client:
        client.headers["Origin"] = stack.url
        created = client.post(stack.url + "/api/cotos", data=body, headers={"Content-Type": "application/json"})
        assert created.status_code == 201, created.text
        chunked = client.post(
            stack.url + "/api/cotos",
            data=iter([body[:4_000], body[4_000:]]),
            headers={"Content-Type": "application/json"},
        )
        assert chunked.status_code == 201, chunked.text
        assert [c["content"] for c in client.get(stack.url + "/api/cotos", timeout=5).json()["cotos"][:2]] == [
            content,
            content,
        ]


def test_requests_beyond_the_burst_are_429_json_for_that_address_alone(stack):
    """Three times the burst at once, pipelined on three connections (nginx ends a connection
    after 1,000 requests): those past the burst and the rate are refused in JSON with
    Retry-After; another address is served meanwhile."""
    per_connection = PROFILE.gateway_request_burst
    got: list[tuple[int, dict[str, str], bytes]] = []
    socks = [connect_from(FLOODING_CLIENT) for _ in range(3)]
    try:
        started = time.monotonic()
        for sock in socks:
            sock.sendall(b"GET /favicon.svg HTTP/1.1\r\nHost: x\r\n\r\n" * per_connection)
        assert requests.get(stack.url + "/favicon.svg", timeout=5).status_code == 200, "another address is served"
        for sock in socks:
            data = b""
            while len(answers(data)) < per_connection and time.monotonic() - started < 30:
                data += sock.recv(1 << 20)
            got += answers(data)
        took = time.monotonic() - started
    finally:
        for sock in socks:
            sock.close()
    statuses = [status for status, _, _ in got]
    served = statuses.count(200)
    assert len(statuses) == 3 * per_connection and set(statuses) == {200, 429}, (len(statuses), set(statuses))
    allowed = PROFILE.gateway_request_burst + PROFILE.gateway_requests_per_second * took + 1
    print(f"{len(statuses)} requests in {took:.2f}s: {served} served (at most {allowed:.0f} allowed)")
    assert PROFILE.gateway_request_burst <= served <= allowed, (served, took)
    headers, body = next((headers, body) for status, headers, body in got if status == 429)
    assert_json_error(429, headers, body)
    assert headers["retry-after"] == "1"
