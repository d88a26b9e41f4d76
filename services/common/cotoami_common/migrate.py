"""Applies a service's numbered SQL migrations to its own database.

    python -m cotoami_common.migrate [--create-database] MIGRATIONS_DIR

DATABASE_URL (or DATABASE_URL_FILE, a mounted Secret) names the database. Each file runs once, in its own transaction,
in file-name order. An advisory lock makes concurrent runs (two pods of a
migration Job, two `make up`s) wait for each other instead of racing.

A file whose first line is `-- migrate: no transaction` runs statement by
statement outside a transaction instead: what CREATE INDEX CONCURRENTLY needs.
Each of its statements must be safe to run again (IF NOT EXISTS; DROP INDEX
CONCURRENTLY IF EXISTS first, since a failed concurrent build leaves an
invalid index behind), and none may hold a semicolon or "--" inside a string.
"""

import argparse
import logging
import logging.config
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from cotoami_common.config import ConfigError, Env
from cotoami_common.logs import logging_config

log = logging.getLogger("cotoami.migrate")

MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
LOCK_KEY = 0x636F746F  # "coto": one lock per database, so per service
NO_TRANSACTION = "-- migrate: no transaction"


def migration_files(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.iterdir() if p.suffix == ".sql")
    for path in files:
        if not MIGRATION_NAME.fullmatch(path.name):
            raise ValueError(f"{path.name}: migration files are named NNNN_what_it_does.sql")
    numbers = [p.name[:4] for p in files]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"two migrations in {directory} share a number")
    return files


def statements(text: str) -> list[str]:
    """A migration's statements, without comments, each on one line. Naive on
    purpose (see above: no semicolon or "--" inside a string)."""
    return [" ".join(s.split()) for s in re.sub(r"--[^\n]*", "", text).split(";") if s.strip()]


def create_database(url: str) -> None:
    """Create the database named in url if it does not exist (safe to race)."""
    params = conninfo_to_dict(url)
    name = params["dbname"]
    if not isinstance(name, str):  # parsed from a URL it is text; only a dict built in code holds anything else
        raise TypeError(f"the database name must be text, got {name!r}")
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            log.info("created database %s", name)
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            pass  # created by a concurrent run


def _take_lock(conn: psycopg.Connection[Any]) -> None:
    """The advisory lock, tried again every 0.1 s rather than waited for in one
    statement: CREATE INDEX CONCURRENTLY in the run holding it waits for every
    statement running meanwhile to end, and a pg_advisory_lock() waiting on
    that run would never end (a deadlock)."""
    while True:
        taken = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
        if taken is not None and taken[0]:
            return
        time.sleep(0.1)


def apply_migrations(url: str, directory: Path) -> list[str]:
    """Apply what is not yet applied; return the versions applied now."""
    files = migration_files(directory)
    applied_now = []
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        _take_lock(conn)
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for path in files:
                version = path.stem
                if version in done:
                    continue
                text = path.read_text()
                if text.startswith(NO_TRANSACTION):
                    for statement in statements(text):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                else:
                    with conn.transaction():
                        conn.execute(text)
                        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                log.info("applied migration %s", version)
                applied_now.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return applied_now


def main(argv: list[str] | None = None) -> int:
    logging.config.dictConfig(logging_config())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--create-database", action="store_true")
    args = parser.parse_args(argv)
    try:
        url = Env(os.environ).url("DATABASE_URL", schemes=("postgresql", "postgres"))
    except ConfigError as error:
        log.critical("configuration error: %s", error)
        return 2
    try:
        if args.create_database:
            create_database(url)
        apply_migrations(url, args.directory)
    except (psycopg.Error, ValueError) as error:
        log.critical("migration failed: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
