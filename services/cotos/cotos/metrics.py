"""The cotos service's domain counters (served at /metrics with the request metrics)."""

from cotoami_common.metrics import counter

COTOS_POSTED = counter(
    "cotoami_cotos_posted_total",
    "Cotos posted, by author: an anonymous memo pad or a signed-in amishi.",
    ["author"],
    initial=[("anonymous",), ("signed_in",)],
)

METRICS = (COTOS_POSTED,)
