"""The store's access rule, lists and locks, against the real database."""

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cotoami_common.tokens import Amishi
from cotoami_testing.fixtures import new_amishi
from cotonomas.store import (
    KEY,
    AlreadyMember,
    CotonomaStore,
    NameTaken,
    NoSuchCotonoma,
    Viewer,
    new_key,
    parse_cursor,
)

ANN, BOB, CAROL = new_amishi("ann@example.com"), new_amishi("bob@example.com"), new_amishi("carol@example.com")
QUIET = timedelta(hours=24)


def made(store: CotonomaStore, owner: Amishi, name: str, parent_key: str | None = None) -> str:
    key = store.begin_creation(owner, name, parent_key)
    with store.finishing_creation(key) as creation:
        assert creation is not None
        creation.ready()
    return key


def share(store, key, owner, email):
    with store.adding_member(key, owner, email, QUIET):
        pass


def test_keys_are_random_url_safe_and_96_bits():
    keys = {new_key() for _ in range(1000)}
    assert len(keys) == 1000 and all(len(key) == 16 and KEY.fullmatch(key) for key in keys)


def test_the_owner_and_members_of_it_or_an_ancestor_reach_a_cotonoma(store):
    top = made(store, ANN, "Top")
    middle = made(store, ANN, "Middle", top)
    bottom = made(store, ANN, "Bottom", middle)
    share(store, middle, ANN, "bob@example.com")
    assert store.reach(bottom, Viewer.of(ANN)).ancestors == [
        {"key": top, "name": "Top"},
        {"key": middle, "name": "Middle"},
    ]
    # Bob sees from the cotonoma shared with him down, not what is above it.
    assert store.reach(bottom, Viewer.of(BOB)).ancestors == [{"key": middle, "name": "Middle"}]
    assert store.reach(middle, Viewer.of(BOB)).ancestors == []
    assert store.reach(top, Viewer.of(BOB)) is None
    assert all(store.reach(key, Viewer.of(CAROL)) is None for key in (top, middle, bottom))


def test_membership_is_matched_by_the_address_whatever_its_case(store):
    top = made(store, ANN, "Top")
    share(store, top, ANN, "bob@example.com")
    shouting = new_amishi("BOB@Example.COM")
    assert store.reach(top, Viewer.of(shouting)) is not None


def test_the_owner_of_an_ancestor_reaches_what_a_member_made_inside(store):
    top = made(store, ANN, "Top")
    share(store, top, ANN, "bob@example.com")
    bobs = made(store, BOB, "Bob's", top)
    assert store.reach(bobs, Viewer.of(ANN)).owner_id == BOB.id
    assert store.reach(bobs, Viewer.of(CAROL)) is None


def test_a_cotonoma_being_created_exists_for_nobody(store):
    key = store.begin_creation(ANN, "Soon", None)
    assert store.reach(key, Viewer.of(ANN)) is None
    assert store.page(Viewer.of(ANN), None, 10) == ([], None)
    with pytest.raises(NoSuchCotonoma):
        store.begin_creation(ANN, "Inside", key)


@pytest.mark.parametrize("key", ["", "short", "../../etc", "x" * 65, "key with space"])
def test_a_malformed_key_reaches_nothing(store, key):
    assert store.reach(key, Viewer.of(ANN)) is None


def test_a_name_in_use_by_a_creation_under_way_is_pending(store):
    key = store.begin_creation(ANN, "Ideas", None)
    with pytest.raises(NameTaken) as raised:
        store.begin_creation(ANN, "Ideas", None)
    assert raised.value.pending
    with store.finishing_creation(key) as creation:
        creation.ready()
    with pytest.raises(NameTaken) as raised:
        store.begin_creation(ANN, "Ideas", None)
    assert not raised.value.pending


def test_pages_follow_created_at_then_key_across_mine_and_shared(store, db):
    mine = [made(store, ANN, f"mine {n}") for n in range(3)]
    theirs = [made(store, BOB, f"theirs {n}") for n in range(3)]
    for key in theirs:
        share(store, key, BOB, "ann@example.com")
    made(store, BOB, "not shared")
    # Ties on created_at are broken by key.
    db.execute(
        "UPDATE cotonomas SET created_at = %s WHERE key = ANY(%s)",
        (datetime(2024, 1, 1, tzinfo=UTC), [mine[0], theirs[0], mine[1]]),
    )
    expected = [theirs[2], theirs[1], mine[2], *sorted([mine[0], theirs[0], mine[1]], reverse=True)]
    seen, cursor = [], None
    while True:
        page, cursor = store.page(Viewer.of(ANN), parse_cursor(cursor) if cursor else None, 2)
        seen += [c["key"] for c in page]
        if cursor is None:
            break
    assert seen == expected


@pytest.mark.parametrize(
    "cursor", ["", "abc", "1.short", "-1.key-00001", "999999999999999999.key-00001", "1 .key-00001"]
)
def test_a_bad_cursor_is_none(cursor):
    assert parse_cursor(cursor) is None


def test_shared_means_someone_besides_the_owner_may_reach_it(store):
    top = made(store, ANN, "Top")
    child = made(store, ANN, "Child", top)
    alone = made(store, ANN, "Alone")
    assert not store.with_children(top)[0]["shared"]
    share(store, top, ANN, "bob@example.com")
    cotonoma, [inside] = store.with_children(top)
    assert cotonoma["shared"] and inside["key"] == child and inside["shared"]
    assert not store.with_children(alone)[0]["shared"]


def test_the_amishi_read_model_follows_the_latest_token(store, db):
    made(store, ANN, "One")
    first = db.execute("SELECT display_name, updated_at FROM amishis").fetchone()
    made(store, ANN, "Two")
    assert db.execute("SELECT display_name, updated_at FROM amishis").fetchone() == first, "unchanged: not rewritten"
    renamed = replace(ANN, display_name="Ann Lee")
    made(store, renamed, "Three")
    cotonoma, _ = store.with_children(made(store, renamed, "Four"))
    assert cotonoma["owner"] == {"id": ANN.id, "display_name": "Ann Lee", "avatar_url": ANN.avatar_url}


def test_the_reconciler_skips_a_creation_another_process_holds(store):
    first = store.begin_creation(ANN, "First", None)
    second = store.begin_creation(ANN, "Second", None)
    taken, inside = threading.Event(), threading.Event()
    seen = []

    def hold_the_oldest():
        with store.oldest_stuck_creation(timedelta(0)) as creation:
            seen.append(creation.key)
            taken.set()
            inside.wait(5)

    holder = threading.Thread(target=hold_the_oldest)
    holder.start()
    assert taken.wait(5)
    with store.oldest_stuck_creation(timedelta(0)) as creation:
        seen.append(creation.key)
    inside.set()
    holder.join()
    assert seen == [first, second]


def test_a_creation_being_finished_is_not_stuck(store):
    key = store.begin_creation(ANN, "Busy", None)
    with store.finishing_creation(key), store.oldest_stuck_creation(timedelta(0)) as creation:
        assert creation is None
    with store.oldest_stuck_creation(timedelta(hours=1)) as creation:
        assert creation is None, "young creations are left to their request"


# Invitations


def invitations(db):
    return db.execute("SELECT cotonoma_key, email FROM invitations ORDER BY email").fetchall()


@pytest.mark.parametrize(
    "mailed_hours_ago,quiet_hours,due",
    [
        (None, 24, True),  # never mailed
        (1, 24, False),
        (23.9, 24, False),
        (24.1, 24, True),
        (1, 0, True),  # no quiet period: every add mails
        (1, 2, False),
    ],
)
def test_an_invitation_is_due_unless_one_was_mailed_within_the_quiet_period(
    store, db, mailed_hours_ago, quiet_hours, due
):
    key = made(store, ANN, "Team")
    if mailed_hours_ago is not None:
        share(store, key, ANN, "bob@example.com")
        store.remove_member(key, ANN, "bob@example.com")
        db.execute("UPDATE invitations SET mailed_at = now() - %s", (timedelta(hours=mailed_hours_ago),))
    before = db.execute("SELECT mailed_at FROM invitations").fetchone()
    with store.adding_member(key, ANN, "bob@example.com", timedelta(hours=quiet_hours)) as addition:
        assert addition.mail_due is due
        assert addition.member["email"] == "bob@example.com"
    after = db.execute("SELECT mailed_at FROM invitations").fetchone()
    assert (after != before) is due, "the quiet period runs from the last mail, not the last add"


def test_the_quiet_period_is_per_cotonoma(store):
    team, other = made(store, ANN, "Team"), made(store, ANN, "Other")
    for key in (team, other):
        with store.adding_member(key, ANN, "bob@example.com", QUIET) as addition:
            assert addition.mail_due


def test_an_add_that_fails_or_is_undone_records_no_invitation(store, db):
    key = made(store, ANN, "Team")
    with pytest.raises(RuntimeError), store.adding_member(key, ANN, "bob@example.com", QUIET):
        raise RuntimeError("refused")
    assert store.members(key) == [] and invitations(db) == []
    share(store, key, ANN, "bob@example.com")
    with pytest.raises(AlreadyMember), store.adding_member(key, ANN, "bob@example.com", QUIET):
        pytest.fail("nothing is yielded for a member already there")
    assert invitations(db) == [(key, "bob@example.com")]


def test_undoing_an_addition_forgets_its_member_and_invitation(store, db):
    key = made(store, ANN, "Team")
    share(store, key, ANN, "carol@example.com")
    with store.adding_member(key, ANN, "bob@example.com", QUIET) as addition:
        pass
    store.undo_addition(addition)
    assert [m["email"] for m in store.members(key)] == ["carol@example.com"]
    assert invitations(db) == [(key, "carol@example.com")]
    with store.adding_member(key, ANN, "bob@example.com", QUIET) as again:
        assert again.mail_due
