"""The schema holds what the cotonomas service relies on, whatever its code does."""

import uuid

import psycopg
import pytest

from cotoami_testing.fixtures import violates

OWNER = uuid.UUID("00000000-0000-4000-8000-000000000001")
OTHER = uuid.UUID("00000000-0000-4000-8000-000000000002")
NEW_COTONOMA = "INSERT INTO cotonomas (key, name, owner_id, parent_key) VALUES (%s, %s, %s, %s)"
NEW_MEMBER = "INSERT INTO members (cotonoma_key, email, added_by) VALUES (%s, %s, %s)"
NEW_AMISHI = "INSERT INTO amishis (id, email, display_name, avatar_url) VALUES (%s, %s, 'x', 'https://avatar.test/x')"


@pytest.fixture(autouse=True)
def amishis(db):
    db.execute(NEW_AMISHI, (OWNER, "owner@example.com"))
    db.execute(NEW_AMISHI, (OTHER, "other@example.com"))


def test_an_owner_names_a_cotonoma_once_per_parent(db):
    db.execute(NEW_COTONOMA, ("top-one-a", "Ideas", OWNER, None))
    violates(db, "cotonomas_name_per_parent", NEW_COTONOMA, ("top-two-a", "Ideas", OWNER, None))
    db.execute(NEW_COTONOMA, ("child-one", "Ideas", OWNER, "top-one-a"))  # under a parent: another place
    violates(db, "cotonomas_name_per_parent", NEW_COTONOMA, ("child-two", "Ideas", OWNER, "top-one-a"))
    db.execute(NEW_COTONOMA, ("theirs-01", "Ideas", OTHER, None))  # another owner's
    db.execute(NEW_COTONOMA, ("top-three", "ideas", OWNER, None))  # names are compared as written


@pytest.mark.parametrize("name", ["x", "x" * 50, "あ" * 50])
def test_names_of_1_to_50_characters_are_accepted(db, name):
    db.execute(NEW_COTONOMA, ("key-00001", name, OWNER, None))


@pytest.mark.parametrize("name", ["", "x" * 51, "あ" * 51])
def test_names_outside_1_to_50_characters_are_refused(db, name):
    violates(db, "cotonomas_name_length", NEW_COTONOMA, ("key-00001", name, OWNER, None))


@pytest.mark.parametrize("key", ["short", "has/slash", "has space", "x" * 65])
def test_keys_are_url_safe(db, key):
    violates(db, "cotonomas_key_format", NEW_COTONOMA, (key, "Ideas", OWNER, None))


def test_parents_must_exist_and_keep_their_children(db):
    violates(db, "cotonomas_parent_key_fkey", NEW_COTONOMA, ("orphan-01", "Lost", OWNER, "no-such-key"))
    violates(db, "cotonomas_not_own_parent", NEW_COTONOMA, ("itself-01", "Loop", OWNER, "itself-01"))
    db.execute(NEW_COTONOMA, ("parent-01", "Parent", OWNER, None))
    db.execute(NEW_COTONOMA, ("child-001", "Child", OWNER, "parent-01"))
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        db.execute("DELETE FROM cotonomas WHERE key = 'parent-01'")


def test_members_are_known_by_normalized_email_once_and_go_with_their_cotonoma(db):
    db.execute(NEW_COTONOMA, ("shared-01", "Shared", OWNER, None))
    db.execute(NEW_MEMBER, ("shared-01", "bob@example.com", OWNER))
    violates(db, "members_pkey", NEW_MEMBER, ("shared-01", "bob@example.com", OWNER))
    violates(db, "members_email_normalized", NEW_MEMBER, ("shared-01", "Carol@example.com", OWNER))
    violates(db, "members_cotonoma_key_fkey", NEW_MEMBER, ("nowhere-1", "bob@example.com", OWNER))
    db.execute("DELETE FROM cotonomas WHERE key = 'shared-01'")
    assert db.execute("SELECT count(*) FROM members").fetchone()[0] == 0


def test_owners_are_amishis_seen_before(db):
    violates(db, "cotonomas_owner_id_fkey", NEW_COTONOMA, ("nobodys-1", "Ideas", uuid.uuid4(), None))


def test_a_new_row_is_creating_until_marked_ready_and_has_no_other_state(db):
    db.execute(NEW_COTONOMA, ("new-row-1", "Ideas", OWNER, None))
    assert db.execute("SELECT state FROM cotonomas").fetchone()[0] == "creating"
    db.execute("UPDATE cotonomas SET state = 'ready'")
    violates(db, "cotonomas_state", "UPDATE cotonomas SET state = %s", ("gone",))
