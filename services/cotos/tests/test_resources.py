import json
import re

import pytest

from cotoami_testing.contracts import NOT_JSON_OBJECTS
from cotoami_testing.fixtures import new_amishi


def test_post_sets_the_anonymous_cookie_and_returns_the_coto(browser):
    result = browser.request("POST", "/api/cotos", json={"content": "  hello  "})
    assert result.status_code == 201
    coto = result.json["coto"]
    assert coto["content"] == "hello"
    assert coto["amishi"] is None and coto["posted_in"] is None
    assert coto["as_cotonoma"] is False and coto["cotonoma_key"] is None
    assert coto["created_at"].endswith("Z") and coto["created_at"] == coto["updated_at"]
    assert result.headers["Location"] == f"/api/cotos/{coto['id']}"
    cookie = result.cookies["anonymous_id"]
    assert cookie.http_only and cookie.same_site == "Lax" and cookie.max_age == 30 * 86400
    assert not cookie.secure, "plain HTTP gets a cookie it can send back"


def test_cookie_is_secure_behind_https(client):
    result = client.simulate_post("/api/cotos", json={"content": "x"}, headers={"X-Forwarded-Proto": "https"})
    assert result.cookies["anonymous_id"].secure


def test_timeline_is_newest_first_and_private_to_the_browser(browser, client):
    first = browser.post("first")
    second = browser.post("second")
    result = browser.request("GET", "/api/cotos")
    assert result.status_code == 200
    assert [c["id"] for c in result.json["cotos"]] == [second["id"], first["id"]]
    assert result.json["next"] is None
    stranger = client.simulate_get("/api/cotos")
    assert stranger.json == {"cotos": [], "next": None}
    assert "anonymous_id" not in stranger.cookies, "reading issues no id"


def test_timeline_pages(browser):
    ids = [browser.post(f"n{n}")["id"] for n in range(5)]
    page = browser.request("GET", "/api/cotos", params={"limit": "3"}).json
    assert [c["id"] for c in page["cotos"]] == ids[:1:-1]
    rest = browser.request("GET", "/api/cotos", params={"limit": "3", "before": page["next"]}).json
    assert [c["id"] for c in rest["cotos"]] == ids[1::-1] and rest["next"] is None


def test_get_patch_delete_one_coto(browser):
    coto = browser.post("draft")
    assert browser.request("GET", f"/api/cotos/{coto['id']}").json["coto"] == coto
    patched = browser.request("PATCH", f"/api/cotos/{coto['id']}", json={"content": "final"})
    assert patched.status_code == 200
    assert patched.json["coto"]["content"] == "final"
    assert patched.json["coto"]["updated_at"] >= coto["updated_at"]
    assert browser.request("DELETE", f"/api/cotos/{coto['id']}").status_code == 204
    assert browser.request("GET", f"/api/cotos/{coto['id']}").status_code == 404
    assert browser.request("DELETE", f"/api/cotos/{coto['id']}").status_code == 404


def test_another_browser_cannot_touch_my_coto(browser, client):
    coto = browser.post("mine")
    other = type(browser)(client)
    other.post("theirs")
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"content": "hacked"}}), ("DELETE", {})):
        assert other.request(method, f"/api/cotos/{coto['id']}", **kwargs).status_code == 404
        assert client.simulate_request(method, f"/api/cotos/{coto['id']}", **kwargs).status_code == 404
    assert browser.request("GET", f"/api/cotos/{coto['id']}").json["coto"]["content"] == "mine"


def test_anonymous_cannot_post_into_or_read_a_cotonoma(browser):
    assert browser.request("POST", "/api/cotos", json={"content": "x", "cotonoma_key": "abc"}).status_code == 401
    assert browser.request("GET", "/api/cotos", params={"cotonoma": "abc"}).status_code == 401
    assert browser.request("GET", "/api/cotos").json["cotos"] == []


def test_a_forged_cookie_is_ignored(client):
    result = client.simulate_post("/api/cotos", json={"content": "x"}, headers={"Cookie": "anonymous_id=../../etc"})
    assert result.status_code == 201
    assert result.cookies["anonymous_id"].value != "../../etc"


@pytest.mark.parametrize("planted", ["0" * 32, "3c" * 16])
def test_a_planted_id_is_not_adopted(client, redis, planted):
    cookie = {"Cookie": f"anonymous_id={planted}"}
    read = client.simulate_get("/api/cotos", headers=cookie)
    assert read.json == {"cotos": [], "next": None}
    assert "anonymous_id" not in read.cookies, "reading with an unknown id renews nothing"
    posted = client.simulate_post("/api/cotos", json={"content": "mine"}, headers=cookie)
    assert posted.status_code == 201
    issued = posted.cookies["anonymous_id"].value
    assert issued != planted
    assert redis.keys(f"anon:{planted}:*") == [], "nothing is made under the planted id"
    assert client.simulate_get("/api/cotos", headers=cookie).json["cotos"] == [], "the planted id still names no pad"
    mine = client.simulate_get("/api/cotos", headers={"Cookie": f"anonymous_id={issued}"})
    assert [c["content"] for c in mine.json["cotos"]] == ["mine"] and mine.cookies["anonymous_id"].value == issued


def test_a_planted_id_opens_no_coto(browser, client):
    coto = browser.post("mine")
    for method, kwargs in (("GET", {}), ("PATCH", {"json": {"content": "x"}}), ("DELETE", {})):
        result = client.simulate_request(
            method, f"/api/cotos/{coto['id']}", headers={"Cookie": "anonymous_id=" + "0" * 32}, **kwargs
        )
        assert result.status_code == 404 and "anonymous_id" not in result.cookies


def test_an_issued_id_keeps_working_after_its_pad_was_emptied(browser):
    coto = browser.post("only one")
    issued = browser.cookies["anonymous_id"]
    assert browser.request("DELETE", f"/api/cotos/{coto['id']}").status_code == 204
    result = browser.request("GET", "/api/cotos")
    assert result.json["cotos"] == [] and result.cookies["anonymous_id"].value == issued
    browser.post("again")
    assert browser.cookies["anonymous_id"] == issued


BAD_POSTS = [
    *NOT_JSON_OBJECTS,
    ("content a number", b'{"content": 42}', "application/json", 400),
    ("content null", b'{"content": null}', "application/json", 400),
    ("content a list", b'{"content": ["a"]}', "application/json", 400),
    ("content missing", b"{}", "application/json", 400),
    ("content blank", b'{"content": " \\n\\t "}', "application/json", 400),
    ("content too long", json.dumps({"content": "x" * 10_001}).encode(), "application/json", 400),
    ("content with NUL", b'{"content": "a\\u0000b"}', "application/json", 400),
    ("lone surrogate", b'{"content": "\\ud800"}', "application/json", 400),
    ("unknown field", b'{"content": "a", "admin": true}', "application/json", 400),
    ("no content type", b'{"content": "a"}', None, 415),
    ("over the body limit", b'{"content": "' + b"x" * (300 * 1024) + b'"}', "application/json", 413),
]


@pytest.mark.parametrize("body,content_type,status", [case[1:] for case in BAD_POSTS], ids=[c[0] for c in BAD_POSTS])
def test_bad_posts_get_a_4xx_json_error_and_store_nothing(browser, body, content_type, status):
    headers = {"Content-Type": content_type} if content_type else {}
    result = browser.request("POST", "/api/cotos", body=body, headers=headers)
    assert result.status_code == status
    assert "title" in result.json
    assert browser.request("GET", "/api/cotos").json["cotos"] == []


def test_content_of_exactly_the_limit_is_accepted(browser):
    assert browser.post("y" * 10_000)["content"] == "y" * 10_000


@pytest.mark.parametrize("path", ["/api/cotos/not-a-uuid", "/api/cotos/123", "/api/cotos/%00", "/api/cotos/a/b"])
def test_odd_ids_are_404(browser, path):
    result = browser.request("GET", path)
    assert result.status_code == 404 and "title" in result.json


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "201"}, {"limit": "x"}, {"limit": "-1"}, {"before": "zzz"}]
)
def test_bad_timeline_params_are_400(browser, params):
    browser.post("x")
    assert browser.request("GET", "/api/cotos", params=params).status_code == 400


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_cross_site_writes_are_refused(browser, headers):
    coto = browser.post("keep me")
    assert browser.request("DELETE", f"/api/cotos/{coto['id']}", headers=headers).status_code == 403
    assert browser.request("POST", "/api/cotos", json={"content": "x"}, headers=headers).status_code == 403
    assert [c["id"] for c in browser.request("GET", "/api/cotos").json["cotos"]] == [coto["id"]]


def test_same_origin_writes_are_accepted(browser):
    headers = {"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}
    assert browser.request("POST", "/api/cotos", json={"content": "ok"}, headers=headers).status_code == 201


def test_unknown_route_and_method_are_json(client):
    assert client.simulate_get("/api/nothing").status_code == 404
    result = client.simulate_put("/api/cotos")
    assert result.status_code == 405 and "title" in result.json


def test_a_page_read_again_unchanged_is_304_and_any_write_makes_it_200_again(sign_in):
    writer = sign_in(new_amishi())
    coto = writer.post("first")
    read = writer.request("GET", "/api/cotos")
    tag = read.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', tag)
    again = writer.request("GET", "/api/cotos", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == tag
    for change in (
        lambda: writer.post("second"),
        lambda: writer.request("PATCH", f"/api/cotos/{coto['id']}", json={"content": "edited"}),
        lambda: writer.request("DELETE", f"/api/cotos/{coto['id']}"),
    ):
        change()
        fresh = writer.request("GET", "/api/cotos", headers={"If-None-Match": tag})
        assert fresh.status_code == 200 and fresh.headers["ETag"] != tag, "right after the write"
        tag = fresh.headers["ETag"]
    assert [c["content"] for c in fresh.json["cotos"]] == ["second"]


def test_another_persons_tag_or_a_made_up_one_gets_the_page(sign_in):
    mine, theirs = sign_in(new_amishi()), sign_in(new_amishi())
    mine.post("mine")
    theirs.post("theirs")
    their_tag = theirs.request("GET", "/api/cotos").headers["ETag"]
    for tag in (their_tag, '"made-up"', 'W/"0"'):
        page = mine.request("GET", "/api/cotos", headers={"If-None-Match": tag})
        assert page.status_code == 200 and [c["content"] for c in page.json["cotos"]] == ["mine"]


def test_the_anonymous_pad_answers_304_to_its_own_tag(browser):
    browser.post("on the pad")
    tag = browser.request("GET", "/api/cotos").headers["ETag"]
    assert browser.request("GET", "/api/cotos", headers={"If-None-Match": tag}).status_code == 304
