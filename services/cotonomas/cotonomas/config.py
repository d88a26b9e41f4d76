from dataclasses import dataclass, field

from cotoami_common.config import Env, ServiceConfig, TokenConfig


@dataclass(frozen=True)
class Limit:
    """At most `count` in each fixed window of `window_seconds`."""

    count: int
    window_seconds: int

    @classmethod
    def from_env(cls, env: Env, name: str, count: int, window_seconds: int) -> "Limit":
        return cls(
            count=env.int(name, count, minimum=1, maximum=1_000_000),
            window_seconds=env.int(f"{name}_WINDOW_SECONDS", window_seconds, minimum=1, maximum=7 * 86400),
        )


@dataclass(frozen=True)
class InvitationLimits:
    """How many invitation mails may go out: each limit is checked on every mail."""

    # As for sign-in mails: an address gets no more than it would from auth, whoever invites it.
    per_recipient: Limit
    # Enough to bring a whole team in at once, few enough that one account is no use as a relay.
    per_inviter: Limit
    # One cotonoma's name (its owner's text, in the subject) goes out in bursts of at most this many.
    per_cotonoma: Limit
    # Re-adding an address mailed for the same cotonoma this recently adds it without a mail.
    quiet_hours: int


@dataclass(frozen=True)
class Config(ServiceConfig):
    tokens: TokenConfig
    # The credential for /internal/ calls, both ways; kept out of repr so it never reaches a log.
    internal_token: str = field(repr=False)
    cotos_internal_url: str
    # The web address in invitation links.
    public_url: str
    invitations: InvitationLimits

    @classmethod
    def from_env(cls, env: Env) -> "Config":
        return cls(
            **ServiceConfig.common_settings(env, "cotonomas"),
            tokens=TokenConfig.from_env(env),
            internal_token=env.secret("INTERNAL_TOKEN"),
            cotos_internal_url=env.url("COTOS_INTERNAL_URL", "http://127.0.0.1:8002").rstrip("/"),
            public_url=env.url("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            invitations=InvitationLimits(
                per_recipient=Limit.from_env(env, "INVITATIONS_PER_RECIPIENT", 5, 900),
                per_inviter=Limit.from_env(env, "INVITATIONS_PER_INVITER", 50, 3600),
                per_cotonoma=Limit.from_env(env, "INVITATIONS_PER_COTONOMA", 20, 900),
                quiet_hours=env.int("INVITATION_QUIET_HOURS", 24, minimum=0, maximum=24 * 30),
            ),
        )
