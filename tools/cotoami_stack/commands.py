"""The commands: `python -m cotoami_stack up|down|restart|rollout SVC|status|logs|backing|backup|restore`
(the Makefile's targets of the same names run them).

Replicas: each service runs N instances (supervisord processes SVC-1..SVC-N in
the group SVC, so `supervisorctl stop 'cotos:*'` stops them all). Every instance
binds two ports: the service's port (shared by all its instances through
SO_REUSEPORT: what the other services call, as they would call a ClusterIP
Service) and a port of its own, which the gateway balances over and the route
cookie sticks to. `backing` only makes sure PostgreSQL and Redis answer (the
services' own tests need them)."""

import argparse
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from cotoami_stack import StackError
from cotoami_stack.backing import ensure_backing_services, start_postgres, stop_postgres, stop_private_backing_services
from cotoami_stack.backup import BACKUPS, backup, newest_backup, restore
from cotoami_stack.containers import build_images, check_images, images_mode, remove_containers, set_images_mode
from cotoami_stack.gateway import start_gateway_reload
from cotoami_stack.probes import http_ok, process_alive, wait_ready
from cotoami_stack.processes import endpoints, render_configs, running_replicas
from cotoami_stack.profiles import MAX_REPLICAS, PROFILES, ROOT, SERVICES, VENV_BIN, Profile
from cotoami_stack.rollout import rollout
from cotoami_stack.services import ensure_secrets, migrate, reset
from cotoami_stack.supervisor import start_supervisord, supervisorctl, supervisord_pid

SHUTDOWN_TIMEOUT = 40  # longer than any program's stopwaitsecs


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


def up(profile: Profile, fresh: bool, replicas: int | None, images: bool = False) -> None:
    check_prerequisites()
    if images:
        check_images((*SERVICES, "gateway"))
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
    set_images_mode(profile, images)
    render_configs(profile, replicas)
    if supervisord_pid(profile) is None:
        start_supervisord(profile)
    else:
        # Already running: apply changed configuration (another REPLICAS, an
        # interrupted rollout's extra process), start anything stopped.
        supervisorctl(profile, "update")
        supervisorctl(profile, "start", "all", check=False)
        supervisorctl(profile, "signal", "HUP", "gateway", check=False)
    wait_ready(endpoints(profile, replicas), profile.logs_dir)
    if images:
        # The gateway's container renders its configuration at start: a running one renders it again.
        start_gateway_reload(profile)()
    where = "from images, with podman" if images else "from the venv"
    print(f"Cotoami is up ({profile.name}, {replicas} instance(s) of each service, {where}):")
    print(f"  web          {profile.public_url}")
    print(f"  mail inbox   http://127.0.0.1:{profile.inbox_port}  (SMTP on 127.0.0.1:{profile.smtp_port})")
    for service in SERVICES:
        own = ", ".join(str(profile.instance_port(service, k)) for k in range(1, replicas + 1))
        print(f"  {service:<12} http://127.0.0.1:{profile.service_port(service)}  (instances on {own})")
    print(f"  logs         make logs   ({profile.logs_dir.relative_to(ROOT)})")


def down(profile: Profile) -> None:
    pid = supervisord_pid(profile)
    if pid is not None:
        supervisorctl(profile, "shutdown", check=False)
        # supervisord removes its pid file before it exits: wait for the process itself.
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT
        while process_alive(pid):
            if time.monotonic() > deadline:
                os.killpg(os.getpgid(pid), signal.SIGKILL)
                break
            time.sleep(0.2)
        print(f"Cotoami is down ({profile.name}).")
    remove_containers(profile)
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
    if images_mode(profile):
        build_images(SERVICES)
    migrate(profile)
    supervisorctl(profile, "restart", *(f"{service}:*" for service in SERVICES))
    wait_ready(endpoints(profile, replicas), profile.logs_dir)
    print(f"Restarted {', '.join(SERVICES)} ({profile.name}).")


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
    files = sorted(profile.logs_dir.glob("*.log"))
    if not files:
        raise StackError(f"no logs yet in {profile.logs_dir.relative_to(ROOT)}: run 'make up'")
    os.execvp("tail", ["tail", "-n", "20", "-F", *map(str, files)])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m cotoami_stack", description="The local stack.")
    parser.add_argument(
        "command", choices=("up", "down", "restart", "rollout", "status", "logs", "backing", "backup", "restore")
    )
    parser.add_argument("service", nargs="?", choices=SERVICES, help="rollout: the service to roll out")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="dev")
    parser.add_argument("--fresh", action="store_true", help="not dev: empty databases before starting")
    parser.add_argument(
        "--replicas",
        type=int,
        help="up: instances of each service (default: as running, else the profile's: dev 1, e2e 2)",
    )
    parser.add_argument(
        "--images", action="store_true", help="up: each service and the gateway from its image, with podman"
    )
    parser.add_argument("--into", type=Path, default=BACKUPS, help="backup, restore: the folder backups go in")
    parser.add_argument("--from", dest="source", type=Path, help="restore: the backup folder (default: the newest)")
    args = parser.parse_args()
    profile = PROFILES[args.profile]
    if (args.command == "rollout") != (args.service is not None):
        parser.error("rollout takes a service, and only rollout does")
    try:
        if args.command == "up":
            up(profile, args.fresh, args.replicas, args.images)
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
        elif args.command == "backup":
            print(f"backed up every service's database into {backup(profile, args.into)}")
        elif args.command == "restore":
            source = args.source or newest_backup(args.into)
            kept = restore(profile, source, args.into)
            print(f"restored every service's database from {source} (what was there is kept in {kept})")
        else:
            logs(profile)
    except StackError as error:
        print(f"make {args.command}: {error}", file=sys.stderr)
        return 1
    return 0
