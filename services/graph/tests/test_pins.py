"""Pins and the stock: pinned cotos with what is connected under them."""

import uuid

import pytest


def ids_of(nodes):
    """The tree as nested (content, [children]) for comparing."""
    return [(n["coto"]["content"], ids_of(n["children"])) for n in nodes]


def test_pin_at_home_and_in_a_cotonoma(sign_in, doubles, ann, bob, events):
    key = doubles.cotonoma(ann, bob)
    mine, there = doubles.coto(ann, "mine"), doubles.coto(bob, "there", key)
    pinned = sign_in(ann).pin(mine["id"])
    assert pinned.status_code == 201, pinned.text
    pin = pinned.json["pin"]
    assert pin["coto_id"] == mine["id"] and pin["cotonoma_key"] is None and pin["created_by"] == ann.id
    assert pin["order"] == 0 and pin["created_at"].endswith("Z")
    assert sign_in(ann).pin(mine["id"]).status_code == 409
    in_cotonoma = sign_in(ann).pin(there["id"], key)
    assert in_cotonoma.status_code == 201 and in_cotonoma.json["pin"]["cotonoma_key"] == key
    assert sign_in(bob).pin(there["id"], key).status_code == 409
    assert ids_of(sign_in(ann).stock().json["pins"]) == [("mine", [])]
    assert ids_of(sign_in(bob).stock(cotonoma=key).json["pins"]) == [("there", [])]
    assert sign_in(bob).stock().json["pins"] == []  # ann's home is ann's
    assert events(f"events:amishi:{ann.id}") == [("pin", {"coto_id": mine["id"], "cotonoma_key": None})]
    assert events(f"events:cotonoma:{key}") == [("pin", {"coto_id": there["id"], "cotonoma_key": key})]


def test_unpin(sign_in, doubles, ann, bob, eve, events):
    key = doubles.cotonoma(ann, bob)
    coto = doubles.coto(ann, "c", key)
    assert sign_in(ann).pin(coto["id"], key).status_code == 201
    assert sign_in(eve).request("DELETE", f"/api/graph/pins/{coto['id']}", params={"cotonoma": key}).status_code == 404
    assert sign_in(bob).request("DELETE", f"/api/graph/pins/{coto['id']}").status_code == 404  # not at bob's home
    assert sign_in(bob).request("DELETE", f"/api/graph/pins/{coto['id']}", params={"cotonoma": key}).status_code == 204
    assert sign_in(ann).stock(cotonoma=key).json["pins"] == []
    assert events(f"events:cotonoma:{key}")[-1] == ("pin-deleted", {"coto_id": coto["id"], "cotonoma_key": key})


def test_reorder_pins(sign_in, doubles, ann):
    cotos = [doubles.coto(ann, f"c{n}") for n in range(3)]
    me = sign_in(ann)
    for coto in cotos:
        assert me.pin(coto["id"]).status_code == 201
    new_order = [cotos[2]["id"], cotos[0]["id"], cotos[1]["id"]]
    result = me.request("PUT", "/api/graph/pins/order", json={"ids": new_order})
    assert result.status_code == 200 and [p["coto_id"] for p in result.json["pins"]] == new_order
    assert ids_of(me.stock().json["pins"]) == [("c2", []), ("c0", []), ("c1", [])]
    assert me.request("PUT", "/api/graph/pins/order", json={"ids": new_order[:2]}).status_code == 400


def test_stock_to_depth_three_with_a_cycle_and_a_diamond(sign_in, doubles, ann):
    c = {name: doubles.coto(ann, name) for name in ["root", "a", "b", "d", "e", "f", "deep"]}
    me = sign_in(ann)
    me.pin(c["root"]["id"])
    for start, end in [
        ("root", "a"),
        ("root", "b"),
        ("a", "d"),  # diamond: root -> a -> d and root -> b -> d
        ("b", "d"),
        ("d", "e"),
        ("e", "root"),  # cycle back to the pin
        ("d", "f"),
        ("f", "deep"),  # level 4: beyond depth 3
    ]:
        me.connected(c[start]["id"], c[end]["id"])
    stock = me.stock(depth=3)
    assert stock.status_code == 200, stock.text
    assert ids_of(stock.json["pins"]) == [
        ("root", [("a", [("d", [("e", []), ("f", [])])]), ("b", [("d", [])])]),
    ]
    # Every connection once.
    seen = []

    def walk(nodes):
        for node in nodes:
            if node["connection"] is not None:
                seen.append(node["connection"]["id"])
            walk(node["children"])

    walk(stock.json["pins"])
    assert len(seen) == len(set(seen)) == 6
    deeper = ids_of(me.stock(depth=5).json["pins"])
    assert deeper == [
        ("root", [("a", [("d", [("e", [("root", [])]), ("f", [("deep", [])])])]), ("b", [("d", [])])]),
    ]
    assert ids_of(me.stock().json["pins"]) == [("root", [("a", [("d", [])]), ("b", [("d", [])])])]


def test_a_strangers_sees_nothing_of_a_private_cotonomas_connections(sign_in, doubles, ann, bob, eve):
    shared = doubles.cotonoma(ann, bob, eve)
    private = doubles.cotonoma(ann, bob)
    top = doubles.coto(ann, "top", shared)
    secret = doubles.coto(ann, "secret", private)
    open_coto = doubles.coto(ann, "open", shared)
    sign_in(ann).pin(top["id"], shared)
    sign_in(ann).connected(top["id"], open_coto["id"], cotonoma_key=shared)
    sign_in(ann).connected(top["id"], secret["id"], cotonoma_key=shared)  # to a coto eve may not read
    sign_in(ann).connected(open_coto["id"], top["id"], cotonoma_key=private)  # made where eve may not go
    assert ids_of(sign_in(bob).stock(cotonoma=shared, depth=2).json["pins"]) == [
        ("top", [("open", [("top", [])]), ("secret", [])])
    ]
    assert ids_of(sign_in(eve).stock(cotonoma=shared, depth=2).json["pins"]) == [("top", [("open", [])])]
    assert sign_in(eve).stock(cotonoma=private).status_code == 404
    assert sign_in(eve).request("GET", f"/api/graph/cotos/{secret['id']}").status_code == 404
    assert sign_in(eve).pin(secret["id"]).status_code == 404


@pytest.mark.parametrize("depth", ["0", "6", "99", "-1", "two", "", "٣"])
def test_bad_depths_are_400(sign_in, ann, depth):
    result = sign_in(ann).stock(depth=depth)
    assert result.status_code == 400 and result.json["title"] == "Invalid depth"


@pytest.mark.parametrize(
    "body,status",
    [
        ({"coto_id": "nope"}, 400),
        ({}, 400),
        ({"coto_id": str(uuid.uuid4())}, 404),
        ({"coto_id": str(uuid.uuid4()), "cotonoma_key": "bad key"}, 400),
        ({"coto_id": str(uuid.uuid4()), "cotonoma_key": "unknownkey123"}, 404),
        ({"coto_id": str(uuid.uuid4()), "else": 1}, 400),
    ],
)
def test_bad_pins_are_refused(sign_in, ann, body, status):
    result = sign_in(ann).request("POST", "/api/graph/pins", json=body)
    assert result.status_code == status and result.json["title"]


def test_a_pin_of_someone_elses_coto_at_home_is_404(sign_in, doubles, ann, bob):
    theirs = doubles.coto(bob, "theirs")
    assert sign_in(ann).pin(theirs["id"]).status_code == 404
