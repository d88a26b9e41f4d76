"""Cotos in cotonomas: posting into one, its timeline, "posted in" labels, and
who may read and change what, as cotonomas (a double here) decides."""

import time

import pytest
from conftest import ACCESS_TIMEOUT_SECONDS, put_cotonoma_coto

from cotoami_testing.fixtures import new_amishi


@pytest.fixture
def shared(new_cotonoma, ann, bob):
    """Ann's cotonoma "Shared", with Bob as a member."""
    return new_cotonoma("Shared", ann, bob)


def test_two_members_see_each_others_cotos_with_their_authors(sign_in, shared, ann, bob):
    as_ann, as_bob = sign_in(ann), sign_in(bob)
    from_ann = as_ann.post("ann inside", shared)
    from_bob = as_bob.post("bob inside", shared)
    assert from_bob["posted_in"] == {"key": shared, "name": "Shared"}
    assert from_bob["amishi"] == bob.public() and from_bob["as_cotonoma"] is False
    for reader in (as_ann, as_bob):
        timeline = reader.timeline(cotonoma=shared)
        assert [c["id"] for c in timeline] == [from_bob["id"], from_ann["id"]]
        assert [c["amishi"] for c in timeline] == [bob.public(), ann.public()]
        assert {c["posted_in"]["name"] for c in timeline} == {"Shared"}
    assert as_ann.request("GET", f"/api/cotos/{from_bob['id']}").json["coto"] == from_bob
    assert as_bob.request("GET", f"/api/cotos/{from_ann['id']}").json["coto"] == from_ann


def test_home_lists_my_posts_everywhere_labelled_with_where(sign_in, new_cotonoma, shared, ann, bob):
    as_ann, as_bob = sign_in(ann), sign_in(bob)
    at_home = as_bob.post("bob at home")
    inside = as_bob.post("bob inside", shared)
    as_ann.post("ann inside", shared)
    assert [(c["id"], c["posted_in"]) for c in as_bob.timeline()] == [
        (inside["id"], {"key": shared, "name": "Shared"}),
        (at_home["id"], None),
    ]
    ann_home = as_ann.timeline()
    assert [c["content"] for c in ann_home] == ["ann inside", "Shared"]
    assert ann_home[1]["as_cotonoma"] is True and ann_home[1]["cotonoma_key"] == shared
    assert ann_home[1]["posted_in"] is None, "created at home"


def test_a_sub_cotonoma_is_posted_in_its_parent(sign_in, new_cotonoma, shared, ann, bob):
    inner = new_cotonoma("Inner", bob, ann, parent_key=shared)
    in_parent = sign_in(ann).timeline(cotonoma=shared)
    assert [(c["content"], c["as_cotonoma"], c["cotonoma_key"]) for c in in_parent] == [("Inner", True, inner)]
    assert in_parent[0]["posted_in"] == {"key": shared, "name": "Shared"}
    assert in_parent[0]["amishi"] == bob.public(), "its owner is its author"
    bobs_home = sign_in(bob).timeline()
    assert [(c["cotonoma_key"], c["posted_in"]) for c in bobs_home] == [(inner, {"key": shared, "name": "Shared"})]
    assert sign_in(ann).timeline(cotonoma=inner) == [], "its own timeline holds what is posted in it"


def test_a_rename_changes_every_label_at_once(client, sign_in, shared, ann, bob):
    as_ann, as_bob = sign_in(ann), sign_in(bob)
    posted = [as_ann.post("one", shared), as_bob.post("two", shared), as_bob.post("three", shared)]
    put_cotonoma_coto(client, shared, "Renamed", ann)
    assert {c["posted_in"]["name"] for c in as_bob.timeline(cotonoma=shared)} == {"Renamed"}
    assert {c["posted_in"]["name"] for c in as_bob.timeline()} == {"Renamed"}
    assert as_ann.request("GET", f"/api/cotos/{posted[1]['id']}").json["coto"]["posted_in"]["name"] == "Renamed"
    assert [c["content"] for c in as_ann.timeline() if c["as_cotonoma"]] == ["Renamed"]


def test_timeline_of_a_cotonoma_pages_newest_first(sign_in, shared, ann, bob):
    ids = [sign_in(bob if n % 2 else ann).post(f"n{n}", shared)["id"] for n in range(5)]
    as_ann = sign_in(ann)
    page = as_ann.request("GET", "/api/cotos", params={"cotonoma": shared, "limit": "2"}).json
    assert [c["id"] for c in page["cotos"]] == [ids[4], ids[3]] and page["next"] == ids[3]
    page = as_ann.request("GET", "/api/cotos", params={"cotonoma": shared, "limit": "2", "before": page["next"]}).json
    assert [c["id"] for c in page["cotos"]] == [ids[2], ids[1]]
    page = as_ann.request("GET", "/api/cotos", params={"cotonoma": shared, "limit": "2", "before": page["next"]}).json
    assert [c["id"] for c in page["cotos"]] == [ids[0]] and page["next"] is None


def test_an_outsider_learns_nothing_and_posts_nothing(sign_in, shared, ann, db):
    coto = sign_in(ann).post("private", shared)
    outsider = sign_in(new_amishi("eve@example.com"))
    for result in (
        outsider.request("GET", "/api/cotos", params={"cotonoma": shared}),
        outsider.request("POST", "/api/cotos", json={"content": "let me in", "cotonoma_key": shared}),
    ):
        assert result.status_code == 404 and result.json["title"] == "No such cotonoma"
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"content": "x"}}), ("DELETE", {})):
        result = outsider.request(method, f"/api/cotos/{coto['id']}", **kwargs)
        assert result.status_code == 404 and result.json["title"] == "No such coto"
    assert db.execute("SELECT count(*) FROM cotos WHERE content = 'let me in'").fetchone()[0] == 0


def test_an_unknown_cotonoma_is_404_like_a_private_one(sign_in, ann):
    as_ann = sign_in(ann)
    assert as_ann.request("GET", "/api/cotos", params={"cotonoma": "no-such-room"}).status_code == 404
    result = as_ann.request("POST", "/api/cotos", json={"content": "x", "cotonoma_key": "no-such-room"})
    assert result.status_code == 404 and result.json["title"] == "No such cotonoma"


@pytest.mark.parametrize("key", ["short", "a" * 65, "has space9", "../../internal", "dot.ted.key", ""])
def test_a_malformed_key_is_404_without_asking_cotonomas(sign_in, cotonomas_double, ann, key):
    as_ann = sign_in(ann)
    posted = as_ann.request("POST", "/api/cotos", json={"content": "x", "cotonoma_key": key})
    assert posted.status_code == 404 and posted.json["title"] == "No such cotonoma"
    if key:  # a blank query value is no value at all: that is the home timeline
        assert as_ann.request("GET", "/api/cotos", params={"cotonoma": key}).status_code == 404
    assert cotonomas_double.asked == []
    assert as_ann.timeline() == []


@pytest.mark.parametrize("key", [7, ["room-key-0001"], {"key": "room-key-0001"}, True])
def test_a_cotonoma_key_that_is_not_a_string_is_400(sign_in, ann, key):
    result = sign_in(ann).request("POST", "/api/cotos", json={"content": "x", "cotonoma_key": key})
    assert result.status_code == 400 and "title" in result.json


def test_anonymous_visitors_are_asked_to_sign_in_and_cotonomas_is_not_asked(browser, shared, cotonomas_double):
    for result in (
        browser.request("GET", "/api/cotos", params={"cotonoma": shared}),
        browser.request("POST", "/api/cotos", json={"content": "x", "cotonoma_key": shared}),
    ):
        assert result.status_code == 401 and result.json["title"] == "Sign in"
    assert cotonomas_double.asked == []


def test_only_the_author_changes_a_shared_coto(sign_in, shared, ann, bob):
    # Ann owns Shared: she may remove Bob's coto (test_trash.py), never edit it.
    as_ann, as_bob = sign_in(ann), sign_in(bob)
    coto = as_bob.post("bob's words", shared)
    result = as_ann.request("PATCH", f"/api/cotos/{coto['id']}", json={"content": "ann's now"})
    assert result.status_code == 404 and result.json["title"] == "No such coto"
    assert as_ann.request("GET", f"/api/cotos/{coto['id']}").json["coto"] == coto
    edited = as_bob.request("PATCH", f"/api/cotos/{coto['id']}", json={"content": "bob's edit"}).json["coto"]
    assert edited["content"] == "bob's edit" and edited["posted_in"] == {"key": shared, "name": "Shared"}
    assert as_bob.request("DELETE", f"/api/cotos/{coto['id']}").status_code == 204
    assert as_ann.timeline(cotonoma=shared) == []


def test_the_coto_of_a_cotonoma_is_changed_only_through_cotonomas(sign_in, shared, ann, bob, db):
    as_ann = sign_in(ann)
    [coto] = as_ann.timeline()
    for method, kwargs in (("PATCH", {"json": {"content": "Renamed here"}}), ("DELETE", {})):
        result = as_ann.request(method, f"/api/cotos/{coto['id']}", **kwargs)
        assert result.status_code == 409 and result.json["title"] == "Coto stands for a cotonoma"
        result = sign_in(bob).request(method, f"/api/cotos/{coto['id']}", **kwargs)
        assert result.status_code == 404, "not even told it stands for a cotonoma"
    assert as_ann.request("GET", f"/api/cotos/{coto['id']}").json["coto"] == coto
    assert db.execute("SELECT content FROM cotos WHERE cotonoma_key = %s", (shared,)).fetchone()[0] == "Shared"


def test_a_member_cannot_read_the_coto_of_a_cotonoma_posted_where_they_cannot_go(sign_in, shared, ann, bob):
    # Bob is a member of Shared only: its coto sits on Ann's home, which is Ann's alone.
    [coto] = sign_in(ann).timeline()
    assert sign_in(bob).request("GET", f"/api/cotos/{coto['id']}").status_code == 404


def test_a_removed_member_loses_access_within_five_seconds(sign_in, cotonomas_double, clock, shared, bob):
    as_bob = sign_in(bob)
    coto = as_bob.post("before removal", shared)
    tag = as_bob.request("GET", "/api/cotos", params={"cotonoma": shared}).headers["ETag"]
    cotonomas_double.revoke(shared, bob)
    clock.advance(2)
    assert as_bob.request("GET", "/api/cotos", params={"cotonoma": shared}).status_code == 404
    unchanged = as_bob.request("GET", "/api/cotos", params={"cotonoma": shared}, headers={"If-None-Match": tag})
    assert unchanged.status_code == 404, "an unchanged page is no longer one's to see either"
    assert as_bob.request("POST", "/api/cotos", json={"content": "after", "cotonoma_key": shared}).status_code == 404
    assert as_bob.request("GET", f"/api/cotos/{coto['id']}").json["coto"] == coto, "still the author's own"
    assert [c["id"] for c in as_bob.timeline()] == [coto["id"]], "and still at home"


def test_a_newly_added_member_gets_in_once_the_denial_expires(sign_in, cotonomas_double, clock, shared):
    carol = new_amishi("carol@example.com")
    as_carol = sign_in(carol)
    assert as_carol.request("GET", "/api/cotos", params={"cotonoma": shared}).status_code == 404
    cotonomas_double.allow(shared, carol)
    assert as_carol.request("GET", "/api/cotos", params={"cotonoma": shared}).status_code == 404, "remembered"
    clock.advance(2)
    assert as_carol.request("GET", "/api/cotos", params={"cotonoma": shared}).status_code == 200


def test_the_question_carries_the_request_id(sign_in, cotonomas_double, shared, bob):
    sign_in(bob).request("GET", "/api/cotos", params={"cotonoma": shared}, headers={"X-Request-ID": "trace-me"})
    assert cotonomas_double.asked[0]["headers"]["X-Request-ID"] == "trace-me"


def test_decisions_are_remembered_across_requests(sign_in, cotonomas_double, shared, bob):
    as_bob = sign_in(bob)
    for n in range(3):
        as_bob.post(f"n{n}", shared)
        as_bob.timeline(cotonoma=shared)
    assert len(cotonomas_double.asked) == 1


def _assert_503(result):
    assert result.status_code == 503 and result.headers["Retry-After"] == "5"
    assert "title" in result.json and "Traceback" not in result.text


def test_an_erring_cotonomas_is_503_for_cotonoma_reads_and_posts(sign_in, cotonomas_double, shared, ann, bob, db):
    anns = sign_in(ann).post("ann's, in the room", shared)
    cotonomas_double.answer = 500  # from now on; nothing was asked about bob yet
    as_bob = sign_in(bob)
    _assert_503(as_bob.request("GET", "/api/cotos", params={"cotonoma": shared}))
    _assert_503(as_bob.request("POST", "/api/cotos", json={"content": "x", "cotonoma_key": shared}))
    _assert_503(as_bob.request("GET", f"/api/cotos/{anns['id']}"))
    assert db.execute("SELECT count(*) FROM cotos WHERE content = 'x'").fetchone()[0] == 0
    cotonomas_double.answer = None
    assert as_bob.request("GET", "/api/cotos", params={"cotonoma": shared}).status_code == 200, "recovers at once"


def test_home_and_the_pad_never_ask_cotonomas(sign_in, browser, cotonomas_double, shared, ann):
    cotonomas_double.answer = 500
    as_ann = sign_in(ann)
    mine = as_ann.post("at home")
    assert as_ann.timeline()[0]["id"] == mine["id"]
    assert as_ann.request("GET", f"/api/cotos/{mine['id']}").status_code == 200
    assert as_ann.request("PATCH", f"/api/cotos/{mine['id']}", json={"content": "edited"}).status_code == 200
    pad = browser.post("anonymous")
    assert [c["id"] for c in browser.timeline()] == [pad["id"]]
    assert cotonomas_double.asked == []


def test_a_cotonomas_that_is_down_is_503(client_asking, closed_port_url, token_keys, ann):
    client = client_asking(closed_port_url)
    cookie = {"Cookie": f"access_token={token_keys.access_token(ann)}"}
    _assert_503(client.simulate_get("/api/cotos", params={"cotonoma": "room-key-0001"}, headers=cookie))
    _assert_503(
        client.simulate_post("/api/cotos", json={"content": "x", "cotonoma_key": "room-key-0001"}, headers=cookie)
    )
    assert client.simulate_get("/api/cotos", headers=cookie).status_code == 200, "home needs no cotonomas"


def test_a_slow_cotonomas_is_503_after_the_timeout(sign_in, cotonomas_double, shared, bob):
    cotonomas_double.delay = 1.0
    started = time.monotonic()
    _assert_503(sign_in(bob).request("GET", "/api/cotos", params={"cotonoma": shared}))
    assert time.monotonic() - started < ACCESS_TIMEOUT_SECONDS + 0.5
