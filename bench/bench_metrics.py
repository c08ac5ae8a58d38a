"""What a Prometheus scrape of the controller's ``/metrics`` costs with N Rollouts and their AnalysisRuns (issue 12).

On one fresh local cluster, one ``rollouts controller`` (this source tree, one namespace, no leader election) is
scraped the way Prometheus scrapes it, first with nothing to report (the baseline: process and runtime series, the
counters' first samples) and then with N Rollouts (2 replicas, canary ``setWeight 50 -> pause 1s -> setWeight 100``,
all Healthy) and N AnalysisRuns (two web metrics each, against a local HTTP endpoint, all Successful) in its caches.
Measured per state, over ``--scrapes`` scrapes each:

- **bytes**: the body as Prometheus reads it, plain (text format 0.0.4) and gzip (what Prometheus asks for);
- **samples**: lines that are not comments;
- **time**: wall time of one ``GET /metrics`` from the client's side (median and p90), plain and gzip: what
  Prometheus records as ``scrape_duration_seconds``;
- **controller CPU per scrape**: ``/proc/<pid>/stat`` utime+stime over the gzip scrapes, divided by their number
  (the idle controller's own work in that window is part of it, equally for both states).

The controller is otherwise idle while it is scraped (everything Healthy/Successful), so the numbers are the
exposition's cost, not a reconcile's. Only the ratios to the baseline of the same run mean much on a shared 2-core
machine. ``--write docs/performance.md`` replaces the block between the markers there with this run's table.

    python bench/bench_metrics.py [--n 200] [--scrapes 30] [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http.server
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from rollouts.devcluster.cluster import ClusterInfo, LocalCluster  # noqa: E402
from tools.conformance.controllers import free_port  # noqa: E402

BEGIN = "<!-- BEGIN bench_metrics: written by `python bench/bench_metrics.py --write`; do not edit by hand -->"
END = "<!-- END bench_metrics -->"
NAMESPACE = "bench-metrics"
STEPS = [{"setWeight": 50}, {"pause": {"duration": "1s"}}, {"setWeight": 100}]
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# -- pure parts -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scrapes:
    """One state's scrapes."""

    label: str
    plain_bytes: int
    gzip_bytes: int
    samples: int
    plain_ms: Sequence[float]
    gzip_ms: Sequence[float]
    cpu_ms_per_scrape: float


def sample_count(text: str) -> int:
    """Samples in an exposition: its lines that are neither comments nor empty."""
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)] if ordered else 0.0


def cpu_seconds(stat_line: str, ticks_per_second: int) -> float:
    """utime+stime+cutime+cstime of a ``/proc/<pid>/stat`` line, in seconds (the command may contain spaces)."""
    fields = stat_line.rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / ticks_per_second


def table(baseline: Scrapes, loaded: Scrapes, *, n: int, when: str, machine: str) -> str:
    """The Markdown block for docs/performance.md."""

    def row(item: Scrapes) -> str:
        return (
            f"| {item.label} | {item.samples:,} | {item.plain_bytes:,} | {item.gzip_bytes:,} | "
            f"{statistics.median(item.plain_ms):.1f} / {p90(item.plain_ms):.1f} | "
            f"{statistics.median(item.gzip_ms):.1f} / {p90(item.gzip_ms):.1f} | {item.cpu_ms_per_scrape:.1f} |"
        )

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.1f}" if b else "-"

    header = (
        "| state | samples | bytes (plain) | bytes (gzip) | ms plain: median / p90 | ms gzip: median / p90 "
        "| controller CPU ms per scrape |"
    )
    times = (
        f"median time {ratio(statistics.median(loaded.plain_ms), statistics.median(baseline.plain_ms))}x plain, "
        f"{ratio(statistics.median(loaded.gzip_ms), statistics.median(baseline.gzip_ms))}x gzip"
    )
    sizes = (
        f"bytes {ratio(loaded.plain_bytes, baseline.plain_bytes)}x plain, "
        f"{ratio(loaded.gzip_bytes, baseline.gzip_bytes)}x gzip"
    )
    per_rollout = (
        f"Each Rollout with its AnalysisRun adds {(loaded.plain_bytes - baseline.plain_bytes) / n:,.0f} bytes "
        f"({(loaded.samples - baseline.samples) / n:.0f} samples) to a plain scrape."
    )
    cpu = f"CPU per scrape {ratio(loaded.cpu_ms_per_scrape, baseline.cpu_ms_per_scrape)}x"
    return "\n".join([
        f"Measured {when} on {machine}; {len(loaded.plain_ms)} scrapes per state.",
        "",
        header,
        "|---|---|---|---|---|---|---|",
        row(baseline),
        row(loaded),
        "",
        f"Ratios to the empty controller (same run): {sizes}; {times}; {cpu}. {per_rollout}",
    ])  # fmt: skip


def replace_block(document: str, block: str) -> str:
    start, end = document.index(BEGIN) + len(BEGIN), document.index(END)
    return document[:start] + "\n" + block + "\n" + document[end:]


# -- manifests ----------------------------------------------------------------------------------------------------


def rollout_manifest(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
            },
            "strategy": {"canary": {"steps": STEPS}},
        },
    }


def analysis_run_manifest(name: str, url: str) -> dict[str, Any]:
    """An AnalysisRun of two web metrics on ``url`` (which answers ``{"rate": 0.99, "latency": 0.12}``)."""
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": name},
        "spec": {
            "metrics": [
                {
                    "name": "success-rate",
                    "successCondition": "result >= 0.95",
                    "provider": {"web": {"url": url, "jsonPath": "{$.rate}"}},
                },
                {
                    "name": "latency",
                    "successCondition": "result < 0.5",
                    "provider": {"web": {"url": url, "jsonPath": "{$.latency}"}},
                },
            ]
        },
    }


# -- the run ----------------------------------------------------------------------------------------------------


Kubectl = Callable[..., str]


def kubectl_for(cluster: ClusterInfo) -> Kubectl:
    def run(*args: str, stdin: str | None = None, timeout: float = 120) -> str:
        result = subprocess.run(  # noqa: S603 -- the cluster's own kubectl
            [str(cluster.kubectl), f"--kubeconfig={cluster.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    return run


def apply_all(kubectl: Kubectl, manifests: Sequence[Mapping[str, Any]]) -> None:
    for start in range(0, len(manifests), 50):
        kubectl("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump_all(manifests[start : start + 50]))


def wait_until(what: str, done: Callable[[], bool], *, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if done():
            return time.monotonic() - started
        time.sleep(1.0)
    raise TimeoutError(f"{what}: not done after {timeout:.0f} s")


def count_phases(kubectl: Kubectl, plural: str) -> dict[str, int]:
    listed = json.loads(kubectl("get", plural, "-n", NAMESPACE, "-o", "json", timeout=120))
    counts: dict[str, int] = {}
    for item in listed["items"]:
        phase = str((item.get("status") or {}).get("phase") or "")
        counts[phase] = counts.get(phase, 0) + 1
    return counts


class _Endpoint(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"rate": 0.99, "latency": 0.12}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        return


@contextmanager
def endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def get(url: str, *, gzipped: bool) -> tuple[bytes, float]:
    """The body as sent and the wall time of one GET, in ms."""
    headers = {"Accept-Encoding": "gzip"} if gzipped else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 -- the controller's http:// endpoint
    started = time.perf_counter()
    with _NO_PROXY.open(request, timeout=30) as response:
        body = response.read()
    return body, 1000 * (time.perf_counter() - started)


def scrape(label: str, url: str, pid: int, *, times: int) -> Scrapes:
    ticks = os.sysconf("SC_CLK_TCK")
    plain_ms, gzip_ms = [], []
    plain = b""
    for _ in range(times):
        plain, elapsed = get(url, gzipped=False)
        plain_ms.append(elapsed)
    stat = Path(f"/proc/{pid}/stat")
    before = cpu_seconds(stat.read_text(), ticks)
    zipped = b""
    for _ in range(times):
        zipped, elapsed = get(url, gzipped=True)
        gzip_ms.append(elapsed)
    cpu = cpu_seconds(stat.read_text(), ticks) - before
    assert gzip.decompress(zipped).split(b"\n")[0] == plain.split(b"\n")[0]
    return Scrapes(
        label=label,
        plain_bytes=len(plain),
        gzip_bytes=len(zipped),
        samples=sample_count(plain.decode()),
        plain_ms=plain_ms,
        gzip_ms=gzip_ms,
        cpu_ms_per_scrape=1000 * cpu / times,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="Rollouts, and as many AnalysisRuns")
    parser.add_argument("--scrapes", type=int, default=30, help="scrapes per state (plain, then as many gzipped)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for all Healthy/Successful")
    parser.add_argument("--write", type=Path, help="replace the results block of this Markdown file")
    args = parser.parse_args(argv)

    def log(text: str) -> None:
        print(f"[bench] {text}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    cluster = LocalCluster(state_dir=work / "cluster", nodes=max(2, math.ceil(2 * args.n / 100) + 1))
    info = cluster.start(tie_to_parent=True, timeout=240)
    try:
        baseline, loaded = measure(info, work, n=args.n, scrapes=args.scrapes, timeout=args.timeout, log=log)
    finally:
        cluster.stop()
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
    block = table(baseline, loaded, n=args.n, when=when, machine=machine)
    print(block)
    if args.write is not None:
        args.write.write_text(replace_block(args.write.read_text(), block))
        log(f"wrote {args.write}")
    return 0


def measure(
    info: ClusterInfo, work: Path, *, n: int, scrapes: int, timeout: float, log: Callable[[str], None]
) -> tuple[Scrapes, Scrapes]:
    """Install, start the controller, scrape it empty, create the objects, scrape it again."""
    from rollouts.kube.install import install
    from workflows.runtime.kube import Kube

    kubectl = kubectl_for(info)
    client = Kube.from_kubeconfig(str(info.kubeconfig))
    install(client, rbac=False)
    client.close()
    kubectl("create", "namespace", NAMESPACE)
    metrics_port, healthz_port = free_port(), free_port()
    with (work / "controller.log").open("ab") as sink:
        controller = subprocess.Popen(  # noqa: S603 -- this interpreter, our own CLI
            [
                sys.executable, "-m", "rollouts.cli", "controller", f"--kubeconfig={info.kubeconfig}",
                f"--namespace={NAMESPACE}", f"--metrics-port={metrics_port}", f"--healthz-port={healthz_port}",
                "--no-leader-elect",
            ],
            stdout=sink, stderr=subprocess.STDOUT, cwd=REPO, env=os.environ | {"PYTHONPATH": str(REPO)},
        )  # fmt: skip
    url = f"http://127.0.0.1:{metrics_port}/metrics"

    def ready() -> bool:
        try:
            with _NO_PROXY.open(f"http://127.0.0.1:{healthz_port}/readyz", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    try:
        wait_until("the controller's caches synced", ready, timeout=120)
        time.sleep(2)
        log(f"empty controller: {scrapes} scrapes plain, {scrapes} gzip")
        baseline = scrape("empty controller", url, controller.pid, times=scrapes)
        names = [f"r{i:04d}" for i in range(n)]
        with endpoint() as answer_url:
            apply_all(kubectl, [rollout_manifest(name) for name in names])
            apply_all(kubectl, [analysis_run_manifest(f"{name}-check", answer_url) for name in names])
            took = wait_until(
                f"{n} Rollouts Healthy and {n} AnalysisRuns Successful",
                lambda: (
                    count_phases(kubectl, "rollouts.rollouts.dev").get("Healthy", 0) == n
                    and count_phases(kubectl, "analysisruns.rollouts.dev").get("Successful", 0) == n
                ),
                timeout=timeout,
            )
            log(f"{n} Rollouts Healthy, {n} AnalysisRuns Successful after {took:.0f} s")
            time.sleep(5)  # the last status writes reach the cache
            loaded = scrape(f"{n} Rollouts + {n} AnalysisRuns", url, controller.pid, times=scrapes)
    finally:
        if controller.poll() is None:
            controller.terminate()
            try:
                controller.wait(timeout=30)
            except subprocess.TimeoutExpired:
                controller.kill()
    return baseline, loaded


if __name__ == "__main__":
    raise SystemExit(main())
