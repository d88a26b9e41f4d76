"""Cotonomas end to end: rooms that are cotos, nest, and are shared by email."""

import time

import psycopg
import pytest
from conftest import PROFILE


def test_create_at_home_and_nested_post_inside_and_see_it_all_at_home(owner):
    ideas = owner.create("Ideas")
    assert ideas["parent_key"] is None and ideas["owner"]["id"] == owner.amishi["id"] and not ideas["shared"]
    assert len(ideas["key"]) >= 11, "at least 64 random bits"
    home = owner.timeline()
    assert home[0]["as_cotonoma"] and home[0]["cotonoma_key"] == ideas["key"] and home[0]["content"] == "Ideas"

    inside = owner.post("a thought inside", ideas["key"])
    sub = owner.create("Sub ideas", ideas["key"])
    deeper = owner.post("deeper thought", sub["key"])

    in_ideas = owner.timeline(ideas["key"])
    assert [c["id"] for c in in_ideas][:2] == [in_ideas[0]["id"], inside["id"]]
    assert in_ideas[0]["cotonoma_key"] == sub["key"], "the sub-cotonoma is posted in its parent"
    assert [c["id"] for c in owner.timeline(sub["key"])] == [deeper["id"]]

    labels = {c["id"]: c["posted_in"] for c in owner.timeline()}
    assert labels[inside["id"]] == {"key": ideas["key"], "name": "Ideas"}
    assert labels[deeper["id"]] == {"key": sub["key"], "name": "Sub ideas"}

    got = owner.call("GET", f"/api/cotonomas/{sub['key']}").json()
    assert got["cotonoma"]["name"] == "Sub ideas"
    assert got["ancestors"] == [{"key": ideas["key"], "name": "Ideas"}]
    children = owner.call("GET", f"/api/cotonomas/{ideas['key']}").json()["children"]
    assert [c["key"] for c in children] == [sub["key"]]


def test_rename_shows_everywhere_at_once(owner):
    room = owner.create("Drafts")
    coto = owner.post("inside drafts", room["key"])
    renamed = owner.call("PATCH", f"/api/cotonomas/{room['key']}", json={"name": "Essays"})
    assert renamed.status_code == 200 and renamed.json()["cotonoma"]["name"] == "Essays"
    home = {c["id"]: c for c in owner.timeline()}
    assert home[coto["id"]]["posted_in"]["name"] == "Essays"
    assert any(c["cotonoma_key"] == room["key"] and c["content"] == "Essays" for c in home.values())
    assert [c["name"] for c in owner.call("GET", "/api/cotonomas").json()["cotonomas"] if c["key"] == room["key"]] == [
        "Essays"
    ]


def test_sharing_by_email(stack, mailbox, owner, member, stranger):
    room = owner.create("Shared room")
    sub = owner.create("Inner room", room["key"])
    owner.post("owner's note", room["key"])

    added = owner.call("POST", f"/api/cotonomas/{room['key']}/members", json={"email": member.address.upper()})
    assert added.status_code == 201
    invitation = mailbox.wait_for(member.address, count=2)  # the sign-in mail and the invitation
    text = next(m for m in invitation if "Shared room" in m["text"])["text"]
    assert f"{stack.url}/cotonomas/{room['key']}" in text and owner.amishi["display_name"] in text

    listed = member.call("GET", "/api/cotonomas").json()["cotonomas"]
    assert [c["key"] for c in listed if c["key"] == room["key"]] == [room["key"]]
    assert member.call("GET", f"/api/cotonomas/{sub['key']}").status_code == 200, "sub-cotonomas are shared too"
    seen = member.timeline(room["key"])
    assert any(c["content"] == "owner's note" and c["amishi"]["id"] == owner.amishi["id"] for c in seen)
    members_post = member.post("member's reply", room["key"])
    member.post("member in the inner room", sub["key"])

    by_owner = owner.timeline(room["key"])
    reply = next(c for c in by_owner if c["id"] == members_post["id"])
    assert reply["amishi"]["display_name"] == member.amishi["display_name"]
    assert reply["amishi"]["avatar_url"] == member.amishi["avatar_url"]

    # Only authors change their cotos (the owner may delete them: test_trash.py).
    assert owner.call("PATCH", f"/api/cotos/{members_post['id']}", json={"content": "x"}).status_code == 404
    owners_note = next(c for c in by_owner if c["content"] == "owner's note")
    assert member.call("DELETE", f"/api/cotos/{owners_note['id']}").status_code == 404

    # A third person learns nothing and can do nothing.
    for path in (
        f"/api/cotonomas/{room['key']}",
        f"/api/cotonomas/{sub['key']}",
        f"/api/cotonomas/{room['key']}/members",
        f"/api/cotos/{members_post['id']}",
    ):
        assert stranger.call("GET", path).status_code == 404, path
    assert stranger.call("GET", "/api/cotos", params={"cotonoma": room["key"]}).status_code == 404
    assert stranger.call("POST", "/api/cotos", json={"content": "x", "cotonoma_key": room["key"]}).status_code == 404
    assert (
        stranger.call("POST", f"/api/cotonomas/{room['key']}/members", json={"email": stranger.address}).status_code
        == 404
    )
    assert stranger.call("POST", "/api/cotonomas", json={"name": "in", "parent_key": room["key"]}).status_code == 404
    assert stranger.call("PATCH", f"/api/cotonomas/{room['key']}", json={"name": "mine"}).status_code == 404
    assert room["key"] not in [c["key"] for c in stranger.call("GET", "/api/cotonomas").json()["cotonomas"]]
    # A member may not manage members or rename.
    assert member.call("GET", f"/api/cotonomas/{room['key']}/members").status_code == 403
    assert member.call("PATCH", f"/api/cotonomas/{room['key']}", json={"name": "mine"}).status_code == 403

    # Removal ends access within 5 seconds, everywhere below the cotonoma too.
    assert owner.call("DELETE", f"/api/cotonomas/{room['key']}/members/{member.address}").status_code == 204
    removed_at = time.monotonic()
    ended = {
        "room timeline": lambda: member.call("GET", "/api/cotos", params={"cotonoma": room["key"]}).status_code,
        "room": lambda: member.call("GET", f"/api/cotonomas/{room['key']}").status_code,
        "posting below": lambda: (
            member.call("POST", "/api/cotos", json={"content": "late", "cotonoma_key": sub["key"]}).status_code
        ),
    }
    for what, status in ended.items():
        stack.wait_until(
            lambda status=status: status() == 404, max(0.0, 5 - (time.monotonic() - removed_at)), f"{what} ended"
        )
    assert time.monotonic() - removed_at <= 5


@pytest.mark.parametrize(
    "body,status",
    [
        ({"name": ""}, 400),
        ({"name": "   "}, 400),
        ({"name": "x" * 51}, 400),
        ({"name": 5}, 400),
        ({}, 400),
        ({"name": "a\u0000b"}, 400),
        ({"name": "ok", "parent_key": "nosuchkey000"}, 404),
        ({"name": "ok", "parent_key": 7}, 400),
        ({"name": "ok", "extra": 1}, 400),
    ],
)
def test_bad_cotonomas_are_refused_and_change_nothing(owner, body, status):
    before = owner.call("GET", "/api/cotonomas").json()
    response = owner.call("POST", "/api/cotonomas", json=body)
    assert response.status_code == status and "title" in response.json()
    assert owner.call("GET", "/api/cotonomas").json() == before


def test_clashes_foreign_parents_and_bad_members(owner, stranger):
    room = owner.create("Unique")
    assert owner.call("POST", "/api/cotonomas", json={"name": "Unique"}).status_code == 409
    assert owner.create("Unique", room["key"])["name"] == "Unique", "another parent is another place"
    foreign = stranger.create("Not yours")
    assert owner.call("POST", "/api/cotonomas", json={"name": "x", "parent_key": foreign["key"]}).status_code == 404
    members = f"/api/cotonomas/{room['key']}/members"
    for email in ("not-an-address", owner.address, ""):
        assert owner.call("POST", members, json={"email": email}).status_code == 400
    assert owner.call("DELETE", f"{members}/nobody@example.com").status_code == 404
    assert owner.call("GET", members).json()["members"] == []


def _cotonoma_consistency() -> tuple[set[str], set[str], int]:
    with psycopg.connect(PROFILE.database_url("cotonomas")) as conn:
        ready = {r[0] for r in conn.execute("SELECT key FROM cotonomas WHERE state = 'ready'")}
        (creating,) = conn.execute("SELECT count(*) FROM cotonomas WHERE state <> 'ready'").fetchall()[0]
    with psycopg.connect(PROFILE.database_url("cotos")) as conn:
        cotos = {r[0] for r in conn.execute("SELECT cotonoma_key FROM cotos WHERE cotonoma_key IS NOT NULL")}
    return ready, cotos, creating


def test_creation_with_cotos_down_is_503_and_leaves_no_orphan(stack, owner, stopped):
    stopped("cotos")
    response = owner.call("POST", "/api/cotonomas", json={"name": "While cotos sleeps"})
    assert response.status_code == 503 and "title" in response.json()
    stack.supervisorctl("start", "cotos:*")
    stack.wait_until(lambda: stack.ready("cotos"), 20, "cotos back")

    def consistent():
        ready, cotos, creating = _cotonoma_consistency()
        return ready == cotos and creating == 0

    stack.wait_until(consistent, 30, "every cotonoma with exactly one coto, none half made")
    assert "While cotos sleeps" not in [c["name"] for c in owner.call("GET", "/api/cotonomas").json()["cotonomas"]]
    assert owner.create("While cotos sleeps")["name"] == "While cotos sleeps", "nothing left to clash with"
