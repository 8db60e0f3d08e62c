"""Serve a pod's shared metrics folder on its own port: `manage.py metrics_serve --port 9100`.

Where web and workers share one PROMETHEUS_MULTIPROC_DIR (compose, `runstack`), the web's /metrics already adds up
the workers' counters. On Kubernetes each pod has its own folder (an emptyDir), so a worker pod runs this next to
the worker, on the same folder: it exposes the counters and histograms its processes wrote (pushes, webhooks, tasks),
not the live figures read from the database, which the web pods report. With METRICS_TOKEN set it asks for
`Authorization: Bearer <METRICS_TOKEN>`, as /metrics does.
"""

import hmac
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from apps.core.metrics import multiprocess_dir


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        token = settings.METRICS_TOKEN
        offered = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.path.split("?")[0] != "/metrics":
            self.send_error(404)
        elif token and not hmac.compare_digest(offered.encode(), token.encode()):
            self.send_error(403)
        else:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            body = generate_latest(registry)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Command(BaseCommand):
    help = "Serve the counters of this machine's (or pod's) processes from PROMETHEUS_MULTIPROC_DIR on /metrics."
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (a pod: 0.0.0.0).")
        parser.add_argument("--port", type=int, default=9100, help="Port to listen on.")

    def handle(self, *args: object, host: str, port: int, **options: object) -> None:
        if not multiprocess_dir():
            raise CommandError("Set PROMETHEUS_MULTIPROC_DIR to the folder the worker processes write to.")
        server = ThreadingHTTPServer((host, port), _Handler)
        self.stdout.write(f"serving {multiprocess_dir()} on http://{host}:{server.server_address[1]}/metrics")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
