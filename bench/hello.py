"""The ceiling `make bench` compares the services against: a bare Falcon app
under gunicorn with the services' own gunicorn configuration, doing nothing
but answer. Run as the services are:

    gunicorn --config python:cotoami_common.gunicorn_conf hello:app
"""

import falcon


def hello(req: falcon.Request, resp: falcon.Response, **groups: str) -> None:
    """A sink: every path, every method (its route has no groups)."""
    resp.media = {"hello": "world"}


app = falcon.App()
app.add_sink(hello, "/")
