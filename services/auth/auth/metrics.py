"""The auth service's domain counters (served at /metrics with the request metrics)."""

from cotoami_common.metrics import counter

SIGNIN_LINKS_REQUESTED = counter(
    "cotoami_signin_links_requested_total",
    "Sign-in links queued for mailing (requests answered 202; refused ones are not counted).",
)
SESSIONS_STARTED = counter(
    "cotoami_sessions_started_total",
    "Sign-ins completed with a link, by whether the amishi was new (first sign-in) or returning.",
    ["amishi"],
    initial=[("new",), ("returning",)],
)

METRICS = (SIGNIN_LINKS_REQUESTED, SESSIONS_STARTED)
