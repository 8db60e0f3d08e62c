"""Prometheus metrics: the project's registry of counters and histograms.

Other apps define their metrics here or in their own modules with `prometheus_client` on the default registry;
`/metrics` exposes all of them. Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR so the figures of
all worker processes are added up.
"""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

HTTP_REQUESTS = Counter(
    "peerpower_http_requests_total", "HTTP requests by method, view and status.", ["method", "view", "status"]
)
HTTP_LATENCY = Histogram(
    "peerpower_http_request_duration_seconds",
    "HTTP request latency by method and view.",
    ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


# Collectors that read their figures when scraped (from the database, say) rather than from process memory; they
# are added to the multi-process registry too, where only counters written to PROMETHEUS_MULTIPROC_DIR appear.
_LIVE_COLLECTORS: list = []


def register_live_collector(collector: Collector) -> None:
    """Expose `collector` on /metrics, in single- and multi-process mode alike (once, however often called)."""
    if any(type(existing) is type(collector) for existing in _LIVE_COLLECTORS):
        return
    _LIVE_COLLECTORS.append(collector)
    REGISTRY.register(collector)


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric, merged across processes when running multi-process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        for collector in _LIVE_COLLECTORS:
            registry.register(collector)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
