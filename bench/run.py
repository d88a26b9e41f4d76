"""make bench: start the bench stack afresh (cotoami_stack, profile `bench`:
gateway on :28000, databases cotoami_bench_*, a Redis of its own), seed it at
scale, drive load through the gateway with wrk, measure sign-in, start-up,
memory and the live streams' fan-out (bench/live.py), write the results into
BENCHMARKS.md and stop the stack.

    .venv/bin/python bench/run.py [--quick] [--only CASE,...] [--profile CASE]

--quick: a tenth of the data and short runs (a minute or two), written to
.run/bench/BENCHMARKS-quick.md, to compare before and after a change.
--only: just these measurements, printed and not written anywhere.
--profile: sample the case's service (or CASE:SERVICE, a service it calls) with py-spy while it is measured.
"""

import argparse
import asyncio
import dataclasses
import importlib.metadata
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import graph  # bench/graph.py, beside this script
import live  # bench/live.py, beside this script
import psycopg
import requests
import seed  # bench/seed.py, beside this script

import archive  # bench/archive.py, beside this script
from cotoami_common.backing import redis_client
from cotoami_common.tokens import AccessTokenSigner, Amishi
from cotoami_stack.gateway import nginx_binary, render_gateway
from cotoami_stack.probes import http_ok
from cotoami_stack.profiles import PROFILES, ROOT, SERVICES, VENV_BIN, instance_name
from cotoami_stack.services import image_command, service_environment
from cotoami_stack.supervisor import supervisorctl

BENCH = ROOT / "bench"
PROFILE = PROFILES["bench"]
# The hello app behind a gateway rendered by the same code from the same
# template, differing only in its ports: hello stands where cotos would.
HELLO_PROFILE = dataclasses.replace(PROFILE, name="bench-hello", gateway_port=PROFILE.gateway_port + 500)
HELLO_PORT = HELLO_PROFILE.instance_port("cotos", 1)
WRK_THREADS = 1
WRK_CONNECTIONS = 16
POSTERS = range(13, 113)  # the 100 people posting in the signed-in post case
LINK = re.compile(r"/signin/([A-Za-z0-9_-]{43})")
RESULTS_BEGIN = "<!-- bench:results begin: written by `make bench`; edit only outside these markers -->"
RESULTS_END = "<!-- bench:results end -->"
WrkRun = dict[str, Any]  # what bench/load.lua reports of one wrk run


@dataclass(frozen=True)
class Mode:
    name: str
    scale: seed.Scale
    rounds: int  # every case is measured this many times, the cases taking turns
    seconds: int  # each measured wrk run
    warmup_seconds: int
    signin_rounds: int
    starts: int  # measured starts of each service
    live_posts: int  # posts timed while LIVE_STREAMS streams listen
    output: Path


FULL = Mode(
    "full",
    seed.FULL,
    rounds=5,
    seconds=3,
    warmup_seconds=2,
    signin_rounds=100,
    starts=3,
    live_posts=50,
    output=ROOT / "BENCHMARKS.md",
)
QUICK = Mode(
    "quick",
    seed.QUICK,
    rounds=3,
    seconds=2,
    warmup_seconds=1,
    signin_rounds=20,
    starts=1,
    live_posts=20,
    output=PROFILE.run_dir / "BENCHMARKS-quick.md",
)
LIVE_STREAMS = 1_000  # open on one live process, in both modes: the target is about this many


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    service: str  # whose processes --profile samples
    url: str
    method: str = "GET"
    body: str | None = None
    cookies: tuple[str, ...] = ()
    calls: tuple[str, ...] = ()  # the services it asks in turn, whose CPU counts as the service's too


@dataclass(frozen=True)
class Result:
    case: Case
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: dict[str, int]
    cpu_ms: dict[str, float]  # per request: the case's service, its PostgreSQL sessions, its gateway

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


class BenchError(Exception):
    """Why the run cannot go on, in one line."""


# --- the processes: the bench stack, and the hello app with its gateway


def stack_command(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cotoami_stack", *args, "--profile", "bench"], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BenchError(f"cotoami_stack {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def master_and_workers(master: int) -> dict[str, int]:
    """A gunicorn's or nginx's master process and its workers, by role."""
    workers = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    return {"master": master, **{f"worker {k}": int(pid) for k, pid in enumerate(workers, 1)}}


def service_master(service: str) -> int:
    return int(supervisorctl(PROFILE, "pid", f"{service}:{instance_name(service, 1)}").stdout)


class Hello:
    """The ceiling: bench/hello.py under gunicorn with the services' configuration
    and worker settings, and a gateway of its own in front."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.app: subprocess.Popen[bytes] | None = None
        self.gateway: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        render_gateway(HELLO_PROFILE, 1)
        logs = PROFILE.run_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        environment = {**os.environ, "SERVICE_NAME": "hello", "PORT": str(HELLO_PORT), "BIND_HOST": "127.0.0.1"}
        self.app = self._spawn(
            [str(VENV_BIN / "gunicorn"), "--config", "python:cotoami_common.gunicorn_conf", "hello:app"],
            BENCH,
            environment,
            logs / "hello.log",
        )
        # Its access log goes to a file, as the stack gateway's goes through supervisord to one.
        nginx_dir = HELLO_PROFILE.run_dir / "nginx"
        self.gateway = self._spawn(
            [nginx_binary(), "-c", str(nginx_dir / "nginx.conf"), "-p", str(nginx_dir)],
            ROOT,
            os.environ,
            logs / "hello-gateway.log",
        )
        wait_until(
            lambda: http_ok(f"http://127.0.0.1:{HELLO_PORT}/") and http_ok(self.url),
            30,
            "the hello app and its gateway",
        )

    def _spawn(self, argv: list[str], cwd: Path, environment: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv, cwd=cwd, env=environment, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes.append(process)
        return process

    @property
    def url(self) -> str:
        return f"{HELLO_PROFILE.public_url}/api/cotos"

    @property
    def app_pid(self) -> int:
        if self.app is None:
            raise BenchError("the hello app is not started")
        return self.app.pid

    @property
    def gateway_pid(self) -> int:
        if self.gateway is None:
            raise BenchError("the hello gateway is not started")
        return self.gateway.pid

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            stopped(process)
        self.processes = []


def stopped(process: subprocess.Popen[bytes]) -> None:
    """Waits for a process told to stop; one that will not in 30 s is killed with its group."""
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise BenchError(f"{what} not ready within {timeout}s")
        time.sleep(0.05)


# --- data


@dataclass(frozen=True)
class Seeded:
    heavy_cursor: str  # after 1,000 cotos of the heavy amishi
    light_cursor: str  # before the light amishi's last full page
    anonymous_pad: str  # an anonymous id whose pad holds cotos
    seconds: float


PAGE = 50  # the web client's page (the API's default limit)
PAD_COTOS = 200


def seed_stack(scale: seed.Scale) -> Seeded:
    started = time.monotonic()
    urls = {service: PROFILE.database_url(service) for service in SERVICES}
    seed.seed_auth(urls["auth"], scale)
    seed.seed_cotos(urls["cotos"], scale, PROFILE.avatar_url)
    seed.seed_cotonomas(urls["cotonomas"], scale, PROFILE.avatar_url)
    for n, expected in ((seed.HEAVY, scale.heavy_cotos), (seed.LIGHT, scale.light_cotos)):
        found = seed.coto_count(urls["cotos"], n)
        if found != expected:
            raise BenchError(f"amishi {n} has {found} cotos, not {expected}")
    graph.seed(urls["graph"], urls["cotos"], seed.amishi_id(seed.HEAVY))  # after the count: its cotos are amishi 1's
    # Through the gateway, as a browser posts: the first post issues the pad's cookie.
    with requests.Session() as browser:
        browser.headers.update({"Origin": PROFILE.public_url})
        for k in range(PAD_COTOS):
            posted = browser.post(
                f"{PROFILE.public_url}/api/cotos", json={"content": f"anonymous coto {k}: {seed.CONTENT}"}, timeout=10
            )
            if posted.status_code != 201:
                raise BenchError(f"posting to the anonymous pad answered {posted.status_code}: {posted.text}")
        pad = browser.cookies["anonymous_id"]
    return Seeded(
        heavy_cursor=seed.cursor_after(urls["cotos"], seed.HEAVY, 1_000),
        light_cursor=seed.cursor_after(urls["cotos"], seed.LIGHT, scale.light_cotos - PAGE),
        anonymous_pad=pad,
        seconds=time.monotonic() - started,
    )


def access_cookies(numbers: Iterable[int]) -> tuple[str, ...]:
    """Access cookies for seeded amishis, signed with the stack's own key as auth signs them."""
    signer = AccessTokenSigner(
        (PROFILE.secrets_dir / "signing-key.pem").read_bytes(), "cotoami-auth", "cotoami", lifetime_seconds=3600
    )
    return tuple(
        "access_token="
        + signer.sign(
            Amishi(seed.amishi_id(n), seed.email(n), seed.display_name(n), seed.avatar_url(PROFILE.avatar_url, n))
        )
        for n in numbers
    )


# The texts searched for (bench/seed.py says how often each is in a coto).
SEARCH_3 = "c0f"
SEARCH_1 = seed.JAPANESE[5]  # ノ
SEARCH_ABSENT = "q"


def search_for(text: str) -> str:
    return f"{PROFILE.public_url}/api/search?{urllib.parse.urlencode({'q': text})}"


def cases(seeded: Seeded, scale: seed.Scale, hello: Hello) -> list[Case]:
    api = f"{PROFILE.public_url}/api/cotos"
    heavy = access_cookies([seed.HEAVY])
    light = access_cookies([seed.LIGHT])
    deep = scale.light_cotos - PAGE
    # Reads first, so that the writes change nothing they read.
    return [
        Case("hello", "bare Falcon hello, through a gateway like the stack's (the ceiling)", "hello", hello.url),
        Case(
            "hello-page",
            f"a page of {PAGE} cotos built in Python by the hello app, through its gateway (the second ceiling)",
            "hello",
            f"{hello.url}/page",
        ),
        Case(
            "hello-direct",
            "`hello` straight to gunicorn (what the gateway costs)",
            "hello",
            f"http://127.0.0.1:{HELLO_PORT}/api/cotos",
        ),
        Case(
            "anonymous-empty", "GET /api/cotos with no cookie: all of a service's middleware, no storage", "cotos", api
        ),
        Case(
            "anonymous-timeline",
            f"anonymous pad of {PAD_COTOS} cotos, first page",
            "cotos",
            api,
            cookies=(f"anonymous_id={seeded.anonymous_pad}",),
        ),
        # Heavy and light side by side: their latencies are compared.
        Case(
            "home-heavy-first",
            f"home, first page, amishi with {scale.heavy_cotos:,} cotos",
            "cotos",
            api,
            cookies=heavy,
        ),
        Case(
            "home-light-first",
            f"home, first page, amishi with {scale.light_cotos:,} cotos",
            "cotos",
            api,
            cookies=light,
        ),
        Case(
            "home-heavy-deep",
            "home, the page 1,000 cotos deep, heavy amishi",
            "cotos",
            f"{api}?before={seeded.heavy_cursor}",
            cookies=heavy,
        ),
        Case(
            "home-light-deep",
            f"home, the last full page ({deep:,} deep), light amishi",
            "cotos",
            f"{api}?before={seeded.light_cursor}",
            cookies=light,
        ),
        Case(
            "cotonoma-timeline",
            "shared cotonoma's timeline, its 10 members in turn",
            "cotos",
            f"{api}?cotonoma={seed.cotonoma_key(1)}",
            cookies=access_cookies(seed.SHARED_MEMBERS),
        ),
        Case(
            "cotonomas-list",
            f"GET /api/cotonomas, amishi with {2 * scale.heavy_owns} cotonomas",
            "cotonomas",
            f"{PROFILE.public_url}/api/cotonomas",
            cookies=heavy,
        ),
        # Search at a million cotos (issue 15): a text of three characters, found
        # through the trigram index; one of a single character, which no trigram
        # can help, common enough that a walk of the timeline fills the page;
        # and one in no coto at all, the walk of everything they may read.
        Case(
            "search-heavy-3",
            f"search for 3 characters ({SEARCH_3!r}: in about 1 coto of 2,000), heavy amishi",
            "cotos",
            search_for(SEARCH_3),
            cookies=heavy,
        ),
        Case(
            "search-member-3",
            f"search for 3 characters ({SEARCH_3!r}), the shared cotonoma's 10 members in turn",
            "cotos",
            search_for(SEARCH_3),
            cookies=access_cookies(seed.SHARED_MEMBERS),
        ),
        Case(
            "search-heavy-1",
            f"search for 1 character ({SEARCH_1!r}: in 1 coto of {seed.JAPANESE_EVERY}), heavy amishi",
            "cotos",
            search_for(SEARCH_1),
            cookies=heavy,
        ),
        Case(
            "search-member-1",
            f"search for 1 character ({SEARCH_1!r}), the shared cotonoma's 10 members in turn",
            "cotos",
            search_for(SEARCH_1),
            cookies=access_cookies(seed.SHARED_MEMBERS),
        ),
        Case(
            "search-heavy-1-absent",
            f"search for 1 character in no coto ({SEARCH_ABSENT!r}), heavy amishi: all they may read walked",
            "cotos",
            search_for(SEARCH_ABSENT),
            cookies=heavy,
        ),
        *(
            Case(name, what, "graph", url, cookies=heavy, calls=("cotos",))
            for name, what, url in graph.cases(PROFILE.public_url)
        ),
        Case(
            "anonymous-post",
            "POST /api/cotos, anonymous",
            "cotos",
            api,
            method="POST",
            body='{"content": "anonymous coto {n} posted under load"}',
        ),
        Case(
            "signed-in-post",
            f"POST /api/cotos, signed in, {len(POSTERS)} people in turn",
            "cotos",
            api,
            method="POST",
            body='{"content": "coto {n} posted under load"}',
            cookies=access_cookies(POSTERS),
        ),
    ]


# --- measurements


def run_wrk(case: Case, seconds: int) -> WrkRun:
    cookies_file = PROFILE.run_dir / "cookies.txt"
    cookies_file.write_text("\n".join(case.cookies) + "\n")
    environment = {**os.environ, "BENCH_METHOD": case.method, "BENCH_ORIGIN": PROFILE.public_url}
    if case.cookies:
        environment["BENCH_COOKIES_FILE"] = str(cookies_file)
    if case.body:
        environment["BENCH_BODY"] = case.body
    done = subprocess.run(
        [
            "wrk",
            f"-t{WRK_THREADS}",
            f"-c{WRK_CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(BENCH / "load.lua"),
            case.url,
        ],
        env=environment,
        capture_output=True,
        text=True,
    )
    found = [line for line in done.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
    if done.returncode != 0 or not found:
        raise BenchError(f"wrk failed on {case.name}:\n{done.stdout}\n{done.stderr}")
    run: WrkRun = json.loads(found[0].removeprefix("BENCH_RESULT "))
    return run


def probe(case: Case) -> None:
    """One request first: a case that fails is a mistake in the case, not a figure."""
    answer = requests.request(
        case.method,
        case.url,
        data=(case.body or "").replace("{n}", "0") or None,
        headers={
            "Origin": PROFILE.public_url,
            "Content-Type": "application/json",
            **({"Cookie": case.cookies[0]} if case.cookies else {}),
        },
        timeout=10,
    )
    if answer.status_code >= 300:
        raise BenchError(f"{case.name}: {case.method} {case.url} answered {answer.status_code}: {answer.text[:300]}")


def measure(cases: list[Case], mode: Mode, hello: Hello, profiled: str | None) -> dict[str, Result]:
    """Every case in `mode.rounds` rounds, the cases taking turns, so that other
    work on the machine falls on all of them alike. Per case: requests over the
    whole measured time, the median of the rounds' p50s, the worst round's p99,
    and the CPU time its processes spent per request."""
    for case in cases:
        probe(case)
    runs: dict[str, list[WrkRun]] = {case.name: [] for case in cases}
    cpu = {case.name: dict.fromkeys(CPU_GROUPS, 0.0) for case in cases}
    with psycopg.connect(PROFILE.database_url("auth").rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        for round_number in range(1, mode.rounds + 1):
            for case in cases:
                if round_number == 1:
                    run_wrk(case, mode.warmup_seconds)
                pids = case_pids(case, hello, admin)
                before = {group: cpu_seconds(members) for group, members in pids.items()}
                sampler = (
                    start_profiler(case, hello, mode.seconds, profiled.partition(":")[2])
                    if profiled and case.name == profiled.partition(":")[0] and round_number == 1
                    else None
                )
                runs[case.name].append(run_wrk(case, mode.seconds))
                for group, members in pids.items():
                    cpu[case.name][group] += cpu_seconds(members) - before[group]
                if sampler:
                    summarise_profile(sampler, case)
            print(f"  round {round_number}/{mode.rounds} done", flush=True)
    results = {}
    for case in cases:
        done = runs[case.name]
        requests_made = sum(run["requests"] for run in done)
        results[case.name] = Result(
            case,
            rps=requests_made / (sum(run["duration_us"] for run in done) / 1e6),
            p50_ms=statistics.median(run["p50_us"] for run in done) / 1000,
            p99_ms=max(run["p99_us"] for run in done) / 1000,
            requests=requests_made,
            errors={kind: sum(run["errors"][kind] for run in done) for kind in done[0]["errors"]},
            cpu_ms={group: 1000 * seconds / requests_made for group, seconds in cpu[case.name].items()},
        )
    return results


CPU_GROUPS = ("service", "postgres", "gateway")
# Throughput as a share of `hello` in the same run (issue 14; the aim for the first three is 0.5),
# each with p99 under P99_TARGET_MS at WRK_CONNECTIONS connections.
THROUGHPUT_TARGETS = {
    "home-heavy-first": 0.4,
    "cotonoma-timeline": 0.4,
    "signed-in-post": 0.4,
    "anonymous-timeline": 0.5,
}
P99_TARGET_MS = 50
# Search for three characters or more at a million cotos (issue 15).
SEARCH_P50_TARGETS = ("search-heavy-3", "search-member-3")
SEARCH_P50_TARGET_MS = 50


def case_pids(case: Case, hello: Hello, admin: psycopg.Connection) -> dict[str, list[int]]:
    """The processes that serve a case: its service's gunicorn, the bench
    databases' PostgreSQL sessions, and the gateway it goes through (none for
    hello-direct). Taken anew each run: a restarted process has a new pid."""
    master = hello.app_pid if case.service == "hello" else service_master(case.service)
    gateway: int | None = None
    if case.url.startswith(PROFILE.public_url):
        gateway = int(supervisorctl(PROFILE, "pid", "gateway").stdout)
    elif case.url.startswith(HELLO_PROFILE.public_url):
        gateway = hello.gateway_pid
    sessions = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname LIKE %s", (PROFILE.database_prefix.replace("_", r"\_") + "%",)
    ).fetchall()
    return {
        "service": [
            *master_and_workers(master).values(),
            *(pid for called in case.calls for pid in master_and_workers(service_master(called)).values()),
        ],
        "postgres": [pid for (pid,) in sessions] if case.service != "hello" else [],
        "gateway": list(master_and_workers(gateway).values()) if gateway else [],
    }


def cpu_seconds(pids: list[int]) -> float:
    """User and system time of these processes so far (those gone count nothing)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


PROFILES_DIR = PROFILE.run_dir / "profiles"


def start_profiler(case: Case, hello: Hello, seconds: int, service: str = "") -> subprocess.Popen[bytes]:
    """py-spy on the case's service, or on `service` (one it calls)."""
    PROFILES_DIR.mkdir(parents=True, exist_ok=True)
    service = service or case.service
    master = hello.app_pid if service == "hello" else service_master(service)
    return subprocess.Popen(
        [
            str(VENV_BIN / "py-spy"),
            "record",
            "--pid",
            str(master),
            "--subprocesses",
            "--nonblocking",
            "--gil",  # only threads holding the GIL: where the CPU goes, not where a thread waits
            "--duration",
            str(max(1, seconds - 1)),
            "--format",
            "raw",
            "--output",
            str(PROFILES_DIR / f"{case.name}.txt"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def summarise_profile(sampler: subprocess.Popen[bytes], case: Case, top: int = 25) -> None:
    """The functions the workers' threads spent their samples in (inclusive), most first."""
    sampler.wait(60)
    inclusive: Counter[str] = Counter()
    total = 0
    for line in (PROFILES_DIR / f"{case.name}.txt").read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        total += int(count)
        # The first frame names the process; "f (file.py:12)" counts as "f (file.py)".
        frames = {re.sub(r":\d+\)$", ")", frame) for frame in stack_text.split(";")[1:]}
        for frame in frames:
            inclusive[frame] += int(count)
    print(f"\n  py-spy, {case.name} ({total} samples; {PROFILES_DIR / case.name}.txt):")
    for frame, samples in inclusive.most_common(top):
        print(f"  {100 * samples / total:5.1f}%  {frame}")


def signin_round_trips(rounds: int) -> tuple[list[float], list[float]]:
    """Each round as a person signs in: ask for a link, the mail arrives in
    maildev, then the link's token makes a session. The whole time, and the
    part until the mail was there, in milliseconds."""
    inbox = f"http://127.0.0.1:{PROFILE.inbox_port}"
    whole, mailed = [], []
    stamp = int(time.time())
    requests.delete(f"{inbox}/email/all", timeout=5)
    for k in range(rounds):
        address = f"signin-{stamp}-{k}@example.com"
        with requests.Session() as browser:
            browser.headers["Origin"] = PROFILE.public_url
            started = time.perf_counter()
            asked = browser.post(f"{PROFILE.public_url}/api/auth/signin", json={"email": address}, timeout=10)
            if asked.status_code != 202:
                raise BenchError(f"sign-in request answered {asked.status_code}: {asked.text}")
            token = None
            while token is None:
                if time.perf_counter() - started > 10:
                    raise BenchError(f"no sign-in mail to {address} within 10 s")
                for mail in requests.get(f"{inbox}/email", timeout=5).json():
                    if any(to["address"] == address for to in mail["to"]) and (link := LINK.search(mail["text"])):
                        token = link.group(1)
                if token is None:
                    time.sleep(0.005)
            arrived = time.perf_counter()
            session = browser.post(f"{PROFILE.public_url}/api/auth/session", json={"token": token}, timeout=10)
            if session.status_code != 200 or "access_token" not in browser.cookies:
                raise BenchError(f"the session answered {session.status_code}: {session.text}")
            ended = time.perf_counter()
        whole.append((ended - started) * 1000)
        mailed.append((arrived - started) * 1000)
        requests.delete(f"{inbox}/email/all", timeout=5)
    return whole, mailed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def startup_seconds(service: str) -> float:
    """From spawning the service's image command (its Dockerfile CMD, as the stack
    runs it) to its first /readyz 200, on a port of its own beside the stack."""
    port = free_port()
    environment = {**os.environ, **service_environment(PROFILE, service), "PORT": str(port)}
    started = time.monotonic()
    process = subprocess.Popen(
        image_command(service),
        cwd=ROOT / "services" / service,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while not http_ok(f"http://127.0.0.1:{port}/readyz"):
            if process.poll() is not None:
                raise BenchError(f"{service} exited with {process.returncode} before it was ready")
            if time.monotonic() - started > 30:
                raise BenchError(f"{service} not ready within 30 s")
            time.sleep(0.005)
        return time.monotonic() - started
    finally:
        process.send_signal(signal.SIGTERM)
        stopped(process)


def kilobytes(proc_file: Path, field: str) -> int:
    """A field of /proc/meminfo or /proc/PID/status, in kB."""
    found = re.search(rf"^{field}:\s+(\d+) kB$", proc_file.read_text(), re.MULTILINE)
    if not found:
        raise BenchError(f"{proc_file} has no {field}")
    return int(found[1])


def resident_mb(pid: int) -> float:
    return kilobytes(Path(f"/proc/{pid}/status"), "VmRSS") / 1024


def resident_memory(hello_master: int) -> dict[str, dict[str, float]]:
    masters = {service: service_master(service) for service in SERVICES} | {"hello": hello_master}
    return {
        name: {role: resident_mb(pid) for role, pid in master_and_workers(master).items()}
        for name, master in masters.items()
    }


def live_fanout(posts: int) -> live.LiveRun:
    """LIVE_STREAMS streams of the shared cotonoma, its 10 members' cookies in
    turn, on one live process of its own: its image command with one worker
    (WEB_CONCURRENCY=1) on a port of its own beside the stack, reached straight;
    its owner posts through the gateway (bench/live.py times it all)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = LIVE_STREAMS + 1024  # the streams on both ends, and what else each process opens
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise BenchError(f"open files are limited to {hard}; the live case needs {needed} (ulimit -Hn)")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))  # the live process inherits it
    port = free_port()
    environment = {
        **os.environ,
        **service_environment(PROFILE, "live"),
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
    }
    logs = PROFILE.run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "bench-live.log").open("ab") as log:
        process = subprocess.Popen(
            image_command("live"),
            cwd=ROOT / "services" / "live",
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: http_ok(f"http://127.0.0.1:{port}/readyz"), 30, "the bench's live process")
        return asyncio.run(
            live.fan_out(
                live_port=port,
                cotonoma_key=seed.cotonoma_key(1),
                listener_cookies=access_cookies(seed.SHARED_MEMBERS),
                streams=LIVE_STREAMS,
                gateway_url=PROFILE.public_url,
                owner_cookie=access_cookies([seed.HEAVY])[0],
                posts=posts,
                resident_mb=lambda: {role: resident_mb(pid) for role, pid in master_and_workers(process.pid).items()},
                live_cpu_seconds=lambda: cpu_seconds(list(master_and_workers(process.pid).values())),
            )
        )
    except live.LiveError as error:
        raise BenchError(f"live: {error}") from None
    finally:
        process.send_signal(signal.SIGTERM)
        stopped(process)


def live_summary(run: live.LiveRun) -> str:
    timed = (
        f"201 → all: p50 {percentile(run.to_all_ms, 50):.0f} ms  p99 {percentile(run.to_all_ms, 99):.0f} ms  "
        f"(→ first: p50 {percentile(run.to_first_ms, 50):.0f} ms)"
        if run.to_all_ms
        else "no post reached every stream"
    )
    memory = ", ".join(f"{role} {mb:.0f} MB" for role, mb in run.resident_mb.items())
    cpu = f"CPU ms/post: live {run.live_cpu_ms:.0f}, client {run.client_cpu_ms:.0f}"
    return f"  live {run.streams:,} streams  {timed}  missed {run.missed}  {memory}  {cpu}"


# --- the machine and the report


def command_output(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else "?"


def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "?",
    )
    memory_kb = kilobytes(Path("/proc/meminfo"), "MemTotal")
    redis_info = redis_client(PROFILE.redis_url)
    try:
        redis_version = redis_info.info("server")["redis_version"]
    finally:
        redis_info.close()
    postgres = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(PROFILE.postgres_port), "-U", "postgres", "-tAc", "SHOW server_version"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    versions = {name: importlib.metadata.version(name) for name in ("falcon", "gunicorn", "psycopg")}
    return {
        "CPU": f"{os.cpu_count()} cores, {cpu}",
        "memory": f"{memory_kb / 1024 / 1024:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "PostgreSQL": postgres,
        "Redis": redis_version,
        "nginx": command_output([nginx_binary(), "-v"]).split("/")[-1],
        "wrk": command_output(["wrk", "-v"]).split()[1] if shutil.which("wrk") else "?",
        "packages": ", ".join(f"{name} {version}" for name, version in versions.items()),
        "workers": f"WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', '2 (default)')}, "
        f"WEB_THREADS={os.environ.get('WEB_THREADS', '4 (default)')}, gthread, 1 instance of each service",
    }


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def held(ok: bool) -> str:
    return "held" if ok else "**missed**"


def report(
    mode: Mode,
    argv: list[str],
    facts: dict[str, str],
    results: dict[str, Result],
    seeded: Seeded,
    signin: tuple[list[float], list[float]],
    starts: dict[str, list[float]],
    memory: dict[str, dict[str, float]],
    live_run: live.LiveRun,
    loads: tuple[str, str],
    began: datetime,
    ended: datetime,
) -> str:
    scale = mode.scale
    lines = [
        RESULTS_BEGIN,
        "",
        f"Figures from **one run** of `{' '.join(argv)}` on this machine, {began:%Y-%m-%d} "
        f"{began:%H:%M} to {ended:%H:%M} UTC ({mode.name} mode). The machine is shared: other work ran beside it "
        f"(load average 1/5/15 min: {loads[0]} at the start, {loads[1]} at the end), so absolute figures "
        "move from run to run; the targets are ratios within this run.",
        "",
        "### The machine",
        "",
        "| | |",
        "| --- | --- |",
        *(f"| {name} | {value} |" for name, value in facts.items()),
        "",
        "### What ran",
        "",
        f"- `make bench{' QUICK=1' if mode.name == 'quick' else ''}` runs `tools/install.sh --bench` (wrk, py-spy), "
        f"then `.venv/bin/python bench/run.py{' --quick' if mode.name == 'quick' else ''}`.",
        "- The stack: `python -m cotoami_stack up --profile bench --fresh`, the `dev` settings on their own ports "
        f"(gateway {PROFILE.public_url}) and databases (`{PROFILE.database_prefix}*`), stopped at the end.",
        f"- Seeded in SQL in {seeded.seconds:.0f} s: {scale.cotos:,} cotos over {scale.amishis:,} amishis; one "
        f"heavy amishi with {scale.heavy_cotos:,} cotos, one light one with exactly {scale.light_cotos:,}; "
        f"{scale.cotonomas:,} cotonomas with members, one shared with 10 members and "
        f"{scale.shared_cotonoma_cotos:,} cotos in it.",
        f"- Each case: `wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{mode.seconds}s --timeout 5s -s bench/load.lua URL`, "
        f"{mode.rounds} times, the cases taking turns (after a {mode.warmup_seconds} s warm-up each), so that "
        "other work on the machine falls on all of them alike; requests/s over all rounds, p50 the median of the "
        "rounds', p99 the worst round's. Signed-in cases carry access cookies signed with the stack's key, as auth "
        "signs them. Pages are the web client's, 50 cotos.",
        "- The ceiling, `hello`: `bench/hello.py`, a bare Falcon app, under gunicorn with the services' own "
        "configuration (`cotoami_common.gunicorn_conf`, same workers and threads), behind a gateway rendered "
        "by the same code from the same template (only its ports differ), so that the ratios compare the "
        "services' own work and nothing else. `hello-page` is the second ceiling: the same app answering a page "
        f"of {PAGE} cotos of the contract's shape built in Python and encoded by Falcon's JSON handler; "
        "`hello-direct` is `hello` without the gateway.",
        "",
        "### Load through the gateway",
        "",
        "CPU is what the case's own processes spent per request (from /proc): its service's gunicorn "
        "(master and workers; for graph's cases, cotos' too, which graph asks for the cotos it shows), "
        "the bench databases' PostgreSQL sessions, the gateway's nginx.",
        "",
        "| case | what | requests/s | p50 ms | p99 ms | requests | errors "
        "| CPU ms/request: service + PostgreSQL + gateway |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results.values():
        errors = ", ".join(f"{kind} {n}" for kind, n in result.errors.items() if n) or "0"
        cpu = " + ".join(f"{result.cpu_ms[group]:.2f}" for group in CPU_GROUPS)
        lines.append(
            f"| `{result.case.name}` | {result.case.what} | {result.rps:,.0f} | {result.p50_ms:.1f} | "
            f"{result.p99_ms:.1f} | {result.requests:,} | {errors} | {cpu} |"
        )
    whole, mailed = signin
    roles = max(memory.values(), key=len)  # the widest row's columns
    lines += [
        "",
        "### Sign-in round trip",
        "",
        f"{len(whole)} sign-ins one after another, each a new address: `POST /api/auth/signin`, the mail polled "
        "from maildev's API (every 5 ms) until it holds the link, then `POST /api/auth/session` with the token.",
        "",
        "| | p50 ms | p99 ms |",
        "| --- | ---: | ---: |",
        f"| request → mail in maildev | {percentile(mailed, 50):.0f} | {percentile(mailed, 99):.0f} |",
        f"| request → session | {percentile(whole, 50):.0f} | {percentile(whole, 99):.0f} |",
        "",
        "### Start-up",
        "",
        f"Each service's image command spawned {mode.starts} times on a port of its own beside the running "
        "stack; the time until its `/readyz` first answers 200.",
        "",
        "| service | median s | slowest s |",
        "| --- | ---: | ---: |",
        *(f"| {service} | {statistics.median(times):.2f} | {max(times):.2f} |" for service, times in starts.items()),
        "",
        "### Resident memory after the load",
        "",
        "VmRSS of each gunicorn process, in MB (shared pages count in every process that maps them).",
        "",
        "| service | " + " | ".join(roles) + " |",
        "| --- |" + " ---: |" * len(roles),
        *(
            f"| {name} | " + " | ".join(f"{mb:.0f}" for mb in processes.values()) + " |"
            for name, processes in memory.items()
        ),
    ]
    lines += [
        "",
        "### Live streams",
        "",
        f"{live_run.streams:,} event streams (`GET /api/live/cotonomas/KEY`) open on **one** live process: its "
        "image command with one worker (`WEB_CONCURRENCY=1`) on a port of its own beside the stack, reached "
        "straight, not through the gateway; all on the shared cotonoma, with its 10 members' access cookies in "
        f"turn. Its owner then posts {live_run.posts} cotos into it through the gateway, one after another "
        f"(each {live_run.gap_seconds} s after the last one's event reached every stream). `bench/live.py` "
        "times it on one asyncio loop over raw sockets, the streams' and the posts' alike: from each POST's "
        "201 to its `coto` event having arrived on every stream, which includes "
        f"this client reading {live_run.streams:,} copies of each event on the same cores.",
        "",
        "| | p50 ms | p99 ms | slowest ms |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| POST 201 → `coto` on {what} | {percentile(times, 50):.0f} | {percentile(times, 99):.0f} | "
            f"{max(times):.0f} |"
            for what, times in (
                (f"all {live_run.streams:,} streams", live_run.to_all_ms),
                ("the first stream", live_run.to_first_ms),
            )
            if times
        ),
        "",
        f"Posts whose event had not reached every stream within 10 s: {live_run.missed}. Resident memory (VmRSS, MB) "
        f"of that live process with the {live_run.streams:,} streams open, the most seen before and after the "
        "posts: "
        + ", ".join(f"{role} {mb:.0f}" for role, mb in live_run.resident_mb.items())
        + f". CPU time per post while posting: the live process {live_run.live_cpu_ms:.0f} ms, this client "
        f"{live_run.client_cpu_ms:.0f} ms (both on the machine's {os.cpu_count()} cores, with whatever else ran).",
    ]
    lines += ["", "### Targets", "", "| target | measured | |", "| --- | --- | --- |"]
    lines += [
        f"| {name} | {measured} | {held(ok)} |"
        for name, measured, ok in targets(results, signin, starts, memory, live_run)
    ]
    lines += ["", RESULTS_END]
    return "\n".join(lines) + "\n"


def targets(
    results: dict[str, Result],
    signin: tuple[list[float], list[float]],
    starts: dict[str, list[float]],
    memory: dict[str, dict[str, float]],
    live_run: live.LiveRun,
) -> list[tuple[str, str, bool]]:
    hello, page = results["hello"].rps, results["hello-page"].rps
    rows = []
    for name, least in THROUGHPUT_TARGETS.items():
        result = results[name]
        ratio = result.rps / hello
        rows.append(
            (
                f"`{name}` throughput ≥ {least} times `hello`, p99 < {P99_TARGET_MS} ms",
                f"{ratio:.2f} times ({result.rps:,.0f} / {hello:,.0f}; {result.rps / page:.2f} times `hello-page`), "
                f"p99 {result.p99_ms:.1f} ms",
                ratio >= least and result.p99_ms < P99_TARGET_MS,
            )
        )
    for name in SEARCH_P50_TARGETS:
        result = results[name]
        rows.append(
            (
                f"`{name}` p50 < {SEARCH_P50_TARGET_MS} ms",
                f"{result.p50_ms:.1f} ms ({result.rps:,.0f} requests/s)",
                result.p50_ms < SEARCH_P50_TARGET_MS,
            )
        )
    for heavy, light in (("home-heavy-first", "home-light-first"), ("home-heavy-deep", "home-light-deep")):
        ratio = results[heavy].p50_ms / results[light].p50_ms
        rows.append(
            (
                f"`{heavy}` p50 ≤ 1.3 times `{light}` p50",
                f"{ratio:.2f} times ({results[heavy].p50_ms:.1f} / {results[light].p50_ms:.1f} ms)",
                ratio <= 1.3,
            )
        )
    p50 = percentile(signin[0], 50)
    rows.append(("sign-in round trip p50 < 300 ms", f"{p50:.0f} ms", p50 < 300))
    slowest = max(starts, key=lambda s: statistics.median(starts[s]))
    median = statistics.median(starts[slowest])
    rows.append(
        ("every service ready ≤ 1.5 s after start (median)", f"slowest: {slowest} {median:.2f} s", median <= 1.5)
    )
    workers = {
        f"{name} {role}": mb
        for name, processes in memory.items()
        if name != "hello"
        for role, mb in processes.items()
        if role != "master"
    }
    largest = max(workers, key=lambda worker: workers[worker])
    rows.append(
        ("< 100 MB resident per worker", f"largest: {largest} {workers[largest]:.0f} MB", workers[largest] < 100)
    )
    for name in graph.TARGETS:
        p50 = results[name].p50_ms
        rows.append((f"`{name}` p50 < {graph.P50_TARGET_MS} ms", f"{p50:.1f} ms", p50 < graph.P50_TARGET_MS))
    errors = sum(result.error_count for result in results.values())
    rows.append(("no failed request", f"{errors} errors", errors == 0))
    rows += live_targets(live_run)
    return rows


def live_targets(run: live.LiveRun) -> list[tuple[str, str, bool]]:
    reached = f"{len(run.to_all_ms)} of {run.posts} posts reached every stream"
    p99 = percentile(run.to_all_ms, 99) if run.to_all_ms else float("inf")
    # The process holding the streams: its one worker (its master holds none).
    worker = max(mb for role, mb in run.resident_mb.items() if role != "master")
    return [
        (
            f"live: POST 201 → `coto` on all {run.streams:,} streams, p99 < 250 ms",
            f"{p99:.0f} ms ({reached})",
            p99 < 250 and run.missed == 0,
        ),
        (
            f"live: < 150 MB resident, the process holding {run.streams:,} streams",
            f"{worker:.0f} MB",
            worker < 150,
        ),
    ]


def percentile(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def write_report(path: Path, text: str) -> None:
    """Replaces the generated part of the file, keeping what people wrote around it."""
    existing = path.read_text() if path.exists() else "# Benchmarks\n\n" + RESULTS_BEGIN + "\n" + RESULTS_END + "\n"
    before, found, rest = existing.partition(RESULTS_BEGIN)
    _, end, after = rest.partition(RESULTS_END)
    if not found or not end:
        raise BenchError(f"{path} lost its markers: put back {RESULTS_BEGIN!r} and {RESULTS_END!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(before + text.rstrip("\n") + after)


# --- the run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="less data, shorter runs; not written to BENCHMARKS.md")
    parser.add_argument(
        "--only", help="comma-separated case names (and signin, startup, memory, live, archive): only these, printed"
    )
    parser.add_argument(
        "--profile",
        metavar="CASE[:SERVICE]",
        help="sample that case's service (or SERVICE, one it calls) with py-spy while measured",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the seeded bench stack running (python -m cotoami_stack down --profile bench)",
    )
    args = parser.parse_args()
    # Stopped from outside (or Ctrl-C, where the shell lets it through): still stop what it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    mode = QUICK if args.quick else FULL
    only = set(args.only.split(",")) if args.only else None
    argv = ["make", "bench", *(["QUICK=1"] if args.quick else [])]
    began, load_before = datetime.now(UTC), load_average()
    hello = Hello()
    try:
        print(f"bench ({mode.name}): starting the bench stack afresh ({PROFILE.public_url})", flush=True)
        stack_command("up", "--fresh")
        print(f"bench: seeding {mode.scale.cotos:,} cotos over {mode.scale.amishis:,} amishis", flush=True)
        seeded = seed_stack(mode.scale)
        print(f"bench: seeded in {seeded.seconds:.0f} s", flush=True)
        hello.start()
        chosen = [case for case in cases(seeded, mode.scale, hello) if not only or case.name in only]
        results = measure(chosen, mode, hello, args.profile)
        for result in results.values():
            print(
                f"  {result.case.name:<20} {result.rps:8,.0f} req/s  p50 {result.p50_ms:7.1f} ms  "
                f"p99 {result.p99_ms:7.1f} ms  errors {result.error_count}  CPU ms/request "
                + " + ".join(f"{result.cpu_ms[group]:.2f}" for group in CPU_GROUPS),
                flush=True,
            )
        signin = starts = memory = None
        if not only or "memory" in only:
            memory = resident_memory(hello.app_pid)
            for name, processes in memory.items():
                print(f"  memory {name:<10} " + ", ".join(f"{role} {mb:.0f} MB" for role, mb in processes.items()))
        hello.stop()
        live_run = None
        if not only or "live" in only:
            live_run = live_fanout(mode.live_posts)
            print(live_summary(live_run), flush=True)
        archive_run = None
        if not only or "archive" in only:  # 100,000 cotos (10,000 quick) imported, exported, imported again
            archive_pids = lambda: master_and_workers(service_master("archive")).values()  # noqa: E731
            archive_run = archive.measure(PROFILE.public_url, PROFILE.secrets_dir, archive_pids, mode.scale.cotos // 10)
            print(archive.summary(archive_run), flush=True)
        if not only or "signin" in only:
            signin = signin_round_trips(mode.signin_rounds)
            print(
                f"  sign-in round trip   p50 {percentile(signin[0], 50):.0f} ms  p99 {percentile(signin[0], 99):.0f} ms"
                f"  (mail in maildev: p50 {percentile(signin[1], 50):.0f} ms)",
                flush=True,
            )
        if not only or "startup" in only:
            starts = {service: [startup_seconds(service) for _ in range(mode.starts)] for service in SERVICES}
            for service, times in starts.items():
                print(f"  start-up {service:<10} " + ", ".join(f"{t:.2f} s" for t in times), flush=True)
        facts = machine()
    finally:
        hello.stop()
        if not args.keep:
            stack_command("down")
    if only:
        return 0
    # Without --only, every measurement ran.
    assert signin is not None and starts is not None and memory is not None and live_run is not None
    assert archive_run is not None
    text = report(
        mode,
        argv,
        facts,
        results,
        seeded,
        signin,
        starts,
        memory,
        live_run,
        (load_before, load_average()),
        began,
        datetime.now(UTC),
    )
    text = text.replace(RESULTS_END, archive.markdown(archive_run) + "\n" + RESULTS_END)
    write_report(mode.output, text)
    print(f"bench: wrote {mode.output.relative_to(ROOT)}")
    for name, measured, ok in targets(results, signin, starts, memory, live_run):
        print(f"  {'held  ' if ok else 'MISSED'} {name}: {measured}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"make bench: {error}", file=sys.stderr)
        sys.exit(1)
