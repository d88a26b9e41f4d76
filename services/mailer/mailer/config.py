from dataclasses import dataclass, field

from cotoami_common.config import ConfigError, Env, ServiceConfig
from mailer.smtp import SMTP_SCHEMES, SmtpEndpoint, sender_address


@dataclass(frozen=True)
class Config(ServiceConfig):
    # May carry the SMTP password; kept out of repr so it never reaches a log.
    smtp_url: str = field(repr=False)
    mail_from: str
    mail_stream: str
    mail_max_attempts: int
    # A job read by a consumer that has not settled it for this long is taken
    # to be abandoned (its consumer died) and is handed to another one; so is
    # an attempt that has run this long. Keep it well above the longest SMTP
    # conversation (a few times mailer.smtp.SMTP_TIMEOUT), or a slow server
    # gets the same mail twice.
    mail_reclaim_idle_ms: int

    @classmethod
    def from_env(cls, env: Env) -> "Config":
        smtp_url = env.url("SMTP_URL", "smtp://127.0.0.1:1025", schemes=SMTP_SCHEMES)
        try:
            SmtpEndpoint.parse(smtp_url)
        except ValueError as error:
            raise ConfigError(f"SMTP_URL is malformed: {error}") from None
        mail_from = env.str("MAIL_FROM", "Cotoami <no-reply@cotoami.local>")
        try:
            sender_address(mail_from)
        except ValueError as error:
            raise ConfigError(f"MAIL_FROM is malformed: {error}") from None
        return cls(
            **ServiceConfig.common_settings(env, "mailer"),
            smtp_url=smtp_url,
            mail_from=mail_from,
            mail_stream=env.str("MAIL_STREAM", "mail", pattern=r"[A-Za-z0-9][A-Za-z0-9:._-]{0,99}"),
            mail_max_attempts=env.int("MAIL_MAX_ATTEMPTS", 5, minimum=1, maximum=100),
            mail_reclaim_idle_ms=env.int("MAIL_RECLAIM_IDLE_MS", 30_000, minimum=100, maximum=24 * 3600 * 1000),
        )
