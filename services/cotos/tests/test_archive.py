"""GET and POST /internal/archive/cotos: a person's cotos for an export, and
batches of cotos imported with their ids and times."""

import uuid

import pytest
from conftest import put_cotonoma_coto

from cotoami_testing.fixtures import INTERNAL_TOKEN, new_amishi

PATH = "/internal/archive/cotos"
CREDENTIAL = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}


def v7(ms: int) -> str:
    return str(uuid.UUID(int=ms << 80 | 0x7 << 76 | 0x2 << 62 | uuid.uuid4().int & ((1 << 62) - 1)))


def item(coto_id: str, content: str = "hello", **fields) -> dict[str, object]:
    return {
        "id": coto_id,
        "content": content,
        "posted_in_key": None,
        "created_at": "2018-09-26T06:33:17.410Z",
        "updated_at": "2018-09-26T06:33:17.410Z",
        **fields,
    }


def send(client, author, cotos, headers=CREDENTIAL):
    return client.simulate_post(PATH, json={"author": author.public(), "cotos": cotos}, headers=headers)


def imported(client, author, cotos) -> list[dict[str, str]]:
    result = send(client, author, cotos)
    assert result.status_code == 200, result.text
    results: list[dict[str, str]] = result.json["results"]
    return results


def outcomes(results):
    return [r["result"] for r in results]


def test_an_import_keeps_ids_and_times_and_shows_on_the_timeline(client, sign_in, ann, db):
    older, newer = v7(1537943597410), v7(1537944841347)
    results = imported(
        client,
        ann,
        [item(newer, "bye", created_at="2018-09-26T06:54:01.347Z", updated_at="2018-09-27T00:00:00Z"), item(older)],
    )
    assert results == [{"id": newer, "result": "inserted"}, {"id": older, "result": "inserted"}]
    timeline = sign_in(ann).timeline()
    assert [(c["id"], c["content"], c["created_at"], c["updated_at"]) for c in timeline] == [
        (newer, "bye", "2018-09-26T06:54:01.347Z", "2018-09-27T00:00:00.000Z"),
        (older, "hello", "2018-09-26T06:33:17.410Z", "2018-09-26T06:33:17.410Z"),
    ]
    assert db.execute("SELECT count(*) FROM outbox").fetchone() == (0,), "an import records no events"


def test_importing_again_inserts_nothing_and_updates_what_changed(client, ann, db):
    a, b = v7(1), v7(2)
    imported(client, ann, [item(a), item(b)])
    written = db.execute("SELECT xmin::text FROM cotos WHERE id = %s", (a,)).fetchone()
    again = imported(client, ann, [item(a), item(b, "edited", updated_at="2019-01-01T00:00:00Z")])
    assert outcomes(again) == ["unchanged", "updated"]
    assert db.execute("SELECT xmin::text FROM cotos WHERE id = %s", (a,)).fetchone() == written
    assert db.execute("SELECT content, updated_at::text FROM cotos WHERE id = %s", (b,)).fetchone() == (
        "edited",
        "2019-01-01 00:00:00+00",
    )


def test_someone_elses_ids_are_rejected_and_never_changed(client, sign_in, ann, bob, db):
    mine = sign_in(ann).post("ann's")
    results = imported(client, bob, [item(mine["id"], "bob's now"), item(v7(5))])
    assert results[0] == {"id": mine["id"], "result": "rejected", "reason": "the id belongs to someone else"}
    assert results[1]["result"] == "inserted"
    assert db.execute("SELECT content, amishi_id::text FROM cotos WHERE id = %s", (mine["id"],)).fetchone() == (
        "ann's",
        ann.id,
    )


def test_duplicates_in_a_batch_the_trash_and_cotonoma_cotos_are_rejected(client, sign_in, ann):
    browser = sign_in(ann)
    trashed = browser.post("gone")
    assert browser.request("DELETE", f"/api/cotos/{trashed['id']}").status_code == 204
    cotonoma = put_cotonoma_coto(client, "room-key-0001", "Room", ann)
    twice = v7(9)
    results = imported(
        client, ann, [item(twice), item(twice, "again"), item(trashed["id"]), item(cotonoma["id"], "Room")]
    )
    assert [(r["result"], r.get("reason")) for r in results] == [
        ("inserted", None),
        ("rejected", "the id appears twice"),
        ("rejected", "it is in the trash"),
        ("rejected", "the id is a cotonoma's coto"),
    ]


def test_a_coto_posted_in_a_cotonoma_needs_its_coto(client, sign_in, ann):
    put_cotonoma_coto(client, "room-key-0001", "Room", ann)
    here, nowhere = v7(10), v7(11)
    results = imported(
        client,
        ann,
        [item(here, posted_in_key="room-key-0001"), item(nowhere, posted_in_key="nowhere-key-01")],
    )
    assert [(r["result"], r.get("reason")) for r in results] == [
        ("inserted", None),
        ("rejected", "cotonoma not found: nowhere-key-01"),
    ]


def test_a_cotonomas_coto_is_imported_with_its_id(client, sign_in, ann, bob):
    coto_id = v7(20)
    cotonoma = item(coto_id, "Room", cotonoma_key="room-key-0002")
    assert outcomes(imported(client, ann, [cotonoma])) == ["inserted"]
    assert outcomes(imported(client, ann, [cotonoma])) == ["unchanged"]
    assert outcomes(imported(client, ann, [{**cotonoma, "content": "Hall"}])) == ["updated"]
    other = imported(client, ann, [item(v7(21), "Other", cotonoma_key="room-key-0002")])
    assert other[0]["reason"] == "the cotonoma has another coto"
    assert imported(client, bob, [cotonoma])[0]["reason"] == "the id belongs to someone else"
    coto = sign_in(ann).timeline()[0]
    assert (coto["id"], coto["content"], coto["as_cotonoma"], coto["cotonoma_key"]) == (
        coto_id,
        "Hall",
        True,
        "room-key-0002",
    )


def test_export_pages_through_every_coto_oldest_id_first(client, sign_in, ann, bob):
    browser = sign_in(ann)
    posted = [browser.post(f"coto {n}") for n in range(5)]
    sign_in(bob).post("not ann's")
    cotonoma = put_cotonoma_coto(client, "room-key-0003", "Room", ann)
    seen, after = [], None
    while True:
        params = {"amishi_id": ann.id, "limit": "2", **({"after": after} if after else {})}
        page = client.simulate_get(PATH, params=params, headers=CREDENTIAL)
        assert page.status_code == 200, page.text
        seen += page.json["cotos"]
        after = page.json["next"]
        if after is None:
            break
    assert [c["id"] for c in seen] == [c["id"] for c in posted] + [cotonoma["id"]]
    assert seen[0] == {
        "id": posted[0]["id"],
        "content": "coto 0",
        "posted_in_key": None,
        "cotonoma_key": None,
        "created_at": posted[0]["created_at"],
        "updated_at": posted[0]["updated_at"],
    }
    assert seen[-1]["cotonoma_key"] == "room-key-0003"


@pytest.mark.parametrize(
    "body",
    [
        {"author": None, "cotos": [item(v7(1))]},
        {"author": new_amishi().public(), "cotos": []},
        {"author": new_amishi().public(), "cotos": [item("not-a-uuid")]},
        {"author": new_amishi().public(), "cotos": [item(v7(1), "")]},
        {"author": new_amishi().public(), "cotos": [item(v7(1), "x" * 10_001)]},
        {"author": new_amishi().public(), "cotos": [item(v7(1), "a\x00b")]},
        {"author": new_amishi().public(), "cotos": [item(v7(1), created_at=1537943597410)]},
        {"author": new_amishi().public(), "cotos": [item(v7(1), created_at="2018-09-26T06:33:17")]},
        {"author": new_amishi().public(), "cotos": [item(v7(1), posted_in_key="bad key!")]},
        {"author": new_amishi().public(), "cotos": [item(v7(1), extra=1)]},
        {"author": new_amishi().public(), "cotos": [item(v7(n)) for n in range(1001)]},
    ],
)
def test_a_malformed_batch_is_a_400_and_writes_nothing(client, body, db):
    result = client.simulate_post(PATH, json=body, headers=CREDENTIAL)
    assert result.status_code == 400, result.text
    assert set(result.json) >= {"title", "description"}
    assert db.execute("SELECT count(*) FROM cotos").fetchone() == (0,)


def test_the_service_credential_is_required(client, ann):
    assert send(client, ann, [item(v7(1))], headers={}).status_code == 401
    assert send(client, ann, [item(v7(1))], headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.simulate_get(PATH, params={"amishi_id": ann.id}).status_code == 401
    assert client.simulate_get(PATH, params={"amishi_id": "x"}, headers=CREDENTIAL).status_code == 400
