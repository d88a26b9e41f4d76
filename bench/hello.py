"""The ceilings `make bench` compares the services against: a bare Falcon app
under gunicorn with the services' own gunicorn configuration. Run as the
services are:

    gunicorn --config python:cotoami_common.gunicorn_conf hello:app

`hello`: every path answers {"hello": "world"}, doing nothing else.
`hello-page` (/api/cotos/page): a page of 50 cotos of the contract's shape,
built in Python from rows as a driver returns them (UUIDs, datetimes) and
encoded by Falcon's own JSON handler, as a service without storage would:
what a page costs to make and send, and no more.
"""

import uuid
from datetime import UTC, datetime, timedelta

import falcon

PAGE_SIZE = 50
_AUTHOR = (uuid.UUID("0190f0a0-0000-7000-8000-000000000001"), "Amishi One", "https://www.gravatar.com/avatar/0")
_NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
# (id, content, posted_in_key, posted_in_name, cotonoma_key, created_at, updated_at)
_ROWS = [
    (
        uuid.UUID(int=0x0190F0A0_0000_7000_8000_000000000000 + n),
        f"Coto number {n}: a short note of a few words, as people post them, and a little more." * 3,
        None if n % 3 else "cotonoma-key-0001",
        None if n % 3 else "A cotonoma",
        None,
        _NOW - timedelta(minutes=n),
        _NOW - timedelta(minutes=n),
    )
    for n in range(PAGE_SIZE)
]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hello(req: falcon.Request, resp: falcon.Response, **groups: str) -> None:
    """A sink: every path, every method (its route has no groups)."""
    resp.media = {"hello": "world"}


class PageOfCotos:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        amishi_id, display_name, avatar_url = _AUTHOR
        cotos = [
            {
                "id": str(coto_id),
                "content": content,
                "amishi": {"id": str(amishi_id), "display_name": display_name, "avatar_url": avatar_url},
                "posted_in": {"key": posted_in_key, "name": posted_in_name} if posted_in_key else None,
                "as_cotonoma": cotonoma_key is not None,
                "cotonoma_key": cotonoma_key,
                "created_at": _iso(created_at),
                "updated_at": _iso(updated_at),
            }
            for coto_id, content, posted_in_key, posted_in_name, cotonoma_key, created_at, updated_at in _ROWS
        ]
        resp.media = {"cotos": cotos, "next": cotos[-1]["id"]}


app = falcon.App()
app.add_route("/api/cotos/page", PageOfCotos())
app.add_sink(hello, "/")
