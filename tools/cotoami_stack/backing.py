"""The backing servers: PostgreSQL and Redis (reused where they already listen
on the default ports, else started privately under .run/backing), a stack's
own PostgreSQL and Redis where its profile has them, and maildev."""

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from cotoami_stack import StackError
from cotoami_stack.probes import port_open
from cotoami_stack.profiles import POSTGRES_PORT, REDIS_PORT, ROOT, Profile

PRIVATE = ROOT / ".run" / "backing"


def ensure_backing_services() -> None:
    """PostgreSQL and Redis answer on their default ports (what the services' own tests use)."""
    if not port_open(POSTGRES_PORT):
        start_postgres(PRIVATE / "postgres", POSTGRES_PORT)
    if not port_open(REDIS_PORT):
        start_private_redis(PRIVATE / "redis")


def stop_private_backing_services() -> None:
    pid_file = PRIVATE / "redis" / "redis.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):  # already gone, or never started
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        pid_file.unlink(missing_ok=True)
    stop_postgres(PRIVATE / "postgres")


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
        initdb = str(Path(program).parent / "initdb")
        subprocess.run(
            _as_postgres_user([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"]),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data}"
    subprocess.run(
        _as_postgres_user([program, "-D", str(data), "-l", str(data / "server.log"), "-w", "start", "-o", options]),
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
            *(server, "--bind", "127.0.0.1", "--port", str(REDIS_PORT), "--daemonize", "yes"),
            *("--dir", str(data), "--appendonly", "yes"),
            *("--pidfile", str(data / "redis.pid"), "--logfile", str(data / "redis.log")),
        ],
        check=True,
    )
    deadline = time.monotonic() + 10
    while not port_open(REDIS_PORT):
        if time.monotonic() > deadline:
            raise StackError(f"the private Redis did not start; see {data / 'redis.log'}")
        time.sleep(0.1)


def own_redis_command(profile: Profile, port: int) -> list[str]:
    """A stack's own Redis on `port`, in the foreground under supervisord (tests restart it)."""
    return [
        *(shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port", str(port)),
        *("--dir", str(own_redis_dir(profile)), "--appendonly", "yes", "--save", ""),
    ]


def own_redis_dir(profile: Profile) -> Path:
    return profile.run_dir / "redis"


def maildev_command(profile: Profile) -> list[str]:
    maildev = ROOT / "node_modules" / ".bin" / "maildev"
    return [str(maildev), "--ip", "127.0.0.1", "--smtp", str(profile.smtp_port), "--web", str(profile.inbox_port)]
