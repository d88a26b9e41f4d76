import threading

import psycopg
import pytest

from cotoami_common.migrate import apply_migrations, create_database, main, migration_files
from cotoami_testing.contracts import locking_problem


@pytest.fixture
def migrations(tmp_path):
    (tmp_path / "0001_create_notes.sql").write_text("CREATE TABLE notes (id int PRIMARY KEY);")
    (tmp_path / "0002_add_text.sql").write_text(
        "ALTER TABLE notes ADD COLUMN text text;\nCREATE INDEX notes_text ON notes (text);"
    )
    return tmp_path


def test_applies_in_order_once(empty_database_url, migrations):
    create_database(empty_database_url)
    assert apply_migrations(empty_database_url, migrations) == ["0001_create_notes", "0002_add_text"]
    assert apply_migrations(empty_database_url, migrations) == []
    with psycopg.connect(empty_database_url) as conn:
        conn.execute("INSERT INTO notes (id, text) VALUES (1, 'x')")


def test_two_concurrent_runs_apply_each_migration_once(empty_database_url, migrations):
    # Building an index concurrently waits for every statement running meanwhile,
    # the other runs' wait for the lock among them: they must not wait in one.
    (migrations / "0003_index_concurrently.sql").write_text(
        "-- migrate: no transaction\nCREATE INDEX CONCURRENTLY notes_by_id_text ON notes (id, text);\n"
    )
    create_database(empty_database_url)
    results, errors = [], []

    def run():
        try:
            results.append(apply_migrations(empty_database_url, migrations))
        except Exception as error:  # collected so the test names it
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(name for run in results for name in run) == [
        "0001_create_notes",
        "0002_add_text",
        "0003_index_concurrently",
    ]


def test_concurrent_database_creation_is_safe(empty_database_url):
    threads = [threading.Thread(target=create_database, args=(empty_database_url,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_failing_migration_leaves_nothing_half_done(empty_database_url, tmp_path):
    (tmp_path / "0001_broken.sql").write_text("CREATE TABLE a (id int);\nCREATE TABLE a (id int);")
    create_database(empty_database_url)
    with pytest.raises(psycopg.Error):
        apply_migrations(empty_database_url, tmp_path)
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT to_regclass('a')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (0,)


@pytest.mark.parametrize("name", ["1_short.sql", "0001-dash.sql", "0001_UPPER.sql"])
def test_misnamed_files_are_refused(tmp_path, name):
    (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(ValueError, match="NNNN_"):
        migration_files(tmp_path)


def test_cli_exits_non_zero_without_database_url(monkeypatch, migrations):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main([str(migrations)]) == 2


def test_cli_creates_and_migrates(monkeypatch, empty_database_url, migrations):
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    assert main(["--create-database", str(migrations)]) == 0
    with psycopg.connect(empty_database_url) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone() == (2,)


def test_cli_reads_the_url_from_a_mounted_file(monkeypatch, empty_database_url, migrations, tmp_path):
    (tmp_path / "url").write_text(empty_database_url + "\n")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATABASE_URL_FILE", str(tmp_path / "url"))
    assert main(["--create-database", str(migrations)]) == 0


EXISTING = {"notes"}


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE notes ALTER COLUMN text TYPE varchar(10)",
        "ALTER TABLE notes RENAME COLUMN text TO body",
        "ALTER TABLE notes ADD COLUMN body text NOT NULL",
        "ALTER TABLE notes ADD COLUMN ref uuid DEFAULT gen_random_uuid()",
        "ALTER TABLE notes ALTER COLUMN text SET NOT NULL",
        "ALTER TABLE notes ADD CONSTRAINT notes_short CHECK (length(text) < 10)",
        "ALTER TABLE notes ADD CONSTRAINT notes_text UNIQUE (text)",
        "CREATE INDEX notes_by_text ON notes (text)",
        "CREATE UNIQUE INDEX IF NOT EXISTS notes_by_text ON notes (text)",
        "VACUUM FULL notes",
        "LOCK TABLE notes",
    ],
)
def test_statements_that_would_stop_a_rollout_are_named(statement):
    assert locking_problem(statement, EXISTING) is not None


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE notes ADD COLUMN body text",
        "ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false",
        "ALTER TABLE notes ADD CONSTRAINT notes_short CHECK (length(text) < 10) NOT VALID",
        "ALTER TABLE notes VALIDATE CONSTRAINT notes_short",
        "CREATE INDEX CONCURRENTLY notes_by_text ON notes (text)",
        "CREATE TABLE tags (id int PRIMARY KEY)",
        "CREATE INDEX tags_by_id ON tags (id)",  # a table no running code uses yet
        "ALTER TABLE tags RENAME COLUMN id TO key",
    ],
)
def test_statements_safe_during_a_rollout_pass(statement):
    assert locking_problem(statement, EXISTING) is None


def test_a_no_transaction_migration_can_build_an_index_concurrently(empty_database_url, migrations):
    (migrations / "0003_index_concurrently.sql").write_text(
        "-- migrate: no transaction\n"
        "-- Built without blocking writes; dropped first in case a failed run left it invalid.\n"
        "DROP INDEX CONCURRENTLY IF EXISTS notes_by_id_text;\n"
        "CREATE INDEX CONCURRENTLY notes_by_id_text ON notes (id, text);\n"
    )
    create_database(empty_database_url)
    assert apply_migrations(empty_database_url, migrations)[-1] == "0003_index_concurrently"
    with psycopg.connect(empty_database_url) as conn:
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'notes_by_id_text'::regclass"
        ).fetchone()
    assert valid == (True,)
    assert apply_migrations(empty_database_url, migrations) == []
