from cotoami_common.config import Env
from cotonomas.config import Config


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
