"""Composing a rendered mail into a message and handing it to the SMTP server."""

import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import unquote, urlsplit

from mailer.jobs import MailJob
from mailer.templates import RenderedMail

# smtp: plain (local maildev); smtps: TLS from the first byte (port 465);
# smtp+starttls: plain, then upgraded with STARTTLS before anything is said (port 587).
SMTP_SCHEMES = ("smtp", "smtps", "smtp+starttls")
DEFAULT_PORTS = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}

# Seconds for connecting and for each reply. Short, so that a server that
# hangs costs one failed attempt rather than a stuck worker, and a stopping
# worker finishes its job within gunicorn's graceful timeout.
SMTP_TIMEOUT = 10.0


@dataclass(frozen=True)
class SmtpEndpoint:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)

    @classmethod
    def parse(cls, url: str) -> "SmtpEndpoint":
        """Raises ValueError, never quoting the password."""
        parts = urlsplit(url)
        if parts.scheme not in SMTP_SCHEMES:
            raise ValueError(f"the scheme must be one of {', '.join(SMTP_SCHEMES)}")
        try:
            port = DEFAULT_PORTS[parts.scheme] if parts.port is None else parts.port
        except ValueError:
            port = 0
        if not 1 <= port <= 65535:
            raise ValueError("the port must be a number from 1 to 65535")
        if not parts.hostname:
            raise ValueError("it names no host")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("it must be only scheme://[user:password@]host[:port]")
        if (parts.username is None) != (parts.password is None):
            raise ValueError("a user needs a password and a password needs a user")
        return cls(
            scheme=parts.scheme,
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
        )


def sender_address(mail_from: str) -> str:
    """The bare address in a From value such as 'Cotoami <no-reply@cotoami.local>'."""
    if "\r" in mail_from or "\n" in mail_from:
        raise ValueError("it must be one line")
    _, address = parseaddr(mail_from)
    local, at, domain = address.rpartition("@")
    if not (local and at and domain) or " " in address:
        raise ValueError("it must be an address such as 'Cotoami <no-reply@example.com>'")
    return address


def compose(job: MailJob, mail: RenderedMail, mail_from: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = job.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    # Derived from the job, so that a mail sent twice after a crash is still
    # recognisably one message to the receiving end.
    message["Message-ID"] = f"<{job.id}@{sender_address(mail_from).rpartition('@')[2]}>"
    # RFC 3834: tells auto-responders (out-of-office and the like) not to answer.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def is_permanent(error: Exception) -> bool:
    """Whether the server refused this message for good (a 5xx reply about the
    recipient or the content), so that trying again cannot help."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPDataError) and 500 <= error.smtp_code < 600


class SmtpSender:
    def __init__(self, endpoint: SmtpEndpoint, timeout: float = SMTP_TIMEOUT):
        self.endpoint = endpoint
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        """Returns once the server has accepted the message; raises
        smtplib.SMTPException or OSError otherwise."""
        endpoint = self.endpoint
        client: smtplib.SMTP
        if endpoint.scheme == "smtps":
            client = smtplib.SMTP_SSL(
                endpoint.host, endpoint.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(endpoint.host, endpoint.port, timeout=self.timeout)
        try:
            if endpoint.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
            if endpoint.username is not None and endpoint.password is not None:  # parse: both or neither
                client.login(endpoint.username, endpoint.password)
            client.send_message(message)
        finally:
            # Once the message is accepted, a failed goodbye changes nothing.
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
