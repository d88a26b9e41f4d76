"""The mailer's own settings, beyond those every service reads."""

import pytest

from cotoami_common.config import ConfigError, Env
from mailer.config import Config


def test_defaults_suit_the_local_stack():
    config = Config.from_env(Env({}))
    assert config.smtp_url == "smtp://127.0.0.1:1025"
    assert config.mail_from == "Cotoami <no-reply@cotoami.local>"
    assert config.mail_stream == "mail"
    assert config.mail_max_attempts == 5
    assert config.mail_reclaim_idle_ms == 30_000


def test_settings_are_read():
    config = Config.from_env(
        Env(
            {
                "SMTP_URL": "smtps://user:pw@mail.example.com",
                "MAIL_FROM": "hello@example.com",
                "MAIL_STREAM": "mail:v2",
                "MAIL_MAX_ATTEMPTS": "8",
                "MAIL_RECLAIM_IDLE_MS": "60000",
            }
        )
    )
    assert (config.smtp_url, config.mail_from, config.mail_stream) == (
        "smtps://user:pw@mail.example.com",
        "hello@example.com",
        "mail:v2",
    )
    assert (config.mail_max_attempts, config.mail_reclaim_idle_ms) == (8, 60_000)


@pytest.mark.parametrize(
    "environ,message",
    [
        ({"SMTP_URL": "http://mail.example.com"}, "SMTP_URL must be a smtp/smtps/smtp\\+starttls URL"),
        ({"SMTP_URL": "smtp://mail.example.com:99999"}, "SMTP_URL is malformed: the port"),
        ({"SMTP_URL": "smtp://user@mail.example.com"}, "SMTP_URL is malformed: a user needs a password"),
        ({"MAIL_FROM": "Cotoami"}, "MAIL_FROM is malformed"),
        ({"MAIL_STREAM": "mail stream"}, "MAIL_STREAM is malformed"),
        ({"MAIL_MAX_ATTEMPTS": "0"}, "MAIL_MAX_ATTEMPTS must be between 1 and 100"),
        ({"MAIL_MAX_ATTEMPTS": "many"}, "MAIL_MAX_ATTEMPTS must be an integer"),
        ({"MAIL_RECLAIM_IDLE_MS": "10"}, "MAIL_RECLAIM_IDLE_MS must be between"),
    ],
)
def test_malformed_settings_are_named(environ, message):
    with pytest.raises(ConfigError, match=message):
        Config.from_env(Env(environ))


def test_the_smtp_password_reaches_neither_errors_nor_reprs():
    with pytest.raises(ConfigError) as raised:
        Config.from_env(Env({"SMTP_URL": "smtps://user:hunter2@mail.example.com:99999"}))
    assert "hunter2" not in str(raised.value)
    assert "hunter2" not in repr(Config.from_env(Env({"SMTP_URL": "smtps://user:hunter2@mail.example.com"})))
