import pytest

from cotoami_common.config import WORKER_BOOT_ERROR, ConfigError, Env, load_config


def test_defaults_apply_when_unset_or_blank():
    env = Env({"BLANK": "  "})
    assert env.str("UNSET", "x") == "x"
    assert env.str("BLANK", "y") == "y"
    assert env.int("UNSET", 5) == 5
    assert env.bool("UNSET", True) is True


def test_required_variable_missing_is_named():
    with pytest.raises(ConfigError, match="SECRET is required"):
        Env({}).str("SECRET")


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda env: env.int("N", 1), "N must be an integer"),
        (lambda env: env.int("BIG", 1, maximum=10), "BIG must be between"),
        (lambda env: env.bool("FLAG", False), "FLAG must be true or false"),
        (lambda env: env.url("DB", schemes=("postgresql",)), "DB must be a postgresql URL"),
        (lambda env: env.str("LEVEL", pattern="INFO|DEBUG"), "LEVEL is malformed"),
        (lambda env: env.origins("ORIGINS", "http://a"), "ORIGINS must list origins"),
    ],
)
def test_malformed_values_are_named(call, message):
    env = Env(
        {"N": "many", "BIG": "11", "FLAG": "perhaps", "DB": "mysql://x/y", "LEVEL": "LOUD", "ORIGINS": "http://a/path"}
    )
    with pytest.raises(ConfigError, match=message):
        call(env)


SECRET_VALUES = [
    "mysql://bob:hunter2@db/cotos",  # a password in a URL of the wrong scheme
    "postgresql://bob:hunter2@",  # ... in a URL that names no host
    "host=db user=bob password=hunter2 dbname=cotos",  # a libpq keyword DSN, which psycopg accepts
    "cG9zdGdyZXNxbDovL2JvYjpodW50ZXIyQGRiL2NvdG9z",  # a Secret left base64-encoded (podman kube play)
]
READERS = [
    lambda env: env.url("S", schemes=("postgresql", "postgres")),
    lambda env: env.int("S", 1),
    lambda env: env.bool("S", False),
    lambda env: env.str("S", pattern="[a-z]+"),
    lambda env: env.origins("S", ""),
    lambda env: env.networks("S", ""),
]


@pytest.mark.parametrize("value", SECRET_VALUES)
@pytest.mark.parametrize("read", READERS)
def test_an_error_names_the_setting_never_its_value(read, value, caplog):
    with pytest.raises(SystemExit):
        load_config(read, {"S": value})
    message = caplog.text
    assert "S " in message
    for part in ("hunter2", value, value[:12]):
        assert part not in message


def test_origins_are_serialized_as_browsers_send_them():
    given = "http://a:8000/, HTTPS://B.Example:443, http://c:80, http://[::1]:8000"
    assert Env({"O": given}).origins("O", "") == ("http://a:8000", "https://b.example", "http://c", "http://[::1]:8000")


@pytest.mark.parametrize(
    "origin",
    [
        "example.com",
        "ftp://a",
        "http://a/path",
        "http://a?x",
        "http://a#x",
        "http://u@a",
        "http://a:99999",
        "http://a:port",
    ],
)
def test_what_is_not_an_origin_is_named(origin):
    with pytest.raises(ConfigError, match="O must list origins"):
        Env({"O": origin}).origins("O", "")


def test_trusted_proxies_are_addresses_and_networks():
    networks = Env({"T": "127.0.0.1/32, ::1/128,10.0.0.0/8,192.0.2.7,fc00::/7"}).networks("T", "")
    assert [str(n) for n in networks] == ["127.0.0.1/32", "::1/128", "10.0.0.0/8", "192.0.2.7/32", "fc00::/7"]
    assert [str(n) for n in Env({}).networks("T", "127.0.0.1/32,::1/128")] == ["127.0.0.1/32", "::1/128"]


@pytest.mark.parametrize("entry", ["localhost", "10.0.0.0/33", "10.0.0.1/8", "10.0.0.0/8;", "::1/129", "*"])
def test_a_bad_trusted_proxy_is_named(entry):
    with pytest.raises(ConfigError, match=r"T must list addresses or networks like 10\.0\.0\.0/8: entry 2 is not one"):
        Env({"T": f"127.0.0.1,{entry}"}).networks("T", "")


def test_load_config_stops_the_worker_so_gunicorn_halts(caplog):
    def from_env(env):
        return env.str("MISSING")

    with pytest.raises(SystemExit) as stop:
        load_config(from_env, {})
    assert stop.value.code == WORKER_BOOT_ERROR
    assert "MISSING is required" in caplog.text


def test_any_variable_can_come_from_a_mounted_file(tmp_path):
    (tmp_path / "url").write_text("postgresql://app:s3cret@db/cotos\n")
    env = Env({"DATABASE_URL_FILE": str(tmp_path / "url"), "DATABASE_URL": "ignored://x"})
    assert env.url("DATABASE_URL", schemes=("postgresql",)) == "postgresql://app:s3cret@db/cotos"


@pytest.mark.parametrize("content,message", [(None, "cannot be read"), ("  \n", "empty file")])
def test_a_bad_mounted_file_is_named(tmp_path, content, message):
    path = tmp_path / "secret"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=f"TOKEN_FILE names .*{message}"):
        Env({"TOKEN_FILE": str(path)}).secret("TOKEN")
