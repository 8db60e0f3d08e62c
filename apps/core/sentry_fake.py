"""A local stand-in for Sentry's ingestion endpoint (`POST /api/<project>/envelope/`), for tests and demos.

It speaks the wire format sentry-sdk sends: an envelope (a JSON header line, then items, each a JSON header line and
a payload), gzip-compressed or not. It keeps every event received, so a test can see what would have left the
machine. DSN: `http://<any key>@127.0.0.1:<port>/<project id>`.
"""

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from apps.core.fakes import LoopbackFake


def envelope_items(body: bytes) -> list[tuple[dict[str, Any], bytes]]:
    """(item header, payload) of each item of an envelope."""
    items = []
    _header, _, rest = body.partition(b"\n")
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item = json.loads(item_line)
        if "length" in item:
            payload, rest = rest[: item["length"]], rest[item["length"] + 1 :]
        else:
            payload, _, rest = rest.partition(b"\n")
        items.append((item, payload))
    return items


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        fake: SentryFake = self.server.fake  # type: ignore[attr-defined]
        if self.path.rstrip("/").endswith("/envelope"):
            fake.received(
                [json.loads(payload) for item, payload in envelope_items(body) if item.get("type") == "event"], body
            )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"id": "0"}')

    def log_message(self, format: str, *args: Any) -> None:
        pass


class SentryFake(LoopbackFake):
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(handler=_Handler, name="sentry-fake", host=host, port=port)
        self.events: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self._changed = threading.Condition()

    @property
    def dsn(self) -> str:
        return self.endpoint.replace("http://", "http://public@") + "/1"

    def received(self, events: list[dict[str, Any]], raw: bytes) -> None:
        with self._changed:
            self.events += events
            self.raw.append(raw)
            self._changed.notify_all()

    def wait_for_events(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """The events received once there are `count` of them (raises TimeoutError after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.events) < count:
                left = deadline - time.monotonic()
                if left <= 0 or not self._changed.wait(left):
                    raise TimeoutError(f"{len(self.events)} of {count} events received")
            return list(self.events)
