"""The anonymous memo pad through the gateway, as curl with a cookie jar would use it."""

import json

import pytest
import requests


def test_post_list_delete_with_one_jar_and_not_another(stack, browser):
    posted = browser.post(stack.url + "/api/cotos", json={"content": "hello"}, timeout=5)
    assert posted.status_code == 201
    assert "anonymous_id" in browser.cookies
    coto = posted.json()["coto"]
    assert coto["content"] == "hello"

    listed = browser.get(stack.url + "/api/cotos", timeout=5).json()
    assert listed["cotos"][0] == coto

    fresh = requests.Session()
    assert fresh.get(stack.url + "/api/cotos", timeout=5).json() == {"cotos": [], "next": None}
    assert fresh.delete(f"{stack.url}/api/cotos/{coto['id']}", timeout=5).status_code == 404

    assert browser.delete(f"{stack.url}/api/cotos/{coto['id']}", timeout=5).status_code == 204
    assert browser.get(stack.url + "/api/cotos", timeout=5).json()["cotos"] == []


def test_newest_first_and_paged_through_the_gateway(stack, browser):
    ids = [
        browser.post(stack.url + "/api/cotos", json={"content": f"n{n}"}, timeout=5).json()["coto"]["id"]
        for n in range(5)
    ]
    first = browser.get(stack.url + "/api/cotos", params={"limit": 3}, timeout=5).json()
    rest = browser.get(stack.url + "/api/cotos", params={"limit": 3, "before": first["next"]}, timeout=5).json()
    assert [c["id"] for c in first["cotos"] + rest["cotos"]] == ids[::-1]
    assert rest["next"] is None


def test_edit_own_coto(stack, browser):
    coto = browser.post(stack.url + "/api/cotos", json={"content": "draft"}, timeout=5).json()["coto"]
    edited = browser.patch(f"{stack.url}/api/cotos/{coto['id']}", json={"content": "final"}, timeout=5)
    assert edited.status_code == 200 and edited.json()["coto"]["content"] == "final"
    assert requests.patch(f"{stack.url}/api/cotos/{coto['id']}", json={"content": "x"}, timeout=5).status_code == 404


BAD_REQUESTS = [
    ("malformed JSON", "POST", "/api/cotos", b'{"content": "a"', "application/json"),
    ("JSON array", "POST", "/api/cotos", b'["a"]', "application/json"),
    ("JSON number", "POST", "/api/cotos", b"42", "application/json"),
    ("content a number", "POST", "/api/cotos", b'{"content": 42}', "application/json"),
    ("content an object", "POST", "/api/cotos", b'{"content": {"a": 1}}', "application/json"),
    ("content blank", "POST", "/api/cotos", b'{"content": "   "}', "application/json"),
    ("content empty", "POST", "/api/cotos", b'{"content": ""}', "application/json"),
    ("content oversized", "POST", "/api/cotos", json.dumps({"content": "x" * 10_001}).encode(), "application/json"),
    ("2 MB body", "POST", "/api/cotos", b'{"content": "' + b"x" * (2 * 1024 * 1024) + b'"}', "application/json"),
    ("form encoding", "POST", "/api/cotos", b"content=hello", "application/x-www-form-urlencoded"),
    ("multipart", "POST", "/api/cotos", b"--b\r\n\r\nhello\r\n--b--", "multipart/form-data; boundary=b"),
    ("invalid UTF-8", "POST", "/api/cotos", b'{"content": "\xff\xfe"}', "application/json"),
    ("lone surrogate", "POST", "/api/cotos", b'{"content": "\\udc00"}', "application/json"),
    ("unknown field", "POST", "/api/cotos", b'{"content": "a", "id": "x"}', "application/json"),
    ("cotonoma while anonymous", "POST", "/api/cotos", b'{"content": "a", "cotonoma_key": "k"}', "application/json"),
    ("odd id", "GET", "/api/cotos/not-an-id", None, None),
    ("odd id with dots", "DELETE", "/api/cotos/..", None, None),
    ("unknown uuid", "DELETE", "/api/cotos/01a21862-deb8-702f-8ba4-ebbec72abeb9", None, None),
    ("huge id", "GET", "/api/cotos/" + "9" * 5000, None, None),
    ("odd cursor", "GET", "/api/cotos?before=%00", None, None),
    ("odd limit", "GET", "/api/cotos?limit=1e9", None, None),
    ("wrong method", "PUT", "/api/cotos", b"{}", "application/json"),
    ("patch with a list", "PATCH", "/api/cotos/01a21862-deb8-702f-8ba4-ebbec72abeb9", b"[]", "application/json"),
]


@pytest.mark.parametrize(
    "method,path,body,content_type", [c[1:] for c in BAD_REQUESTS], ids=[c[0] for c in BAD_REQUESTS]
)
def test_bad_requests_get_4xx_json_and_change_nothing(stack, browser, method, path, body, content_type):
    keep = browser.post(stack.url + "/api/cotos", json={"content": "keep"}, timeout=5).json()["coto"]
    headers = {"Cookie": f"anonymous_id={browser.cookies['anonymous_id']}"}
    if content_type:
        headers["Content-Type"] = content_type
    status, response_headers, reply = stack.raw(method, path, body=body, headers=headers)
    assert 400 <= status < 500, (status, reply[:200])
    assert response_headers["Content-Type"].startswith("application/json")
    assert "title" in json.loads(reply)
    assert browser.get(stack.url + "/api/cotos", timeout=5).json()["cotos"] == [keep]
