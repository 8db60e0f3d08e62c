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

HTTP_REQUESTS = Counter(
    "peerpower_http_requests_total", "HTTP requests by method, view and status.", ["method", "view", "status"]
)
HTTP_LATENCY = Histogram(
    "peerpower_http_request_duration_seconds",
    "HTTP request latency by method and view.",
    ["method", "view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric, merged across processes when running multi-process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
