"""SMTP URLs, message composition, and which SMTP errors are final."""

import contextlib
import smtplib
import socket
import ssl
import subprocess
import threading
import uuid
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import free_port

from mailer.jobs import MailJob
from mailer.smtp import SmtpEndpoint, SmtpSender, compose, is_permanent, sender_address
from mailer.templates import RenderedMail


@pytest.mark.parametrize(
    "url,endpoint",
    [
        ("smtp://127.0.0.1:1025", ("smtp", "127.0.0.1", 1025, None, None)),
        ("smtp://mail.example.com", ("smtp", "mail.example.com", 25, None, None)),
        ("smtps://user:p%40ss%3Aword@mail.example.com", ("smtps", "mail.example.com", 465, "user", "p@ss:word")),
        (
            "smtp+starttls://me%40example.com:pw@mail.example.com:2525/",
            ("smtp+starttls", "mail.example.com", 2525, "me@example.com", "pw"),
        ),
        ("smtp://[::1]:1025", ("smtp", "::1", 1025, None, None)),
    ],
)
def test_smtp_urls(url, endpoint):
    parsed = SmtpEndpoint.parse(url)
    assert (parsed.scheme, parsed.host, parsed.port, parsed.username, parsed.password) == endpoint


@pytest.mark.parametrize(
    "url,reason",
    [
        ("http://mail.example.com", "scheme"),
        ("smtp://mail.example.com:0", "port"),
        ("smtp://mail.example.com:70000", "port"),
        ("smtp://mail.example.com:smtp", "port"),
        ("smtp://:25", "no host"),
        ("smtp://mail.example.com/inbox", "only scheme"),
        ("smtp://mail.example.com?tls=1", "only scheme"),
        ("smtp://user@mail.example.com", "needs a password"),
    ],
)
def test_malformed_smtp_urls_say_why(url, reason):
    with pytest.raises(ValueError, match=reason):
        SmtpEndpoint.parse(url)


def test_the_password_stays_out_of_reprs_and_errors():
    assert "hunter2" not in repr(SmtpEndpoint.parse("smtps://user:hunter2@mail.example.com"))
    with pytest.raises(ValueError) as raised:
        SmtpEndpoint.parse("smtps://user:hunter2@mail.example.com:99999")
    assert "hunter2" not in str(raised.value)


def test_sender_address_is_the_bare_address():
    assert sender_address("Cotoami <no-reply@cotoami.local>") == "no-reply@cotoami.local"
    assert sender_address("no-reply@cotoami.local") == "no-reply@cotoami.local"
    for bad in ("Cotoami", "Cotoami <no-reply>", "a@b\r\nBcc: eve@example.com"):
        with pytest.raises(ValueError):
            sender_address(bad)


def test_the_message_has_both_parts_and_an_id_made_from_the_job():
    job = MailJob(id=str(uuid.uuid4()), kind="signin", to="ann@example.com", data={})
    message = compose(job, RenderedMail("Sign in ✓", "text ✓\n", "<p>html ✓</p>\n"), "Cotoami <no-reply@cotoami.local>")
    assert message["Message-ID"] == f"<{job.id}@cotoami.local>"
    assert (message["From"], message["To"], message["Subject"]) == (
        "Cotoami <no-reply@cotoami.local>",
        "ann@example.com",
        "Sign in ✓",
    )
    assert message["Auto-Submitted"] == "auto-generated" and message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content() for part in message.iter_parts()] == ["text ✓\n", "<p>html ✓</p>\n"]
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]


@pytest.mark.parametrize(
    "error,permanent",
    [
        (smtplib.SMTPRecipientsRefused({"ann@example.com": (550, b"no such user")}), True),
        (smtplib.SMTPRecipientsRefused({"ann@example.com": (451, b"try later")}), False),
        (smtplib.SMTPDataError(554, b"rejected as spam"), True),
        (smtplib.SMTPDataError(452, b"insufficient storage"), False),
        (smtplib.SMTPSenderRefused(550, b"not our sender", "no-reply@cotoami.local"), False),
        (smtplib.SMTPAuthenticationError(535, b"bad credentials"), False),
        (smtplib.SMTPServerDisconnected("gone"), False),
        (ConnectionRefusedError(), False),
        (TimeoutError(), False),
    ],
)
def test_only_a_5xx_about_this_message_is_final(error, permanent):
    assert is_permanent(error) is permanent


def a_message() -> EmailMessage:
    job = MailJob(id=str(uuid.uuid4()), kind="signin", to="ann@example.com", data={})
    return compose(job, RenderedMail("s", "t", "h"), "no-reply@cotoami.local")


def test_sending_to_a_closed_port_fails_at_once():
    with pytest.raises(ConnectionRefusedError):
        SmtpSender(SmtpEndpoint.parse(f"smtp://127.0.0.1:{free_port()}")).send(a_message())


def test_sending_hands_the_message_to_the_server(maildev):
    message = a_message()
    SmtpSender(SmtpEndpoint.parse(maildev.smtp_url)).send(message)
    [mail] = maildev.wait_for(1)
    assert mail["messageId"] == message["Message-ID"].strip("<>")
    assert mail["envelope"]["to"][0]["address"] == "ann@example.com"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_smtps_logs_in_over_tls_to_a_server_it_trusts(maildev_factory, certificate, monkeypatch):
    cert, key = certificate
    server = maildev_factory(
        options=(
            "--incoming-secure",
            "--incoming-cert",
            str(cert),
            "--incoming-key",
            str(key),
            "--incoming-user",
            "mailer",
            "--incoming-pass",
            "p@ss:word",
        )
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # OpenSSL's default trust store, for this test only
    wrong = SmtpSender(SmtpEndpoint.parse(f"smtps://mailer:wrong@127.0.0.1:{server.smtp_port}"))
    with pytest.raises(smtplib.SMTPAuthenticationError):
        wrong.send(a_message())

    message = a_message()
    SmtpSender(SmtpEndpoint.parse(f"smtps://mailer:p%40ss%3Aword@127.0.0.1:{server.smtp_port}")).send(message)
    [mail] = server.wait_for(1)
    assert mail["messageId"] == message["Message-ID"].strip("<>")


def test_smtps_refuses_a_server_certificate_it_cannot_verify(certificate):
    cert, key = certificate
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with socket.create_server(("127.0.0.1", free_port())) as listener:

        def handshake() -> None:
            conn, _ = listener.accept()
            with conn, contextlib.suppress(OSError):
                tls.wrap_socket(conn, server_side=True)

        server = threading.Thread(target=handshake)
        server.start()
        with pytest.raises(ssl.SSLCertVerificationError):
            SmtpSender(SmtpEndpoint.parse(f"smtps://127.0.0.1:{listener.getsockname()[1]}")).send(a_message())
        server.join()
