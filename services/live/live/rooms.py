"""The live rooms: GET /api/live/cotonomas/{key} and GET /api/live/home, as
server-sent events (contract v2, "Live rooms")."""

import time
from collections.abc import AsyncIterator, Callable

import falcon
import falcon.asgi

from cotoami_common.cotonoma_access import CotonomaAccess
from cotoami_common.tokens import Amishi
from live.hub import ENTRY_ID, Ended, Hub, Listener, Message, amishi_stream, cotonoma_stream, id_key
from live.metrics import EVENTS_SENT, FANOUT_LAG

# Set by LiveApp in each HTTP request's scope: a Departure, told when the browser has gone.
GONE = "cotoami.gone"
# After a shutdown, how soon the browser comes back (to another process).
RETRY_MS = 1000


class Departure:
    """Told by LiveApp when the browser has gone (http.disconnect), and telling
    whoever asked: the stream's listener, which then ends at once."""

    def __init__(self) -> None:
        self.gone = False
        self._then: list[Callable[[], None]] = []

    def set(self) -> None:
        self.gone = True
        for then in self._then:
            then()

    def then(self, callback: Callable[[], None]) -> None:
        self._then.append(callback)
        if self.gone:
            callback()


class FramedEvent(falcon.asgi.SSEvent):
    """An event framed once (Message.wire) and sent as is to every listener,
    rather than framed again for each."""

    def __init__(self, wire: bytes):
        super().__init__()
        self.wire = wire

    def serialize(self, handler: object = None) -> bytes:
        return self.wire


def last_event_id(req: falcon.asgi.Request) -> str | None:
    value = req.get_header("Last-Event-ID")
    if value is None or value.strip() == "":
        return None
    if not ENTRY_ID.fullmatch(value.strip()):
        raise falcon.HTTPBadRequest(
            title="Invalid Last-Event-ID", description="Last-Event-ID must be an event id this stream sent."
        )
    return value.strip()


def _signed_in(req: falcon.asgi.Request, what: str) -> Amishi:
    amishi: Amishi | None = req.context.amishi
    if amishi is None:
        raise falcon.HTTPUnauthorized(title="Sign in", description=f"Sign in to {what}.", challenges=["Cookie"])
    return amishi


class Rooms:
    def __init__(self, hub: Hub, keepalive_seconds: float):
        self.hub = hub
        self.keepalive_seconds = keepalive_seconds

    async def open(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        stream: str,
        amishi: Amishi,
        cotonoma_key: str | None,
    ) -> None:
        """Joins the hub and decides where the stream starts before answering, so
        that Redis being away is a 503 rather than a stream that breaks off."""
        after = last_event_id(req)
        departure: Departure = req.scope[GONE]
        hub = self.hub
        listener = hub.listener(stream, amishi, cotonoma_key)
        departure.then(lambda: listener.end("gone"))
        try:
            await hub.join(listener)
            if cotonoma_key is not None:
                hub.send_presence(cotonoma_key, await hub.presence(cotonoma_key), only=listener)
            head = await hub.last_id(stream)
            replay = after is not None and await hub.can_replay(stream, after)
        except BaseException:
            await hub.leave(listener)
            raise
        listener.last_id = after if replay else head
        # Through the gateway's nginx without waiting in its buffers.
        resp.set_header("X-Accel-Buffering", "no")
        resp.sse = self._events(listener, after if replay else None, reset=after is not None and not replay)

    async def _events(
        self, listener: Listener, after: str | None, reset: bool
    ) -> AsyncIterator[falcon.asgi.SSEvent | None]:
        try:
            if reset:
                EVENTS_SENT.labels("reset").inc()
                yield falcon.asgi.SSEvent(event="reset", event_id=listener.last_id, data=b"{}")
            if after is not None:
                async for message in self.hub.replay(listener.stream, after):
                    if listener.ended.is_set():
                        break
                    if message.id is not None and listener.is_new(message.id):
                        listener.last_id = message.id
                        yield _sent(message)
            while True:
                tailed = await listener.next(self.keepalive_seconds)
                if tailed is None:
                    yield None  # Falcon sends it as the comment ": ping"
                elif tailed.id is None:
                    yield _sent(tailed)
                elif listener.is_new(tailed.id):
                    listener.last_id = tailed.id
                    FANOUT_LAG.observe(max(0.0, time.time() - id_key(tailed.id)[0] / 1000))
                    yield _sent(tailed)
        except Ended as ended:
            if ended.reason == "revoked":
                EVENTS_SENT.labels("revoked").inc()
                yield falcon.asgi.SSEvent(event="revoked", data=b"{}")
            elif ended.reason != "gone":
                yield falcon.asgi.SSEvent(retry=RETRY_MS)
        finally:
            await self.hub.leave(listener)


def _sent(message: Message) -> falcon.asgi.SSEvent:
    EVENTS_SENT.labels(message.event).inc()
    return FramedEvent(message.wire)


class CotonomaRoom:
    """GET /api/live/cotonomas/{key}: for whoever may read its timeline."""

    def __init__(self, rooms: Rooms, access: CotonomaAccess):
        self.rooms = rooms
        self.access = access

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, key: str) -> None:
        amishi = _signed_in(req, "follow a cotonoma")
        last_event_id(req)  # malformed is 400 before anything is asked
        if await self.access.cotonoma_async(key, amishi) is None:
            # As the timeline: a cotonoma one may not read does not exist for them.
            raise falcon.HTTPNotFound(title="No such cotonoma", description="There is no cotonoma with this key.")
        await self.rooms.open(req, resp, cotonoma_stream(key), amishi, key)


class HomeRoom:
    """GET /api/live/home: the signed-in person's own cotos, from every device."""

    def __init__(self, rooms: Rooms):
        self.rooms = rooms

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        amishi = _signed_in(req, "follow your home")
        await self.rooms.open(req, resp, amishi_stream(amishi.id), amishi, None)
