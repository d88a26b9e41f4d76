"""The cases of the original Cotoami's database controller test
(test/controllers/database_controller_test.exs in cotoami/cotoami): each an
export file of the original's format, with the result its import answered
there. Used by this service's tests and by tests/test_archive.py (end to end)."""

from typing import Any

AMISHI_ID = "1983b738-b9eb-4a20-88c1-b6e9c92fa84c"
HELLO = "e4910f38-5756-4ac4-a995-09d14cfa5874"
BYE = "bd9f96df-9639-4986-8473-392a993f3bc3"
CONTENT = "30c2c1e7-6e32-479f-bf35-359c02302ed5"
COTONOMA_ID = "a2cad024-d353-4ba7-9945-5372e0bfb263"
IN_COTONOMA = "936058c0-10d0-4dd1-958f-86f4d0bd76a6"


def amishi() -> dict[str, Any]:
    return {
        "id": AMISHI_ID,
        "owner": True,
        "email": "daisuke.marubinotto@gmail.com",
        "display_name": "Daisuke Morita",
        "avatar_url": "https://secure.gravatar.com/avatar/1d413392f15b8659a825fb6bab7396a9",
        "inserted_at": 1537943474274,
        "updated_at": 1537943474281,
    }


def coto(coto_id: str, content: object, at: object, summary: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "id": coto_id,
        "content": content,
        "summary": summary,
        "posted_in_id": None,
        "as_cotonoma": False,
        "cotonoma": None,
        "inserted_at": at,
        "updated_at": at,
        **fields,
    }


def connection(start: str, end: str, order: int, at: int) -> dict[str, Any]:
    return {"start": start, "end": end, "order": order, "created_by": AMISHI_ID, "created_at": at}


def export(cotos: list[Any], connections: list[Any]) -> dict[str, Any]:
    return {"cotos": cotos, "connections": connections, "amishi": amishi()}


def counts(inserts: int, cotonomas: int, ok: int) -> dict[str, Any]:
    return {
        "cotos": {"inserts": inserts, "updates": 0, "cotonomas": cotonomas, "rejected": []},
        "connections": {"ok": ok, "rejected": []},
    }


def cases() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    hello = coto(HELLO, "hello", 1537943597410)
    bye = coto(BYE, "bye", 1537944841347)
    summarized = coto(CONTENT, "content", 1537945267093, summary="summary")
    cotonoma_coto = coto(
        HELLO,
        "hello",
        1537943597410,
        updated_at=1537949021935,
        as_cotonoma=True,
        cotonoma={
            "id": COTONOMA_ID,
            "key": "jalc645or4crpkv1",
            "name": "hello",
            "shared": False,
            "pinned": False,
            "timeline_revision": 1,
            "graph_revision": 0,
            "inserted_at": 1537949021945,
            "updated_at": 1537949085724,
            "last_post_timestamp": None,
        },
    )
    in_cotonoma = coto(IN_COTONOMA, "Hello, world!", 1537949085717, posted_in_id=COTONOMA_ID)
    pin_hello = connection(AMISHI_ID, HELLO, 1, 1537943695452)
    return {
        "one coto": (export([hello], []), counts(1, 0, 0)),
        "one coto pinned": (export([hello], [pin_hello]), counts(1, 0, 1)),
        "two cotos connected and pinned": (
            export([hello, bye], [pin_hello, connection(HELLO, BYE, 1, 1537944841465)]),
            counts(2, 0, 2),
        ),
        "connection's order": (
            export(
                [hello, bye, summarized],
                [
                    pin_hello,
                    connection(HELLO, BYE, 2, 1537944841465),
                    connection(HELLO, CONTENT, 1, 1537945267162),
                ],
            ),
            counts(3, 0, 3),
        ),
        "one cotonoma and coto in it": (export([cotonoma_coto, in_cotonoma], []), counts(2, 1, 0)),
    }
