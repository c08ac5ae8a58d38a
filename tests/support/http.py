"""Loopback HTTP servers for web-provider tests: JSON answers the test sets per path, optional delays, request
capture (to check headers and bodies reached the server). Threaded, so concurrent calls really overlap."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    status: int = 200
    body: Any = None  # JSON-encoded unless raw is set
    raw: bytes | None = None
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class JsonServer:
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def route(
        self, path: str, body: Any = None, *, status: int = 200, raw: bytes | None = None, delay: float = 0.0
    ) -> str:
        self.routes[path] = Route(status=status, body=body, raw=raw, delay=delay)
        return f"{self.url}{path}"


class _Server(ThreadingHTTPServer):
    # The listen backlog is fixed when the socket is bound: with the default of 5, a burst of concurrent
    # connections overflows it and the kernel makes the extras retry their SYN a second later.
    request_queue_size = 128
    daemon_threads = True


@contextmanager
def json_server() -> Iterator[JsonServer]:
    state = JsonServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            with state.lock:
                state.seen.append(Seen(self.command, self.path, dict(self.headers.items()), payload))
            route = state.routes.get(path, Route(status=404, body={"error": "no route"}))
            if route.delay:
                state.stop.wait(route.delay)
            body = route.raw if route.raw is not None else json.dumps(route.body).encode()
            self.send_response(route.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _serve  # noqa: N815 -- the stdlib's dispatch names

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = _Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    state.url = f"http://{host!s}:{port}"
    thread = threading.Thread(target=server.serve_forever, name="json-server", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        server.shutdown()
        server.server_close()
