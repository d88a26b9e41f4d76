import pytest

from cotoami_common.config import ConfigError, Env
from cotonomas.config import Config


def test_defaults_suit_the_local_stack(required_environ):
    config = Config.from_env(Env(required_environ))
    assert config.cotos_internal_url == "http://127.0.0.1:8002"
    assert config.public_url == "http://127.0.0.1:8000"


def test_urls_lose_a_trailing_slash(required_environ):
    config = Config.from_env(Env({**required_environ, "COTOS_INTERNAL_URL": "http://cotos:8000/",
                                  "PUBLIC_URL": "https://cotoami.example/"}))
    assert config.cotos_internal_url == "http://cotos:8000"
    assert config.public_url == "https://cotoami.example"


@pytest.mark.parametrize("missing", ["JWT_PUBLIC_KEYS_FILE", "INTERNAL_TOKEN"])
def test_the_token_keys_and_the_service_credential_are_required(required_environ, missing):
    environ = {name: value for name, value in required_environ.items() if name != missing}
    with pytest.raises(ConfigError, match=missing):
        Config.from_env(Env(environ))


def test_the_service_credential_is_read_from_a_file_and_never_shown(required_environ, tmp_path):
    secret = tmp_path / "internal-token"
    secret.write_text("from-a-mounted-secret\n")
    config = Config.from_env(Env({**required_environ, "INTERNAL_TOKEN": "", "INTERNAL_TOKEN_FILE": str(secret)}))
    assert config.internal_token == "from-a-mounted-secret"
    assert "from-a-mounted-secret" not in repr(config)


@pytest.mark.parametrize("environ,named", [
    ({"COTOS_INTERNAL_URL": "cotos:8002"}, "COTOS_INTERNAL_URL"),
    ({"PUBLIC_URL": "ftp://cotoami.example"}, "PUBLIC_URL"),
    ({"JWT_PUBLIC_KEYS_FILE": "/nonexistent/jwks.json"}, "JWT_PUBLIC_KEYS_FILE"),
    ({"INTERNAL_TOKEN": "", "INTERNAL_TOKEN_FILE": "/nonexistent/token"}, "INTERNAL_TOKEN_FILE"),
])
def test_bad_settings_name_the_variable(required_environ, environ, named):
    with pytest.raises(ConfigError, match=named):
        Config.from_env(Env({**required_environ, **environ}))
