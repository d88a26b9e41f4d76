"""PUT /internal/cotonoma-cotos/{key} with coto_id, and DELETE ...?keep=coto:
the owner's coto made to stand for a cotonoma, keeping its id, and given back."""

import pytest

from cotoami_testing.fixtures import INTERNAL_TOKEN

KEY = "made-from-a-coto"
CREDENTIAL = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}


def mark(client, coto_id, owner, name="Reading list", parent_key=None, key=KEY):
    body = {"name": name, "parent_key": parent_key, "owner": owner.public(), "coto_id": coto_id}
    return client.simulate_put(f"/internal/cotonoma-cotos/{key}", json=body, headers=CREDENTIAL)


def test_the_owners_coto_comes_to_stand_for_the_cotonoma_keeping_its_id(client, sign_in, ann, db, cotonomas_double):
    coto = sign_in(ann).post("  Reading list\n")
    marked = mark(client, coto["id"], ann)
    assert marked.status_code == 200, marked.text
    shown = marked.json["coto"]
    assert shown["id"] == coto["id"] and shown["as_cotonoma"] is True and shown["cotonoma_key"] == KEY
    assert shown["content"] == "Reading list"
    assert mark(client, coto["id"], ann).status_code == 200  # again: nothing changes
    assert db.execute("SELECT count(*) FROM cotos WHERE cotonoma_key = %s", (KEY,)).fetchone() == (1,)
    # One may post in it now, and then it cannot be given back.
    cotonomas_double.add(KEY, "Reading list", ann)
    sign_in(ann).post("inside", KEY)
    kept = client.simulate_delete(f"/internal/cotonoma-cotos/{KEY}", params={"keep": "coto"}, headers=CREDENTIAL)
    assert kept.status_code == 409 and kept.json["cotos"] == 1


def test_an_undo_gives_the_coto_back_as_it_was(client, sign_in, ann, db):
    coto = sign_in(ann).post("Reading list")
    assert mark(client, coto["id"], ann).status_code == 200
    undone = client.simulate_delete(f"/internal/cotonoma-cotos/{KEY}", params={"keep": "coto"}, headers=CREDENTIAL)
    assert undone.status_code == 204
    back = sign_in(ann).request("GET", f"/api/cotos/{coto['id']}").json["coto"]
    assert back["as_cotonoma"] is False and back["cotonoma_key"] is None and back["content"] == "Reading list"
    again = client.simulate_delete(f"/internal/cotonoma-cotos/{KEY}", params={"keep": "coto"}, headers=CREDENTIAL)
    assert again.status_code == 204


@pytest.mark.parametrize("case", ["someone else's", "edited meanwhile", "posted elsewhere", "another cotonoma's"])
def test_a_coto_that_is_not_as_it_was_is_409_and_unchanged(client, sign_in, ann, bob, new_cotonoma, case):
    elsewhere = new_cotonoma("Elsewhere", ann)
    coto = sign_in(ann).post("Reading list")
    if case == "someone else's":
        answer = mark(client, coto["id"], bob)
    elif case == "edited meanwhile":
        sign_in(ann).request("PATCH", f"/api/cotos/{coto['id']}", json={"content": "Something else"})
        answer = mark(client, coto["id"], ann)
    elif case == "posted elsewhere":
        answer = mark(client, coto["id"], ann, parent_key=elsewhere)
    else:
        assert mark(client, coto["id"], ann, key="first-cotonoma").status_code == 200
        answer = mark(client, coto["id"], ann)
    assert answer.status_code == 409 and answer.json["title"] == "Cannot stand for the cotonoma"
    shown = sign_in(ann).request("GET", f"/api/cotos/{coto['id']}").json["coto"]
    assert shown["cotonoma_key"] in (None, "first-cotonoma")


def test_a_bad_keep_or_coto_id_is_400(client, ann):
    bad_keep = client.simulate_delete(f"/internal/cotonoma-cotos/{KEY}", params={"keep": "all"}, headers=CREDENTIAL)
    assert bad_keep.status_code == 400
    assert mark(client, "not-an-id", ann).status_code == 400
