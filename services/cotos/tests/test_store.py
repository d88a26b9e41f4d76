import uuid
from dataclasses import replace
from typing import Any, cast

import orjson
import pytest

from cotoami_testing.fixtures import new_amishi, plan_nodes
from cotos.store import (
    COTONOMA_TIMELINE_FIRST_PAGE,
    COTONOMA_TIMELINE_PAGE_BEFORE,
    TIMELINE_FIRST_PAGE,
    TIMELINE_PAGE_BEFORE,
    AnonymousCoto,
    iso_utc,
    new_coto_id,
)


def test_coto_ids_are_uuid7_in_the_order_they_were_made():
    ids = [new_coto_id() for _ in range(10_000)]  # many share a millisecond
    assert all(uuid.UUID(coto_id).version == 7 for coto_id in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def new_pad(anonymous_cotos, *contents: str) -> tuple[str, list[AnonymousCoto]]:
    """A pad the store issued, with these cotos, oldest first."""
    pad, first = anonymous_cotos.post(None, contents[0])
    rest = [anonymous_cotos.post(pad, content) for content in contents[1:]]
    assert all(same == pad for same, _ in rest), "later posts stay on the pad"
    return pad, [cast(AnonymousCoto, posted.coto) for posted in (first, *(p for _, p in rest))]


def pad_page(anonymous_cotos, pad: str, before: str | None, limit: int) -> tuple[list[AnonymousCoto], str | None]:
    """A page of the pad with its cotos decoded, as a client reads them."""
    found = anonymous_cotos.timeline(pad, before, limit)
    assert found is not None, "the pad was issued"
    page, cursor = found
    return orjson.loads(orjson.dumps(page)), cursor


def test_timeline_pages_with_a_cursor(anonymous_cotos):
    pad, posted = new_pad(anonymous_cotos, *(f"coto {n}" for n in range(5)))
    page, cursor = pad_page(anonymous_cotos, pad, None, 2)
    assert page == [posted[4], posted[3]]
    page, cursor = pad_page(anonymous_cotos, pad, cursor, 2)
    assert page == [posted[2], posted[1]]
    page, cursor = pad_page(anonymous_cotos, pad, cursor, 2)
    assert page == [posted[0]]
    assert cursor is None


@pytest.mark.parametrize(
    "use",
    [lambda pads, pad: pads.renew(pad), lambda pads, pad: pads.timeline(pad, None, 10)],
    ids=["renewing it", "reading a page"],
)
def test_using_a_pad_renews_its_lifetime(anonymous_cotos, use):
    pad, _ = new_pad(anonymous_cotos, "remember me")
    client = anonymous_cotos.client
    keys = [f"anon:{pad}:{part}" for part in ("issued", "timeline", "cotos")]
    for key in keys:
        client.expire(key, 100)
    assert use(anonymous_cotos, pad)
    for key in keys:
        assert 100 < client.ttl(key) <= anonymous_cotos.ttl_seconds


def test_a_page_of_a_pad_never_issued_is_none_and_makes_nothing(anonymous_cotos):
    assert anonymous_cotos.timeline("0" * 32, None, 10) is None
    assert not anonymous_cotos.client.exists(*(f"anon:{'0' * 32}:{part}" for part in ("issued", "timeline", "cotos")))


@pytest.mark.parametrize("made_up", ["0" * 32, "5f" * 16])
def test_an_id_the_store_did_not_issue_names_no_pad(anonymous_cotos, made_up):
    assert not anonymous_cotos.renew(made_up)
    assert anonymous_cotos.size(made_up) is None
    pad, posted = anonymous_cotos.post(made_up, "mine")
    assert pad != made_up and not posted.replayed
    assert anonymous_cotos.size(pad) == 1 and anonymous_cotos.size(made_up) is None
    assert anonymous_cotos.client.keys(f"anon:{made_up}:*") == [], "nothing was made under the made-up id"


def test_an_expired_pad_is_one_no_more(anonymous_cotos):
    pad, _ = new_pad(anonymous_cotos, "soon forgotten")
    anonymous_cotos.client.delete(f"anon:{pad}:issued")  # as its TTL would
    assert not anonymous_cotos.renew(pad)
    assert anonymous_cotos.post(pad, "again")[0] != pad


def test_size_counts_the_cotos_and_renews_nothing(anonymous_cotos):
    pad, _ = new_pad(anonymous_cotos, "one", "two", "three")
    anonymous_cotos.client.expire(f"anon:{pad}:issued", 100)
    assert anonymous_cotos.size(pad) == 3
    assert anonymous_cotos.client.ttl(f"anon:{pad}:issued") <= 100


def test_update_of_a_deleted_coto_does_not_resurrect_it(anonymous_cotos):
    pad, (coto,) = new_pad(anonymous_cotos, "soon gone")
    assert anonymous_cotos.delete(pad, coto["id"])
    assert anonymous_cotos.update(pad, coto["id"], "back?") is None
    assert anonymous_cotos.get(pad, coto["id"]) is None
    assert pad_page(anonymous_cotos, pad, None, 10) == ([], None)
    assert anonymous_cotos.renew(pad), "an empty pad is still the browser's"


def test_all_lists_the_pad_oldest_first_and_forget_removes_only_what_it_names(anonymous_cotos):
    pad, posted = new_pad(anonymous_cotos, *(f"coto {n}" for n in range(3)))
    assert anonymous_cotos.all(pad) == posted
    anonymous_cotos.forget(pad, [posted[0]["id"], posted[1]["id"]])
    assert anonymous_cotos.all(pad) == [posted[2]]
    assert pad_page(anonymous_cotos, pad, None, 10) == ([posted[2]], None)
    anonymous_cotos.forget(pad, [posted[2]["id"]])
    assert anonymous_cotos.client.keys(f"anon:{pad}:*") == [f"anon:{pad}:issued"]


def test_an_author_is_rewritten_only_when_the_token_says_something_new(coto_store, db):
    amishi = new_amishi("dee@example.com")
    coto_store.post(amishi, "one")
    written = db.execute("SELECT xmin::text, updated_at FROM authors").fetchone()
    coto_store.post(amishi, "two")
    coto_store.update(amishi, coto_store.post(amishi, "three").coto["id"], "3")
    assert db.execute("SELECT xmin::text, updated_at FROM authors").fetchone() == written
    renamed = replace(amishi, display_name="Dee")
    coto_store.post(renamed, "four")
    name, updated_at = db.execute("SELECT display_name, updated_at FROM authors").fetchone()
    assert name == "Dee" and updated_at > written[1]


def test_times_read_from_postgres_are_formatted_like_the_pad(coto_store, db):
    coto = coto_store.post(new_amishi(), "x").coto
    db.execute("UPDATE cotos SET created_at = '2024-02-29 23:59:59.9876+09' WHERE id = %s", (coto["id"],))
    assert coto_store.get(coto["id"])["created_at"] == "2024-02-29T14:59:59.987Z"


@pytest.fixture
def crowded(coto_store, db):
    """Many amishis with 100 cotos each, spread over 20 cotonomas and home; the
    reader with 2,000 at home and the busy cotonoma with 2,000: where paging
    matters, a page is a small slice of a timeline, and that a small slice of
    the table."""
    amishis = [new_amishi(f"n{n}@example.com") for n in range(50)]
    rooms = [
        coto_store.put_cotonoma_coto(f"room-{n:04}", f"Room {n}", None, amishis[n].public())["cotonoma_key"]
        for n in range(20)
    ]
    for amishi in amishis:
        coto_store.post(amishi, "first")  # records the author
    reader, busy = amishis[7], rooms[3]
    db.execute(
        "INSERT INTO cotos (id, amishi_id, content, posted_in_key)"
        " SELECT gen_random_uuid(), amishi_id, 'coto ' || n, (%(rooms)s::text[])[nullif(n %% 21, 20) + 1]"
        "   FROM authors, generate_series(1, 100) AS n"
        " UNION ALL SELECT gen_random_uuid(), %(reader)s, 'mine ' || n, NULL FROM generate_series(1, 2000) AS n"
        " UNION ALL SELECT gen_random_uuid(), amishi_id, 'busy ' || n, %(busy)s"
        "   FROM authors, generate_series(1, 40) AS n",
        {"rooms": rooms, "reader": reader.id, "busy": busy},
    )
    db.execute("ANALYZE cotos")
    db.execute("ANALYZE authors")
    return reader, busy


def test_the_home_timeline_reads_the_amishi_index_not_the_whole_table(coto_store, db, crowded):
    reader, _ = crowded
    second_page = coto_store.timeline(reader.id, None, 50)[1]
    for query, before in ((TIMELINE_FIRST_PAGE, None), (TIMELINE_PAGE_BEFORE, second_page)):
        _assert_reads_along(db, query, {"amishi_id": reader.id, "before": before, "limit": 51}, "cotos_by_amishi")


def test_the_cotonoma_timeline_reads_the_cotonoma_index_not_the_whole_table(coto_store, db, crowded):
    _, busy = crowded
    second_page = coto_store.cotonoma_timeline(busy, None, 50)[1]
    for query, before in ((COTONOMA_TIMELINE_FIRST_PAGE, None), (COTONOMA_TIMELINE_PAGE_BEFORE, second_page)):
        _assert_reads_along(db, query, {"cotonoma_key": busy, "before": before, "limit": 51}, "cotos_by_cotonoma")


def _assert_reads_along(db, query: str, params: dict[str, object], index: str) -> None:
    plan = db.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()[0][0]["Plan"]
    nodes = list(plan_nodes(plan))
    scans = {node["Alias"]: node for node in nodes if node.get("Relation Name") == "cotos"}
    # The page's ids along the index, in its own DESC order, cut at the page's
    # end (how its cotos are then fetched depends on the table's size:
    # test_query_plans.py checks it on a big one).
    assert scans["found"]["Node Type"] in ("Index Scan", "Index Only Scan"), plan
    assert scans["found"]["Index Name"] == index, plan
    assert scans["found"]["Scan Direction"] == "Forward", "the index's own DESC order, no sort"
    [cut] = [node for node in nodes if scans["found"] in node.get("Plans", [])]
    assert cut["Node Type"] == "Limit", plan
    # The name each coto is posted under: one unique-index lookup per coto of the page.
    assert scans["p"]["Node Type"] == "Index Scan" and scans["p"]["Index Name"] == "cotos_cotonoma_key_key", plan


TRICKY_TEXT = 'quotes " and \\ backslash, a tab\there,\nnew lines,\u2028 コトノマ, emoji 🦊, </script> & <b>'


def _expected(row: dict[str, Any], author: dict[str, str], posted_in_name: str | None) -> dict[str, Any]:
    """The coto as the contract shapes it, made here from the row on its own:
    what a page, a single read, a post's answer and its event must all equal."""
    return {
        "id": str(row["id"]),
        "content": row["content"],
        "amishi": author,
        "posted_in": None if row["posted_in_key"] is None else {"key": row["posted_in_key"], "name": posted_in_name},
        "as_cotonoma": row["cotonoma_key"] is not None,
        "cotonoma_key": row["cotonoma_key"],
        "created_at": iso_utc(row["created_at"]),
        "updated_at": iso_utc(row["updated_at"]),
    }


def test_every_way_a_coto_is_shown_is_the_contract_shape_of_its_row(coto_store, db):
    author = new_amishi("tricky@example.com")
    author = replace(author, display_name=f"Tricky {TRICKY_TEXT[:20]}")
    room = coto_store.put_cotonoma_coto("room-tricky-01", TRICKY_TEXT[:50].replace("\n", " "), None, author.public())
    posted = [
        coto_store.post(author, TRICKY_TEXT).coto,
        coto_store.post(author, "in the room", cotonoma_key="room-tricky-01").coto,
    ]
    # A room with no coto: only a row from before the foreign key can be in one (0007, NOT VALID).
    with db.transaction():
        db.execute("SET LOCAL session_replication_role = replica")
        db.execute(
            "INSERT INTO cotos (id, amishi_id, content, posted_in_key) VALUES (%s, %s, %s, %s)",
            (new_coto_id(), author.id, "in a room with no coto", "room-without-coto"),
        )
    db.execute("UPDATE cotos SET updated_at = '2024-02-29 23:59:59.9999+09' WHERE content = 'in the room'")
    names = {"room-tricky-01": room["content"], "room-without-coto": None}
    page, _ = coto_store.timeline(author.id, None, 10)
    read = orjson.loads(orjson.dumps(page))
    found = db.execute("SELECT * FROM cotos WHERE amishi_id = %s ORDER BY id DESC", (author.id,))
    columns = [column.name for column in found.description]
    rows = [dict(zip(columns, row, strict=True)) for row in found.fetchall()]
    expected = [_expected(row, author.public(), names.get(row["posted_in_key"])) for row in rows]
    assert read == expected
    assert read[1]["updated_at"] == "2024-02-29T14:59:59.999Z", "milliseconds cut, not rounded, as iso_utc does"
    by_id = {coto["id"]: coto for coto in expected}
    assert [coto_store.get(coto["id"]) for coto in expected] == expected
    # What the post answered, and its event told, is what is read back (but for the edit made behind its back).
    assert posted[0] == by_id[posted[0]["id"]]
    told = {data["id"]: data for (data,) in db.execute("SELECT data FROM outbox WHERE event = 'coto'").fetchall()}
    assert [told[coto["id"]] for coto in posted] == posted
