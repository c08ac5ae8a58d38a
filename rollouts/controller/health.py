"""``/healthz`` and ``/readyz`` for the kubelet's probes (``--healthz-port``, default 8080 as in Argo Rollouts).

- ``/healthz``: the process is alive and its event loop answers (a loop wedged for longer than ``stall_after``
  seconds is reported unhealthy, so the kubelet restarts the container instead of keeping a stuck leader).
- ``/readyz``: the leader is ready once it holds the Lease and its caches have listed every kind once; a replica
  standing by is ready once it has read the Lease (it is doing its job: waiting to take over); without leader
  election, once the caches are synced.

Plain ``http.server`` on a daemon thread: two paths, no framework needed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["DEFAULT_HEALTHZ_PORT", "Health", "serve_health"]

logger = logging.getLogger(__name__)

DEFAULT_HEALTHZ_PORT = 8080  # Argo's controller.DefaultHealthzPort


@dataclass
class Health:
    """What the probes answer from; the process sets its parts as it comes up (thread-safe: plain assignments)."""

    ready: Callable[[], bool] = lambda: False
    stall_after: float = 60.0
    beat: float = field(default_factory=time.monotonic)  # the event loop's last heartbeat (monotonic)
    beating: bool = False  # a loop runs and beats (before it does, liveness is the process answering at all)

    def alive(self) -> bool:
        return not self.beating or time.monotonic() - self.beat < self.stall_after

    def heartbeat(self) -> None:
        self.beat, self.beating = time.monotonic(), True


def serve_health(health: Health, port: int, address: str = "0.0.0.0") -> ThreadingHTTPServer:  # noqa: S104 -- probes
    """Serve the probes from a daemon thread; OSError when the port is taken."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            checks = {"/healthz": health.alive, "/readyz": health.ready}
            check = checks.get(self.path.split("?", 1)[0])
            if check is None:
                self._answer(404, "not found\n")
                return
            try:
                ok = check()
            except Exception:  # a probe must answer, whatever went wrong in the check
                logger.exception("%s check failed", self.path)
                ok = False
            self._answer(200 if ok else 503, "ok\n" if ok else "not ready\n" if "ready" in self.path else "stalled\n")

        def _answer(self, code: int, text: str) -> None:
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:  # the kubelet probes every few seconds: not worth a log line
            return

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="healthz", daemon=True).start()
    logger.info("probes on http://%s:%d/healthz and /readyz", address, port)
    return server
