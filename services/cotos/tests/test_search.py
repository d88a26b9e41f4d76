"""GET /api/search: the newest cotos containing a text, in any script and any
case, among those the asker may read, and nothing else."""

import pytest

from cotoami_testing.fixtures import new_amishi
from cotos.store import contains_pattern


@pytest.fixture
def stranger():
    return new_amishi("stranger@example.com")


def search(browser, q: str, **params) -> list[str]:
    """The contents found, newest first (one page)."""
    result = browser.request("GET", "/api/search", params={"q": q, **params})
    assert result.status_code == 200, result.text
    return [coto["content"] for coto in result.json["cotos"]]


def test_the_database_counts_japanese_as_letters(db):
    # pg_trgm makes trigrams only of what LC_CTYPE counts as letters: with a
    # locale that does not (plain C), Japanese could not use the index.
    (trigrams,) = db.execute("SELECT show_trgm('新しいコトノマを作る')").fetchone()
    assert len(trigrams) >= 8


@pytest.mark.parametrize("q", ["コトノマ", "コ", "トノ", "新しいコトノマを作る"])
def test_a_japanese_substring_finds_ones_own_coto(sign_in, ann, q):
    me = sign_in(ann)
    me.post("新しいコトノマを作る")
    me.post("別のメモ")
    assert search(me, q) == ["新しいコトノマを作る"]


@pytest.mark.parametrize("q", ["KUBERNETES", "kubernetes", "KuBeRnEtEs", "rnetes rolls", "k"])
def test_english_in_any_case(sign_in, ann, q):
    me = sign_in(ann)
    me.post("Kubernetes rolls out one service at a time")
    assert search(me, q) == ["Kubernetes rolls out one service at a time"]


def test_newest_first_including_cotos_posted_in_cotonomas(sign_in, ann, new_cotonoma):
    me = sign_in(ann)
    room = new_cotonoma("Room", ann)
    me.post("idea one")
    me.post("idea two", cotonoma_key=room)
    me.post("nothing here")
    me.post("idea three")
    assert search(me, "idea") == ["idea three", "idea two", "idea one"]


def test_never_another_persons_private_coto(sign_in, ann, bob):
    sign_in(bob).post("bob's secret plan")
    sign_in(bob).post("a plan of bob's at home", cotonoma_key=None)
    me = sign_in(ann)
    me.post("my plan")
    assert search(me, "plan") == ["my plan"]


def test_a_shared_cotonoma_for_its_members_and_not_for_a_stranger(sign_in, ann, bob, stranger, new_cotonoma):
    room = new_cotonoma("Room", ann, bob)
    sign_in(ann).post("the owner's note in the room", cotonoma_key=room)
    sign_in(bob).post("the member's note in the room", cotonoma_key=room)
    sign_in(stranger).post("the stranger's own note")
    assert search(sign_in(bob), "note") == ["the member's note in the room", "the owner's note in the room"]
    assert search(sign_in(ann), "note") == ["the member's note in the room", "the owner's note in the room"]
    assert search(sign_in(stranger), "note") == ["the stranger's own note"]


def test_a_removed_member_stops_finding_within_two_seconds(sign_in, ann, bob, new_cotonoma, cotonomas_double, clock):
    room = new_cotonoma("Room", ann, bob)
    sign_in(ann).post("the plan for the room", cotonoma_key=room)
    member = sign_in(bob)
    assert search(member, "plan") == ["the plan for the room"]
    cotonomas_double.revoke(room, bob)
    clock.advance(2)
    assert search(member, "plan") == []


def test_pages_follow_the_cursor(sign_in, ann):
    me = sign_in(ann)
    for n in range(5):
        me.post(f"page test {n}")
    me.post("unrelated")
    first = me.request("GET", "/api/search", params={"q": "page test", "limit": 2}).json
    assert [c["content"] for c in first["cotos"]] == ["page test 4", "page test 3"]
    second = me.request("GET", "/api/search", params={"q": "page test", "limit": 2, "before": first["next"]}).json
    assert [c["content"] for c in second["cotos"]] == ["page test 2", "page test 1"]
    last = me.request("GET", "/api/search", params={"q": "page test", "limit": 2, "before": second["next"]}).json
    assert [c["content"] for c in last["cotos"]] == ["page test 0"] and last["next"] is None


def test_results_are_cotos_as_the_timeline_shows_them(sign_in, ann, new_cotonoma):
    me = sign_in(ann)
    room = new_cotonoma("Room", ann)
    me.post("shown as on the timeline", cotonoma_key=room)
    [found] = me.request("GET", "/api/search", params={"q": "shown"}).json["cotos"]
    assert found == me.timeline(cotonoma=room)[0]
    assert found["posted_in"] == {"key": room, "name": "Room"}


@pytest.mark.parametrize("q", ["100%", "a_b", "back\\slash", "%", "_"])
def test_wildcards_are_taken_literally(sign_in, ann, q):
    me = sign_in(ann)
    for content in ["100% sure", "a_b c", "back\\slash", "100 sure", "axb", "backslash"]:
        me.post(content)
    assert all(q in found for found in search(me, q))
    assert len(search(me, q)) == sum(q in c for c in ["100% sure", "a_b c", "back\\slash"])


def test_surrounding_whitespace_is_trimmed(sign_in, ann):
    me = sign_in(ann)
    me.post("trimmed query")
    assert search(me, "  trimmed  ") == ["trimmed query"]


def test_the_anonymous_pad_searches_its_own_cotos(browser, client):
    browser.post("anonymous コトノマ note")
    browser.post("another")
    assert search(browser, "コトノマ") == ["anonymous コトノマ note"]
    assert search(browser, "NOTE") == ["anonymous コトノマ note"]
    other = type(browser)(client)
    assert search(other, "note") == [], "no cookie, no pad"
    other.cookies["anonymous_id"] = "0" * 32
    assert search(other, "note") == [], "an id never issued is no pad"


def test_the_anonymous_pad_pages_follow_the_cursor(browser):
    for n in range(3):
        browser.post(f"pad item {n}")
    first = browser.request("GET", "/api/search", params={"q": "pad item", "limit": 2}).json
    assert [c["content"] for c in first["cotos"]] == ["pad item 2", "pad item 1"]
    rest = browser.request("GET", "/api/search", params={"q": "pad item", "before": first["next"]}).json
    assert [c["content"] for c in rest["cotos"]] == ["pad item 0"] and rest["next"] is None


def test_without_cotonomas_a_signed_in_search_fails_closed(sign_in, ann, cotonomas_double):
    me = sign_in(ann)
    me.post("anything")
    cotonomas_double.answer = 500
    result = me.request("GET", "/api/search", params={"q": "anything"})
    assert result.status_code == 503 and result.json["title"]


BAD_QUERIES = [
    ("no q", {}),
    ("empty", {"q": ""}),
    ("blank", {"q": "   "}),
    ("201 characters", {"q": "x" * 201}),
    ("201 wide characters", {"q": "あ" * 201}),
    ("a newline inside", {"q": "two\nlines"}),
    ("NUL", {"q": "a\x00b"}),
    ("an escape", {"q": "a\x1b[31m"}),
    ("a bad cursor", {"q": "x", "before": "not-a-cursor"}),
    ("limit 0", {"q": "x", "limit": "0"}),
    ("limit 201", {"q": "x", "limit": "201"}),
]


@pytest.mark.parametrize("params", [case[1] for case in BAD_QUERIES], ids=[case[0] for case in BAD_QUERIES])
def test_bad_queries_are_400(sign_in, browser, ann, params):
    for asker in (sign_in(ann), browser):
        result = asker.request("GET", "/api/search", params=params)
        assert result.status_code == 400 and result.json["title"], result.text


def test_200_characters_are_allowed(sign_in, ann):
    me = sign_in(ann)
    me.post("y" * 300)
    assert search(me, "y" * 200) == ["y" * 300]


@pytest.mark.parametrize(
    "text,pattern",
    [("plain", "%plain%"), ("100%", "%100\\%%"), ("a_b", "%a\\_b%"), ("c:\\dir", "%c:\\\\dir%")],
)
def test_contains_pattern_escapes_what_ilike_would_read_as_wildcards(text, pattern):
    assert contains_pattern(text) == pattern
