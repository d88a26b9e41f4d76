"""PUT and DELETE /internal/cotonoma-cotos/{key}: cotonomas keeps exactly one
coto standing for each cotonoma."""

import json
import threading

import psycopg
import pytest
from conftest import put_cotonoma_coto
from psycopg.rows import TupleRow

from cotoami_testing.fixtures import INTERNAL_TOKEN, new_amishi

KEY = "room-key-0001"
PATH = f"/internal/cotonoma-cotos/{KEY}"
CREDENTIAL = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}


@pytest.fixture
def owner():
    return new_amishi("owner@example.com")


def _cotonoma_cotos(db: psycopg.Connection[TupleRow]) -> list[TupleRow]:
    return db.execute(
        "SELECT cotonoma_key, content, amishi_id::text, posted_in_key FROM cotos"
        " WHERE cotonoma_key IS NOT NULL ORDER BY id"
    ).fetchall()


def test_put_creates_the_coto_at_home_with_its_owner_as_author(client, sign_in, owner, db):
    coto = put_cotonoma_coto(client, KEY, "Ideas", owner)
    assert coto["content"] == "Ideas" and coto["as_cotonoma"] is True and coto["cotonoma_key"] == KEY
    assert coto["amishi"] == owner.public() and coto["posted_in"] is None
    assert coto["created_at"] == coto["updated_at"]
    assert db.execute("SELECT display_name, avatar_url FROM authors WHERE amishi_id = %s", (owner.id,)).fetchone() == (
        owner.display_name,
        owner.avatar_url,
    )
    assert sign_in(owner).timeline() == [coto]


def test_put_with_a_parent_posts_the_coto_in_it(client, owner):
    put_cotonoma_coto(client, "parent-key-01", "Parent", owner)
    coto = put_cotonoma_coto(client, KEY, "Child", owner, parent_key="parent-key-01")
    assert coto["posted_in"] == {"key": "parent-key-01", "name": "Parent"}


def test_put_twice_makes_one_coto_and_a_new_name_renames_it(client, owner, db):
    first = put_cotonoma_coto(client, KEY, "Ideas", owner)
    written = db.execute("SELECT xmin::text FROM cotos WHERE cotonoma_key = %s", (KEY,)).fetchone()
    assert put_cotonoma_coto(client, KEY, "Ideas", owner) == first
    assert db.execute("SELECT xmin::text FROM cotos WHERE cotonoma_key = %s", (KEY,)).fetchone() == written, (
        "a repeat writes nothing"
    )
    renamed = put_cotonoma_coto(client, KEY, "  Better ideas ", owner)
    assert renamed["id"] == first["id"] and renamed["content"] == "Better ideas"
    assert renamed["created_at"] == first["created_at"] and renamed["updated_at"] >= first["updated_at"]
    assert _cotonoma_cotos(db) == [(KEY, "Better ideas", owner.id, None)]


def test_a_rename_keeps_the_parent_and_owner_it_was_created_with(client, owner, db):
    put_cotonoma_coto(client, "parent-key-01", "Parent", owner)
    put_cotonoma_coto(client, KEY, "Child", owner, parent_key="parent-key-01")
    put_cotonoma_coto(client, KEY, "Renamed", new_amishi("someone@example.com"), parent_key=None)
    assert _cotonoma_cotos(db)[1] == (KEY, "Renamed", owner.id, "parent-key-01")


def test_concurrent_puts_make_one_coto(coto_store, owner, db):
    errors = []

    def put():
        try:
            coto_store.put_cotonoma_coto(KEY, "Raced", None, owner.public())
        except Exception as error:  # any at all would be a failure of the test
            errors.append(error)

    threads = [threading.Thread(target=put) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and _cotonoma_cotos(db) == [(KEY, "Raced", owner.id, None)]


def test_delete_removes_the_coto_and_may_be_repeated(client, owner, db):
    put_cotonoma_coto(client, KEY, "Ideas", owner)
    put_cotonoma_coto(client, "other-key-01", "Other", owner)
    for _ in range(2):
        result = client.simulate_delete(PATH, headers=CREDENTIAL)
        assert result.status_code == 204 and result.text == ""
    assert [row[0] for row in _cotonoma_cotos(db)] == ["other-key-01"]
    assert client.simulate_delete("/internal/cotonoma-cotos/never-existed", headers=CREDENTIAL).status_code == 204


def test_put_after_delete_creates_it_again(client, owner, db):
    put_cotonoma_coto(client, KEY, "Ideas", owner)
    client.simulate_delete(PATH, headers=CREDENTIAL)
    put_cotonoma_coto(client, KEY, "Ideas again", owner)
    assert _cotonoma_cotos(db) == [(KEY, "Ideas again", owner.id, None)]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": INTERNAL_TOKEN}])
def test_both_need_the_service_credential(client, owner, db, headers):
    put_cotonoma_coto(client, KEY, "Ideas", owner)
    body = {"name": "Stolen", "parent_key": None, "owner": new_amishi("eve@example.com").public()}
    for result in (
        client.simulate_put(PATH, json=body, headers=headers),
        client.simulate_delete(PATH, headers=headers),
    ):
        assert result.status_code == 401 and "title" in result.json
    assert _cotonoma_cotos(db) == [(KEY, "Ideas", owner.id, None)]


OWNER = {"id": "0b7f0a5e-6a53-4e8e-9a0c-4a1b2c3d4e5f", "display_name": "ann", "avatar_url": "https://gravatar.test/a"}
GOOD = {"name": "Ideas", "parent_key": None, "owner": OWNER}
BAD_PUTS = [
    ("malformed JSON", b'{"name": '),
    ("JSON array", b"[]"),
    ("JSON null", b"null"),
    ("empty object", {}),
    ("name missing", {k: v for k, v in GOOD.items() if k != "name"}),
    ("name null", {**GOOD, "name": None}),
    ("name a number", {**GOOD, "name": 5}),
    ("name blank", {**GOOD, "name": "  "}),
    ("name too long", {**GOOD, "name": "x" * 51}),
    ("name with NUL", {**GOOD, "name": "a\u0000b"}),
    ("name with a newline", {**GOOD, "name": "a\nb"}),
    ("name with a C1 control", {**GOOD, "name": "a\u0085b"}),
    ("name a lone surrogate", json.dumps({**GOOD, "name": "NAME"}).replace('"NAME"', '"\\ud800"').encode()),
    ("parent_key missing", {k: v for k, v in GOOD.items() if k != "parent_key"}),
    ("parent_key a number", {**GOOD, "parent_key": 7}),
    ("parent_key malformed", {**GOOD, "parent_key": "../../x"}),
    ("parent_key too short", {**GOOD, "parent_key": "short"}),
    ("parent_key itself", {**GOOD, "parent_key": KEY}),
    ("owner missing", {k: v for k, v in GOOD.items() if k != "owner"}),
    ("owner a string", {**GOOD, "owner": OWNER["id"]}),
    ("owner id not a uuid", {**GOOD, "owner": {**OWNER, "id": "ann"}}),
    ("owner display_name blank", {**GOOD, "owner": {**OWNER, "display_name": " "}}),
    ("owner display_name with NUL", {**GOOD, "owner": {**OWNER, "display_name": "a\x00b"}}),
    ("owner display_name two lines", {**GOOD, "owner": {**OWNER, "display_name": "a\nb"}}),
    ("owner avatar_url missing", {**GOOD, "owner": {k: v for k, v in OWNER.items() if k != "avatar_url"}}),
    ("unknown owner field", {**GOOD, "owner": {**OWNER, "email": "ann@example.com"}}),
    ("unknown field", {**GOOD, "content": "Ideas"}),
]


@pytest.mark.parametrize("body", [case[1] for case in BAD_PUTS], ids=[case[0] for case in BAD_PUTS])
def test_bad_puts_are_400_json_and_change_nothing(client, db, body):
    if isinstance(body, bytes):
        result = client.simulate_put(PATH, body=body, headers={**CREDENTIAL, "Content-Type": "application/json"})
    else:
        result = client.simulate_put(PATH, json=body, headers=CREDENTIAL)
    assert result.status_code == 400 and "title" in result.json, result.text
    assert db.execute("SELECT count(*) FROM cotos").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM authors").fetchone()[0] == 0


def test_a_name_of_exactly_fifty_characters_is_accepted(client, owner):
    assert put_cotonoma_coto(client, KEY, "y" * 50, owner)["content"] == "y" * 50


@pytest.mark.parametrize("key", ["short", "a" * 65, "dot.ted.key", "%20space%20key"])
def test_a_malformed_key_in_the_path_is_400(client, db, key):
    path = f"/internal/cotonoma-cotos/{key}"
    for result in (
        client.simulate_put(path, json=GOOD, headers=CREDENTIAL),
        client.simulate_delete(path, headers=CREDENTIAL),
    ):
        assert result.status_code == 400 and "title" in result.json
    assert db.execute("SELECT count(*) FROM cotos").fetchone()[0] == 0


def test_a_body_that_is_not_json_is_415(client):
    result = client.simulate_put(PATH, body=b"name=Ideas", headers={**CREDENTIAL, "Content-Type": "text/plain"})
    assert result.status_code == 415 and "title" in result.json
