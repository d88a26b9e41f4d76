"""Rendering a job into a mail with the Jinja2 templates in services/mailer/templates/.

Each kind of mail is two files: KIND.txt.j2 (plain text, not escaped), which
also sets `subject`, and KIND.html.j2 (HTML, autoescaped). Files starting
with "_" are layouts they extend. A template sees the job's data as its
variables, plus `recipient` and (the HTML one) `subject`. Missing data is an
error rather than a blank, and the filters below refuse values they cannot
show truthfully, so a job that does not fit its templates is found out before
anything is sent.
"""

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from jinja2 import nodes

from mailer.jobs import MailJob, MalformedJob

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
TEXT_SUFFIX, HTML_SUFFIX = ".txt.j2", ".html.j2"


class DataError(ValueError):
    """A value a template was given cannot be shown as it must be."""


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


class MailTemplates:
    def __init__(self, directory: Path = TEMPLATES_DIR):
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(directory),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters.update(utc_time=utc_time, minutes=minutes, web_link=web_link, ip=ip)
        self.kinds = _kinds(directory)
        # Compiled now, so that a broken template stops the process at start
        # instead of sending jobs to the dead-letter stream one by one.
        for kind in self.kinds:
            self.env.get_template(kind + TEXT_SUFFIX)
            self.env.get_template(kind + HTML_SUFFIX)
            if not _sets_subject(self.env, kind + TEXT_SUFFIX):
                raise ValueError(f"{kind}{TEXT_SUFFIX} must set subject")

    def render(self, job: MailJob) -> RenderedMail:
        if job.kind not in self.kinds:
            raise MalformedJob(f"no templates for the kind {job.kind!r}")
        variables = {**job.data, "recipient": job.to}
        try:
            text = self.env.get_template(job.kind + TEXT_SUFFIX).make_module(variables)
            # The template's exports are the module's attributes, set at run time: Jinja's types cannot name them.
            subject = " ".join(str(getattr(text, "subject")).split())  # noqa: B009 (one header line, whatever the template did)
            html = self.env.get_template(job.kind + HTML_SUFFIX).render(variables, subject=subject)
        except (jinja2.UndefinedError, DataError) as error:
            raise MalformedJob(f"the job's data does not fit the {job.kind} templates: {error}") from None
        except (TypeError, ValueError, ArithmeticError) as error:
            # Their messages may quote the data (a sign-in link), so only the type is kept.
            raise MalformedJob(
                f"the job's data does not fit the {job.kind} templates ({type(error).__name__})"
            ) from None
        return RenderedMail(subject=subject, text=str(text), html=html)


def _kinds(directory: Path) -> frozenset[str]:
    texts = {p.name.removesuffix(TEXT_SUFFIX) for p in directory.glob("*" + TEXT_SUFFIX)}
    htmls = {p.name.removesuffix(HTML_SUFFIX) for p in directory.glob("*" + HTML_SUFFIX)}
    kinds = {name for name in texts | htmls if not name.startswith("_")}
    lonely = sorted(kind for kind in kinds if kind not in texts or kind not in htmls)
    if lonely:
        raise ValueError(f"each kind of mail needs both a text and an HTML template: {', '.join(lonely)}")
    if not kinds:
        raise ValueError(f"no mail templates in {directory}")
    return frozenset(kinds)


def _sets_subject(env: jinja2.Environment, name: str) -> bool:
    if env.loader is None:
        raise ValueError("the template environment has no loader")
    source = env.loader.get_source(env, name)[0]
    assignments = env.parse(source).find_all((nodes.Assign, nodes.AssignBlock))
    return any(
        isinstance(a, nodes.Assign | nodes.AssignBlock)
        and isinstance(a.target, nodes.Name)
        and a.target.name == "subject"
        for a in assignments
    )


def _name_if_missing(value: object) -> None:
    """A filter given a missing variable raises the error that names it (a
    StrictUndefined raises it when printed) rather than one about its type."""
    if jinja2.is_undefined(value):
        str(value)


def utc_time(value: object, minutes_later: int = 0) -> str:
    """An ISO 8601 time with its zone, as '15:04 UTC on 26 November 2026'."""
    _name_if_missing(value)
    _name_if_missing(minutes_later)
    if not isinstance(value, str):
        raise DataError("a time is not an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise DataError("a time is not in ISO 8601") from None
    if moment.tzinfo is None:
        raise DataError("a time has no time zone")
    if not isinstance(minutes_later, int) or isinstance(minutes_later, bool) or not 0 <= minutes_later <= 525_600:
        raise DataError("a number of minutes is not a whole number of at most a year")
    moment = moment.astimezone(UTC) + timedelta(minutes=minutes_later)
    return f"{moment:%H:%M} UTC on {moment.day} {moment:%B %Y}"


def minutes(value: object) -> str:
    _name_if_missing(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 525_600:
        raise DataError("a number of minutes is not a whole number from 1 to a year")
    return "1 minute" if value == 1 else f"{value} minutes"


def web_link(value: object) -> str:
    """An absolute http(s) URL, as it is: a link in a mail must not be able to
    run script (javascript:) or break out of its line."""
    _name_if_missing(value)
    if not isinstance(value, str) or len(value) > 2048:
        raise DataError("a link is not a string of at most 2048 characters")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise DataError("a link holds spaces or control characters")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise DataError("a link is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DataError("a link is not an absolute http(s) URL")
    return value


def ip(value: object) -> str:
    """An IPv4 or IPv6 address, such as where a request came from."""
    _name_if_missing(value)
    if not isinstance(value, str):
        raise DataError("an IP address is not a string")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise DataError("an IP address is not one") from None
