"""The cotos of a signed-in amishi: in PostgreSQL, seen only by their author."""

import time
from dataclasses import replace

import pytest
from test_resources import BAD_POSTS

from cotoami_testing.fixtures import new_amishi


@pytest.fixture
def ann(sign_in):
    return sign_in(new_amishi("ann@example.com"))


def test_post_returns_the_coto_with_its_author(ann):
    result = ann.request("POST", "/api/cotos", json={"content": "  signed in  "})
    assert result.status_code == 201
    coto = result.json["coto"]
    assert coto["content"] == "signed in"
    assert coto["amishi"] == {
        "id": coto["amishi"]["id"],
        "display_name": "ann",
        "avatar_url": "https://gravatar.test/avatar/ann@example.com",
    }
    assert coto["posted_in"] is None and coto["as_cotonoma"] is False and coto["cotonoma_key"] is None
    assert coto["created_at"] == coto["updated_at"]
    assert len(coto["created_at"]) == len("2024-01-01T00:00:00.000Z") and coto["created_at"].endswith("Z")
    assert result.headers["Location"] == f"/api/cotos/{coto['id']}"
    assert "anonymous_id" not in result.cookies, "a signed-in post issues no anonymous id"


def test_get_patch_delete_my_coto(ann):
    coto = ann.post("draft")
    assert ann.request("GET", f"/api/cotos/{coto['id']}").json["coto"] == coto
    patched = ann.request("PATCH", f"/api/cotos/{coto['id']}", json={"content": " final "})
    assert patched.status_code == 200
    assert patched.json["coto"]["content"] == "final"
    assert patched.json["coto"]["created_at"] == coto["created_at"]
    assert patched.json["coto"]["updated_at"] >= coto["updated_at"]
    assert ann.request("GET", f"/api/cotos/{coto['id']}").json["coto"] == patched.json["coto"]
    assert ann.request("DELETE", f"/api/cotos/{coto['id']}").status_code == 204
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"content": "again"}}), ("DELETE", {})):
        assert ann.request(method, f"/api/cotos/{coto['id']}", **kwargs).status_code == 404
    assert ann.timeline() == []


def test_two_devices_of_one_amishi_share_the_timeline(sign_in):
    amishi = new_amishi("two@example.com")
    laptop, phone = sign_in(amishi), sign_in(amishi)
    first = laptop.post("from the laptop")
    second = phone.post("from the phone")
    assert [c["id"] for c in laptop.timeline()] == [second["id"], first["id"]]
    assert phone.timeline() == laptop.timeline()
    edit = phone.request("PATCH", f"/api/cotos/{first['id']}", json={"content": "edited on the phone"})
    assert edit.status_code == 200
    assert laptop.request("GET", f"/api/cotos/{first['id']}").json["coto"]["content"] == "edited on the phone"


def test_timeline_pages_newest_first(ann):
    ids = [ann.post(f"n{n}")["id"] for n in range(5)]
    page = ann.request("GET", "/api/cotos", params={"limit": "2"}).json
    assert [c["id"] for c in page["cotos"]] == [ids[4], ids[3]] and page["next"] == ids[3]
    page = ann.request("GET", "/api/cotos", params={"limit": "2", "before": page["next"]}).json
    assert [c["id"] for c in page["cotos"]] == [ids[2], ids[1]] and page["next"] == ids[1]
    page = ann.request("GET", "/api/cotos", params={"limit": "2", "before": page["next"]}).json
    assert [c["id"] for c in page["cotos"]] == [ids[0]] and page["next"] is None
    exactly = ann.request("GET", "/api/cotos", params={"limit": "5"}).json
    assert len(exactly["cotos"]) == 5 and exactly["next"] is None


def test_another_amishi_cannot_read_change_or_delete_my_coto(ann, sign_in, db):
    coto = ann.post("mine")
    bob = sign_in(new_amishi("bob@example.com"))
    bob.post("bob's own")
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"content": "hacked"}}), ("DELETE", {})):
        result = bob.request(method, f"/api/cotos/{coto['id']}", **kwargs)
        assert result.status_code == 404 and result.json["title"] == "No such coto"
    assert [c["content"] for c in bob.timeline()] == ["bob's own"]
    assert ann.request("GET", f"/api/cotos/{coto['id']}").json["coto"] == coto
    assert db.execute("SELECT content, updated_at FROM cotos WHERE id = %s", (coto["id"],)).fetchone()[0] == "mine"


def test_the_anonymous_pad_is_ignored_while_signed_in(browser, token_keys):
    pad_coto = browser.post("on the pad")
    browser.cookies["access_token"] = token_keys.access_token(new_amishi("pad@example.com"))
    assert browser.timeline() == []
    posted = browser.post("in the account")
    assert posted["amishi"] is not None
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"content": "x"}}), ("DELETE", {})):
        result = browser.request(method, f"/api/cotos/{pad_coto['id']}", **kwargs)
        assert result.status_code == 404 and "anonymous_id" not in result.cookies
    del browser.cookies["access_token"]
    assert [c["id"] for c in browser.timeline()] == [pad_coto["id"]], "the pad is untouched"


def test_an_expired_token_is_401_session_expired(client, token_keys, ann):
    ann.post("kept")
    expired = token_keys.access_token(new_amishi(), now=time.time() - 3600)
    result = client.simulate_get("/api/cotos", headers={"Cookie": f"access_token={expired}"})
    assert result.status_code == 401 and result.json["title"] == "Session expired"
    result = client.simulate_post("/api/cotos", json={"content": "x"}, headers={"Cookie": f"access_token={expired}"})
    assert result.status_code == 401 and "anonymous_id" not in result.cookies


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = "A" if signature[10] != "A" else "B"
    return ".".join((header, payload, signature[:10] + flipped + signature[11:]))


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c"])
def test_a_malformed_token_is_401(client, token):
    result = client.simulate_get("/api/cotos", headers={"Cookie": f"access_token={token}"})
    assert result.status_code == 401 and result.json["title"] == "Invalid session"


def test_a_tampered_token_is_401_and_changes_nothing(ann, client):
    coto = ann.post("mine")
    tampered = _tampered(ann.cookies["access_token"])
    headers = {"Cookie": f"access_token={tampered}"}
    assert client.simulate_get("/api/cotos", headers=headers).status_code == 401
    result = client.simulate_delete(f"/api/cotos/{coto['id']}", headers=headers)
    assert result.status_code == 401 and result.json["title"] == "Invalid session"
    assert [c["id"] for c in ann.timeline()] == [coto["id"]]


def test_a_changed_display_name_shows_on_every_coto(sign_in, db):
    amishi = new_amishi("cam@example.com")
    before = sign_in(amishi)
    old = before.post("before the rename")
    renamed = replace(amishi, display_name="Cam the Renamed", avatar_url="https://gravatar.test/avatar/new")
    after = sign_in(renamed)
    new = after.post("after the rename")
    assert new["amishi"] == renamed.public()
    assert [c["amishi"] for c in before.timeline()] == [renamed.public(), renamed.public()]
    assert after.request("GET", f"/api/cotos/{old['id']}").json["coto"]["amishi"] == renamed.public()
    assert db.execute("SELECT count(*) FROM authors").fetchone()[0] == 1


@pytest.mark.parametrize("body,content_type,status", [case[1:] for case in BAD_POSTS], ids=[c[0] for c in BAD_POSTS])
def test_bad_posts_signed_in_get_a_4xx_json_error_and_store_nothing(ann, db, body, content_type, status):
    headers = {"Content-Type": content_type} if content_type else {}
    result = ann.request("POST", "/api/cotos", body=body, headers=headers)
    assert result.status_code == status and "title" in result.json
    assert db.execute("SELECT count(*) FROM cotos").fetchone()[0] == 0


def test_bad_patches_signed_in_change_nothing(ann):
    coto = ann.post("keep")
    for body in ({"content": " "}, {"content": 1}, {"content": "x", "amishi_id": "someone"}):
        assert ann.request("PATCH", f"/api/cotos/{coto['id']}", json=body).status_code == 400
    assert ann.request("GET", f"/api/cotos/{coto['id']}").json["coto"] == coto


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "201"}, {"before": "zzz"}])
def test_bad_timeline_params_signed_in_are_400(ann, params):
    assert ann.request("GET", "/api/cotos", params=params).status_code == 400


def test_cross_site_writes_are_refused_signed_in(ann):
    coto = ann.post("keep me")
    headers = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert ann.request("DELETE", f"/api/cotos/{coto['id']}", headers=headers).status_code == 403
    assert ann.request("POST", "/api/cotos", json={"content": "x"}, headers=headers).status_code == 403
    assert [c["id"] for c in ann.timeline()] == [coto["id"]]
