"""The schema holds what the auth service relies on, whatever its code does."""

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from cotoami_testing.fixtures import violates

NEW_AMISHI = "INSERT INTO amishis (email, display_name) VALUES (%s, 'ann') RETURNING id"
NEW_SIGNIN_TOKEN = (
    "INSERT INTO signin_tokens (token_hash, email, anonymous_id, expires_at)"
    " VALUES (%s, %s, %s, now() + interval '10 minutes')"
)
NEW_REFRESH_TOKEN = (
    "INSERT INTO refresh_tokens (token_hash, amishi_id, session_id, expires_at) VALUES (%s, %s, gen_random_uuid(), %s)"
)


def test_an_address_is_one_amishi_whatever_its_case(db):
    db.execute(NEW_AMISHI, ("ann@example.com",))
    with pytest.raises(psycopg.errors.IntegrityError):
        db.execute(NEW_AMISHI, ("Ann@Example.com",))
    violates(db, "amishis_email_key", NEW_AMISHI, ("ann@example.com",))
    assert db.execute("SELECT count(*) FROM amishis").fetchone()[0] == 1


@pytest.mark.parametrize("email", ["Ann@example.com", " ann@example.com", "ann@example.com "])
def test_emails_are_stored_normalized(db, email):
    violates(db, "amishis_email_normalized", NEW_AMISHI, (email,))
    violates(db, "signin_tokens_email_normalized", NEW_SIGNIN_TOKEN, (bytes(32), email, None))


def test_amishis_get_an_id_and_a_creation_time(db):
    amishi_id, created_at = db.execute(
        "INSERT INTO amishis (email, display_name) VALUES ('ann@example.com', 'ann') RETURNING id, created_at"
    ).fetchone()
    assert isinstance(amishi_id, uuid.UUID) and created_at.tzinfo is not None


def test_a_blank_display_name_is_refused(db):
    violates(
        db,
        "amishis_display_name_length",
        "INSERT INTO amishis (email, display_name) VALUES ('ann@example.com', '  ')",
        (),
    )


def test_only_sha256_hashes_are_stored(db):
    db.execute(NEW_SIGNIN_TOKEN, (bytes(32), "ann@example.com", "a" * 32))
    violates(db, "signin_tokens_hash_length", NEW_SIGNIN_TOKEN, (b"token", "ann@example.com", None))
    amishi_id = db.execute(NEW_AMISHI, ("ann@example.com",)).fetchone()[0]
    later = datetime.now(UTC) + timedelta(days=30)
    violates(db, "refresh_tokens_hash_length", NEW_REFRESH_TOKEN, (b"x" * 31, amishi_id, later))


def test_a_signin_token_remembers_a_well_formed_anonymous_id_or_none(db):
    db.execute(NEW_SIGNIN_TOKEN, (b"\x01" * 32, "ann@example.com", None))
    violates(db, "signin_tokens_anonymous_id_format", NEW_SIGNIN_TOKEN, (b"\x02" * 32, "ann@example.com", "../x"))


def test_a_token_expires_after_it_was_made(db):
    violates(
        db,
        "signin_tokens_expire_after_creation",
        "INSERT INTO signin_tokens (token_hash, email, expires_at) VALUES (%s, 'ann@example.com', now())",
        (bytes(32),),
    )


def test_refresh_tokens_belong_to_an_amishi_and_go_with_them(db):
    later = datetime.now(UTC) + timedelta(days=30)
    violates(db, "refresh_tokens_amishi_id_fkey", NEW_REFRESH_TOKEN, (bytes(32), uuid.uuid4(), later))
    amishi_id = db.execute(NEW_AMISHI, ("ann@example.com",)).fetchone()[0]
    db.execute(NEW_REFRESH_TOKEN, (bytes(32), amishi_id, later))
    db.execute("DELETE FROM amishis WHERE id = %s", (amishi_id,))
    assert db.execute("SELECT count(*) FROM refresh_tokens").fetchone()[0] == 0
