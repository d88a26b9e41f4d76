"""How many invitation mails go out: the limits per recipient, inviter and
cotonoma, the quiet period of re-adds, and what a refused or failed add leaves."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from threading import Barrier

import pytest
import redis

from cotonomas import resources
from cotonomas.config import InvitationLimits, Limit

# Low, so that a test reaches each limit in a few adds; each differs from the others.
LIMITS = InvitationLimits(
    per_recipient=Limit(2, 900),
    per_inviter=Limit(4, 3600),
    per_cotonoma=Limit(3, 600),
    quiet_hours=24,
)


@pytest.fixture
def config(config):
    return replace(config, invitations=LIMITS)


@pytest.fixture
def carol(sign_in):
    return sign_in("carol@example.com")


def add(person, key, email):
    return person.request("POST", f"/api/cotonomas/{key}/members", json={"email": email})


def remove(person, key, email):
    assert person.request("DELETE", f"/api/cotonomas/{key}/members/{email}").status_code == 204


def members(person, key):
    return [m["email"] for m in person.request("GET", f"/api/cotonomas/{key}/members").json["members"]]


def mails_to(mail_jobs, email):
    return [job for job in mail_jobs() if job["to"] == email]


# Each case: the adds that go through, as (inviter, cotonoma, address), then the one refused.
REFUSALS = {
    "recipient": (
        [("ann", "A", "x"), ("bob", "B", "x")],
        ("ann", "C", "x"),
        900,
        "This address has been sent too many invitations lately.",
    ),
    "cotonoma": (
        [("ann", "A", "p1"), ("ann", "A", "p2"), ("ann", "A", "p3")],
        ("ann", "A", "p4"),
        600,
        "This cotonoma has sent too many invitations lately.",
    ),
    "inviter": (
        [("ann", "A", "p1"), ("ann", "A", "p2"), ("ann", "B", "p3"), ("ann", "B", "p4")],
        ("ann", "C", "p5"),
        3600,
        "You have sent too many invitations lately.",
    ),
}


@pytest.mark.parametrize("by", REFUSALS)
def test_a_mail_over_a_limit_is_429_and_adds_and_mails_nothing(ann, bob, mail_jobs, by):
    allowed, (who, name, address), window, why = REFUSALS[by]
    people = {"ann": ann, "bob": bob}
    places = dict.fromkeys((w, n) for w, n, _ in [*allowed, (who, name, address)])
    keys = {(w, n): people[w].create(n)["key"] for w, n in places}
    for w, n, a in allowed:
        assert add(people[w], keys[w, n], f"{a}@example.com").status_code == 201
    jobs = len(mail_jobs())

    refused = add(people[who], keys[who, name], f"{address}@example.com")
    assert refused.status_code == 429 and refused.json["title"] == "Too many invitations"
    assert refused.json["description"].startswith(why)
    assert 0 < int(refused.headers["Retry-After"]) <= window
    assert f"{address}@example.com" not in members(people[who], keys[who, name])
    assert len(mail_jobs()) == jobs == len(allowed)


def test_an_inviter_refused_spends_nothing_of_the_recipients_budget(ann, bob, carol, mail_jobs):
    team = ann.create("Team")["key"]
    for n in range(4):
        ann.add_member(team if n < 3 else ann.create("More")["key"], f"p{n}@example.com")
    assert add(ann, ann.create("Third")["key"], "x@example.com").status_code == 429
    # x has been mailed nothing, so two other inviters may each mail it once.
    for person in (bob, carol):
        person.add_member(person.create("Theirs")["key"], "x@example.com")
    assert len(mails_to(mail_jobs, "x@example.com")) == 2


def test_adds_that_fail_spend_nothing(ann, mail_jobs):
    team = ann.create("Team")["key"]
    ann.add_member(team, "p1@example.com")
    for email in ["p1@example.com"] * 5 + ["ann@example.com", "not an address"]:
        assert add(ann, team, email).status_code in (400, 409)
    # The cotonoma's budget of three is two mails from spent.
    ann.add_member(team, "p2@example.com")
    ann.add_member(team, "p3@example.com")
    assert len(mail_jobs()) == 3


def test_removing_and_adding_again_within_the_quiet_period_mails_once_and_counts_nothing(ann, mail_jobs, db):
    team = ann.create("Team")["key"]
    for _ in range(5):
        ann.add_member(team, "x@example.com")
        remove(ann, team, "x@example.com")
    ann.add_member(team, "x@example.com")
    assert members(ann, team) == ["x@example.com"]
    assert len(mails_to(mail_jobs, "x@example.com")) == 1
    # Quiet re-adds spent nothing: the cotonoma may still mail two more, x one more.
    ann.add_member(team, "p1@example.com")
    ann.add_member(ann.create("Other")["key"], "x@example.com")
    assert len(mail_jobs()) == 3

    # Once the quiet period is over, adding x again is a mail again: over x's budget now.
    remove(ann, team, "x@example.com")
    db.execute("UPDATE invitations SET mailed_at = now() - interval '25 hours'")
    assert add(ann, team, "x@example.com").status_code == 429


def test_a_quiet_re_add_goes_through_even_when_the_limits_are_spent(ann, bob, mail_jobs):
    team = ann.create("Team")["key"]
    ann.add_member(team, "x@example.com")
    remove(ann, team, "x@example.com")
    bob.add_member(bob.create("Theirs")["key"], "x@example.com")  # x's budget of two is spent
    ann.add_member(team, "x@example.com")
    assert len(mails_to(mail_jobs, "x@example.com")) == 2


def test_the_mail_is_queued_only_once_the_member_is_committed(ann, db, monkeypatch):
    committed = []

    def enqueue(client, kind, to, data):
        committed.append(db.execute("SELECT email FROM members").fetchall())

    monkeypatch.setattr(resources, "enqueue_mail", enqueue)
    ann.add_member(ann.create("Team")["key"], "x@example.com")
    assert committed == [[("x@example.com",)]], "seen from another connection: committed"


def test_if_the_mail_cannot_be_queued_the_add_is_undone(ann, db, mail_jobs, monkeypatch):
    team = ann.create("Team")["key"]

    def down(client, kind, to, data):
        raise redis.ConnectionError("Redis is away")

    with monkeypatch.context() as patched:
        patched.setattr(resources, "enqueue_mail", down)
        failed = add(ann, team, "x@example.com")
    assert failed.status_code == 503
    assert members(ann, team) == [] and db.execute("SELECT * FROM invitations").fetchall() == []
    ann.add_member(team, "x@example.com")
    assert len(mails_to(mail_jobs, "x@example.com")) == 1, "adding again mails it"


# Creating one name twice at once


def test_two_creates_of_one_name_at_once_are_one_201_and_one_409(ann, rows):
    both = Barrier(2)

    def create():
        both.wait()
        return ann.request("POST", "/api/cotonomas", json={"name": "Ideas"})

    with ThreadPoolExecutor(2) as pool:
        answers = sorted(pool.map(lambda _: create(), range(2)), key=lambda a: a.status_code)
    assert [a.status_code for a in answers] == [201, 409]
    conflict = answers[1]
    # Which one depends on timing: the first still being created, or made already.
    assert conflict.json["title"] in ("Name in use", "Name taken")
    assert ("Retry-After" in conflict.headers) == (conflict.json["title"] == "Name in use")
    assert rows() == [("Ideas", "ready")]
