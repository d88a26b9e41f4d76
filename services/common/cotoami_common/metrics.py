"""Prometheus metrics: every service serves them at /metrics, in the text format.

gunicorn runs several worker processes per service, so the metrics are kept
in prometheus-client's multiprocess mode: each process writes its values to
files in PROMETHEUS_MULTIPROC_DIR (made by gunicorn_conf in the master, before
the workers fork) and /metrics adds up the files of every process, live or
dead. That variable must be set before prometheus_client is first imported.

The request metrics are recorded here, by the middleware every app gets from
new_app(); each service counts its own domain events with counter() below
(in SVC/metrics.py). Names begin with `cotoami_`. Prometheus adds which
service and pod a series came from (k8s/monitoring/prometheus.yml).

/metrics needs no credential: the gateway and the Ingress never route it, and
in Kubernetes the services' NetworkPolicies admit only the `monitoring` namespace.
"""

import os
import re
import time
from collections.abc import Iterable

import falcon
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import REGISTRY, Collector

METRICS_PATH = "/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The route label of a request that matched no route (a 404 of any path).
UNMATCHED = "(unmatched)"
# Any other method (gunicorn passes any token) is counted as OTHER, so that
# nobody can make new series by inventing methods.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "OTHER"

REQUESTS = Counter(
    "cotoami_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
REQUEST_DURATION = Histogram(
    "cotoami_http_request_duration_seconds",
    "Time from a request's arrival in the app to its response, by route template, method and status.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

_CONVERTER = re.compile(r"\{(\w+):[^}]*\}")


def route_label(uri_template: str | None) -> str:
    """/api/cotos/{coto_id:uuid} -> /api/cotos/{coto_id}; None -> (unmatched)."""
    return _CONVERTER.sub(r"{\1}", uri_template) if uri_template else UNMATCHED


def counter(
    name: str, documentation: str, labelnames: Iterable[str] = (), initial: Iterable[tuple[str, ...]] = ()
) -> Counter:
    """A service's domain counter. `initial` lists the label values whose
    series exist from the start, at 0, so that rates over them are never empty."""
    if not name.startswith("cotoami_") or not name.endswith("_total"):
        raise ValueError(f"{name}: a counter's name is cotoami_..._total")
    metric = Counter(name, documentation, list(labelnames))
    for values in initial:
        metric.labels(*values)
    return metric


class RequestMetrics:
    """Counts every request and times it, by route template (never the raw path,
    which holds ids), method and status. First in new_app's middleware, so it
    times all the others and its process_response runs last."""

    def __init__(self, router: falcon.routing.CompiledRouter):
        # Requests refused before routing (401, 413 ...) carry no uri_template;
        # the router says which route they were for.
        self.router = router
        # Each series' children by (template, method, status), found once: few
        # (routes times methods times statuses), and labels() costs a lock and a
        # formatting each time.
        self._series: dict[tuple[str | None, str, int], tuple[Counter, Histogram]] = {}

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.metrics_started = time.perf_counter()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        started = req.context.get("metrics_started")
        if started is None:
            return
        template = req.uri_template
        if template is None:
            try:
                found = self.router.find(req.path, req)
            except Exception:  # a path the router cannot take is as unmatched as one it does not know
                found = None
            template = found[3] if found else None
        method = req.method if req.method in METHODS else OTHER
        series = self._series.get((template, method, resp.status_code))
        if series is None:
            labels = (route_label(template), method, str(resp.status_code))
            series = self._series[(template, method, resp.status_code)] = (
                REQUESTS.labels(*labels),
                REQUEST_DURATION.labels(*labels),
            )
        requests, duration = series
        requests.inc()
        duration.observe(time.perf_counter() - started)

    # Falcon's ASGI app takes coroutine middleware only; the same counting there.
    async def process_request_async(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.process_request(req, resp)

    async def process_response_async(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        self.process_response(req, resp, resource, req_succeeded)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposition(collectors: Iterable[Collector] = ()) -> bytes:
    """Every process's metrics (or this process's, outside multiprocess mode),
    plus those the given collectors compute now."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus-client leaves it unannotated
    else:
        registry.register(_Everything())
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


class _Everything(Collector):
    """The default registry, without describing it a second time."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class MetricsResource:
    def __init__(self, collectors: Iterable[Collector] = ()):
        self.collectors = tuple(collectors)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = CONTENT_TYPE_PLAIN_0_0_4
        resp.data = exposition(self.collectors)


def add_metrics_route(app: falcon.App[falcon.Request, falcon.Response], collectors: Iterable[Collector] = ()) -> None:
    app.add_route(METRICS_PATH, MetricsResource(collectors))


def sample_names(collectors: Iterable[Collector]) -> set[str]:
    """The sample names the given collectors expose (counters end in _total,
    histograms in _bucket, _sum and _count): what a PromQL query can name."""
    names = set()
    for collector in collectors:
        describe = getattr(collector, "describe", None)
        families = describe() if describe else collector.collect()
        for family in families:
            if family.type == "counter":
                names.add(f"{family.name}_total")
            elif family.type == "histogram":
                names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
            else:
                names.add(family.name)
    return names
