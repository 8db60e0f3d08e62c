"""gunicorn configuration: `gunicorn -c python:peerpower.gunicorn_config peerpower.wsgi`.

Graceful shutdown: on SIGTERM gunicorn stops accepting connections and gives requests in flight up to
`graceful_timeout` seconds to finish before workers are killed; the container's stop grace period must be longer.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "25"))
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = 5000
max_requests_jitter = 500
# The load balancer in front sets X-Forwarded-For / -Proto; only the configured peers are believed.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None  # requests are logged by the application, with their request id
errorlog = "-"


def post_worker_init(worker) -> None:
    """The application is loaded: keep what start-up built out of the garbage collector's full walks, which cost a
    bulk request 10–15% of its CPU (apps.core.memory)."""
    from apps.core.memory import freeze_startup_objects

    freeze_startup_objects()


def child_exit(server, worker) -> None:
    """Drop a dead worker's live gauges from Prometheus' multi-process folder so they do not linger."""
    from apps.core.metrics import process_dead  # no Django needed: prometheus_client only

    process_dead(worker.pid)
