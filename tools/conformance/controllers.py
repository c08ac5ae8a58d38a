"""The controller under test: Argo's ``rollouts-controller`` or ours, started the way the e2e suite expects.

What the suite expects of the controller (from Argo's ``make start-e2e`` and the tests):
- it serves only objects labelled with its instance id (``--instance-id``, the suite's ``E2E_INSTANCE_ID``);
- its Prometheus metrics are on ``localhost:8090`` (``TestControllerMetrics`` reads
  ``http://localhost:8090/metrics``), so only one measurement can run on a machine at a time;
- it runs out of cluster with a kubeconfig; its own namespace (``POD_NAMESPACE``, used by Argo for its ConfigMap
  and the leader-election Lease) is ``argo-rollouts``.

Ours is ``rollouts controller --api-group argoproj.io --instance-id ID`` from this source tree (drop-in mode). A
controller that exits during start-up is reported with its exit code and last log lines; the run then reports
every test as not run, instead of waiting for timeouts.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tools.conformance import processes
from tools.conformance.environment import CONTROLLER_NAMESPACE, Environment
from tools.conformance.peer import Peer

__all__ = [
    "CONTROLLERS",
    "METRICS_PORT",
    "ControllerSpec",
    "ControllerStartError",
    "RunningController",
    "argo",
    "ours",
    "start",
]

CONTROLLERS = ("argo", "ours")
METRICS_PORT = 8090  # Argo's default (controller.DefaultMetricsPort), which TestControllerMetrics reads
_REPO = Path(__file__).resolve().parents[2]


class ControllerStartError(Exception):
    """The controller exited, or never became ready, during start-up."""


@dataclass(frozen=True, kw_only=True)
class ControllerSpec:
    name: str  # the report's column: "argo" or "ours"
    description: str
    command: tuple[str, ...]
    env: dict[str, str] = field(repr=False)
    # Given the controller's log: True once the controller serves; None: ready when it is still running after
    # ``settle`` seconds.
    ready: Callable[[Path], bool] | None = None
    settle: float = 5.0
    start_timeout: float = 60.0
    note: str = ""  # something the report should say about this start (a port that had to change)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("0.0.0.0", port))  # noqa: S104 -- probing the address Argo's controller binds
        except OSError:
            return False
        return True


def _http_ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


# client-go's leader election logs this once the lease is held; Argo's controllers only start working then.
_LEADER = b"successfully acquired lease"


def _serving_and_leading(healthz: str) -> Callable[[Path], bool]:
    def probe(log: Path) -> bool:
        try:
            leading = _LEADER in log.read_bytes()
        except OSError:
            return False
        return leading and _http_ok(healthz)

    return probe


def _metrics_port() -> tuple[int, str]:
    """Argo's metrics port when it is free, else another one and a note saying what that costs."""
    if port_free(METRICS_PORT):
        return METRICS_PORT, ""
    metrics = free_port()
    return metrics, f"port {METRICS_PORT} was in use: metrics on {metrics}, so TestControllerMetrics cannot pass"


def argo(peer: Peer, environment: Environment, *, instance_id: str) -> ControllerSpec:
    """Argo's controller as its e2e CI runs it (``make start-e2e``), with our kubeconfig and ports."""
    healthz = free_port()
    metrics, note = _metrics_port()
    command = (
        str(peer.controller_binary),
        f"--kubeconfig={environment.controller_kubeconfig}",
        f"--instance-id={instance_id}",
        "--loglevel=debug",
        f"--healthzPort={healthz}",
        f"--metricsPort={metrics}",
    )
    return ControllerSpec(
        name="argo",
        description=f"Argo Rollouts {peer.version} (rollouts-controller, built from the module)",
        command=command,
        env=environment.env(environment.controller_kubeconfig) | {"POD_NAMESPACE": CONTROLLER_NAMESPACE},
        ready=_serving_and_leading(f"http://127.0.0.1:{healthz}/healthz"),
        settle=2.0,
        note=note,
    )


def ours(environment: Environment, *, instance_id: str) -> ControllerSpec:
    """Our controller in drop-in mode, from this source tree (not whatever ``rollouts`` is installed)."""
    metrics, note = _metrics_port()
    command = (
        sys.executable,
        "-m",
        "rollouts.cli",
        "controller",
        f"--kubeconfig={environment.controller_kubeconfig}",
        "--api-group=argoproj.io",
        f"--instance-id={instance_id}",
        f"--metrics-port={metrics}",
        "--healthz-port=0",
    )
    env = environment.env(environment.controller_kubeconfig) | {
        "POD_NAMESPACE": CONTROLLER_NAMESPACE,
        "PYTHONPATH": str(_REPO),
    }
    return ControllerSpec(
        name="ours",
        description="rollouts controller --api-group argoproj.io (this source tree)",
        command=command,
        env=env,
        ready=None,
        settle=15.0,
        note=note,
    )


def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class RunningController:
    spec: ControllerSpec
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def exit_code(self) -> int | None:
        return self.process.poll()

    def last_lines(self, lines: int = 12) -> str:
        return _tail(self.log, lines)

    def stop(self) -> int | None:
        return processes.stop(self.process)


def start(spec: ControllerSpec, *, log: Path) -> RunningController:
    """Start the controller; return once it is ready. Raises :class:`ControllerStartError` (nothing left running)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        process = processes.spawn(spec.command, env=spec.env, cwd=_REPO, stdout=sink)
    running = RunningController(spec=spec, process=process, log=log)
    started = time.monotonic()
    ready_since: float | None = None
    while True:
        if not running.alive():
            raise ControllerStartError(
                f"`{' '.join(spec.command[:4])} ...` exited with code {running.exit_code} during start-up; "
                f"last lines of {log}:\n{running.last_lines()}"
            )
        now = time.monotonic()
        if ready_since is None and (spec.ready is None or spec.ready(log)):
            ready_since = now
        if ready_since is not None and now - ready_since >= spec.settle:
            return running
        if now - started > spec.start_timeout:
            running.stop()
            raise ControllerStartError(
                f"not ready after {spec.start_timeout:.0f} s; last lines of {log}:\n{running.last_lines()}"
            )
        time.sleep(0.2)
