"""What the airtime and payout API fakes share: a JSON request handler, and fault injection — what the next
requests (or a random share of them) suffer, decided per request under a lock.

- `down`: answered 503 before anything is done (a definite "not done", though a client cannot know that);
- `done_then_500`: the request is carried out, then answered 500 (an unknown outcome that in fact succeeded);
- `done_then_reset`: carried out, then the connection is closed without an answer (a reset);
- `done_then_timeout`: carried out, then the answer waits `hang_seconds` (longer than the client's timeout).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import urllib.parse
from collections import deque
from typing import Any, Literal

import httpx

from apps.core.fakes import FakeRequestHandler

logger = logging.getLogger("peerpower.payout_fakes")

Fault = Literal["down", "done_then_500", "done_then_reset", "done_then_timeout"]


class Faults:
    def __init__(self, *, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._random = random.Random(seed)
        self.timeout_rate = 0.0
        self.hang_seconds = 1.0

    def next(self, fault: Fault, count: int = 1) -> None:
        """The next `count` requests suffer `fault`."""
        with self._lock:
            self._queue.extend([fault] * count)

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._random.seed(seed)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.timeout_rate = 0.0

    def draw(self) -> Fault | None:
        """The fault of the request being answered now, if any."""
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            if self.timeout_rate and self._random.random() < self.timeout_rate:
                return "done_then_timeout"
        return None


class JsonFakeHandler(FakeRequestHandler):
    """Reads a JSON request, asks `server.fake.answer(method, path, query, headers, body)` for (status, body), and
    applies the fault `fake.faults.draw()` gives, once per request the fake says is `faultable` (so that a test's
    "the next top-up times out" hits the top-up, not the token request before it)."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        split = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(split.query))
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake = self.server.fake  # type: ignore[attr-defined]
        fault = fake.faults.draw() if fake.faultable(self.command, split.path, headers) else None
        if fault == "down":
            self._send(503, {"message": "Service unavailable"})
            return
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            self._send(400, {"message": "Body is not JSON"})
            return
        status, answer = fake.answer(method, split.path, query, headers, body)
        if fault == "done_then_500":
            self._send(500, {"message": "Internal server error"})
        elif fault == "done_then_reset":
            self.close_connection = True
        elif fault == "done_then_timeout":
            time.sleep(fake.faults.hang_seconds)
            self.close_connection = True
        else:
            self._send(status, answer)

    def _send(self, status: int, body: Any) -> None:
        self.send_body(status, json.dumps(body).encode(), "application/json")


def post_callback(url: str, body: dict[str, Any]) -> int | None:
    """Post a callback as the outside API does; its HTTP status, None if nobody answered."""
    if not url:
        return None
    try:
        return httpx.post(url, json=body, timeout=5).status_code
    except httpx.HTTPError:
        logger.warning("callback to %s failed", url, exc_info=True)
        return None


def serve_until_interrupted(fake: Any, stdout: Any, url_settings: tuple[str, ...]) -> None:
    """Run a fake in the foreground (the `*_fake` commands) until Ctrl-C or SIGTERM."""
    import shlex

    with fake:
        stdout.write(f"{type(fake).__name__} listening on {fake.endpoint}. Point PeerPower at it:")
        for name in url_settings:
            stdout.write(f"  export {name}={shlex.quote(fake.endpoint)}")
        stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            stdout.write("stopped.")
