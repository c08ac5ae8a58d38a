"""A real Prometheus for tests: the product's launcher (:mod:`rollouts.devcluster.prometheus`, Debian's
``/usr/bin/prometheus``) scraping a tiny exporter the test controls, or serving history loaded with
``promtool tsdb create-blocks-from openmetrics`` for backtests.

Live mode::

    exporter = Exporter.start()
    exporter.set("http_requests_total", 120, version="v2", code="200")
    with PrometheusServer.start(workdir, scrape=exporter.address) as prom:
        exporter.wait_scraped(prom)        # the next scrape has the values just set
        ...  prom.url is http://127.0.0.1:PORT

History mode (deterministic values at known instants, hours ago, inside a 10y retention)::

    with PrometheusServer.with_history(workdir, [Series("success_rate", {"version": "v2"}, samples)]) as prom: ...

The launcher moved into the product (the demo needs it and product code never imports ``tests``); this module keeps
the tests' names by re-exporting it and adds the :class:`Exporter`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rollouts.devcluster.prometheus import (
    PROMETHEUS,
    PROMTOOL,
    SCRAPE_INTERVAL,
    PrometheusServer,
    PrometheusUnavailableError,
    Series,
    free_port,
    http_get,
    label_text,
    number_text,
    openmetrics_text,
)

__all__ = [
    "PROMETHEUS",
    "PROMTOOL",
    "SCRAPE_INTERVAL",
    "Exporter",
    "PrometheusServer",
    "PrometheusUnavailableError",
    "Series",
    "free_port",
    "http_get",
    "openmetrics_text",
    "running_exporter",
]

# --------------------------------------------------------------------------------------------------------------
# The exporter


class Exporter:
    """Serves Prometheus text format from values the test sets; counts scrapes so tests can wait for one."""

    def __init__(self) -> None:
        self._values: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        self._lock = threading.Condition()
        self.scrapes = 0
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with exporter._lock:
                    exporter.scrapes += 1
                    exporter._lock.notify_all()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- the stdlib's name
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="exporter", daemon=True)

    @classmethod
    def start(cls) -> Exporter:
        exporter = cls()
        exporter._thread.start()
        return exporter

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values.setdefault(name, {})[tuple(sorted(labels.items()))] = float(value)

    def remove(self, name: str) -> None:
        with self._lock:
            self._values.pop(name, None)

    def render(self) -> str:
        with self._lock:
            lines: list[str] = []
            for name, series in sorted(self._values.items()):
                kind = "counter" if name.endswith("_total") else "gauge"
                lines.append(f"# TYPE {name} {kind}")
                lines.extend(
                    f"{name}{label_text(dict(labels))} {number_text(value)}" for labels, value in series.items()
                )
            return "\n".join(lines) + "\n"

    def wait_scraped(self, prometheus: PrometheusServer | None = None, *, timeout: float = 15.0) -> None:
        """Block until a scrape that started after this call has been served (and, with ``prometheus``, ingested)."""
        with self._lock:
            target = self.scrapes + 2  # one scrape may already be in flight with the old values
            if not self._lock.wait_for(lambda: self.scrapes >= target, timeout=timeout):
                raise TimeoutError(f"exporter was not scraped within {timeout}s")
        if prometheus is not None:
            time.sleep(0.1)  # the scrape's samples are appended right after the response is read

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def running_exporter() -> Iterator[Exporter]:
    exporter = Exporter.start()
    try:
        yield exporter
    finally:
        exporter.close()
