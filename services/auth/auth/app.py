"""Wiring of the auth service: create_app() for tests, get_app() for gunicorn."""

import os
from dataclasses import dataclass

import falcon

from auth.config import Config
from auth.cotos_client import CotosClient
from auth.profiles import Profiles
from auth.resources import (
    ERROR_ANSWERS,
    AnonymousCotoClaims,
    LinkResource,
    RefreshResource,
    SessionCookies,
    SessionResource,
    SigninResource,
    signed_out,
)
from auth.store import AccountStore, SessionEnded
from cotoami_common.backing import PeopleFacingDependencies
from cotoami_common.config import load_config
from cotoami_common.web import service_app


@dataclass(frozen=True, kw_only=True)
class Dependencies(PeopleFacingDependencies):
    profiles: Profiles
    cotos: CotosClient

    @classmethod
    def open(cls, config: Config) -> "Dependencies":
        backing = cls.open_people_facing(config, config.tokens, config.rate_limit_window_seconds)
        return cls(
            **backing,
            profiles=Profiles(
                config.gravatar_url, config.gravatar_profile_url, config.gravatar_timeout_seconds, backing["redis"]
            ),
            cotos=CotosClient(config.cotos_internal_url, config.internal_token),
        )


def create_app(config: Config, deps: Dependencies) -> falcon.App[falcon.Request, falcon.Response]:
    # Sessions are read by the resources themselves: signing in must work even
    # with a stale access cookie, so auth does not use the Authentication middleware.
    app = service_app(config, deps, error_answers=ERROR_ANSWERS)
    app.add_error_handler(SessionEnded, signed_out)
    accounts = AccountStore(deps.pool)
    cookies = SessionCookies(config, deps.profiles)
    claims = AnonymousCotoClaims(accounts, deps.cotos)
    sessions = SessionResource(config, accounts, deps.limits, deps.verifier, deps.profiles, cookies, claims)
    app.add_route("/api/auth/signin", SigninResource(config, accounts, deps.limits, deps.redis))
    app.add_route("/api/auth/link", LinkResource(config, accounts, deps.limits, deps.cotos))
    app.add_route("/api/auth/session", sessions)
    app.add_route("/api/auth/refresh", RefreshResource(config, accounts, cookies, claims))
    return app


def get_app() -> falcon.App[falcon.Request, falcon.Response]:
    config = load_config(Config.from_env, os.environ)
    return create_app(config, Dependencies.open(config))
