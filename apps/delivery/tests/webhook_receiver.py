"""A client's webhook receiver, for tests: a real HTTP server on 127.0.0.1 (stdlib, in a thread) that records every
request and answers as it is told to (fail the next N, redirect, answer slowly).

Signatures are checked here with hmac/hashlib directly, as a client would, independently of the project's signing
code.
"""

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


class WebhookReceiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[ReceivedRequest] = []
        self._answers: list[tuple[int, dict[str, str]]] = []
        self.delay_seconds = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def do_GET(self) -> None:
                receiver._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, kind: type | None, value: BaseException | None, traceback: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._answers.clear()
            self.delay_seconds = 0.0

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next `count` requests with `status`; then recover (200)."""
        self.answer_next(status, count=count)

    def answer_next(self, status: int, headers: dict[str, str] | None = None, count: int = 1) -> None:
        with self._lock:
            self._answers.extend([(status, headers or {})] * count)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        request = ReceivedRequest(
            method=handler.command,
            path=handler.path,
            headers={name.lower(): value for name, value in handler.headers.items()},
            body=body,
        )
        with self._lock:
            self.requests.append(request)
            status, headers = self._answers.pop(0) if self._answers else (200, {})
            delay = self.delay_seconds
        if delay:
            time.sleep(delay)
        answer = b"received" if status < 300 else b"nope"
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer)))
        handler.end_headers()
        handler.wfile.write(answer)


def signature_valid(header: str, body: bytes, secret: str, *, tolerance: int = 300, now: float | None = None) -> bool:
    """What a client does with `PeerPower-Signature: t=…,v1=…[,v1=…]`: recompute HMAC-SHA256 over
    f"{t}.{raw body}" with the secret, compare in constant time with each v1, refuse stale timestamps."""
    pairs = [item.split("=", 1) for item in header.split(",") if "=" in item]
    timestamps = [value for key, value in pairs if key == "t"]
    signatures = [value for key, value in pairs if key == "v1"]
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not signatures:
        return False
    timestamp = int(timestamps[0])
    if abs((now if now is not None else time.time()) - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), timestamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
