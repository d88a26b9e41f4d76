"""The graph service's domain counters (served at /metrics with the request metrics)."""

from cotoami_common.metrics import counter

CONNECTIONS_MADE = counter("cotoami_graph_connections_made_total", "Connections made (imports included).")
PINS_MADE = counter("cotoami_graph_pins_made_total", "Pins made (imports included).")
COTOS_FORGOTTEN = counter(
    "cotoami_graph_deleted_cotos_total",
    "coto-deleted events read from the event streams, whose connections and pins were removed.",
)

METRICS = (CONNECTIONS_MADE, PINS_MADE, COTOS_FORGOTTEN)
