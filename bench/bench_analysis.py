"""Concurrency of an AnalysisRun's metrics on the shared executor, against the same metrics run serially.

Setup: a loopback HTTP server whose answers take ``--delay`` seconds (1 s by default); an AnalysisRun of ``--metrics``
web metrics (20 by default), each one measurement. Engine: the metrics are independent, so they run concurrently.
Baseline, same run, same engine and server: the metrics chained by ``dependencies`` (each waits for the previous),
which is how a serial driver would take them. Also: per-measurement overhead with an instant endpoint.
Run: ``.venv/bin/python bench/bench_analysis.py [--metrics 20] [--delay 1.0]``.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from analysis.providers import default_providers
from analysis.runner import METRIC_KIND, MetricRunner, run_analysis
from analysis.spec import parse_run_spec
from workflows import Executor, ExecutorConfig, RunnerRegistry


class _NoSecrets:
    def resolve_secret(self, namespace: str, name: str, key: str) -> str:
        raise KeyError(key)


class _Server(ThreadingHTTPServer):
    # The listen backlog is fixed when the socket is bound: with the default of 5, a burst of concurrent
    # connections overflows it and the kernel makes the extras retry their SYN a second later.
    request_queue_size = 128
    daemon_threads = True


def start_server(delay: float) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path.startswith("/slow"):
                time.sleep(delay)
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    server = _Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host!s}:{port}"


def spec(url: str, count: int, *, chained: bool, measurements: int = 1) -> dict[str, Any]:
    metrics = []
    for index in range(count):
        metric: dict[str, Any] = {
            "name": f"m{index}",
            "successCondition": "result.ok",
            "provider": {"web": {"url": url}},
        }
        if measurements > 1:
            metric |= {"count": measurements, "interval": "1ms"}
        if chained and index:
            metric["dependencies"] = [f"m{index - 1}"]
        metrics.append(metric)
    return {"metrics": metrics}


async def timed(body: dict[str, Any]) -> float:
    runner = MetricRunner(providers=default_providers(), secrets=_NoSecrets())
    executor = Executor(
        registry=RunnerRegistry({METRIC_KIND: runner}), config=ExecutorConfig(status_interval=0, max_threads=64)
    )
    started = time.perf_counter()
    outcome = await run_analysis(executor, parse_run_spec(body), name="bench")
    elapsed = time.perf_counter() - started
    await executor.close()
    assert outcome.phase == "Successful", outcome.message
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--delay", type=float, default=1.0)
    options = parser.parse_args()
    server, base = start_server(options.delay)
    try:
        n, delay = options.metrics, options.delay
        concurrent = asyncio.run(timed(spec(f"{base}/slow", n, chained=False)))
        serial = asyncio.run(timed(spec(f"{base}/slow", n, chained=True)))
        print(f"{n} metrics x {delay:g}s endpoint")
        print(f"  concurrent (engine): {concurrent:6.2f}s   ideal {delay:.2f}s")
        print(f"  serial (chained)   : {serial:6.2f}s   ideal {n * delay:.2f}s")
        print(f"  speed-up           : {serial / concurrent:6.1f}x  (ideal {n}x)")
        fast = asyncio.run(timed(spec(f"{base}/fast", 10, chained=False, measurements=20)))
        print(f"  overhead           : {fast / 200 * 1e3:6.2f} ms per measurement (10 metrics x 20, instant endpoint)")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
