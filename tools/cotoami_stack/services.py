"""The services as the stack runs them: each with its Dockerfile's command, its
environment, the stack's keys and service credential, and its own database
(live has none: it reads the Redis streams the others' relays write)."""

import json
import os
import secrets
import shutil
import subprocess

from cotoami_stack import StackError
from cotoami_stack.backing import own_redis_dir
from cotoami_stack.profiles import DATABASE_SERVICES, ROOT, VENV_BIN, Profile


def image_command(service: str) -> list[str]:
    """The service's Dockerfile CMD, with programs taken from our venv: both run the same thing."""
    dockerfile = ROOT / "services" / service / "Dockerfile"
    cmd_lines = [line for line in dockerfile.read_text().splitlines() if line.startswith("CMD ")]
    if not cmd_lines:
        raise StackError(f"{dockerfile} has no exec-form CMD")
    argv = [str(arg) for arg in json.loads(cmd_lines[-1][4:])]
    return [str(VENV_BIN / argv[0]), *argv[1:]]


def service_environment(profile: Profile, service: str) -> dict[str, str]:
    secrets_dir = profile.secrets_dir
    cotos_url = f"http://127.0.0.1:{profile.service_port('cotos')}"
    cotonomas_url = f"http://127.0.0.1:{profile.service_port('cotonomas')}"
    graph_url = f"http://127.0.0.1:{profile.service_port('graph')}"
    environment = {
        "SERVICE_NAME": service,
        "PORT": str(profile.service_port(service)),
        "BIND_HOST": "127.0.0.1",
        **({"DATABASE_URL": profile.database_url(service)} if service in DATABASE_SERVICES else {}),
        "REDIS_URL": profile.redis_url,
        "ALLOWED_ORIGINS": f"{profile.public_url},http://localhost:{profile.gateway_port}",
        "PUBLIC_URL": profile.public_url,
        "JWT_PUBLIC_KEYS_FILE": str(secrets_dir / "jwks.json"),
        "INTERNAL_TOKEN_FILE": str(secrets_dir / "internal-token"),
        "PYTHONUNBUFFERED": "1",
    }
    own = {
        "auth": {
            "JWT_SIGNING_KEY_FILE": str(secrets_dir / "signing-key.pem"),
            "COTOS_INTERNAL_URL": cotos_url,
            "GRAVATAR_URL": profile.avatar_url,
            "SIGNIN_LIMIT_PER_CLIENT": str(profile.auth_limit_per_client),
            "SESSION_LIMIT_PER_CLIENT": str(profile.auth_limit_per_client),
        },
        "cotos": {
            "COTONOMAS_INTERNAL_URL": cotonomas_url,
            "ANONYMOUS_WRITES_PER_CLIENT": str(profile.anonymous_writes_per_client),
            **({"FAULT_HOOKS": "on"} if profile.fault_hooks else {}),
        },
        "cotonomas": {"COTOS_INTERNAL_URL": cotos_url},
        "mailer": {
            "SMTP_URL": f"smtp://127.0.0.1:{profile.smtp_port}",
            "MAIL_RECLAIM_IDLE_MS": str(profile.mail_reclaim_idle_ms),
        },
        "live": {"COTONOMAS_INTERNAL_URL": cotonomas_url},
        "graph": {"COTOS_INTERNAL_URL": cotos_url, "COTONOMAS_INTERNAL_URL": cotonomas_url},
        "archive": {
            "COTOS_INTERNAL_URL": cotos_url,
            "COTONOMAS_INTERNAL_URL": cotonomas_url,
            "GRAPH_INTERNAL_URL": graph_url,
            # As for the mailer: how long a job whose process died waits before another takes it up.
            "IMPORT_LEASE_SECONDS": str(max(5, profile.mail_reclaim_idle_ms // 1000)),
        },
    }
    return environment | own[service]


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


def migrate(profile: Profile, services: tuple[str, ...] = DATABASE_SERVICES) -> None:
    """Run each service's migrations as its Kubernetes Job would, all at once (live has none)."""
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
        if service in DATABASE_SERVICES
    }
    for service, job in jobs.items():
        output, _ = job.communicate()
        if job.returncode != 0:
            raise StackError(f"migrations of {service} failed:\n{output}")


def reset(profile: Profile) -> None:
    """Drop the profile's databases and its Redis data (tests start clean)."""
    databases = reset_databases(profile)
    shutil.rmtree(own_redis_dir(profile), ignore_errors=True)
    print(f"reset {', '.join(databases)} and the stack's Redis")


def reset_databases(profile: Profile) -> list[str]:
    """Drop the profile's databases, even while its services hold connections; returns their names."""
    if profile.name == "dev":
        raise StackError("refusing to reset the dev stack: it holds what you wrote")
    databases = [f'"{profile.database_prefix}{service}"' for service in DATABASE_SERVICES]
    psql = ["psql", "-q", "-h", "127.0.0.1", "-p", str(profile.postgres_port), "-U", "postgres", "-d", "postgres"]
    for database in databases:
        subprocess.run([*psql, "-c", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"], check=True)
    return databases
