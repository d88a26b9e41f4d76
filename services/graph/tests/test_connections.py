"""Connections: made, changed, reordered, deleted, and who sees them."""

import uuid

import pytest

from cotoami_testing.contracts import NOT_JSON_OBJECTS


def test_connect_with_and_without_a_phrase(sign_in, doubles, ann, events):
    a, b, c = doubles.coto(ann, "a"), doubles.coto(ann, "b"), doubles.coto(ann, "c")
    me = sign_in(ann)
    first = me.connected(a["id"], b["id"])
    second = me.connected(a["id"], c["id"], linking_phrase="  leads to  ")
    assert first["start"] == a["id"] and first["end"] == b["id"] and first["linking_phrase"] is None
    assert first["created_by"] == ann.id and first["created_in"] is None
    assert second["linking_phrase"] == "leads to"
    assert (first["order"], second["order"]) == (0, 1)
    assert first["created_at"].endswith("Z")
    home = events(f"events:amishi:{ann.id}")
    # Named only: who may read the connection is GET's to decide.
    assert home == [("connection", {"id": first["id"]}), ("connection", {"id": second["id"]})]


def test_the_same_connection_twice_is_409_and_the_other_way_is_another(sign_in, doubles, ann):
    a, b = doubles.coto(ann), doubles.coto(ann)
    me = sign_in(ann)
    me.connected(a["id"], b["id"])
    again = me.connect(a["id"], b["id"], linking_phrase="again")
    assert again.status_code == 409 and again.json["title"] == "Already connected"
    assert me.connect(b["id"], a["id"]).status_code == 201


def test_a_coto_connected_to_itself_is_422(sign_in, doubles, ann):
    a = doubles.coto(ann)
    result = sign_in(ann).connect(a["id"], a["id"])
    assert result.status_code == 422 and result.json["title"]


def test_cotos_one_may_not_read_or_that_do_not_exist_are_404(sign_in, doubles, ann, bob):
    mine, theirs = doubles.coto(ann), doubles.coto(bob)
    private = doubles.cotonoma(bob)
    in_private = doubles.coto(bob, cotonoma_key=private)
    me = sign_in(ann)
    for other in (theirs["id"], in_private["id"], str(uuid.uuid4())):
        result = me.connect(mine["id"], other)
        assert result.status_code == 404 and result.json["title"] == "No such coto"
        assert me.connect(other, mine["id"]).status_code == 404
    assert me.connect(mine["id"], theirs["id"], cotonoma_key=private).status_code == 404


def test_in_a_cotonoma_its_members_see_it_and_strangers_do_not(sign_in, doubles, ann, bob, eve):
    key = doubles.cotonoma(ann, bob)
    a, b = doubles.coto(ann, "a", key), doubles.coto(bob, "b", key)
    made = sign_in(ann).connected(a["id"], b["id"], cotonoma_key=key, linking_phrase="why")
    assert made["created_in"] == key
    seen = sign_in(bob).request("GET", f"/api/graph/cotos/{a['id']}")
    assert seen.status_code == 200
    assert seen.json["outgoing"] == [{"connection": made, "coto": b}]
    assert sign_in(bob).request("GET", f"/api/graph/cotos/{b['id']}").json["incoming"] == [
        {"connection": made, "coto": a}
    ]
    stranger = sign_in(eve)
    assert stranger.request("GET", f"/api/graph/cotos/{a['id']}").status_code == 404
    assert (
        stranger.request("PATCH", f"/api/graph/connections/{made['id']}", json={"linking_phrase": "x"}).status_code
        == 404
    )
    assert stranger.request("DELETE", f"/api/graph/connections/{made['id']}").status_code == 404
    # Losing access to the cotonoma hides what was made in it.
    doubles.cotonomas[key]["emails"].discard(bob.email)
    assert sign_in(bob).request("GET", f"/api/graph/cotos/{b['id']}").status_code == 200
    assert sign_in(bob).request("GET", f"/api/graph/cotos/{b['id']}").json["incoming"] == []


def test_made_at_home_only_its_maker_sees_it(sign_in, doubles, ann, bob):
    key = doubles.cotonoma(ann, bob)
    a, b = doubles.coto(ann, "a", key), doubles.coto(bob, "b", key)
    sign_in(ann).connected(a["id"], b["id"])
    assert sign_in(ann).request("GET", f"/api/graph/cotos/{a['id']}").json["outgoing"][0]["coto"] == b
    assert sign_in(bob).request("GET", f"/api/graph/cotos/{a['id']}").json["outgoing"] == []


def test_change_and_clear_the_phrase_by_its_maker_only(sign_in, doubles, ann, bob, events):
    key = doubles.cotonoma(ann, bob)
    a, b = doubles.coto(ann, "a", key), doubles.coto(ann, "b", key)
    made = sign_in(ann).connected(a["id"], b["id"], cotonoma_key=key)
    path = f"/api/graph/connections/{made['id']}"
    changed = sign_in(ann).request("PATCH", path, json={"linking_phrase": "because"})
    assert changed.status_code == 200 and changed.json["connection"] == {**made, "linking_phrase": "because"}
    cleared = sign_in(ann).request("PATCH", path, json={"linking_phrase": None})
    assert cleared.json["connection"]["linking_phrase"] is None
    assert sign_in(bob).request("PATCH", path, json={"linking_phrase": "mine"}).status_code == 403
    too_long = sign_in(ann).request("PATCH", path, json={"linking_phrase": "x" * 201})
    assert too_long.status_code == 400 and too_long.json["title"] == "Invalid linking_phrase"
    assert sign_in(ann).request("PATCH", path, json={"linking_phrase": " " + "x" * 200 + " "}).status_code == 200
    assert [name for name, _ in events(f"events:cotonoma:{key}")] == [
        "connection",
        "connection-updated",
        "connection-updated",
        "connection-updated",
    ]


def test_delete_by_its_maker_or_the_cotonomas_owner(sign_in, doubles, ann, bob, eve, events):
    key = doubles.cotonoma(ann, bob, eve)
    a, b, c = (doubles.coto(bob, name, key) for name in "abc")
    first = sign_in(bob).connected(a["id"], b["id"], cotonoma_key=key)
    second = sign_in(bob).connected(a["id"], c["id"], cotonoma_key=key)
    assert sign_in(eve).request("DELETE", f"/api/graph/connections/{first['id']}").status_code == 403
    assert sign_in(bob).request("DELETE", f"/api/graph/connections/{first['id']}").status_code == 204
    assert sign_in(ann).request("DELETE", f"/api/graph/connections/{second['id']}").status_code == 204
    assert sign_in(ann).request("DELETE", f"/api/graph/connections/{second['id']}").status_code == 404
    assert events(f"events:cotonoma:{key}")[-2:] == [
        ("connection-deleted", {"id": first["id"]}),
        ("connection-deleted", {"id": second["id"]}),
    ]


def test_reorder_outgoing_connections(sign_in, doubles, ann, bob):
    key = doubles.cotonoma(ann)
    start = doubles.coto(ann, "start", key)
    ends = [doubles.coto(ann, f"end {n}", key) for n in range(3)]
    me = sign_in(ann)
    made = [me.connected(start["id"], end["id"]) for end in ends]
    hidden = doubles.coto(ann, "in bob's eyes: nothing", key)
    ids = [made[2]["id"], made[0]["id"], made[1]["id"]]
    result = me.request("PUT", f"/api/graph/cotos/{start['id']}/order", json={"ids": ids})
    assert result.status_code == 200, result.text
    assert [c["id"] for c in result.json["connections"]] == ids
    outgoing = me.request("GET", f"/api/graph/cotos/{start['id']}").json["outgoing"]
    assert [n["connection"]["id"] for n in outgoing] == ids
    assert hidden  # not connected: no part of the order
    for wrong in ([], ids[:2], [*ids, ids[0]], [*ids[:2], str(uuid.uuid4())]):
        bad = me.request("PUT", f"/api/graph/cotos/{start['id']}/order", json={"ids": wrong})
        assert bad.status_code == 400 and bad.json["title"] == "Invalid ids"
    too_many = me.request("PUT", f"/api/graph/cotos/{start['id']}/order", json={"ids": [str(uuid.uuid4())] * 1001})
    assert too_many.status_code == 400
    assert sign_in(bob).request("PUT", f"/api/graph/cotos/{start['id']}/order", json={"ids": ids}).status_code == 404


def test_a_reorder_keeps_the_places_of_connections_the_asker_does_not_see(sign_in, doubles, ann, bob):
    key = doubles.cotonoma(ann, bob)
    start = doubles.coto(ann, "start", key)
    ends = [doubles.coto(ann, f"end {n}", key) for n in range(3)]
    shared_first = sign_in(ann).connected(start["id"], ends[0]["id"], cotonoma_key=key)
    private = sign_in(ann).connected(start["id"], ends[1]["id"])  # at home: ann's alone
    shared_last = sign_in(ann).connected(start["id"], ends[2]["id"], cotonoma_key=key)
    result = sign_in(bob).request(
        "PUT", f"/api/graph/cotos/{start['id']}/order", json={"ids": [shared_last["id"], shared_first["id"]]}
    )
    assert result.status_code == 200, result.text
    outgoing = sign_in(ann).request("GET", f"/api/graph/cotos/{start['id']}").json["outgoing"]
    assert [n["connection"]["id"] for n in outgoing] == [shared_last["id"], private["id"], shared_first["id"]]


def every_page(me, coto_id, way, first):
    """The neighbours of the first page and of every page after it, by their cursors."""
    found, cursor = list(first[way]), first[f"{way}_next"]
    while cursor is not None:
        page = me.request("GET", f"/api/graph/cotos/{coto_id}/{way}", params={"after": cursor, "limit": "3"})
        assert page.status_code == 200, page.text
        assert 0 < len(page.json["neighbours"]) <= 3
        found += page.json["neighbours"]
        cursor = page.json["next"]
    return found


def test_a_cotos_neighbours_come_in_pages_each_way(sign_in, doubles, ann):
    hub = doubles.coto(ann, "hub")
    ends = [doubles.coto(ann, f"end {n}") for n in range(7)]
    starts = [doubles.coto(ann, f"start {n}") for n in range(5)]
    me = sign_in(ann)
    outgoing = [me.connected(hub["id"], end["id"]) for end in ends]
    incoming = [me.connected(start["id"], hub["id"]) for start in starts]
    whole = me.request("GET", f"/api/graph/cotos/{hub['id']}").json
    assert [n["connection"] for n in whole["outgoing"]] == outgoing
    assert [n["connection"] for n in whole["incoming"]] == incoming  # oldest first
    assert whole["outgoing_next"] is None and whole["incoming_next"] is None
    first = me.request("GET", f"/api/graph/cotos/{hub['id']}", params={"limit": "3"}).json
    assert [n["connection"] for n in first["outgoing"]] == outgoing[:3]
    assert [n["connection"] for n in first["incoming"]] == incoming[:3]
    assert every_page(me, hub["id"], "outgoing", first) == whole["outgoing"]
    assert every_page(me, hub["id"], "incoming", first) == whole["incoming"]


def test_a_page_goes_on_after_its_cursors_connection_is_deleted_or_moved(sign_in, doubles, ann):
    hub = doubles.coto(ann, "hub")
    me = sign_in(ann)
    made = [me.connected(hub["id"], doubles.coto(ann, f"end {n}")["id"]) for n in range(5)]
    first = me.request("GET", f"/api/graph/cotos/{hub['id']}", params={"limit": "2"}).json
    assert me.request("DELETE", f"/api/graph/connections/{made[1]['id']}").status_code == 204
    after = me.request("GET", f"/api/graph/cotos/{hub['id']}/outgoing", params={"after": first["outgoing_next"]})
    assert [n["connection"]["id"] for n in after.json["neighbours"]] == [c["id"] for c in made[2:]]


def test_pages_leave_out_what_the_asker_may_not_see(sign_in, doubles, ann, bob):
    key = doubles.cotonoma(ann, bob)
    hub = doubles.coto(ann, "hub", key)
    ends = [doubles.coto(ann, f"end {n}", key) for n in range(4)]
    me = sign_in(ann)
    shared = [me.connected(hub["id"], end["id"], cotonoma_key=key) for end in ends[:2]]
    me.connected(hub["id"], ends[2]["id"])  # at home: ann's alone
    shared.append(me.connected(hub["id"], ends[3]["id"], cotonoma_key=key))
    first = sign_in(bob).request("GET", f"/api/graph/cotos/{hub['id']}", params={"limit": "1"}).json
    assert [n["connection"] for n in every_page(sign_in(bob), hub["id"], "outgoing", first)] == shared


@pytest.mark.parametrize(
    "path,params,title",
    [
        ("", {"limit": "0"}, "Invalid limit"),
        ("", {"limit": "201"}, "Invalid limit"),
        ("/outgoing", {"limit": "x"}, "Invalid limit"),
        ("/outgoing", {"after": "x"}, "Invalid cursor"),
        ("/outgoing", {"after": f"1.{uuid.uuid4()}x"}, "Invalid cursor"),
        ("/outgoing", {"after": f"{2**31}.{uuid.uuid4()}"}, "Invalid cursor"),
        ("/incoming", {"after": f"-1.{uuid.uuid4()}"}, "Invalid cursor"),
        ("/incoming", {"after": f"{10**19}.{uuid.uuid4()}"}, "Invalid cursor"),
        ("/incoming", {"after": str(uuid.uuid4())}, "Invalid cursor"),
    ],
)
def test_bad_pages_are_400(sign_in, doubles, ann, path, params, title):
    hub = doubles.coto(ann)
    result = sign_in(ann).request("GET", f"/api/graph/cotos/{hub['id']}{path}", params=params)
    assert result.status_code == 400 and result.json["title"] == title


def test_pages_of_a_coto_one_may_not_read_are_404_and_anonymous_401(sign_in, doubles, client, ann, bob):
    theirs = doubles.coto(bob)
    for way in ("outgoing", "incoming"):
        assert sign_in(ann).request("GET", f"/api/graph/cotos/{theirs['id']}/{way}").status_code == 404
        assert client.simulate_get(f"/api/graph/cotos/{theirs['id']}/{way}").status_code == 401


@pytest.mark.parametrize(
    "body,title",
    [
        ({"end": "x"}, "Invalid start"),
        ({"start": "not-a-uuid", "end": str(uuid.uuid4())}, "Invalid start"),
        ({"start": str(uuid.uuid4()), "end": 7}, "Invalid end"),
        ({"start": str(uuid.uuid4()), "end": str(uuid.uuid4()), "linking_phrase": "x" * 201}, "Invalid linking_phrase"),
        ({"start": str(uuid.uuid4()), "end": str(uuid.uuid4()), "linking_phrase": 5}, "Invalid linking_phrase"),
        ({"start": str(uuid.uuid4()), "end": str(uuid.uuid4()), "linking_phrase": "a\nb"}, "Invalid linking_phrase"),
        ({"start": str(uuid.uuid4()), "end": str(uuid.uuid4()), "cotonoma_key": "../x"}, "Invalid cotonoma_key"),
        ({"start": str(uuid.uuid4()), "end": str(uuid.uuid4()), "extra": 1}, "Invalid body"),
    ],
)
def test_bad_bodies_are_400_and_change_nothing(sign_in, ann, body, title, pool):
    result = sign_in(ann).request("POST", "/api/graph/connections", json=body)
    assert result.status_code == 400 and result.json["title"] == title
    with pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM connections").fetchone() == (0,)


@pytest.mark.parametrize("case,body,content_type,status", NOT_JSON_OBJECTS)
def test_what_is_not_a_json_object_is_refused(sign_in, ann, case, body, content_type, status):
    result = sign_in(ann).request("POST", "/api/graph/connections", body=body, headers={"Content-Type": content_type})
    assert result.status_code == status, case


def test_anonymous_is_401(client):
    assert client.simulate_post("/api/graph/connections", json={}).status_code == 401
    assert client.simulate_get(f"/api/graph/cotos/{uuid.uuid4()}").status_code == 401
    assert client.simulate_get("/api/graph/pins").status_code == 401


@pytest.mark.parametrize("down", ["cotos", "cotonomas"])
def test_cotos_or_cotonomas_down_is_503_and_nothing_is_made(sign_in, doubles, ann, down, pool):
    key = doubles.cotonoma(ann)
    a, b = doubles.coto(ann, "a", key), doubles.coto(ann, "b", key)
    doubles.down.add(down)
    result = sign_in(ann).connect(a["id"], b["id"], cotonoma_key=key)
    assert result.status_code == 503 and result.headers["Retry-After"] == "5"
    assert result.json["title"]
    assert sign_in(ann).request("GET", f"/api/graph/cotos/{a['id']}").status_code == 503
    with pool.connection() as conn:
        assert conn.execute("SELECT count(*) FROM connections").fetchone() == (0,)
