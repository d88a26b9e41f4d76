"""live's metrics: the streams open now, the events sent, and how long an
event took from its append to Redis (its entry id's time) to being sent."""

from prometheus_client import Gauge, Histogram

from cotoami_common.metrics import counter

ROOMS = ("cotonoma", "home")
END_REASONS = ("gone", "revoked", "slow", "shutdown", "unavailable")

OPEN_STREAMS = Gauge(
    "cotoami_live_open_streams",
    "Event streams open now, by room (cotonoma or home).",
    ["room"],
    multiprocess_mode="livesum",
)
EVENTS_SENT = counter(
    "cotoami_live_events_sent_total",
    "Events sent to browsers, by event name (presence included, keep-alive comments not).",
    ["event"],
    initial=[
        (name,) for name in ("coto", "coto-updated", "coto-deleted", "cotonoma-updated", "presence", "reset", "revoked")
    ],
)
STREAMS_ENDED = counter(
    "cotoami_live_streams_ended_total",
    "Event streams ended, by why: gone (the browser left), revoked, slow (fell too far behind), "
    "shutdown (the process stops), unavailable (an access check could not be made).",
    ["reason"],
    initial=[(reason,) for reason in END_REASONS],
)
FANOUT_LAG = Histogram(
    "cotoami_live_fanout_lag_seconds",
    "Time from an event's append to its stream (the entry id's time) to its sending to a browser "
    "(tailed events, not replayed ones).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0),
)


def start_counting() -> None:
    for room in ROOMS:
        OPEN_STREAMS.labels(room)
