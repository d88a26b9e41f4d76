"""The ceiling `make bench` compares the services against: a bare Falcon app
under gunicorn with the services' own gunicorn configuration, doing nothing
but answer. Run as the services are:

    gunicorn --config python:cotoami_common.gunicorn_conf hello:app
"""

import falcon


class Hello:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"hello": "world"}


app = falcon.App()
app.add_sink(Hello().on_get, "/")
