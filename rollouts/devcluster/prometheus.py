"""A throwaway Prometheus next to the local cluster: Debian's ``/usr/bin/prometheus`` on a free loopback port.

Two uses share this launcher: ``make demo`` (Prometheus scrapes the demo's simulated application, and the
AnalysisTemplates query it) and the integration tests (``tests/support/prometheus.py`` re-exports it and adds a
test-controlled exporter). It lives in the product because product code must never import ``tests``.

Live mode scrapes one target every second::

    with PrometheusServer.start(workdir, scrape="127.0.0.1:9100") as prom:
        prom.query('up{job="exporter"}')        # prom.url is http://127.0.0.1:PORT

History mode loads samples at known instants with ``promtool tsdb create-blocks-from openmetrics`` (10y retention, so
"hours ago" stays queryable) and serves them without scraping::

    with PrometheusServer.with_history(workdir, [Series("success_rate", {"version": "v2"}, samples)]) as prom: ...

Everything binds 127.0.0.1 and is reached without the environment's HTTP proxy. With ``tie_to_parent=True`` the
kernel kills Prometheus when the Python process dies, so a killed demo or test run leaves no orphan behind.
:class:`PrometheusUnavailableError` says the binaries are missing; the demo reports it, test fixtures turn it into
a skip (locally) or a failure (CI).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = [
    "PROMETHEUS",
    "PROMTOOL",
    "SCRAPE_INTERVAL",
    "PrometheusServer",
    "PrometheusUnavailableError",
    "Series",
    "free_port",
    "http_get",
    "label_text",
    "number_text",
    "openmetrics_text",
]

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
SCRAPE_INTERVAL = 1.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_PR_SET_PDEATHSIG = 1


class PrometheusUnavailableError(RuntimeError):
    """The prometheus/promtool binaries are not installed (Debian package ``prometheus``)."""


def free_port() -> int:
    """A loopback port that was free a moment ago (the caller binds it next; a race is possible but harmless)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, *, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET without the environment's proxy (loopback only); an HTTP error status is returned, not raised."""
    try:
        with _NO_PROXY.open(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def label_text(labels: Mapping[str, str]) -> str:
    """``{a="1",b="x"}`` in the exposition format (sorted, escaped); empty labels give the empty string."""
    if not labels:
        return ""
    inner = ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(labels.items()))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number_text(value: float) -> str:
    """A sample value as Prometheus parses it (``NaN``, ``+Inf``, ``-Inf`` spelled its way)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _die_with_parent() -> None:
    """Runs in the child before exec: ask the kernel to SIGKILL it when the parent goes (no orphans)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


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
                f"{name}{label_text(item.labels)} {number_text(value)} {instant.timestamp():.3f}"
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

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

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
        job: str = "exporter",
        scrape_interval: float = SCRAPE_INTERVAL,
        tie_to_parent: bool = False,
    ) -> PrometheusServer:
        """Start Prometheus; with ``scrape`` (``host:port``) it scrapes that target as ``job`` every interval and,
        unless ``wait_for_scrape`` is false, returns only once the first scrape has landed (``up == 1``)."""
        cls.require_binaries()
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "prometheus.yml"
        scrape_configs = ""
        if scrape:
            scrape_configs = (
                "scrape_configs:\n"
                f"  - job_name: {job}\n"
                f"    scrape_interval: {scrape_interval:g}s\n"
                f"    scrape_timeout: {scrape_interval:g}s\n"
                f"    static_configs: [{{targets: ['{scrape}']}}]\n"
            )
        config.write_text(
            f"global:\n  scrape_interval: {scrape_interval:g}s\n  evaluation_interval: 15s\n{scrape_configs}"
        )
        port = port or free_port()
        data = storage or workdir / "data"
        with (workdir / "prometheus.log").open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 -- a fixed binary with arguments we build
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
                preexec_fn=_die_with_parent if tie_to_parent else None,  # noqa: PLW1509 -- only prctl, no locks
            )
        server = cls(process, f"http://127.0.0.1:{port}", workdir)
        try:
            server.wait_ready()
            if scrape and wait_for_scrape:
                server.wait_for(f'up{{job="{job}"}} == 1')
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
        result = subprocess.run(  # noqa: S603 -- a fixed binary with arguments we build
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
        """An instant query's ``data.result`` (a list of ``{metric, value}`` for a vector)."""
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
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

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
