import pytest

from cotoami_common.config import ConfigError, Env
from cotonomas.config import Config, InvitationLimits, Limit


def test_defaults_suit_the_local_stack(required_environ):
    config = Config.from_env(Env(required_environ))
    assert config.cotos_internal_url == "http://127.0.0.1:8002"
    assert config.public_url == "http://127.0.0.1:8000"


def test_urls_lose_a_trailing_slash(required_environ):
    config = Config.from_env(
        Env({**required_environ, "COTOS_INTERNAL_URL": "http://cotos:8000/", "PUBLIC_URL": "https://cotoami.example/"})
    )
    assert config.cotos_internal_url == "http://cotos:8000"
    assert config.public_url == "https://cotoami.example"


def test_invitation_limits_default_to_those_of_sign_in_mails_and_more(required_environ):
    invitations = Config.from_env(Env(required_environ)).invitations
    assert invitations.per_recipient == Limit(5, 900)
    assert invitations.per_inviter == Limit(50, 3600)
    assert invitations.per_cotonoma == Limit(20, 900)
    assert invitations.quiet_hours == 24


def test_invitation_limits_are_set_from_the_environment(required_environ):
    settings = {
        "INVITATIONS_PER_RECIPIENT": "3",
        "INVITATIONS_PER_RECIPIENT_WINDOW_SECONDS": "60",
        "INVITATIONS_PER_INVITER": "7",
        "INVITATIONS_PER_INVITER_WINDOW_SECONDS": "86400",
        "INVITATIONS_PER_COTONOMA": "2",
        "INVITATIONS_PER_COTONOMA_WINDOW_SECONDS": "30",
        "INVITATION_QUIET_HOURS": "0",
    }
    invitations = Config.from_env(Env({**required_environ, **settings})).invitations
    assert invitations == InvitationLimits(Limit(3, 60), Limit(7, 86400), Limit(2, 30), quiet_hours=0)


@pytest.mark.parametrize(
    "name,value",
    [
        ("INVITATIONS_PER_RECIPIENT", "0"),
        ("INVITATIONS_PER_INVITER", "many"),
        ("INVITATIONS_PER_COTONOMA_WINDOW_SECONDS", "0"),
        ("INVITATIONS_PER_RECIPIENT_WINDOW_SECONDS", str(8 * 86400)),
        ("INVITATION_QUIET_HOURS", "-1"),
    ],
)
def test_bad_invitation_limits_are_refused_by_name(required_environ, name, value):
    with pytest.raises(ConfigError, match=name):
        Config.from_env(Env({**required_environ, name: value}))
