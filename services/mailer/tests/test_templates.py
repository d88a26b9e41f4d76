"""The mail templates: what each kind says, escaping, and data that does not fit."""

import re
import uuid
from collections.abc import Mapping

import jinja2
import pytest
from conftest import SIGNIN_DATA

from mailer.jobs import MailJob, MalformedJob
from mailer.templates import MailTemplates

INVITATION_DATA = {
    "link": "http://127.0.0.1:8000/cotonomas/k1",
    "cotonoma_name": "Ideas",
    "inviter_name": "Ann",
    "inviter_email": "ann@example.com",
}


@pytest.fixture(scope="module")
def templates() -> MailTemplates:
    return MailTemplates()


def job(kind: str, data: Mapping[str, object], to: str = "bob@example.com") -> MailJob:
    return MailJob(id=str(uuid.uuid4()), kind=kind, to=to, data=data)


def test_the_kinds_are_those_with_both_templates(templates):
    assert templates.kinds == {"signin", "invitation"}


def test_signin_says_who_asked_when_and_from_where_and_when_the_link_expires(templates):
    mail = templates.render(job("signin", SIGNIN_DATA, to="ann@example.com"))
    assert mail.subject == "Sign in to Cotoami"
    assert "<title>Sign in to Cotoami</title>" in mail.html
    for part in (mail.text, mail.html):
        assert "Someone asked to sign in to Cotoami as" in part and "ann@example.com" in part
        assert "at 15:04 UTC on 26 November 2026, from the address 203.0.113.9." in part
        assert SIGNIN_DATA["link"] in part
        assert "The link works once" in part
        assert (
            " ".join(part.split()).count("expires 10 minutes after it was requested, at 15:14 UTC on 26 November 2026")
            == 1
        )
        assert "If this was not you, ignore this mail." in part


def test_signin_shows_the_link_as_a_button_and_written_out(templates):
    html = templates.render(job("signin", SIGNIN_DATA, to="ann@example.com")).html
    assert html.count(f'href="{SIGNIN_DATA["link"]}"') == 2
    assert f">{SIGNIN_DATA['link']}</a>" in html
    assert ">Sign in as ann@example.com</a>" in html


def test_times_in_other_zones_are_shown_in_utc(templates):
    mail = templates.render(
        job("signin", {**SIGNIN_DATA, "requested_at": "2026-11-27T00:04:22+09:00", "expires_minutes": 1})
    )
    assert "15:04 UTC on 26 November 2026" in mail.text
    assert "expires 1 minute after" in mail.text and "15:05 UTC" in mail.text


def test_invitation_names_the_inviter_and_the_cotonoma(templates):
    mail = templates.render(job("invitation", INVITATION_DATA))
    assert mail.subject == "Ann invited you to “Ideas” on Cotoami"
    for part in (mail.text, mail.html):
        assert "Ann" in part and "ann@example.com" in part and "Ideas" in part and "bob@example.com" in part
        assert INVITATION_DATA["link"] in part


def test_html_escapes_the_data_and_text_keeps_it_as_written(templates):
    name = '<img src=x onerror=alert(1)> & "co"'
    mail = templates.render(job("invitation", {**INVITATION_DATA, "cotonoma_name": name, "link": "http://h/a?b=1&c=2"}))
    assert name in mail.text and "http://h/a?b=1&c=2" in mail.text
    assert "<img" not in mail.html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &#34;co&#34;" in mail.html
    assert 'href="http://h/a?b=1&amp;c=2"' in mail.html
    assert mail.subject == f"Ann invited you to “{name}” on Cotoami"


def test_a_subject_is_always_one_line(templates):
    mail = templates.render(job("invitation", {**INVITATION_DATA, "cotonoma_name": "two\r\nlines"}))
    assert mail.subject == "Ann invited you to “two lines” on Cotoami"


def test_an_unknown_kind_is_malformed(templates):
    with pytest.raises(MalformedJob, match="no templates for the kind 'newsletter'"):
        templates.render(job("newsletter", {}))


@pytest.mark.parametrize("missing", sorted(SIGNIN_DATA))
def test_missing_data_is_malformed_and_named(templates, missing):
    data = {k: v for k, v in SIGNIN_DATA.items() if k != missing}
    with pytest.raises(MalformedJob, match=f"'{missing}' is undefined"):
        templates.render(job("signin", data))


@pytest.mark.parametrize(
    "field,value",
    [
        ("link", "javascript:alert(1)"),
        ("link", "/signin/relative"),
        ("link", "http://127.0.0.1:8000/signin/a b"),
        ("link", 42),
        ("expires_minutes", "10"),
        ("expires_minutes", 0),
        ("expires_minutes", True),
        ("expires_minutes", 10.5),
        ("requested_at", "2026-11-26T15:04:22"),
        ("requested_at", "yesterday"),
        ("requested_at", 1700000000),
        ("requested_from", "somewhere"),
        ("requested_from", 3232235777),
    ],
)
def test_data_that_cannot_be_shown_truthfully_is_malformed(templates, field, value):
    with pytest.raises(MalformedJob) as raised:
        templates.render(job("signin", {**SIGNIN_DATA, field: value}))
    assert str(value) not in str(raised.value), "errors never quote the data"


def test_adding_a_kind_is_adding_two_templates(tmp_path):
    (tmp_path / "hello.txt.j2").write_text('{% set subject = "Hello " ~ name %}Hello {{ name }}\n')
    (tmp_path / "hello.html.j2").write_text("<p>{{ subject }}: {{ name }}</p>\n")
    mail = MailTemplates(tmp_path).render(job("hello", {"name": "<Ann>"}))
    assert (mail.subject, mail.text, mail.html) == (
        "Hello <Ann>",
        "Hello <Ann>\n",
        "<p>Hello &lt;Ann&gt;: &lt;Ann&gt;</p>\n",
    )


def test_a_kind_with_one_template_stops_the_start(tmp_path):
    (tmp_path / "hello.txt.j2").write_text('{% set subject = "Hello" %}Hello\n')
    with pytest.raises(ValueError, match="both a text and an HTML template: hello"):
        MailTemplates(tmp_path)


def test_a_text_template_without_a_subject_stops_the_start(tmp_path):
    (tmp_path / "hello.txt.j2").write_text("Hello\n")
    (tmp_path / "hello.html.j2").write_text("<p>Hello</p>\n")
    with pytest.raises(ValueError, match=re.escape("hello.txt.j2 must set subject")):
        MailTemplates(tmp_path)


def test_a_broken_template_stops_the_start(tmp_path):
    (tmp_path / "hello.txt.j2").write_text('{% set subject = "Hello" %}{{ name \n')
    (tmp_path / "hello.html.j2").write_text("<p>Hello</p>\n")
    with pytest.raises(jinja2.TemplateSyntaxError):
        MailTemplates(tmp_path)
