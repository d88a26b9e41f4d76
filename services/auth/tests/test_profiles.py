import hashlib
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from auth.profiles import Profiles
from cotoami_testing.fixtures import serving

DIGEST = hashlib.sha256(b"ann@example.com").hexdigest()
# Names the profile server knows, by the digest it is asked for.
NAMES = {
    DIGEST: "Ann Lee",
    hashlib.sha256(b"nul@example.com").hexdigest(): "Ann\x00Lee",
    hashlib.sha256(b"lines@example.com").hexdigest(): "Ann\nLee",
}


class ProfileServer(BaseHTTPRequestHandler):
    """A real HTTP server on this machine in place of Gravatar's profile API."""

    server: "ProfileHTTPServer"

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.server.delay:
            time.sleep(self.server.delay)
        name = NAMES.get(self.path.rsplit("/", 1)[-1])
        body = json.dumps({"display_name": name}).encode() if name else b"{}"
        self.send_response(200 if name else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class ProfileHTTPServer(ThreadingHTTPServer):
    """The profile server, with the paths it was asked for and how long it takes to answer."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ProfileServer)
        self.requests: list[str] = []
        self.delay: float = 0


@pytest.fixture
def profile_server():
    server = ProfileHTTPServer()
    with serving(server):
        yield server


def profiles(server, redis, timeout=1.0) -> Profiles:
    return Profiles("https://avatars.test/", f"http://127.0.0.1:{server.server_port}/profiles/", timeout, redis)


def test_avatar_is_the_hash_of_the_normalised_address(redis):
    avatar = Profiles("https://avatars.test/", None, 1, redis).avatar(" Ann@Example.com ")
    assert avatar == f"https://avatars.test/{DIGEST}?d=identicon&s=160"


def test_names_are_looked_up_only_when_configured(redis):
    assert Profiles("https://avatars.test/", None, 1, redis).display_name("ann@example.com") is None


def test_a_profile_name_is_used_and_cached(profile_server, redis):
    lookup = profiles(profile_server, redis)
    assert lookup.display_name("ann@example.com") == "Ann Lee"
    assert lookup.display_name("ann@example.com") == "Ann Lee"
    assert profile_server.requests == [f"/profiles/{DIGEST}"]


def test_no_profile_falls_back_and_is_remembered(profile_server, redis):
    lookup = profiles(profile_server, redis)
    assert lookup.display_name("bob@example.com") is None
    assert lookup.display_name("bob@example.com") is None
    assert len(profile_server.requests) == 1


def test_a_slow_profile_service_does_not_hold_sign_in(profile_server, redis):
    profile_server.delay = 2
    started = time.monotonic()
    assert profiles(profile_server, redis, timeout=0.2).display_name("ann@example.com") is None
    assert time.monotonic() - started < 1


def test_an_unreachable_profile_service_falls_back(redis):
    assert Profiles("https://avatars.test/", "http://127.0.0.1:1/", 0.5, redis).display_name("ann@example.com") is None


@pytest.mark.parametrize("email", ["nul@example.com", "lines@example.com"])
def test_a_profile_name_with_control_characters_is_not_used(profile_server, redis, email):
    assert profiles(profile_server, redis).display_name(email) is None
