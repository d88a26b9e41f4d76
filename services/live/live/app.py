"""Wiring of the live service: create_app() for tests, get_app() for gunicorn
(with uvicorn's worker: the app is ASGI, each stream a coroutine)."""

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any, NoReturn

import falcon
import falcon.asgi

from cotoami_common.backing import redis_client
from cotoami_common.config import load_config
from cotoami_common.cotonoma_access import CotonomaAccess
from cotoami_common.health import Check, HealthResource, ReadinessResource, redis_check
from cotoami_common.internal import ServiceUnavailable
from cotoami_common.metrics import METRICS_PATH, MetricsResource
from cotoami_common.tokens import AccessTokenVerifier
from cotoami_common.web import AsgiApp, new_asgi_app
from live.config import Config
from live.hub import Hub, async_redis
from live.metrics import start_counting
from live.rooms import GONE, CotonomaRoom, Departure, HomeRoom, Rooms

log = logging.getLogger(__name__)


class LiveApp(falcon.asgi.App):  # type: ignore[type-arg]  # generic in its request and response types
    """Falcon's ASGI app, telling each request when its browser has gone (an
    event in the scope): Falcon itself notices only when it next sends, which
    for a quiet stream is 15 s later, and presence must not wait that long."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:  # type: ignore[override]
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        gone = Departure()

        async def receiving() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "http.disconnect":
                gone.set()
            return message

        await super().__call__({**scope, GONE: gone}, receiving, send)


@dataclass(frozen=True, kw_only=True)
class Dependencies:
    """hub: this process's one hub (its tasks start with the app); checks: what
    /readyz checks besides the hub, in a thread."""

    hub: Hub
    checks: dict[str, Check]
    verifier: AccessTokenVerifier
    access: CotonomaAccess

    @classmethod
    def open(cls, config: Config, access_timeout_seconds: float = 2.0) -> "Dependencies":
        access = CotonomaAccess.asking(
            config.cotonomas_internal_url, config.internal_token, access_timeout_seconds, config.access_ttl_seconds
        )
        return cls(
            hub=Hub(
                async_redis(config.redis_url),
                access,
                queue_size=config.listener_queue_size,
                access_period_seconds=config.access_ttl_seconds,
            ),
            checks={"redis": redis_check(redis_client(config.redis_url))},
            verifier=config.tokens.verifier(),
            access=access,
        )


class Lifetime:
    """Starts the hub with the app (ASGI lifespan) and ends every stream on
    SIGTERM. uvicorn waits for open connections to close before the lifespan's
    shutdown, and a stream never closes by itself: so SIGTERM's handler (which
    uvicorn installs before the startup) is wrapped to end them first."""

    def __init__(self, hub: Hub):
        self.hub = hub

    async def process_startup(self, scope: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        self.hub.start()
        if threading.current_thread() is threading.main_thread():  # signals are the main thread's only
            loop = asyncio.get_running_loop()
            for number in (signal.SIGTERM, signal.SIGINT):
                previous = signal.getsignal(number)
                if not callable(previous):
                    continue  # not uvicorn's: nothing drains the connections, nothing to end first

                def closing(sig: int, frame: FrameType | None, previous: Any = previous) -> None:
                    loop.call_soon_threadsafe(self.hub.close_streams)
                    previous(sig, frame)

                signal.signal(number, closing)

    async def process_shutdown(self, scope: Mapping[str, Any], event: Mapping[str, Any]) -> None:
        await self.hub.stop()


class AsyncHealth(HealthResource):
    async def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:  # type: ignore[override]
        super().on_get(req, resp)  # checks of this process's own tasks only: nothing waits


class AsyncReadiness(ReadinessResource):
    async def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:  # type: ignore[override]
        await asyncio.to_thread(super().on_get, req, resp)  # a blocking ping, off the event loop


class AsyncMetrics(MetricsResource):
    async def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:  # type: ignore[override]
        await asyncio.to_thread(super().on_get, req, resp)  # reads every process's files


async def _unavailable(
    req: falcon.Request, resp: falcon.Response, error: Exception, params: dict[str, Any]
) -> NoReturn:
    log.warning("cotonomas unavailable: %s", error)
    raise falcon.HTTPServiceUnavailable(
        description="A backing service is not answering; try again shortly.", retry_after=5
    )


def create_app(config: Config, deps: Dependencies) -> AsgiApp:
    hub = deps.hub
    app = new_asgi_app(
        config.max_body_bytes,
        config.allowed_origins,
        config.trusted_proxies,
        deps.verifier,
        config.internal_token,
        app_class=LiveApp,
    )
    app.add_middleware(Lifetime(hub))
    liveness = {"hub": hub.check}
    app.add_route("/healthz", AsyncHealth(liveness))
    app.add_route("/readyz", AsyncReadiness({**deps.checks, **liveness}))
    app.add_route(METRICS_PATH, AsyncMetrics())
    app.add_error_handler(ServiceUnavailable, _unavailable)
    rooms = Rooms(hub, config.keepalive_seconds)
    app.add_route("/api/live/cotonomas/{key}", CotonomaRoom(rooms, deps.access))
    app.add_route("/api/live/home", HomeRoom(rooms))
    start_counting()
    return app


def get_app() -> AsgiApp:
    config = load_config(Config.from_env, os.environ)
    return create_app(config, Dependencies.open(config))
