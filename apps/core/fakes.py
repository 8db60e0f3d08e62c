"""What the local fakes of outside services share (the FCM fake, the Baray fake): an HTTP server on a loopback port,
run on a daemon thread, that its request handler reaches as `self.server.fake`.

Each fake speaks its service's wire protocol so that the real client code runs against it in tests, the simulator
and the embedded default; this base only starts and stops the server.
"""

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

logger = logging.getLogger("peerpower.fakes")


class _LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver listens with a backlog of 5: a client opening its pool's 32 connections at once (the FCM push
    # pool) overflowed it, and the kernel then reset some of them, so pushes failed as connection errors that real
    # FCM would never have caused. A listening socket's usual backlog instead.
    request_queue_size = 128


class LoopbackFake:
    """Start with `start()` or `with fake:`; `endpoint` is the base URL to configure the client with. Port 0 picks a
    free one (known once started)."""

    def __init__(self, *, handler: type[BaseHTTPRequestHandler], name: str, host: str, port: int) -> None:
        self._handler, self._name = handler, name
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._connections_lock = threading.Lock()
        self.connections = 0  # connections accepted so far: a test sees whether a client reuses its connections

    def connection_opened(self) -> None:
        with self._connections_lock:
            self.connections += 1

    def start(self) -> Self:
        self._server = _LoopbackServer((self._host, self._port), self._handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name=self._name, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return f"http://{self._host}:{self._port}"


class FakeRequestHandler(BaseHTTPRequestHandler):
    """A fake's request handler: HTTP/1.1, an answer that tolerates a client that already gave up, quiet logs."""

    protocol_version = "HTTP/1.1"
    # An answer goes out in two writes (headers, then body): with Nagle's algorithm the body would wait for the
    # client's delayed ACK, about 40 ms per answer on a kept-alive connection.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        # One handler per connection (HTTP/1.1 keeps it open across requests).
        super().setup()
        self.server.fake.connection_opened()  # type: ignore[attr-defined]

    def send_body(self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up first (a timeout it was told to expect): nothing left to answer.
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s " + format, self.address_string(), *args)
