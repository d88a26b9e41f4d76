"""Wiring of the mailer service: create_app() for tests, get_app() for gunicorn."""

import os

import falcon

from cotoami_common.backing import Backing
from cotoami_common.config import load_config
from cotoami_common.health import Check, add_health_routes
from cotoami_common.web import new_app
from mailer.config import Config


def create_app(config: Config, checks: dict[str, Check]) -> falcon.App:
    app = new_app(config.max_body_bytes, config.allowed_origins)
    add_health_routes(app, checks)
    return app


def get_app() -> falcon.App:
    config = load_config(Config.from_env, os.environ)
    return create_app(config, checks=Backing.open(config).checks)
