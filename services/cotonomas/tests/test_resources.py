"""The public and internal HTTP API of the cotonomas service."""

import re

import pytest

from cotoami_testing.contracts import NOT_JSON_OBJECTS
from cotoami_testing.fixtures import INTERNAL_TOKEN

KEY = re.compile(r"[A-Za-z0-9_-]{16}")


@pytest.fixture
def carol(sign_in):
    return sign_in("carol@example.com")


@pytest.fixture
def dave(sign_in):
    """A stranger to everything in these tests."""
    return sign_in("dave@example.com")


def access(client, key, person, email=None):
    return client.simulate_get(
        f"/internal/cotonomas/{key}/access",
        params={"amishi_id": person.amishi.id, "email": email or person.amishi.email},
        headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"},
    )


# Creating


def test_create_answers_the_new_cotonoma(ann):
    result = ann.request("POST", "/api/cotonomas", json={"name": "  Ideas  "})
    assert result.status_code == 201
    cotonoma = result.json["cotonoma"]
    assert KEY.fullmatch(cotonoma["key"])
    assert cotonoma == {
        "key": cotonoma["key"],
        "name": "Ideas",
        "owner": ann.amishi.public(),
        "parent_key": None,
        "shared": False,
        "created_at": cotonoma["created_at"],
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", cotonoma["created_at"])
    assert result.headers["Location"] == f"/api/cotonomas/{cotonoma['key']}"


def test_create_nested_to_any_depth(ann):
    parent_key = None
    for depth in range(6):
        cotonoma = ann.create(f"Level {depth}", parent_key)
        assert cotonoma["parent_key"] == parent_key
        parent_key = cotonoma["key"]
    result = ann.request("GET", f"/api/cotonomas/{parent_key}").json
    assert [a["name"] for a in result["ancestors"]] == [f"Level {n}" for n in range(5)]


@pytest.mark.parametrize("name", ["x", "x" * 50, "あ" * 50, "🙂" * 50, "Ünïcödé ideas", "a\u200db"])
def test_names_of_1_to_50_characters(ann, name):
    assert ann.create(name)["name"] == name


def test_an_owner_names_a_cotonoma_once_per_parent(ann, bob, cotos_double, rows):
    top = ann.create("Ideas")
    calls = len(cotos_double.calls)
    clash = ann.request("POST", "/api/cotonomas", json={"name": " Ideas "})
    assert clash.status_code == 409 and clash.json["title"] == "Name taken"
    assert len(cotos_double.calls) == calls, "nothing asked of cotos"
    ann.create("Ideas", top["key"])  # in another parent
    clash = ann.request("POST", "/api/cotonomas", json={"name": "Ideas", "parent_key": top["key"]})
    assert clash.status_code == 409
    bob.create("Ideas")  # another owner's
    ann.create("ideas")  # names are compared as written
    assert len(rows()) == 4


def test_a_parent_must_be_one_the_creator_may_reach(ann, bob, rows):
    bobs = bob.create("Bob's")
    ann.create("Ann's")
    for parent_key in (bobs["key"], "no-such-key-0000", "short", "../../x"):
        result = ann.request("POST", "/api/cotonomas", json={"name": "Inside", "parent_key": parent_key})
        assert result.status_code == 404 and result.json["title"] == "No such cotonoma"
    assert sorted(name for name, _ in rows()) == ["Ann's", "Bob's"]


def test_a_member_creates_inside_and_the_owner_of_the_parent_sees_it(ann, bob, carol, dave):
    team = ann.create("Team")
    ann.add_member(team["key"], "bob@example.com")
    notes = bob.create("Bob's notes", team["key"])
    assert notes["owner"] == bob.amishi.public() and notes["shared"] is True
    for person in (ann, bob):
        assert [c["key"] for c in person.request("GET", f"/api/cotonomas/{team['key']}").json["children"]] == [
            notes["key"]
        ]
        assert person.request("GET", f"/api/cotonomas/{notes['key']}").status_code == 200
    assert dave.request("GET", f"/api/cotonomas/{notes['key']}").status_code == 404
    # Owner-only actions on it are Bob's.
    assert ann.request("PATCH", f"/api/cotonomas/{notes['key']}", json={"name": "Mine"}).status_code == 403
    assert bob.request("PATCH", f"/api/cotonomas/{notes['key']}", json={"name": "Mine"}).status_code == 200


# Listing


def test_list_holds_mine_at_any_depth_and_those_shared_with_me_newest_first(ann, bob, carol):
    mine = ann.create("Mine")
    inner = ann.create("Inner", mine["key"])
    theirs = bob.create("Theirs")
    bob.create("Bob's private")
    bob_inside = bob.create("Inside theirs", theirs["key"])
    bob.add_member(theirs["key"], "ann@example.com")
    carols = carol.create("Carol's")
    carol.add_member(carols["key"], "ANN@example.com")
    listed = ann.request("GET", "/api/cotonomas").json
    assert [c["name"] for c in listed["cotonomas"]] == ["Carol's", "Theirs", "Inner", "Mine"]
    assert listed["next"] is None
    by_name = {c["name"]: c for c in listed["cotonomas"]}
    assert by_name["Theirs"]["owner"] == bob.amishi.public() and by_name["Theirs"]["shared"] is True
    assert by_name["Inner"]["parent_key"] == mine["key"] and by_name["Inner"]["shared"] is False
    assert by_name["Mine"]["owner"] == ann.amishi.public()
    # Only directly shared: what is inside a shared cotonoma is reached through it.
    assert bob_inside["key"] not in {c["key"] for c in listed["cotonomas"]}
    assert ann.request("GET", f"/api/cotonomas/{theirs['key']}").json["children"][0]["key"] == bob_inside["key"]
    assert by_name["Inner"]["key"] == inner["key"]
    assert bob.listed() == ["Inside theirs", "Bob's private", "Theirs"]


def test_list_pages(ann):
    for n in range(5):
        ann.create(f"n{n}")
    page = ann.request("GET", "/api/cotonomas", params={"limit": "2"}).json
    assert [c["name"] for c in page["cotonomas"]] == ["n4", "n3"] and page["next"]
    page = ann.request("GET", "/api/cotonomas", params={"limit": "2", "before": page["next"]}).json
    assert [c["name"] for c in page["cotonomas"]] == ["n2", "n1"]
    page = ann.request("GET", "/api/cotonomas", params={"limit": "2", "before": page["next"]}).json
    assert [c["name"] for c in page["cotonomas"]] == ["n0"] and page["next"] is None


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "201"}, {"limit": "x"}, {"before": "nonsense"}, {"before": "1.short"}]
)
def test_bad_list_parameters_are_400(ann, params):
    result = ann.request("GET", "/api/cotonomas", params=params)
    assert result.status_code == 400 and result.json["title"]


# Reading one


def test_get_shows_ancestors_root_first_and_children_newest_first(ann):
    top = ann.create("Top")
    middle = ann.create("Middle", top["key"])
    first = ann.create("First", middle["key"])
    second = ann.create("Second", middle["key"])
    ann.create("Grandchild", first["key"])
    result = ann.request("GET", f"/api/cotonomas/{middle['key']}")
    assert result.status_code == 200
    assert result.json["cotonoma"] == middle
    assert result.json["ancestors"] == [{"key": top["key"], "name": "Top"}]
    assert result.json["children"] == [second, first]
    assert ann.request("GET", f"/api/cotonomas/{top['key']}").json["ancestors"] == []


def test_a_member_of_an_ancestor_sees_the_sub_cotonomas(ann, bob):
    top = ann.create("Top")
    shared = ann.create("Shared", top["key"])
    inside = ann.create("Inside", shared["key"])
    deeper = ann.create("Deeper", inside["key"])
    ann.add_member(shared["key"], "bob@example.com")
    result = bob.request("GET", f"/api/cotonomas/{deeper['key']}")
    assert result.status_code == 200 and result.json["cotonoma"]["shared"] is True
    assert [a["name"] for a in result.json["ancestors"]] == ["Shared", "Inside"], "Top is not Bob's to see"
    assert [c["name"] for c in bob.request("GET", f"/api/cotonomas/{shared['key']}").json["children"]] == ["Inside"]
    assert bob.request("GET", f"/api/cotonomas/{top['key']}").status_code == 404


def test_a_member_of_a_child_only_sees_no_ancestor(ann, bob):
    top = ann.create("Top")
    child = ann.create("Child", top["key"])
    ann.add_member(child["key"], "bob@example.com")
    result = bob.request("GET", f"/api/cotonomas/{child['key']}").json
    assert result["cotonoma"]["parent_key"] == top["key"] and result["ancestors"] == []
    assert bob.request("GET", f"/api/cotonomas/{top['key']}").status_code == 404
    assert ann.request("GET", f"/api/cotonomas/{top['key']}").json["children"][0]["shared"] is True


def test_a_stranger_gets_404_on_every_route(ann, bob, dave, mail_jobs, rows, cotos_double):
    cotonoma = ann.create("Private")
    ann.add_member(cotonoma["key"], "bob@example.com")
    before = (rows(), len(mail_jobs()), len(cotos_double.calls))
    key = cotonoma["key"]
    for key_tried in (key, "no-such-key-0000"):
        for method, path, body in [
            ("GET", f"/api/cotonomas/{key_tried}", None),
            ("PATCH", f"/api/cotonomas/{key_tried}", {"name": "Mine now"}),
            ("GET", f"/api/cotonomas/{key_tried}/members", None),
            ("POST", f"/api/cotonomas/{key_tried}/members", {"email": "dave@example.com"}),
            ("POST", f"/api/cotonomas/{key_tried}/members", {"email": "eve@example.com"}),
            ("DELETE", f"/api/cotonomas/{key_tried}/members/bob@example.com", None),
            ("POST", "/api/cotonomas", {"name": "Inside", "parent_key": key_tried}),
        ]:
            result = dave.request(method, path, json=body)
            assert result.status_code == 404, (method, path, result.text)
            assert result.json == {"title": "No such cotonoma", "description": "There is no cotonoma with this key."}
    assert dave.listed() == []
    assert (rows(), len(mail_jobs()), len(cotos_double.calls)) == before
    assert [m["email"] for m in ann.request("GET", f"/api/cotonomas/{key}/members").json["members"]] == [
        "bob@example.com"
    ]


# Renaming


def test_rename_is_for_the_owner(ann, bob, rows):
    cotonoma = ann.create("Ideas")
    ann.add_member(cotonoma["key"], "bob@example.com")
    refused = bob.request("PATCH", f"/api/cotonomas/{cotonoma['key']}", json={"name": "Bob's now"})
    assert refused.status_code == 403 and refused.json["title"] == "Owner only"
    result = ann.request("PATCH", f"/api/cotonomas/{cotonoma['key']}", json={"name": "Better ideas"})
    assert result.status_code == 200
    assert result.json["cotonoma"] == {**cotonoma, "name": "Better ideas", "shared": True}
    assert bob.request("GET", f"/api/cotonomas/{cotonoma['key']}").json["cotonoma"]["name"] == "Better ideas"
    assert rows() == [("Better ideas", "ready")]


def test_rename_to_a_name_taken_in_the_same_parent_is_409(ann, cotos_double, rows):
    ann.create("Ideas")
    other = ann.create("Other")
    calls = len(cotos_double.calls)
    result = ann.request("PATCH", f"/api/cotonomas/{other['key']}", json={"name": "Ideas"})
    assert result.status_code == 409 and len(cotos_double.calls) == calls
    assert ann.request("PATCH", f"/api/cotonomas/{other['key']}", json={"name": "Other"}).status_code == 200
    assert sorted(rows()) == [("Ideas", "ready"), ("Other", "ready")]


# Members


def test_owner_lists_adds_and_removes_members(ann, bob, carol):
    cotonoma = ann.create("Team")
    key = cotonoma["key"]
    assert ann.request("GET", f"/api/cotonomas/{key}/members").json == {"members": []}
    added = ann.request("POST", f"/api/cotonomas/{key}/members", json={"email": "  Bob@Example.com "})
    assert added.status_code == 201
    assert added.json["member"] == {"email": "bob@example.com", "added_at": added.json["member"]["added_at"]}
    ann.add_member(key, "carol@example.com")
    members = ann.request("GET", f"/api/cotonomas/{key}/members").json["members"]
    assert [m["email"] for m in members] == ["carol@example.com", "bob@example.com"]
    assert members[1] == added.json["member"]
    assert carol.request("GET", f"/api/cotonomas/{key}").status_code == 200

    removed = ann.request("DELETE", f"/api/cotonomas/{key}/members/Carol@Example.com")
    assert removed.status_code == 204 and removed.text == ""
    assert carol.request("GET", f"/api/cotonomas/{key}").status_code == 404, "access ends at once"
    assert carol.listed() == []
    assert [m["email"] for m in ann.request("GET", f"/api/cotonomas/{key}/members").json["members"]] == [
        "bob@example.com"
    ]


def test_members_are_the_owners_business(ann, bob, mail_jobs):
    cotonoma = ann.create("Team")
    key = cotonoma["key"]
    ann.add_member(key, "bob@example.com")
    jobs = len(mail_jobs())
    for method, path, body in [
        ("GET", f"/api/cotonomas/{key}/members", None),
        ("POST", f"/api/cotonomas/{key}/members", {"email": "eve@example.com"}),
        ("DELETE", f"/api/cotonomas/{key}/members/bob@example.com", None),
    ]:
        result = bob.request(method, path, json=body)
        assert result.status_code == 403 and result.json["title"] == "Owner only", (method, path)
    assert len(mail_jobs()) == jobs
    assert [m["email"] for m in ann.request("GET", f"/api/cotonomas/{key}/members").json["members"]] == [
        "bob@example.com"
    ]


def test_adding_a_member_queues_the_invitation(ann, mail_jobs):
    cotonoma = ann.create("Team <plans> & more")
    ann.add_member(cotonoma["key"], "Bob@Example.com")
    [job] = mail_jobs()
    assert job["kind"] == "invitation" and job["to"] == "bob@example.com"
    assert job["data"] == {
        "link": f"https://cotoami.test/cotonomas/{cotonoma['key']}",
        "cotonoma_name": "Team <plans> & more",
        "inviter_name": "ann",
        "inviter_email": "ann@example.com",
    }
    assert re.fullmatch(r"[0-9a-f-]{36}", job["id"])


@pytest.mark.parametrize(
    "email,status,title",
    [
        ("ann@example.com", 400, "Invalid email"),
        (" ANN@example.COM ", 400, "Invalid email"),
        ("bob@example.com", 409, "Already a member"),
        ("BOB@example.com", 409, "Already a member"),
        ("not an address", 400, "Invalid email"),
        ("bob@localhost", 400, "Invalid email"),
        ("bob@@example.com", 400, "Invalid email"),
        (".bob@example.com", 400, "Invalid email"),
        ("bo..b@example.com", 400, "Invalid email"),
        ("bob@example.com\n", 409, "Already a member"),  # trimmed
        ("bob@exa mple.com", 400, "Invalid email"),
        ("bób@example.com", 400, "Invalid email"),
        ("a/b@example.com", 400, "Invalid email"),  # the gateway refuses %2F: it could never be removed
        ("b" * 65 + "@example.com", 400, "Invalid email"),
        ("bob@" + "e" * 250 + ".com", 400, "Invalid email"),
        ("", 400, "Invalid email"),
    ],
)
def test_adding_oneself_a_bad_address_or_a_member_twice_changes_nothing(ann, mail_jobs, email, status, title):
    cotonoma = ann.create("Team")
    ann.add_member(cotonoma["key"], "bob@example.com")
    result = ann.request("POST", f"/api/cotonomas/{cotonoma['key']}/members", json={"email": email})
    assert result.status_code == status and result.json["title"] == title
    assert [m["email"] for m in ann.request("GET", f"/api/cotonomas/{cotonoma['key']}/members").json["members"]] == [
        "bob@example.com"
    ]
    assert len(mail_jobs()) == 1


@pytest.mark.parametrize("email", ["carol@example.com", "bob@example.org", "not-an-address", "bob@example.com%00"])
def test_removing_a_non_member_is_404(ann, email):
    cotonoma = ann.create("Team")
    ann.add_member(cotonoma["key"], "bob@example.com")
    result = ann.request("DELETE", f"/api/cotonomas/{cotonoma['key']}/members/{email}")
    assert result.status_code == 404 and result.json["title"] == "No such member"
    assert len(ann.request("GET", f"/api/cotonomas/{cotonoma['key']}/members").json["members"]) == 1


def test_an_address_with_odd_characters_is_removed_by_its_encoded_form(ann):
    cotonoma = ann.create("Team")
    ann.add_member(cotonoma["key"], "o'neil+notes?#1@example.com")
    path = f"/api/cotonomas/{cotonoma['key']}/members/o%27neil%2Bnotes%3F%231%40example.com"
    assert ann.request("DELETE", path).status_code == 204


def test_the_owner_sees_a_shared_cotonoma_marked(ann):
    cotonoma = ann.create("Team")
    ann.add_member(cotonoma["key"], "bob@example.com")
    assert ann.request("GET", f"/api/cotonomas/{cotonoma['key']}").json["cotonoma"]["shared"] is True
    ann.request("DELETE", f"/api/cotonomas/{cotonoma['key']}/members/bob@example.com")
    assert ann.request("GET", "/api/cotonomas").json["cotonomas"][0]["shared"] is False


# The internal access route


def test_access_for_owner_member_and_ancestor_member(client, ann, bob, carol, dave):
    top = ann.create("Top")
    child = ann.create("Child", top["key"])
    ann.add_member(top["key"], "bob@example.com")
    ann.add_member(child["key"], "carol@example.com")
    expected_top = {"key": top["key"], "name": "Top", "owner_id": ann.amishi.id}
    expected_child = {"key": child["key"], "name": "Child", "owner_id": ann.amishi.id}
    for person, key, expected in [
        (ann, top["key"], expected_top),
        (ann, child["key"], expected_child),  # owner
        (bob, top["key"], expected_top),
        (bob, child["key"], expected_child),  # member, and of an ancestor
        (carol, child["key"], expected_child),  # member of the child
    ]:
        result = access(client, key, person)
        assert result.status_code == 200 and result.json == expected
    for person, key in [
        (carol, top["key"]),
        (dave, top["key"]),
        (dave, child["key"]),
        (ann, "no-such-key-0000"),
        (ann, "bad"),
    ]:
        result = access(client, key, person)
        assert result.status_code == 404 and result.json["title"] == "No such cotonoma"


def test_access_matches_the_address_in_any_case_and_ends_with_membership(client, ann, bob):
    top = ann.create("Top")
    ann.add_member(top["key"], "bob@example.com")
    assert access(client, top["key"], bob, email="BOB@Example.com").status_code == 200
    ann.request("DELETE", f"/api/cotonomas/{top['key']}/members/bob@example.com")
    assert access(client, top["key"], bob).status_code == 404


def reachable(client, person, email=None):
    return client.simulate_get(
        "/internal/cotonomas",
        params={"amishi_id": person.amishi.id, "email": email or person.amishi.email},
        headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"},
    )


def test_reachable_is_every_cotonoma_access_allows(client, ann, bob, carol, dave):
    top = ann.create("Top")
    child = ann.create("Child", top["key"])
    grandchild = ann.create("Grandchild", child["key"])
    private = ann.create("Private")
    ann.add_member(top["key"], "bob@example.com")
    ann.add_member(child["key"], "carol@example.com")
    bobs = bob.create("Bob's own")
    expected = {
        ann: [top, child, grandchild, private],
        bob: [top, child, grandchild, bobs],  # a member of the top reaches everything below it
        carol: [child, grandchild],
        dave: [],
    }
    for person, cotonomas in expected.items():
        result = reachable(client, person)
        assert result.status_code == 200
        assert result.json == {"keys": sorted(c["key"] for c in cotonomas)}
        # Each key is one the access check admits, and no other is.
        assert all(access(client, key, person).status_code == 200 for key in result.json["keys"])


def test_reachable_matches_the_address_in_any_case_and_ends_with_membership(client, ann, bob):
    top = ann.create("Top")
    ann.add_member(top["key"], "bob@example.com")
    assert reachable(client, bob, email="BOB@Example.com").json == {"keys": [top["key"]]}
    ann.request("DELETE", f"/api/cotonomas/{top['key']}/members/bob@example.com")
    assert reachable(client, bob).json == {"keys": []}


def test_reachable_needs_the_service_credential(client, bob):
    result = client.simulate_get("/internal/cotonomas", params={"amishi_id": bob.amishi.id, "email": "b@b.co"})
    assert result.status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"amishi_id": "00000000-0000-4000-8000-000000000001"},
        {"email": "a@b.co"},
        {"amishi_id": "not-a-uuid", "email": "a@b.co"},
        {"amishi_id": "00000000-0000-4000-8000-000000000001", "email": "a\x00@b.co"},
        {"amishi_id": "00000000-0000-4000-8000-000000000001", "email": "a" * 250 + "@b.co"},
    ],
)
@pytest.mark.parametrize("path", ["/internal/cotonomas/key-00001/access", "/internal/cotonomas"])
def test_internal_questions_need_an_amishi_id_and_an_address(client, params, path):
    result = client.simulate_get(path, params=params, headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"})
    assert result.status_code == 400 and result.json["title"]


# Bad inputs: each is 4xx JSON and changes nothing.

BAD_BODIES = [
    *NOT_JSON_OBJECTS,
    ("plain text", b"Ideas", "text/plain", 415),
    ("name missing", b"{}", "application/json", 400),
    ("name null", b'{"name": null}', "application/json", 400),
    ("name a number", b'{"name": 42}', "application/json", 400),
    ("name a list", b'{"name": ["Ideas"]}', "application/json", 400),
    ("name an object", b'{"name": {"text": "Ideas"}}', "application/json", 400),
    ("name blank", b'{"name": "   "}', "application/json", 400),
    ("name empty", b'{"name": ""}', "application/json", 400),
    ("name 51 characters", ('{"name": "' + "x" * 51 + '"}').encode(), "application/json", 400),
    ("name 51 wide characters", ('{"name": "' + "あ" * 51 + '"}').encode(), "application/json", 400),
    ("name with a newline inside", b'{"name": "two\\nlines"}', "application/json", 400),
    ("name with a tab inside", b'{"name": "a\\tb"}', "application/json", 400),
    ("name with NUL", b'{"name": "a\\u0000b"}', "application/json", 400),
    ("name with an escape", b'{"name": "a\\u001b[31mb"}', "application/json", 400),
    ("name with DEL", b'{"name": "a\\u007fb"}', "application/json", 400),
    ("name with a C1 control", b'{"name": "a\\u0085b"}', "application/json", 400),
    ("name with a line separator", b'{"name": "a\\u2028b"}', "application/json", 400),
    ("name with a lone surrogate", b'{"name": "a\\ud800b"}', "application/json", 400),
    ("invalid UTF-8", b'{"name": "\xff\xfe"}', "application/json", 400),
    (
        "unknown field",
        b'{"name": "Ideas", "owner_id": "00000000-0000-4000-8000-000000000001"}',
        "application/json",
        400,
    ),
    ("odd key", b'{"name": "Ideas", "": 1}', "application/json", 400),
    ("key with NUL", b'{"name": "Ideas", "\\u0000": 1}', "application/json", 400),
    ("state smuggled", b'{"name": "Ideas", "state": "ready"}', "application/json", 400),
    ("huge body", b'{"name": "' + b"x" * 300_000 + b'"}', "application/json", 413),
]
BAD_CREATES = [
    *BAD_BODIES,
    ("parent_key a number", b'{"name": "Ideas", "parent_key": 7}', "application/json", 400),
    ("parent_key a list", b'{"name": "Ideas", "parent_key": ["a"]}', "application/json", 400),
    ("parent_key unknown", b'{"name": "Ideas", "parent_key": "no-such-key-0000"}', "application/json", 404),
    ("parent_key malformed", b'{"name": "Ideas", "parent_key": "../../etc/passwd"}', "application/json", 404),
]
BAD_MEMBERS = [
    ("malformed JSON", b'{"email": ', "application/json", 400),
    ("not an object", b'["bob@example.com"]', "application/json", 400),
    ("form encoded", b"email=bob@example.com", "application/x-www-form-urlencoded", 415),
    ("email missing", b"{}", "application/json", 400),
    ("email a number", b'{"email": 1}', "application/json", 400),
    ("email a list", b'{"email": ["bob@example.com"]}', "application/json", 400),
    ("email with a newline inside", b'{"email": "bob@exa\\nmple.com"}', "application/json", 400),
    ("email with a header", b'{"email": "bob@example.com\\r\\nBcc: eve@example.com"}', "application/json", 400),
    ("two addresses", b'{"email": "bob@example.com, eve@example.com"}', "application/json", 400),
    ("display name form", b'{"email": "Bob <bob@example.com>"}', "application/json", 400),
    ("unknown field", b'{"email": "bob@example.com", "role": "owner"}', "application/json", 400),
    ("huge body", b'{"email": "' + b"x" * 300_000 + b'@example.com"}', "application/json", 413),
]


def send(person, method, path, body, content_type):
    return person.request(method, path, body=body, headers={"Content-Type": content_type})


def assert_refused(result, status):
    assert result.status_code == status, result.text
    assert result.headers["Content-Type"].startswith("application/json")
    assert result.json["title"] and "Traceback" not in result.text


@pytest.mark.parametrize("label,body,content_type,status", BAD_CREATES, ids=[c[0] for c in BAD_CREATES])
def test_bad_creates_change_nothing(ann, rows, cotos_double, label, body, content_type, status):
    assert_refused(send(ann, "POST", "/api/cotonomas", body, content_type), status)
    assert rows() == [] and cotos_double.calls == []


@pytest.mark.parametrize("label,body,content_type,status", BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_renames_change_nothing(ann, rows, cotos_double, label, body, content_type, status):
    cotonoma = ann.create("Ideas")
    assert_refused(send(ann, "PATCH", f"/api/cotonomas/{cotonoma['key']}", body, content_type), status)
    assert rows() == [("Ideas", "ready")] and len(cotos_double.calls) == 1


@pytest.mark.parametrize("label,body,content_type,status", BAD_MEMBERS, ids=[c[0] for c in BAD_MEMBERS])
def test_bad_member_additions_change_nothing(ann, mail_jobs, label, body, content_type, status):
    cotonoma = ann.create("Team")
    assert_refused(send(ann, "POST", f"/api/cotonomas/{cotonoma['key']}/members", body, content_type), status)
    assert ann.request("GET", f"/api/cotonomas/{cotonoma['key']}/members").json["members"] == []
    assert mail_jobs() == []


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}])
def test_cross_site_writes_are_refused(ann, rows, headers):
    result = ann.request("POST", "/api/cotonomas", json={"name": "Ideas"}, headers=headers)
    assert_refused(result, 403)
    assert rows() == []
