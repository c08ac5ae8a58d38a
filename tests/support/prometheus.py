"""A real Prometheus for tests: Debian's ``/usr/bin/prometheus`` scraping a tiny exporter the test controls, or
serving history loaded with ``promtool tsdb create-blocks-from openmetrics`` for backtests.

Live mode::

    exporter = Exporter.start()
    exporter.set("http_requests_total", 120, version="v2", code="200")
    with PrometheusServer.start(workdir, scrape=exporter.address) as prom:
        exporter.wait_scraped(prom)        # the next scrape has the values just set
        ...  prom.url is http://127.0.0.1:PORT

History mode (deterministic values at known instants, hours ago, inside a 10y retention)::

    with PrometheusServer.with_history(workdir, [Series("success_rate", {"version": "v2"}, samples)]) as prom: ...

Everything binds 127.0.0.1 and talks to it without the environment's proxy. ``PrometheusUnavailableError`` is raised
when the binaries are missing; fixtures turn that into skip (locally) or failure (CI).
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
SCRAPE_INTERVAL = 1.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class PrometheusUnavailableError(RuntimeError):
    """The prometheus/promtool binaries are not installed (Debian package ``prometheus``)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, *, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with _NO_PROXY.open(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(labels.items()))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


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
                lines.extend(f"{name}{_labels(dict(labels))} {_number(value)}" for labels, value in series.items())
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


# --------------------------------------------------------------------------------------------------------------
# History


@dataclass(frozen=True, slots=True)
class Series:
    """One gauge series with ``(instant, value)`` samples for history mode."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    samples: Sequence[tuple[datetime, float]] = ()


def openmetrics_text(series: Sequence[Series]) -> str:
    """The OpenMetrics exposition promtool imports: gauges with explicit timestamps (seconds), ``# EOF`` last."""
    lines: list[str] = []
    by_name: dict[str, list[Series]] = {}
    for item in series:
        by_name.setdefault(item.name, []).append(item)
    for name, items in by_name.items():
        lines.append(f"# TYPE {name} gauge")
        for item in items:
            lines.extend(
                f"{name}{_labels(item.labels)} {_number(value)} {instant.timestamp():.3f}"
                for instant, value in sorted(item.samples)
            )
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------------------
# The server


class PrometheusServer:
    """A Prometheus process on a free 127.0.0.1 port; a context manager that stops it cleanly."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, workdir: Path) -> None:
        self.process = process
        self.url = url
        self.workdir = workdir

    @staticmethod
    def require_binaries() -> None:
        for binary in (PROMETHEUS, PROMTOOL):
            if not Path(binary).exists() and shutil.which(Path(binary).name) is None:
                raise PrometheusUnavailableError(f"{binary} is not installed (apt-get install prometheus)")

    @classmethod
    def start(
        cls,
        workdir: Path,
        *,
        scrape: str | None = None,
        storage: Path | None = None,
        port: int | None = None,
        wait_for_scrape: bool = True,
    ) -> PrometheusServer:
        cls.require_binaries()
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "prometheus.yml"
        scrape_configs = ""
        if scrape:
            scrape_configs = (
                "scrape_configs:\n"
                "  - job_name: exporter\n"
                f"    scrape_interval: {SCRAPE_INTERVAL:g}s\n"
                f"    scrape_timeout: {SCRAPE_INTERVAL:g}s\n"
                f"    static_configs: [{{targets: ['{scrape}']}}]\n"
            )
        config.write_text(
            f"global:\n  scrape_interval: {SCRAPE_INTERVAL:g}s\n  evaluation_interval: 15s\n{scrape_configs}"
        )
        port = port or free_port()
        data = storage or workdir / "data"
        log = (workdir / "prometheus.log").open("ab")
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                "--storage.tsdb.retention.time=10y",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        server = cls(process, f"http://127.0.0.1:{port}", workdir)
        try:
            server.wait_ready()
            if scrape and wait_for_scrape:
                server.wait_for('up{job="exporter"} == 1')
        except BaseException:
            server.stop()
            raise
        return server

    @classmethod
    def with_history(cls, workdir: Path, series: Sequence[Series]) -> PrometheusServer:
        """Load ``series`` into a fresh TSDB with promtool, then serve it (no scraping)."""
        cls.require_binaries()
        workdir.mkdir(parents=True, exist_ok=True)
        source = workdir / "history.om"
        source.write_text(openmetrics_text(series))
        storage = workdir / "data"
        result = subprocess.run(
            [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(source), str(storage)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"promtool failed ({result.returncode}): {result.stderr or result.stdout}")
        return cls.start(workdir, storage=storage)

    def wait_ready(self, *, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.process.returncode}: {self.log_tail()}")
            with contextlib.suppress(OSError):
                status, _ = http_get(f"{self.url}/-/ready", timeout=1.0)
                if status == 200:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"prometheus was not ready within {timeout}s: {self.log_tail()}")

    def query(self, promql: str, *, at: datetime | None = None) -> list[Any]:
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at.timestamp():.3f}"
        status, body = http_get(f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}")
        if status != 200:
            raise RuntimeError(f"query {promql!r} failed with {status}: {body[:300]!r}")
        result: list[Any] = json.loads(body)["data"]["result"]
        return result

    def wait_for(self, promql: str, *, timeout: float = 20.0) -> list[Any]:
        """Poll until ``promql`` returns a non-empty result (e.g. the first scrape has landed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, RuntimeError):
                result = self.query(promql)
                if result:
                    return result
            time.sleep(0.1)
        raise TimeoutError(f"{promql!r} stayed empty for {timeout}s: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        path = self.workdir / "prometheus.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, *, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)

    def __enter__(self) -> PrometheusServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


@contextlib.contextmanager
def running_exporter() -> Iterator[Exporter]:
    exporter = Exporter.start()
    try:
        yield exporter
    finally:
        exporter.close()
