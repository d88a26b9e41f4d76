"""The local stack: every service, the gateway and maildev on this machine,
under supervisord, as Kubernetes would run them (see DESIGN.md "Local stack").

    python tools/stack.py up|down|restart|status|logs|backing [--profile dev|e2e|bench] [--fresh] [--replicas N]
    python tools/stack.py rollout SERVICE [--profile dev|e2e|bench]

`dev` is what `make up` runs (gateway on :8000). `e2e` is the stack the
end-to-end tests start, on other ports and databases, so the two never meet.
`bench` is the one `make bench` seeds and loads (gateway on :28000; see bench/).
`backing` only makes sure PostgreSQL and Redis answer (the services' own tests need them).
Each service runs the exact command of its Dockerfile's CMD.

Replicas: each service runs N instances (supervisord programs SVC-1..SVC-N in
the group SVC, so `supervisorctl stop cotos:*` stops them all). Every instance
binds two ports: the service's port (shared by all its instances through
SO_REUSEPORT: what the other services call, as they would call a ClusterIP
Service) and a port of its own, which the gateway balances over and the route
cookie sticks to. `rollout SERVICE` replaces one service's processes with new
ones (new code) while the gateway keeps serving; see rollout() below.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
SERVICES = ("auth", "cotos", "cotonomas", "mailer")
POSTGRES_PORT = 5432
REDIS_PORT = 6379
READY_TIMEOUT = 90
MAX_REPLICAS = 8
SURGE = 9  # the instance number of the extra process a rollout starts (its port's last digit)


@dataclass(frozen=True)
class Profile:
    name: str
    gateway_port: int
    first_service_port: int
    smtp_port: int
    inbox_port: int
    database_prefix: str
    own_redis_port: int | None  # a Redis of the stack's own (tests restart it), else the shared one on 6379
    own_postgres_port: int | None  # a PostgreSQL of the stack's own (tests stop it), else the shared one on 5432
    upstream_timeout: str  # how long the gateway waits for a service's answer
    avatar_url: str  # where avatars come from; tests must not reach outside hosts
    auth_limit_per_client: int  # sign-in requests and link uses per client address per 15 minutes
    mail_reclaim_idle_ms: int  # how long a crashed mailer's job waits before another takes it
    default_replicas: int  # instances of each service when `up` is not told otherwise
    anonymous_writes_per_client: int = 300  # per 15 minutes, as in production; tests and load write more

    @property
    def run_dir(self) -> Path:
        return ROOT / ".run" / self.name

    def service_port(self, service: str) -> int:
        """The port every instance of the service shares (SO_REUSEPORT): what other services call."""
        return self.first_service_port + SERVICES.index(service)

    def instance_port(self, service: str, instance: int) -> int:
        """One instance's own port (instance SURGE: a rollout's extra process): what the gateway balances over.
        dev: auth 8101.., cotos 8111.., cotonomas 8121.., mailer 8131..; e2e the same from 18100."""
        return self.gateway_port + 100 + 10 * SERVICES.index(service) + instance

    @property
    def postgres_port(self) -> int:
        return self.own_postgres_port or POSTGRES_PORT

    def database_url(self, service: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.postgres_port}/{self.database_prefix}{service}"

    @property
    def redis_port(self) -> int:
        return self.own_redis_port or REDIS_PORT

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def secrets_dir(self) -> Path:
        return self.run_dir / "secrets"


def e2e_profile(slot: int) -> Profile:
    """The stack the end-to-end tests start. Its own Redis and PostgreSQL,
    which tests restart and stop; a short gateway timeout, so tests see a 504
    without waiting long; avatars from the gateway itself (a 404 the web client
    falls back from), never an outside host; room for the many sign-ins tests
    make from one address; a crashed mailer's jobs retaken soon. Two instances
    of each service, as in Kubernetes, so every end-to-end test runs against
    balanced replicas (8 gunicorns start in about 10 s on 2 cores).
    Slot N (COTOAMI_E2E_SLOT) moves every port up by N * 1000 and uses
    .run/e2e-N, so several test runs can share one machine."""
    shift = 1000 * slot
    gateway_port = 18000 + shift
    return Profile(
        name="e2e" if slot == 0 else f"e2e-{slot}",
        gateway_port=gateway_port,
        first_service_port=gateway_port + 1,
        smtp_port=11025 + shift,
        inbox_port=11080 + shift,
        database_prefix="cotoami_e2e_",
        own_redis_port=16379 + shift,
        own_postgres_port=15432 + shift,
        upstream_timeout="3s",
        avatar_url=f"http://127.0.0.1:{gateway_port}/avatars/",
        auth_limit_per_client=10_000,
        mail_reclaim_idle_ms=3_000,
        default_replicas=2,
        anonymous_writes_per_client=100_000,
    )


PROFILES = {
    "dev": Profile(
        name="dev",
        gateway_port=8000,
        first_service_port=8001,
        smtp_port=1025,
        inbox_port=1080,
        database_prefix="cotoami_",
        own_redis_port=None,
        own_postgres_port=None,
        upstream_timeout="30s",
        avatar_url="https://www.gravatar.com/avatar/",
        auth_limit_per_client=100,
        mail_reclaim_idle_ms=30_000,
        default_replicas=1,
    ),
    "e2e": e2e_profile(int(os.environ.get("COTOAMI_E2E_SLOT") or 0)),
    # What `make bench` starts, seeds and stops: dev's settings on ports and
    # databases of its own, so its million cotos never reach what you wrote;
    # its own Redis, so anonymous pads stay apart; avatars from its own gateway
    # and no sign-in limit that load from one address would hit.
    "bench": Profile(
        name="bench",
        gateway_port=28000,
        first_service_port=28001,
        smtp_port=21025,
        inbox_port=21080,
        database_prefix="cotoami_bench_",
        own_redis_port=26379,
        own_postgres_port=None,
        upstream_timeout="30s",
        avatar_url="http://127.0.0.1:28000/avatars/",
        auth_limit_per_client=1_000_000,
        mail_reclaim_idle_ms=30_000,
        default_replicas=1,
        anonymous_writes_per_client=1_000_000,
    ),
}


class StackError(Exception):
    """Something the person must fix; the message says what and how."""


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def image_command(service: str) -> list[str]:
    """The service's Dockerfile CMD, with programs taken from our venv."""
    dockerfile = ROOT / "services" / service / "Dockerfile"
    cmd_lines = [line for line in dockerfile.read_text().splitlines() if line.startswith("CMD ")]
    if not cmd_lines:
        raise StackError(f"{dockerfile} has no exec-form CMD")
    argv = json.loads(cmd_lines[-1][4:])
    return [str(VENV_BIN / argv[0]), *argv[1:]]


def service_environment(profile: Profile, service: str) -> dict[str, str]:
    secrets_dir = profile.secrets_dir
    environment = {
        "SERVICE_NAME": service,
        "PORT": str(profile.service_port(service)),
        "BIND_HOST": "127.0.0.1",
        "DATABASE_URL": profile.database_url(service),
        "REDIS_URL": profile.redis_url,
        "ALLOWED_ORIGINS": f"{profile.public_url},http://localhost:{profile.gateway_port}",
        "PUBLIC_URL": profile.public_url,
        "JWT_PUBLIC_KEYS_FILE": str(secrets_dir / "jwks.json"),
        "INTERNAL_TOKEN_FILE": str(secrets_dir / "internal-token"),
        "PYTHONUNBUFFERED": "1",
    }
    environment.update(
        {
            "auth": {
                "JWT_SIGNING_KEY_FILE": str(secrets_dir / "signing-key.pem"),
                "COTOS_INTERNAL_URL": f"http://127.0.0.1:{profile.service_port('cotos')}",
                "GRAVATAR_URL": profile.avatar_url,
                "SIGNIN_LIMIT_PER_CLIENT": str(profile.auth_limit_per_client),
                "SESSION_LIMIT_PER_CLIENT": str(profile.auth_limit_per_client),
            },
            "cotos": {
                "COTONOMAS_INTERNAL_URL": f"http://127.0.0.1:{profile.service_port('cotonomas')}",
                "ANONYMOUS_WRITES_PER_CLIENT": str(profile.anonymous_writes_per_client),
            },
            "cotonomas": {"COTOS_INTERNAL_URL": f"http://127.0.0.1:{profile.service_port('cotos')}"},
            "mailer": {
                "SMTP_URL": f"smtp://127.0.0.1:{profile.smtp_port}",
                "MAIL_RECLAIM_IDLE_MS": str(profile.mail_reclaim_idle_ms),
            },
        }.get(service, {})
    )
    return environment


def ensure_secrets(profile: Profile) -> None:
    """Keys and the service credential, made once per stack and kept, so
    sessions survive a restart. In Kubernetes they come from Secrets."""
    directory = profile.secrets_dir
    if not (directory / "signing-key.pem").exists():
        subprocess.run(
            [str(VENV_BIN / "python"), "-m", "cotoami_common.tokens", "generate-keys", str(directory)], check=True
        )
    token = directory / "internal-token"
    if not token.exists():
        token.touch(mode=0o600)
        token.write_text(secrets.token_urlsafe(32) + "\n")


# --- backing services: reuse what listens on the default ports, else start our own


def ensure_backing_services() -> None:
    private = ROOT / ".run" / "backing"
    if not port_open(POSTGRES_PORT):
        start_postgres(private / "postgres", POSTGRES_PORT)
    if not port_open(REDIS_PORT):
        start_private_redis(private / "redis")


def _as_postgres_user(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root.
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def pg_ctl() -> str:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    found = str(candidates[-1]) if candidates else shutil.which("pg_ctl")
    if not found:
        raise StackError("PostgreSQL's server is not installed: install it with 'apt-get install -y postgresql'")
    return found


def start_postgres(data: Path, port: int) -> None:
    """A PostgreSQL server of our own in `data` (made on first use), on `port`."""
    if port_open(port):
        return
    program = pg_ctl()
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(data, "postgres", "postgres")
        subprocess.run(
            _as_postgres_user(
                [str(Path(program).parent / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    subprocess.run(
        _as_postgres_user(
            [
                program,
                "-D",
                str(data),
                "-l",
                str(data / "server.log"),
                "-w",
                "start",
                "-o",
                f"-c listen_addresses=127.0.0.1 -p {port} -k {data}",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def stop_postgres(data: Path, mode: str = "fast") -> None:
    """Stop a PostgreSQL started by start_postgres: "fast" ends open sessions,
    "immediate" is a crash (tests use it; the next start recovers)."""
    if (data / "postmaster.pid").exists():
        subprocess.run(
            _as_postgres_user([pg_ctl(), "-D", str(data), "-m", mode, "-w", "stop"]),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def start_private_redis(data: Path) -> None:
    server = shutil.which("redis-server")
    if not server:
        raise StackError(
            f"Redis is not listening on 127.0.0.1:{REDIS_PORT} and is not installed: "
            "start it, or install it with 'apt-get install -y redis-server'"
        )
    data.mkdir(parents=True, exist_ok=True)
    print(f"starting a private Redis in {data.relative_to(ROOT)}")
    subprocess.run(
        [
            server,
            "--bind",
            "127.0.0.1",
            "--port",
            str(REDIS_PORT),
            "--daemonize",
            "yes",
            "--dir",
            str(data),
            "--appendonly",
            "yes",
            "--pidfile",
            str(data / "redis.pid"),
            "--logfile",
            str(data / "redis.log"),
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not port_open(REDIS_PORT):
        if time.monotonic() > deadline:
            raise StackError(f"the private Redis did not start; see {data / 'redis.log'}")
        time.sleep(0.1)


def stop_private_backing_services() -> None:
    private = ROOT / ".run" / "backing"
    pid_file = private / "redis" / "redis.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            pass
        pid_file.unlink(missing_ok=True)
    stop_postgres(private / "postgres")


# --- databases


def migrate(profile: Profile, services: tuple[str, ...] = SERVICES) -> None:
    """Run each service's migrations as its Kubernetes Job would, all at once."""
    jobs = {
        service: subprocess.Popen(
            [str(VENV_BIN / "python"), "-m", "cotoami_common.migrate", "--create-database", "migrations"],
            cwd=ROOT / "services" / service,
            env={**os.environ, "DATABASE_URL": profile.database_url(service)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for service in services
    }
    for service, job in jobs.items():
        output, _ = job.communicate()
        if job.returncode != 0:
            raise StackError(f"migrations of {service} failed:\n{output}")


def reset(profile: Profile) -> None:
    """Drop the profile's databases and its Redis data (tests start clean)."""
    if profile.name == "dev":
        raise StackError("refusing to reset the dev stack: it holds what you wrote")
    names = ", ".join(f'"{profile.database_prefix}{service}"' for service in SERVICES)
    statements = [f'DROP DATABASE IF EXISTS "{profile.database_prefix}{s}" WITH (FORCE)' for s in SERVICES]
    for statement in statements:
        subprocess.run(
            [
                "psql",
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                str(profile.postgres_port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                statement,
            ],
            check=True,
        )
    shutil.rmtree(profile.run_dir / "redis", ignore_errors=True)
    print(f"reset {names} and the stack's Redis")


# --- the processes

ROUTED = ("auth", "cotos", "cotonomas")  # the services the gateway routes to (the mailer has no public API)
UPSTREAMS_BEGIN = "# --- upstreams"
UPSTREAMS_END = "# --- end of upstreams"


def origin_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def route_values(replicas: int) -> list[str]:
    """The `route` cookie's value for each instance position: a value nginx's
    `hash` balancer sends to that position. Its hash is Cache::Memcached's,
    ((crc32(KEY) >> 16) & 0x7fff) modulo the number of servers (all of weight 1)."""
    values = []
    for position in range(replicas):
        n = 0
        while True:
            value = f"i{position + 1}" + (f"x{n}" if n else "")
            if ((zlib.crc32(value.encode()) >> 16) & 0x7FFF) % replicas == position:
                break
            n += 1
        values.append(value)
    return values


def gateway_upstreams(profile: Profile, replicas: int, standing_in: dict[str, int]) -> str:
    """The local gateway's upstreams: one server per instance, balanced, with the
    Ingress's cookie affinity emulated (nginx open source has no sticky cookie).

    Without a valid `route` cookie the hash key is the request id, so requests
    spread at random over the instances; with one, the key is the cookie, which
    hashes to its instance. A server that is down or failing is skipped (nginx
    rehashes), so a client stuck to it falls back to a live one. The cookie is
    set, on the API's 2xx/3xx answers, whenever the client has none or was
    served by another instance than its cookie names. `standing_in` maps a
    service to the instance whose position a rollout's extra process holds for
    now: positions never move, so cookies keep their meaning during a rollout."""
    values = route_values(replicas)

    def ports(service: str) -> list[int]:
        return [
            profile.instance_port(service, SURGE if standing_in.get(service) == k else k)
            for k in range(1, replicas + 1)
        ]

    at_position = ["|".join(str(ports(service)[k]) for service in ROUTED) for k in range(replicas)]
    lines = [
        f"# Generated by tools/stack.py ({replicas} instance(s) of each service).",
        "map $cookie_route $cotoami_route_key {",
        "    default $request_id;",
        *(f"    {value} {value};" for value in values),
        "}",
        'map "$cookie_route|$upstream_addr" $cotoami_route_cookie {',
        '    default "";',
        # The last address is the one that answered (earlier ones failed).
        *(f'    "~^{value}\\|(.*, )?127\\.0\\.0\\.1:({found})$" "";' for value, found in zip(values, at_position)),
        *(
            f'    "~\\|(.*, )?127\\.0\\.0\\.1:({found})$" "route={value}; Path=/; HttpOnly; SameSite=Lax";'
            for value, found in zip(values, at_position)
        ),
        "}",
    ]
    for service in ROUTED:
        servers = " ".join(f"server 127.0.0.1:{port} max_fails=0;" for port in ports(service))
        lines.append(f"upstream {service} {{ hash $cotoami_route_key; {servers} keepalive 16; keepalive_timeout 4s; }}")
    return "\n".join(lines) + "\n"


def render_gateway(profile: Profile, replicas: int, standing_in: dict[str, int] | None = None) -> None:
    run = profile.run_dir
    for sub in ("logs", "nginx/temp"):
        (run / sub).mkdir(parents=True, exist_ok=True)

    template = (ROOT / "gateway" / "nginx" / "cotoami.conf.template").read_text()
    before, found, rest = template.partition(UPSTREAMS_BEGIN)
    _, end, after = rest.partition(UPSTREAMS_END)
    if not found or not end:
        raise StackError(
            f"gateway/nginx/cotoami.conf.template lost its '{UPSTREAMS_BEGIN}' ... '{UPSTREAMS_END}' lines"
        )
    after = after.split("\n", 1)[1]  # the rest of the end marker's line
    placeholder = "@@COTOAMI_UPSTREAMS@@"
    gateway = string.Template(before + placeholder + after).safe_substitute(
        LISTEN_PORT=f"127.0.0.1:{profile.gateway_port}",
        WEB_ROOT=str(ROOT / "gateway" / "web"),
        UPSTREAM_TIMEOUT=profile.upstream_timeout,
        AVATAR_ORIGIN=origin_of(profile.avatar_url),
    )
    upstreams = gateway_upstreams(profile, replicas, standing_in or {})
    (run / "nginx" / "cotoami.conf").write_text(gateway.replace(placeholder, upstreams))
    temp = run / "nginx" / "temp"
    # Workers run as the user who ran `make up`: root in CI, where nobody else
    # could read a checkout under /root. The gateway only listens on loopback.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    (run / "nginx" / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {run / 'nginx' / 'nginx.pid'};\n"
        "error_log stderr warn;\nevents { worker_connections 1024; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        "    default_type application/octet-stream;\n"
        f"    client_body_temp_path {temp}/body;\n    proxy_temp_path {temp}/proxy;\n"
        f"    fastcgi_temp_path {temp}/fastcgi;\n    uwsgi_temp_path {temp}/uwsgi;\n    scgi_temp_path {temp}/scgi;\n"
        f"    include {run / 'nginx' / 'cotoami.conf'};\n"
        "}\n"
    )


def instance_name(service: str, instance: int) -> str:
    return f"{service}-surge" if instance == SURGE else f"{service}-{instance}"


def service_program(profile: Profile, service: str, instance: int) -> dict:
    environment = service_environment(profile, service)
    # Overrides the configuration file's single bind (gunicorn reads this
    # variable after it): the port shared by all instances, and this one's own.
    environment["GUNICORN_CMD_ARGS"] = (
        f"--bind 127.0.0.1:{profile.service_port(service)} --bind 127.0.0.1:{profile.instance_port(service, instance)}"
    )
    return {
        "command": image_command(service),
        "directory": ROOT / "services" / service,
        "environment": environment,
        "stopwaitsecs": 25,  # longer than gunicorn's graceful timeout
    }


def render_supervisor(profile: Profile, replicas: int, surge: str | None = None) -> Path:
    """supervisord's configuration: `replicas` instances of each service, and
    while `surge` names a service, the rollout's extra process of it."""
    run = profile.run_dir
    groups = {service: [instance_name(service, k) for k in range(1, replicas + 1)] for service in SERVICES}
    programs = {
        instance_name(service, k): service_program(profile, service, k)
        for service in SERVICES
        for k in range(1, replicas + 1)
    }
    if surge:
        programs[instance_name(surge, SURGE)] = service_program(profile, surge, SURGE)
    if profile.own_redis_port:
        (run / "redis").mkdir(parents=True, exist_ok=True)
        programs["redis"] = {
            "command": [
                shutil.which("redis-server") or "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(profile.own_redis_port),
                "--dir",
                str(run / "redis"),
                "--appendonly",
                "yes",
                "--save",
                "",
            ],
            "directory": ROOT,
            "environment": {},
            "stopwaitsecs": 10,
        }
    programs["maildev"] = {
        "command": [
            str(ROOT / "node_modules" / ".bin" / "maildev"),
            "--ip",
            "127.0.0.1",
            "--smtp",
            str(profile.smtp_port),
            "--web",
            str(profile.inbox_port),
        ],
        "directory": ROOT,
        "environment": {},
        "stopwaitsecs": 5,
    }
    programs["gateway"] = {
        "command": [nginx_binary(), "-c", str(run / "nginx" / "nginx.conf"), "-p", str(run / "nginx")],
        "directory": ROOT,
        "environment": {},
        "stopwaitsecs": 10,
    }

    lines = [
        "[supervisord]",
        f"logfile={run / 'logs' / 'supervisord.log'}",
        f"pidfile={run / 'supervisord.pid'}",
        f"directory={ROOT}",
        "",
        "[unix_http_server]",
        f"file={run / 'supervisor.sock'}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{run / 'supervisor.sock'}",
        "",
    ]
    for group, members in groups.items():
        lines += [f"[group:{group}]", f"programs={','.join(members)}", ""]
    for name, program in programs.items():
        environment = ",".join(f'{key}="{value}"' for key, value in program["environment"].items())
        lines += [
            f"[program:{name}]",
            "command=" + " ".join(_quote(arg) for arg in program["command"]),
            f"directory={program['directory']}",
            *([f"environment={environment}"] if environment else []),
            "autorestart=true",
            "startsecs=1",
            "startretries=1000",
            "stopasgroup=true",
            "killasgroup=true",
            "stopsignal=TERM",
            f"stopwaitsecs={program['stopwaitsecs']}",
            "redirect_stderr=true",
            f"stdout_logfile={run / 'logs' / name}.log",
            "stdout_logfile_maxbytes=10MB",
            "stdout_logfile_backups=2",
            "",
        ]
    conf = run / "supervisord.conf"
    conf.write_text("\n".join(lines))
    return conf


def render_configs(profile: Profile, replicas: int) -> Path:
    render_gateway(profile, replicas)
    return render_supervisor(profile, replicas)


def _quote(arg: str) -> str:
    # supervisord splits commands with shlex; %% escapes its own expansion.
    return "'" + arg.replace("%", "%%").replace("'", "'\\''") + "'"


def supervisorctl(profile: Profile, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "supervisorctl"), "-c", str(profile.run_dir / "supervisord.conf"), *args],
        check=check,
        capture_output=True,
        text=True,
    )


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone in all but name: nothing of it runs.
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def supervisord_pid(profile: Profile) -> int | None:
    pid_file = profile.run_dir / "supervisord.pid"
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None


def running_replicas(profile: Profile) -> int | None:
    """How many instances of each service the running stack has (None: not running)."""
    if supervisord_pid(profile) is None:
        return None
    try:
        return int((profile.run_dir / "replicas").read_text())
    except (FileNotFoundError, ValueError):
        return 1  # started before replicas existed


def endpoints(profile: Profile, replicas: int) -> dict[str, str]:
    found = {}
    for service in SERVICES:
        found[service] = f"http://127.0.0.1:{profile.service_port(service)}/readyz"
        for k in range(1, replicas + 1):
            found[instance_name(service, k)] = f"http://127.0.0.1:{profile.instance_port(service, k)}/readyz"
    found["maildev"] = f"http://127.0.0.1:{profile.inbox_port}/email"
    found["gateway"] = f"{profile.public_url}/"
    return found


def wait_ready(profile: Profile, waiting: dict[str, str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while waiting:
        waiting = {name: url for name, url in waiting.items() if not http_ok(url)}
        if not waiting:
            return
        if time.monotonic() > deadline:
            logs = profile.run_dir / "logs"
            raise StackError(
                f"not ready after {READY_TIMEOUT}s: {', '.join(waiting)}; see {logs.relative_to(ROOT)}/NAME.log"
            )
        time.sleep(0.1)


def reload_gateway(profile: Profile) -> None:
    """Make the gateway use its rewritten configuration, and return once no
    worker with the old one is left: from then on no request, in flight or
    kept-alive, reaches a server the new configuration dropped. (nginx's HUP:
    new workers take the listening socket, old ones finish what they are doing
    and close their idle connections, then exit.)"""
    run = profile.run_dir / "nginx"
    tested = subprocess.run(
        [nginx_binary(), "-t", "-q", "-c", str(run / "nginx.conf"), "-p", str(run)], capture_output=True, text=True
    )
    if tested.returncode != 0:
        raise StackError(f"the gateway's new configuration is invalid:\n{tested.stderr}")
    master = int(supervisorctl(profile, "pid", "gateway").stdout)

    def workers() -> set[str]:
        return set(subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split())

    old = workers()
    os.kill(master, signal.SIGHUP)
    deadline = time.monotonic() + 35  # longer than any upstream timeout
    while not ((now := workers()) and not now & old):
        if time.monotonic() > deadline:
            raise StackError(f"the gateway's old workers {sorted(old & now)} did not finish within 35s")
        time.sleep(0.05)


def check_prerequisites() -> None:
    missing = [
        (what, how)
        for what, present, how in (
            ("the venv", (VENV_BIN / "supervisord").exists(), "run 'make install'"),
            ("nginx", shutil.which("nginx") or Path("/usr/sbin/nginx").exists(), "apt-get install -y nginx"),
            ("maildev", (ROOT / "node_modules" / ".bin" / "maildev").exists(), "npm install (needs Node.js and npm)"),
            ("psql", shutil.which("psql"), "apt-get install -y postgresql-client"),
        )
        if not present
    ]
    if missing:
        what, how = missing[0]
        raise StackError(f"{what} is missing: {how}")


# --- commands


def up(profile: Profile, fresh: bool, replicas: int | None) -> None:
    check_prerequisites()
    ensure_backing_services()
    if fresh:
        down(profile)
    if profile.own_postgres_port:
        start_postgres(profile.run_dir / "postgres", profile.own_postgres_port)
    if fresh:
        reset(profile)
    # Asked for, else what runs now, else the profile's.
    replicas = replicas or running_replicas(profile) or profile.default_replicas
    if not 1 <= replicas <= MAX_REPLICAS:
        raise StackError(f"REPLICAS must be 1 to {MAX_REPLICAS}")
    migrate(profile)
    ensure_secrets(profile)
    conf = render_configs(profile, replicas)
    (profile.run_dir / "replicas").write_text(f"{replicas}\n")
    if supervisord_pid(profile) is None:
        subprocess.run([str(VENV_BIN / "supervisord"), "-c", str(conf)], check=True)
    else:
        # Already running: pick up changed configuration (another REPLICAS, an
        # interrupted rollout's extra process), start anything stopped.
        supervisorctl(profile, "update")
        supervisorctl(profile, "start", "all", check=False)
        supervisorctl(profile, "signal", "HUP", "gateway", check=False)
    wait_ready(profile, endpoints(profile, replicas))
    print(f"Cotoami is up ({profile.name}, {replicas} instance(s) of each service):")
    print(f"  web          {profile.public_url}")
    print(f"  mail inbox   http://127.0.0.1:{profile.inbox_port}  (SMTP on 127.0.0.1:{profile.smtp_port})")
    for service in SERVICES:
        own = ", ".join(str(profile.instance_port(service, k)) for k in range(1, replicas + 1))
        print(f"  {service:<12} http://127.0.0.1:{profile.service_port(service)}  (instances on {own})")
    print(f"  logs         make logs   ({profile.run_dir.relative_to(ROOT)}/logs)")


def down(profile: Profile) -> None:
    pid = supervisord_pid(profile)
    if pid is not None:
        supervisorctl(profile, "shutdown", check=False)
        # supervisord removes its pid file before it exits: wait for the process itself.
        deadline = time.monotonic() + 40
        while process_alive(pid):
            if time.monotonic() > deadline:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
                break
            time.sleep(0.2)
        print(f"Cotoami is down ({profile.name}).")
    (profile.run_dir / "replicas").unlink(missing_ok=True)
    if profile.own_postgres_port:
        stop_postgres(profile.run_dir / "postgres")
    if profile.name == "dev":
        stop_private_backing_services()


def restart(profile: Profile) -> None:
    """New code in every service: migrate, then restart each (up starts only what is stopped).
    All at once, so the services are unavailable for a few seconds: `rollout` is the gentle way."""
    replicas = running_replicas(profile)
    if replicas is None:
        raise StackError("the stack is not running: run 'make up'")
    migrate(profile)
    supervisorctl(profile, "restart", *(f"{service}:*" for service in SERVICES))
    wait_ready(profile, endpoints(profile, replicas))
    print(f"Restarted {', '.join(SERVICES)} ({profile.name}).")


def rollout(profile: Profile, service: str) -> None:
    """Replace every process of one service with a new one (new code), one
    instance at a time, with no request lost: Kubernetes' RollingUpdate with
    maxSurge 1 and maxUnavailable 0.

    1. Migrate the service's database (as `make deploy-SVC` runs its Job).
    2. Start an extra process, SVC-surge, with the new code; wait for its /readyz.
    3. For each instance: the gateway puts the extra process in its place and
       reloads; once no gateway worker with the old configuration is left, no
       request can reach the instance (it is what Kubernetes' endpoint removal
       plus the preStop pause achieve). Then restart it (SIGTERM: gunicorn
       finishes what it is doing within GRACEFUL_TIMEOUT; a new process with
       the new code starts) and wait for its /readyz.
    4. The gateway takes the instances back; the extra process is stopped.

    Why not gunicorn's own upgrade (USR2, then WINCH and QUIT to the old
    master)? The new master is the old one's child: once the old one exits,
    supervisord sees its program end and starts yet another gunicorn, while the
    orphaned new one keeps running unsupervised. And why not only SO_REUSEPORT
    on the same port (start the new process beside the old one, then SIGTERM
    the old)? Linux keeps handing new connections to a draining process's
    listening socket until it closes, then resets those still queued: a POST
    on one fails, and nginx must not retry a POST. So the gateway is told
    first, and the shared port serves only service-to-service calls (which
    reach the extra process or another instance while one restarts)."""
    replicas = running_replicas(profile)
    if replicas is None:
        raise StackError("the stack is not running: run 'make up'")
    started = time.monotonic()
    migrate(profile, (service,))
    surge = instance_name(service, SURGE)

    render_supervisor(profile, replicas, surge=service)
    supervisorctl(profile, "update")  # adds and starts the extra process
    wait_ready(profile, {surge: f"http://127.0.0.1:{profile.instance_port(service, SURGE)}/readyz"})
    for k in range(1, replicas + 1):
        name = instance_name(service, k)
        if service in ROUTED:
            render_gateway(profile, replicas, standing_in={service: k})
            reload_gateway(profile)
        restarted = supervisorctl(profile, "restart", f"{service}:{name}", check=False)
        if restarted.returncode != 0 or "ERROR" in restarted.stdout:
            raise StackError(
                f"{name} did not restart ({restarted.stdout.strip()}); {surge} stands in for it: "
                f"see {(profile.run_dir / 'logs').relative_to(ROOT)}/{name}.log, then 'make up'"
            )
        wait_ready(profile, {name: f"http://127.0.0.1:{profile.instance_port(service, k)}/readyz"})
        print(f"  {name} replaced")
    if service in ROUTED:
        render_gateway(profile, replicas)
        reload_gateway(profile)
    render_supervisor(profile, replicas)
    supervisorctl(profile, "update")  # stops (gracefully) and removes the extra process
    print(f"Rolled out {service} ({profile.name}, {replicas} instance(s)) in {time.monotonic() - started:.0f}s.")


def status(profile: Profile) -> int:
    replicas = running_replicas(profile)
    if replicas is None:
        print(f"Cotoami ({profile.name}) is not running.")
        return 3
    print(supervisorctl(profile, "status", check=False).stdout, end="")
    ready = True
    for name, url in endpoints(profile, replicas).items():
        state = "ready" if http_ok(url) else "NOT READY"
        ready = ready and state == "ready"
        print(f"{name:<12} {state:<10} {url}")
    return 0 if ready else 1


def logs(profile: Profile) -> None:
    files = sorted((profile.run_dir / "logs").glob("*.log"))
    if not files:
        raise StackError(f"no logs yet in {profile.run_dir.relative_to(ROOT)}/logs: run 'make up'")
    os.execvp("tail", ["tail", "-n", "20", "-F", *map(str, files)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("up", "down", "restart", "rollout", "status", "logs", "backing"))
    parser.add_argument("service", nargs="?", choices=SERVICES, help="rollout: the service to roll out")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="dev")
    parser.add_argument("--fresh", action="store_true", help="not dev: empty databases before starting")
    parser.add_argument(
        "--replicas",
        type=int,
        help="up: instances of each service (default: as running, else the profile's: dev 1, e2e 2)",
    )
    args = parser.parse_args()
    profile = PROFILES[args.profile]
    if (args.command == "rollout") != (args.service is not None):
        parser.error("rollout takes a service, and only rollout does")
    try:
        if args.command == "up":
            up(profile, args.fresh, args.replicas)
        elif args.command == "down":
            down(profile)
        elif args.command == "restart":
            restart(profile)
        elif args.command == "rollout":
            rollout(profile, args.service)
        elif args.command == "status":
            return status(profile)
        elif args.command == "backing":
            ensure_backing_services()
        else:
            logs(profile)
    except StackError as error:
        print(f"make {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
