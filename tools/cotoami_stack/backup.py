"""`make backup` and `make restore`: every service's database with pg_dump and
pg_restore, in a dated folder.

A backup is a folder `backups/<UTC time>/` holding one pg_dump archive (custom
format) per service and `manifest.json` (the databases, each file's size and
SHA-256). Each service's dump is consistent in itself; the services' databases
are separate, as in production, so the set is taken one after another, not as
one snapshot (the outbox and the reconcilers bring them back in step, as after
any crash). Redis is not backed up: it holds nothing a signed-in person wrote.

A restore checks every file first (present, checksum, readable by pg_restore),
so a damaged backup changes nothing. It then saves what is there now into a
backup of its own, and replaces each database whole: restored into a database
beside it, then swapped in (drop with FORCE, rename), so a service's pool meets
a missing database only for that instant and reconnects."""

import hashlib
import json
import subprocess
import time
from pathlib import Path

from cotoami_stack import StackError
from cotoami_stack.profiles import DATABASE_SERVICES, ROOT, Profile

BACKUPS = ROOT / "backups"
MANIFEST = "manifest.json"
STAGING_SUFFIX = "__restoring"


def _database(profile: Profile, service: str) -> str:
    return f"{profile.database_prefix}{service}"


def _client_args(profile: Profile) -> list[str]:
    return ["-h", "127.0.0.1", "-p", str(profile.postgres_port), "-U", "postgres"]


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")


def _psql(profile: Profile, statement: str) -> str:
    command = ["psql", "-qAt", "-v", "ON_ERROR_STOP=1", *_client_args(profile), "-d", "postgres", "-c", statement]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"{statement} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _create_like(profile: Profile, database: str, model: str) -> None:
    """Create DATABASE empty, with MODEL's encoding and locale (template1's if MODEL is absent):
    search's trigrams depend on the character type."""
    settings = _psql(
        profile,
        "SELECT pg_encoding_to_char(encoding) || '|' || datcollate || '|' || datctype FROM pg_database"
        f" WHERE datname IN ('{model}', 'template1') ORDER BY datname = 'template1' LIMIT 1",
    )
    encoding, collate, ctype = settings.split("|")
    _psql(
        profile,
        f"CREATE DATABASE \"{database}\" TEMPLATE template0 ENCODING '{encoding}'"
        f" LC_COLLATE '{collate}' LC_CTYPE '{ctype}'",
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup(profile: Profile, into: Path = BACKUPS, label: str = "") -> Path:
    """Dump every service's database into a new folder under INTO; returns it."""
    folder = into / (time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime()) + label)
    folder.mkdir(parents=True)  # never into an existing backup
    databases = {}
    for service in DATABASE_SERVICES:
        database = _database(profile, service)
        dump = folder / f"{service}.dump"
        command = ["pg_dump", "--format=custom", *_client_args(profile), "-d", database, "-f", str(dump)]
        _run(command, f"pg_dump {database}")
        size, checksum = dump.stat().st_size, _sha256(dump)
        databases[service] = {"database": database, "file": dump.name, "bytes": size, "sha256": checksum}
    manifest = {"profile": profile.name, "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (folder / MANIFEST).write_text(json.dumps(manifest | {"databases": databases}, indent=2) + "\n")
    return folder


def newest_backup(into: Path = BACKUPS) -> Path:
    found = sorted(path.parent for path in into.glob(f"*/{MANIFEST}"))
    if not found:
        raise StackError(f"no backup in {into}: run 'make backup' first")
    return found[-1]


def _checked_dumps(folder: Path) -> dict[str, Path]:
    """Each service's dump in FOLDER, once every one is there, intact and readable."""
    try:
        databases = json.loads((folder / MANIFEST).read_text())["databases"]
    except (OSError, ValueError, KeyError, TypeError):
        raise StackError(f"{folder} is not a backup: its {MANIFEST} is missing or unreadable") from None
    dumps = {}
    for service in DATABASE_SERVICES:
        entry = databases.get(service) if isinstance(databases, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            raise StackError(f"{folder} holds no backup of {service}'s database")
        dump = folder / Path(entry["file"]).name
        if not dump.is_file() or _sha256(dump) != entry.get("sha256"):
            raise StackError(f"{dump} is missing or damaged (its checksum differs from the manifest's)")
        _run(["pg_restore", "--list", str(dump)], f"reading {dump}")
        dumps[service] = dump
    return dumps


def restore(profile: Profile, folder: Path, keep_into: Path = BACKUPS) -> Path:
    """Replace every service's database with FOLDER's; returns the backup taken of what was there."""
    dumps = _checked_dumps(folder)
    kept = backup(profile, keep_into, label="-before-restore")
    for service, dump in dumps.items():
        database = _database(profile, service)
        staging = database + STAGING_SUFFIX
        _psql(profile, f'DROP DATABASE IF EXISTS "{staging}" WITH (FORCE)')
        _create_like(profile, staging, database)
        _run(
            ["pg_restore", "--exit-on-error", "--no-owner", *_client_args(profile), "-d", staging, str(dump)],
            f"pg_restore {dump.name}",
        )
        _psql(profile, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        _psql(profile, f'ALTER DATABASE "{staging}" RENAME TO "{database}"')
    return kept
