"""A small app on the shared base, for running under the shared gunicorn configuration in tests."""

import falcon

from cotoami_common.health import add_health_routes
from cotoami_common.web import new_app


class Hello:
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        resp.media = {"hello": name}


def get_app() -> falcon.App[falcon.Request, falcon.Response]:
    app = new_app(max_body_bytes=1024, allowed_origins=["http://127.0.0.1:8000"], trusted_proxies=[])
    add_health_routes(app, {})
    app.add_route("/hello/{name}", Hello())
    return app
