"""The job contract: what a producer's job must look like to be attempted at all."""

import json
import uuid

import pytest

from cotoami_common.mail import enqueue_mail
from mailer.jobs import MailJob, MalformedJob, claimed_labels, parse_job

JOB_ID = str(uuid.uuid4())
GOOD = {"id": JOB_ID, "kind": "signin", "to": "ann@example.com", "data": {"link": "x"}}


def fields(**changes) -> dict[str, str]:
    return {"job": json.dumps({**GOOD, **changes})}


def test_a_job_as_producers_queue_it_is_parsed(redis):
    job_id = enqueue_mail(redis, "signin", "ann@example.com", {"link": "x"})
    [(_, entry)] = redis.xrange("mail")
    assert parse_job(entry) == MailJob(id=job_id, kind="signin", to="ann@example.com", data={"link": "x"})


def test_the_id_is_compared_in_lower_case():
    assert parse_job(fields(id=JOB_ID.upper())).id == JOB_ID


@pytest.mark.parametrize("address", ["ann@example.com", "a.b+tag@mail.example.co.jp", "o'neil@example.com"])
def test_plain_addresses_are_recipients(address):
    assert parse_job(fields(to=address)).to == address


@pytest.mark.parametrize(
    "entry,reason",
    [
        ({}, "no 'job' field"),
        ({"job": "{nope"}, "not JSON"),
        ({"job": "null"}, "not a JSON object"),
        ({"job": json.dumps({k: v for k, v in GOOD.items() if k != "data"})}, "has no 'data'"),
        (fields(id="1-0"), "id is not a UUID"),
        (fields(id=JOB_ID.replace("-", "")), "id is not a UUID"),
        (fields(id=7), "id is not a UUID"),
        (fields(kind="Sign-In"), "kind is not a kind name"),
        (fields(kind="../secret"), "kind is not a kind name"),
        (fields(data=["link"]), "data is not a JSON object"),
    ],
)
def test_malformed_jobs_say_what_is_wrong(entry, reason):
    with pytest.raises(MalformedJob, match=reason):
        parse_job(entry)


@pytest.mark.parametrize(
    "address",
    [
        "ann",
        "ann@",
        "ann@localhost",  # the doors refuse a one-label host, so the mailer never gets one
        "@example.com",
        "ann@@example.com",
        "ann example@example.com",
        "ann@exa mple.com",
        ".ann@example.com",
        "ann.@example.com",
        "a..nn@example.com",
        "ann@-example.com",
        "ann@example..com",
        "ann@example.com\r\nBcc: eve@example.com",
        "Ann <ann@example.com>",
        "ann@example.com, eve@example.com",
        "änn@example.com",
        "a" * 65 + "@example.com",
        "ann@" + "a" * 250 + ".com",
        None,
    ],
)
def test_anything_but_a_plain_address_is_not_a_recipient(address):
    with pytest.raises(MalformedJob, match="recipient is not a valid address"):
        parse_job(fields(to=address))


def test_a_malformed_job_is_labelled_as_far_as_it_says():
    assert claimed_labels(fields(to="not an address")) == ("signin", "not an address")
    assert claimed_labels(fields(kind=3, to=None)) == ("", "")
    assert claimed_labels({"job": "{nope"}) == ("", "")
    assert claimed_labels({}) == ("", "")
    assert claimed_labels(fields(to="x" * 1000))[1] == "x" * 254
