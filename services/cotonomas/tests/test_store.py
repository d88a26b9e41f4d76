"""The store's access rule, lists and locks, against the real database."""

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cotoami_common.tokens import Amishi
from cotoami_testing.fixtures import new_amishi
from cotonomas.store import KEY, CotonomaStore, NameTaken, NoSuchCotonoma, Viewer, new_key, parse_cursor

ANN, BOB, CAROL = new_amishi("ann@example.com"), new_amishi("bob@example.com"), new_amishi("carol@example.com")


def made(store: CotonomaStore, owner: Amishi, name: str, parent_key: str | None = None) -> str:
    key = store.begin_creation(owner, name, parent_key)
    with store.finishing_creation(key) as creation:
        assert creation is not None
        creation.ready()
    return key


def share(store, key, owner, email):
    with store.adding_member(key, owner, email):
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
