import pytest

from auth.config import Config
from cotoami_common.config import ConfigError, Env
from cotoami_common.tokens import generate_keys


def test_limits_and_lifetimes_have_safe_defaults(required_environ):
    config = Config.from_env(Env(required_environ))
    assert config.signin_limit_per_address == 5 and config.signin_limit_per_client == 100
    assert config.rate_limit_window_seconds == 900 and config.signin_link_minutes == 10
    assert config.signer.lifetime_seconds == 600
    assert config.gravatar_profile_url is None, "no outside calls unless asked for"


def test_a_signing_key_missing_from_the_key_set_is_refused(required_environ, tmp_path):
    generate_keys(tmp_path)
    with pytest.raises(ConfigError, match="lacks the public half"):
        Config.from_env(Env({**required_environ, "JWT_SIGNING_KEY_FILE": str(tmp_path / "signing-key.pem")}))


@pytest.mark.parametrize(
    "environ,named",
    [
        ({"JWT_SIGNING_KEY_FILE": "/nonexistent"}, "JWT_SIGNING_KEY_FILE"),
        ({"JWT_SIGNING_KEY_FILE": "", "JWT_SIGNING_KEY": "not a key"}, "JWT_SIGNING_KEY"),
        ({"JWT_PUBLIC_KEYS_FILE": "/nonexistent"}, "JWT_PUBLIC_KEYS_FILE"),
        ({"INTERNAL_TOKEN": ""}, "INTERNAL_TOKEN"),
        ({"ACCESS_TOKEN_MINUTES": "0"}, "ACCESS_TOKEN_MINUTES"),
        ({"SIGNIN_LIMIT_PER_CLIENT": "many"}, "SIGNIN_LIMIT_PER_CLIENT"),
        ({"GRAVATAR_PROFILE_URL": "ftp://x"}, "GRAVATAR_PROFILE_URL"),
        ({"PUBLIC_URL": "cotoami"}, "PUBLIC_URL"),
    ],
)
def test_bad_settings_name_the_variable(required_environ, environ, named):
    with pytest.raises(ConfigError, match=named):
        Config.from_env(Env({**required_environ, **environ}))
