import uuid

from cotos.store import new_coto_id


def test_coto_ids_are_uuid7_in_the_order_they_were_made():
    ids = [new_coto_id() for _ in range(10_000)]  # many share a millisecond
    assert all(uuid.UUID(coto_id).version == 7 for coto_id in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_timeline_pages_with_a_cursor(anonymous_cotos):
    posted = [anonymous_cotos.post("a" * 32, f"coto {n}") for n in range(5)]
    page, cursor = anonymous_cotos.timeline("a" * 32, None, 2)
    assert [c["id"] for c in page] == [posted[4]["id"], posted[3]["id"]]
    page, cursor = anonymous_cotos.timeline("a" * 32, cursor, 2)
    assert [c["id"] for c in page] == [posted[2]["id"], posted[1]["id"]]
    page, cursor = anonymous_cotos.timeline("a" * 32, cursor, 2)
    assert [c["id"] for c in page] == [posted[0]["id"]]
    assert cursor is None


def test_pad_expires_after_the_ttl_from_its_last_use(anonymous_cotos):
    anonymous_cotos.post("b" * 32, "remember me")
    client = anonymous_cotos.client
    for key in ("anon:" + "b" * 32 + ":timeline", "anon:" + "b" * 32 + ":cotos"):
        client.expire(key, 100)
    anonymous_cotos.timeline("b" * 32, None, 10)
    for key in ("anon:" + "b" * 32 + ":timeline", "anon:" + "b" * 32 + ":cotos"):
        assert client.ttl(key) > 100, "reading the pad renews its lifetime"
        assert client.ttl(key) <= anonymous_cotos.ttl_seconds


def test_update_of_a_deleted_coto_does_not_resurrect_it(anonymous_cotos):
    coto = anonymous_cotos.post("c" * 32, "soon gone")
    assert anonymous_cotos.delete("c" * 32, coto["id"])
    assert anonymous_cotos.update("c" * 32, coto["id"], "back?") is None
    assert anonymous_cotos.get("c" * 32, coto["id"]) is None
    assert anonymous_cotos.timeline("c" * 32, None, 10) == ([], None)
