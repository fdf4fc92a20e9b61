"""Prometheus metrics of the web processes, summed over gunicorn's workers.

Under gunicorn (``gunicorn.conf.py``) ``PROMETHEUS_MULTIPROC_DIR`` is set before the workers import
the app: every worker writes its counters to files there and ``/metrics`` (:mod:`app.health`), served
by whichever worker, adds them up (prometheus_client's multiprocess mode). Without it (the dev
server, tests) the counters are the process's own.

:class:`RequestMetrics` is WSGI middleware around the whole served application (``app/wsgi.py`` puts it
around the tracking gateway too, :func:`app.health.measure`): it sets the request id (:mod:`app.core.requestlog`), answers it in ``X-Request-ID``, and
counts every request by Flask endpoint (``tracking_gateway`` for ``/track/osmand``, ``unmatched`` for
404s), its status, its time, and the fixes the tracking URLs accepted.
"""

import os
import time

from flask import request
from prometheus_client import REGISTRY as GLOBAL_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from app.core.requestlog import REQUEST_ID, request_id_from

REQUEST_SECONDS = Histogram(
    "wuwei_http_request_duration_seconds",
    "Time to answer a request, by Flask endpoint",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REQUESTS = Counter(
    "wuwei_http_requests_total", "Requests answered, by endpoint and status", ["endpoint", "method", "status"]
)
ERRORS = Counter(
    "wuwei_http_errors_total", "Requests answered with a 5xx status (or cut by an exception)", ["endpoint"]
)
FIXES = Counter(
    "wuwei_fixes_received_total",
    "Tracking reports accepted (2xx) by protocol: one fix per OsmAnd request, one message per OwnTracks request",
    ["protocol"],
)
POOL = Gauge(
    "wuwei_db_pool_connections",
    "Connections of the primary's pool after the last request, summed over live workers",
    ["state"],
    multiprocess_mode="livesum",
)
REPLICA_READS = Counter(
    "wuwei_replica_reads_total",
    "Read-only blocks by where they ran (replica, or primary when no replica could be reached)",
    ["target"],
)

TRACKING = {"/track/osmand": "osmand", "/track/owntracks": "owntracks"}


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


class _ProcessMetrics:
    """This process's metrics (the global registry), for a registry built per scrape."""

    def describe(self):
        return []

    def collect(self):
        yield from GLOBAL_REGISTRY.collect()


def exposition(extra_collectors=()) -> bytes:
    """The text format of every worker's metrics plus ``extra_collectors`` (read at scrape time)."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    for collector in extra_collectors:
        registry.register(collector)
    return generate_latest(registry)


def mark_endpoint(sender, **extra) -> None:
    """``request_started`` receiver: the matched Flask endpoint, for :class:`RequestMetrics` (Flask clears
    its request from the environ before the middleware sees the answer)."""
    rule = request.url_rule
    request.environ["wuwei.endpoint"] = rule.endpoint if rule is not None else None


class RequestMetrics:
    """WSGI middleware: request id, latency, status and tracking counts of every request."""

    def __init__(self, wsgi_app, pool_of=None):
        self.wsgi_app = wsgi_app
        self.pool_of = pool_of  # () -> the primary's SQLAlchemy pool, or None

    def __call__(self, environ, start_response):
        if "wuwei.request_id" in environ:  # an outer RequestMetrics measures this request
            return self.wsgi_app(environ, start_response)
        rid = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        environ["wuwei.request_id"] = rid
        token = REQUEST_ID.set(rid)
        status: list[int] = []

        def respond(status_line, headers, exc_info=None):
            status.append(int(status_line.split(" ", 1)[0]))
            headers.append(("X-Request-ID", rid))
            return start_response(status_line, headers, exc_info)

        started = time.perf_counter()
        try:
            return self.wsgi_app(environ, respond)
        finally:
            self._count(environ, status[0] if status else 500, time.perf_counter() - started)
            REQUEST_ID.reset(token)

    def _count(self, environ, status: int, seconds: float) -> None:
        path = environ.get("PATH_INFO", "")
        endpoint = environ.get("wuwei.endpoint") or ("tracking_gateway" if path in TRACKING else "unmatched")
        method = environ.get("REQUEST_METHOD", "GET")
        REQUEST_SECONDS.labels(endpoint, method).observe(seconds)
        REQUESTS.labels(endpoint, method, str(status)).inc()
        if status >= 500:
            ERRORS.labels(endpoint).inc()
        if path in TRACKING and 200 <= status < 300:
            FIXES.labels(TRACKING[path]).inc()
        pool = self.pool_of() if self.pool_of else None
        if pool is not None and hasattr(pool, "checkedout"):
            POOL.labels("in_use").set(pool.checkedout())
            POOL.labels("idle").set(pool.checkedin())
