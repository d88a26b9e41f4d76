import hashlib
import threading

import pytest
from falcon import testing

from auth.app import create_app
from auth.config import Config
from cotoami_common.config import Env
from cotoami_common.tokens import AccessTokenVerifier
from cotoami_testing.fixtures import INTERNAL_TOKEN, new_amishi

SIGNIN = "/api/auth/signin"
SESSION = "/api/auth/session"
REFRESH = "/api/auth/refresh"


def request_link(client, mail_jobs, email="ann@example.com", headers=None, **extra):
    result = client.simulate_post(SIGNIN, json={"email": email, **extra}, headers=headers or {})
    assert result.status_code == 202, result.text
    return mail_jobs()[-1]["data"]["link"].rsplit("/", 1)[1]


def sign_in(client, mail_jobs, email="ann@example.com"):
    token = request_link(client, mail_jobs, email)
    result = client.simulate_post(SESSION, json={"token": token})
    assert result.status_code == 200, result.text
    return result


def cookies_of(result) -> dict[str, str]:
    return {name: cookie.value for name, cookie in result.cookies.items()}


def cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}


# --- requesting a link


def test_signin_mails_a_link_and_answers_alike_for_any_address(client, mail_jobs):
    first = client.simulate_post(SIGNIN, json={"email": "  Ann@Example.COM "}, headers={"X-Real-IP": "203.0.113.9"})
    second = client.simulate_post(SIGNIN, json={"email": "nobody-ever@example.org"})
    assert first.status_code == second.status_code == 202
    assert first.json == second.json and first.json["expires_minutes"] == 10
    job = mail_jobs()[0]
    assert job["kind"] == "signin" and job["to"] == "ann@example.com"
    assert job["data"]["link"].startswith("http://127.0.0.1:8000/signin/")
    assert job["data"]["expires_minutes"] == 10
    assert job["data"]["requested_from"] == "203.0.113.9"
    assert len(job["id"]) == 36


@pytest.mark.parametrize(
    "body,status",
    [
        ({"email": "not-an-address"}, 400),
        ({"email": "a@b"}, 400),
        ({"email": "a b@example.com"}, 400),
        ({"email": "a@exa mple.com"}, 400),
        ({"email": "<script>@example.com"}, 400),
        ({"email": "x" * 65 + "@example.com"}, 400),
        ({"email": "a@" + "b" * 250 + ".com"}, 400),
        ({"email": ""}, 400),
        ({"email": 42}, 400),
        ({"email": None}, 400),
        ({}, 400),
        ({"email": "ann@example.com", "save_anonymous": "yes"}, 400),
        ({"email": "ann@example.com", "admin": True}, 400),
    ],
)
def test_bad_signin_requests_are_refused_and_mail_nothing(client, mail_jobs, body, status):
    result = client.simulate_post(SIGNIN, json=body)
    assert result.status_code == status and "title" in result.json
    assert mail_jobs() == []


def test_five_mails_per_address_then_429_without_mail(client, mail_jobs):
    for n in range(5):
        assert (
            client.simulate_post(SIGNIN, json={"email": "ann@example.com" if n % 2 else "ANN@example.com"}).status_code
            == 202
        )
    refused = client.simulate_post(SIGNIN, json={"email": "ann@example.com"})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 900
    assert len(mail_jobs()) == 5
    assert client.simulate_post(SIGNIN, json={"email": "bob@example.com"}).status_code == 202


def test_per_client_limit_uses_the_gateways_address(environ, mail_jobs, deps):
    config = Config.from_env(Env({**environ, "SIGNIN_LIMIT_PER_CLIENT": "3"}))
    client = testing.TestClient(create_app(config, deps))
    office = {"X-Real-IP": "198.51.100.7"}
    for n in range(3):
        assert client.simulate_post(SIGNIN, json={"email": f"p{n}@example.com"}, headers=office).status_code == 202
    assert client.simulate_post(SIGNIN, json={"email": "p9@example.com"}, headers=office).status_code == 429
    assert (
        client.simulate_post(
            SIGNIN, json={"email": "p9@example.com"}, headers={"X-Real-IP": "198.51.100.8"}
        ).status_code
        == 202
    )


# --- redeeming a link


def test_redeeming_signs_in_with_cookies_and_a_profile(client, mail_jobs, token_keys):
    result = sign_in(client, mail_jobs, "Ann.Lee@Example.com")
    amishi = result.json["amishi"]
    assert amishi["email"] == "ann.lee@example.com" and amishi["display_name"] == "ann.lee"
    digest = hashlib.sha256(b"ann.lee@example.com").hexdigest()
    assert amishi["avatar_url"] == f"https://www.gravatar.com/avatar/{digest}?d=identicon&s=160"
    access, refresh = result.cookies["access_token"], result.cookies["refresh_token"]
    assert access.http_only and access.same_site == "Lax" and access.path == "/"
    assert refresh.http_only and refresh.same_site == "Lax" and refresh.path == "/api/auth/"
    verified = AccessTokenVerifier(token_keys.jwks, "cotoami-auth", "cotoami").verify(access.value)
    assert verified.id == amishi["id"] and verified.email == "ann.lee@example.com"


def test_a_link_works_once(client, mail_jobs):
    token = request_link(client, mail_jobs)
    assert client.simulate_post(SESSION, json={"token": token}).status_code == 200
    again = client.simulate_post(SESSION, json={"token": token})
    assert again.status_code == 410 and again.json["title"] == "Sign-in link already used"


def test_an_expired_link_is_refused(client, mail_jobs, db):
    token = request_link(client, mail_jobs)
    db.execute(
        "UPDATE signin_tokens SET created_at = now() - interval '11 minutes', expires_at = now() - interval '1 minute'"
    )
    result = client.simulate_post(SESSION, json={"token": token})
    assert result.status_code == 410 and result.json["title"] == "Sign-in link expired"


@pytest.mark.parametrize("body", [{"token": "A" * 43}, {"token": "short"}, {"token": "!" * 43}, {"token": 5}, {}])
def test_unknown_or_malformed_links_are_refused(client, body):
    result = client.simulate_post(SESSION, json=body)
    assert result.status_code == 400 and "access_token" not in result.cookies


def test_two_concurrent_uses_exactly_one_succeeds(client, mail_jobs):
    token = request_link(client, mail_jobs)
    statuses, barrier = [], threading.Barrier(4)

    def use():
        barrier.wait()
        statuses.append(client.simulate_post(SESSION, json={"token": token}).status_code)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 410, 410, 410]


def test_the_same_address_is_the_same_amishi(client, mail_jobs, db):
    first = sign_in(client, mail_jobs, "ann@example.com").json["amishi"]
    second = sign_in(client, mail_jobs, " ANN@example.com").json["amishi"]
    assert first["id"] == second["id"]
    assert db.execute("SELECT count(*) FROM amishis").fetchone()[0] == 1


def test_the_link_token_is_stored_hashed(client, mail_jobs, db):
    token = request_link(client, mail_jobs)
    stored = db.execute("SELECT token_hash FROM signin_tokens").fetchone()[0]
    assert bytes(stored) == hashlib.sha256(token.encode()).digest() and token.encode() not in bytes(stored)


# --- the session


def test_session_shows_who_is_signed_in(client, mail_jobs):
    assert client.simulate_get(SESSION).json == {"amishi": None}
    cookies = cookies_of(sign_in(client, mail_jobs))
    amishi = client.simulate_get(SESSION, headers=cookie_header(cookies)).json["amishi"]
    assert set(amishi) == {"id", "email", "display_name", "avatar_url"} and amishi["email"] == "ann@example.com"


def test_an_expired_access_token_asks_for_a_refresh(client, token_keys):
    expired = token_keys.access_token(new_amishi(), now=0)
    result = client.simulate_get(SESSION, headers=cookie_header({"access_token": expired}))
    assert result.status_code == 401 and result.json["title"] == "Session expired"


def test_signing_in_works_over_a_stale_access_cookie(client, mail_jobs, token_keys):
    token = request_link(client, mail_jobs)
    stale = cookie_header({"access_token": token_keys.access_token(new_amishi(), now=0)})
    assert client.simulate_post(SESSION, json={"token": token}, headers=stale).status_code == 200


def test_refresh_rotates_the_refresh_token(client, mail_jobs):
    cookies = cookies_of(sign_in(client, mail_jobs))
    refreshed = client.simulate_post(REFRESH, json={}, headers=cookie_header(cookies))
    assert refreshed.status_code == 200 and refreshed.json["amishi"]["email"] == "ann@example.com"
    new = cookies_of(refreshed)
    assert new["refresh_token"] != cookies["refresh_token"] and new["access_token"]
    again = client.simulate_post(REFRESH, json={}, headers=cookie_header(new))
    assert again.status_code == 200


def test_two_tabs_refreshing_at_once_both_succeed(client, mail_jobs):
    cookies = cookies_of(sign_in(client, mail_jobs))
    first = client.simulate_post(REFRESH, json={}, headers=cookie_header(cookies))
    second = client.simulate_post(REFRESH, json={}, headers=cookie_header(cookies))
    assert first.status_code == second.status_code == 200
    assert "refresh_token" not in second.cookies, "the browser keeps the token the first refresh set"


def test_a_rotated_token_coming_back_later_ends_the_session(client, mail_jobs, db):
    old = cookies_of(sign_in(client, mail_jobs))
    new = cookies_of(client.simulate_post(REFRESH, json={}, headers=cookie_header(old)))
    db.execute("UPDATE refresh_tokens SET rotated_at = now() - interval '1 hour' WHERE rotated_at IS NOT NULL")
    stolen = client.simulate_post(REFRESH, json={}, headers=cookie_header(old))
    assert stolen.status_code == 401
    assert client.simulate_post(REFRESH, json={}, headers=cookie_header(new)).status_code == 401


def test_sign_out_revokes_and_clears(client, mail_jobs):
    cookies = cookies_of(sign_in(client, mail_jobs))
    out = client.simulate_delete(SESSION, headers=cookie_header(cookies))
    assert out.status_code == 204
    assert out.cookies["access_token"].value == "" and out.cookies["refresh_token"].value == ""
    refused = client.simulate_post(REFRESH, json={}, headers=cookie_header(cookies))
    assert refused.status_code == 401 and refused.cookies["access_token"].value == ""


@pytest.mark.parametrize("cookie", ["", "refresh_token=nonsense", "refresh_token=" + "A" * 43])
def test_refresh_without_a_good_token_is_401(client, cookie):
    assert client.simulate_post(REFRESH, json={}, headers={"Cookie": cookie} if cookie else {}).status_code == 401


def test_cross_site_sign_out_and_refresh_are_refused(client, mail_jobs):
    cookies = cookie_header(cookies_of(sign_in(client, mail_jobs)))
    evil = {**cookies, "Origin": "https://evil.example"}
    assert client.simulate_delete(SESSION, headers=evil).status_code == 403
    assert client.simulate_post(REFRESH, json={}, headers=evil).status_code == 403
    form = {**cookies, "Content-Type": "application/x-www-form-urlencoded"}
    assert client.simulate_post(REFRESH, body="", headers=form).status_code == 415
    assert client.simulate_post(REFRESH, json={}, headers=cookies).status_code == 200


# --- saving the anonymous cotos


def test_the_requesting_browsers_pad_is_claimed_on_sign_in(client, mail_jobs, cotos_double, db):
    pad = "ab" * 16
    token = request_link(client, mail_jobs, save_anonymous=True, headers={"Cookie": f"anonymous_id={pad}"})
    signed_in = client.simulate_post(SESSION, json={"token": token})  # from another device: no cookie
    amishi = signed_in.json["amishi"]
    assert signed_in.json["saved_cotos"] == 2, "what cotos moved, said once to the web client"
    assert cotos_double.claims == [
        {
            "body": {"anonymous_id": pad, "amishi": {k: amishi[k] for k in ("id", "display_name", "avatar_url")}},
            "authorization": f"Bearer {INTERNAL_TOKEN}",
        }
    ]
    assert db.execute("SELECT done_at IS NOT NULL FROM anonymous_claims").fetchone() == (True,)


def test_without_save_anonymous_nothing_is_claimed(client, mail_jobs, cotos_double, db):
    token = request_link(client, mail_jobs, headers={"Cookie": "anonymous_id=" + "cd" * 16})
    assert client.simulate_post(SESSION, json={"token": token}).json["saved_cotos"] == 0
    assert cotos_double.claims == [] and db.execute("SELECT count(*) FROM anonymous_claims").fetchone() == (0,)


def test_a_claim_cotos_could_not_take_is_retried_later(client, mail_jobs, cotos_double, db):
    cotos_double.answer = 503
    token = request_link(client, mail_jobs, save_anonymous=True, headers={"Cookie": "anonymous_id=" + "ef" * 16})
    signed_in = client.simulate_post(SESSION, json={"token": token})
    assert signed_in.status_code == 200, "signing in does not wait on cotos"
    assert signed_in.json["saved_cotos"] is None, "not saved yet: how many is not known"
    assert db.execute("SELECT done_at FROM anonymous_claims").fetchone() == (None,)
    cotos_double.answer = 200
    client.simulate_get(SESSION, headers=cookie_header(cookies_of(signed_in)))
    assert len(cotos_double.claims) == 2
    assert db.execute("SELECT done_at IS NOT NULL FROM anonymous_claims").fetchone() == (True,)


# --- the confirm page's look at a link


def test_a_link_can_be_looked_at_without_consuming_it(client, mail_jobs):
    token = request_link(client, mail_jobs, "annabel@example.com")
    for _ in range(2):
        looked = client.simulate_post("/api/auth/link", json={"token": token})
        assert looked.status_code == 200 and looked.json == {
            "email": "annabel@example.com",
            "email_hint": "a…@example.com",
            "anonymous_cotos": 0,
        }
    assert client.simulate_post(SESSION, json={"token": token}).status_code == 200
    used = client.simulate_post("/api/auth/link", json={"token": token})
    assert used.status_code == 410 and used.json["title"] == "Sign-in link already used"


@pytest.mark.parametrize("body", [{"token": "B" * 43}, {"token": "x"}, {"token": None}, {"token": "A" * 43, "more": 1}])
def test_looking_at_a_bad_link_is_4xx(client, body):
    assert client.simulate_post("/api/auth/link", json=body).status_code == 400


# --- what the confirm page says of the anonymous cotos, and declining them

LINK = "/api/auth/link"


def link_saving(client, mail_jobs, pad: str, save_anonymous: bool = True):
    return request_link(client, mail_jobs, save_anonymous=save_anonymous, headers={"Cookie": f"anonymous_id={pad}"})


def test_the_confirm_page_is_told_how_many_cotos_the_link_would_save(client, mail_jobs, cotos_double):
    pad = "ab" * 16
    cotos_double.pads[pad] = 3
    token = link_saving(client, mail_jobs, pad)
    looked = client.simulate_post(LINK, json={"token": token})
    assert looked.json == {"email": "ann@example.com", "email_hint": "a…@example.com", "anonymous_cotos": 3}
    assert cotos_double.asked == [
        {"path": f"/internal/anonymous-pads/{pad}", "authorization": f"Bearer {INTERNAL_TOKEN}"}
    ]
    assert cotos_double.claims == [], "looking claims nothing"


@pytest.mark.parametrize(
    "cookie,save_anonymous", [({"Cookie": "anonymous_id=" + "cd" * 16}, False), ({}, True)], ids=["unasked", "no pad"]
)
def test_a_link_saving_nothing_counts_nothing_and_asks_nobody(client, mail_jobs, cotos_double, cookie, save_anonymous):
    cotos_double.pads["cd" * 16] = 3
    token = request_link(client, mail_jobs, save_anonymous=save_anonymous, headers=cookie)
    assert client.simulate_post(LINK, json={"token": token}).json["anonymous_cotos"] == 0
    assert cotos_double.asked == []


def test_a_pad_cotos_never_issued_counts_0(client, mail_jobs, cotos_double):
    token = link_saving(client, mail_jobs, "0" * 32)
    assert client.simulate_post(LINK, json={"token": token}).json["anonymous_cotos"] == 0


def test_when_cotos_cannot_count_the_page_hears_null_and_signing_in_works(client, mail_jobs, cotos_double):
    cotos_double.pads["ef" * 16] = 3
    cotos_double.answer = 503
    token = link_saving(client, mail_jobs, "ef" * 16)
    looked = client.simulate_post(LINK, json={"token": token})
    assert looked.status_code == 200 and looked.json["anonymous_cotos"] is None
    cotos_double.answer = 200
    assert client.simulate_post(SESSION, json={"token": token}).status_code == 200


def test_declining_signs_in_and_claims_nothing(client, mail_jobs, cotos_double, db):
    token = link_saving(client, mail_jobs, "ab" * 16)
    signed_in = client.simulate_post(SESSION, json={"token": token, "save_anonymous": False})
    assert signed_in.status_code == 200 and signed_in.cookies["access_token"].value
    assert signed_in.json["saved_cotos"] == 0
    assert cotos_double.claims == [] and db.execute("SELECT count(*) FROM anonymous_claims").fetchone() == (0,)
    again = client.simulate_post(SESSION, json={"token": token, "save_anonymous": True})
    assert again.status_code == 410, "declined or not, the link works once"
    assert cotos_double.claims == []


def test_accepting_explicitly_claims_as_the_default_does(client, mail_jobs, cotos_double):
    token = link_saving(client, mail_jobs, "ab" * 16)
    assert client.simulate_post(SESSION, json={"token": token, "save_anonymous": True}).status_code == 200
    assert [claim["body"]["anonymous_id"] for claim in cotos_double.claims] == ["ab" * 16]


def test_save_anonymous_never_adds_a_pad_the_link_did_not_ask_for(client, mail_jobs, cotos_double):
    token = request_link(client, mail_jobs, headers={"Cookie": "anonymous_id=" + "ab" * 16})
    assert client.simulate_post(SESSION, json={"token": token, "save_anonymous": True}).status_code == 200
    assert cotos_double.claims == []


@pytest.mark.parametrize("value", ["no", 0, None, [False]])
def test_a_bad_save_anonymous_is_400_and_consumes_nothing(client, mail_jobs, value):
    token = link_saving(client, mail_jobs, "ab" * 16)
    refused = client.simulate_post(SESSION, json={"token": token, "save_anonymous": value})
    assert refused.status_code == 400 and refused.json["title"] == "Invalid save_anonymous"
    assert client.simulate_post(LINK, json={"token": token}).status_code == 200, "the link still works"
