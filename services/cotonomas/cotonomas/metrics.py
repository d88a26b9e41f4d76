"""The cotonomas service's domain counters (served at /metrics with the request metrics)."""

from cotoami_common.metrics import counter

COTONOMAS_CREATED = counter(
    "cotoami_cotonomas_created_total",
    "Cotonomas created (answered 201), at the top level or nested in another.",
    ["place"],
    initial=[("top",), ("nested",)],
)

METRICS = (COTONOMAS_CREATED,)
