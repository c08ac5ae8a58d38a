"""``make demo`` (``python -m rollouts.demo``): the demo's run, from starting the local cluster to the verdict.

What runs (all on this machine, nothing left behind):

- the local cluster (etcd, kube-apiserver, controller-manager, scheduler, KWOK) with our CRDs and RBAC and the
  published Gateway API CRDs installed;
- ``rollouts controller`` as a subprocess (its log is in the demo's work directory);
- the simulated application (:mod:`rollouts.demo.app`) and the gateway in front of it: ~100 requests/s split by the
  HTTPRoute's backendRef weights between the stable and canary Services, each share served by the Ready pods of the
  version its Service is pinned to, with errors and latency chosen by the image tag, exported as Prometheus metrics;
- Debian's Prometheus scraping it every second; the ``success-rate`` AnalysisTemplate queries it.

The story (:mod:`rollouts.demo.manifests`): deploy ``demo:1.0``; release ``demo:2.0`` (route weight 20% ->
analysis -> 50% -> pause -> analysis -> 100% -> promoted, Healthy, weight back to 0% with both Services on 2.0);
release ``demo:3.0-bad`` (its error rate shows in Prometheus, the analysis fails, the controller aborts: the route
goes back to stable 100%, Degraded). The exit code is 0 only when both happened, so the demo doubles as an
end-to-end test (``tests/integration/demo``).

This module is the only part of the demo that talks to Kubernetes (through :class:`workflows.runtime.kube.Kube`,
like the product); the traffic model, the manifests and the rendering are kube-free modules beside it. It must never
leave a process running: every process it starts dies with it.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from rich.console import Console, Group
from rich.live import Live

from rollouts.commands import CommandError
from rollouts.commands.rollouts import RolloutClient
from rollouts.commands.view import RolloutView, read_view, render_rollout
from rollouts.core.hashing import POD_TEMPLATE_HASH_LABEL as HASH_LABEL
from rollouts.demo import manifests
from rollouts.demo.app import UNROUTED, Backend, DemoApp, RouteBackend, Split, route_backend_weights, routed_split
from rollouts.demo.screen import (
    ReleaseResult,
    RouteState,
    result_lines,
    route_line,
    summary_table,
    traffic_line,
    version_rates,
)
from rollouts.devcluster import ClusterError, ClusterInfo, LocalCluster
from rollouts.devcluster.prometheus import PrometheusServer, PrometheusUnavailableError
from rollouts.kube.install import install, install_routing_crds
from workflows.runtime.kube import (
    ANALYSIS_TEMPLATES,
    HTTP_ROUTES,
    NAMESPACES,
    PODS,
    ROLLOUTS,
    SERVICE_ACCOUNTS,
    SERVICES,
    ApiError,
    Kube,
)

__all__ = ["DemoError", "main", "read_route", "traffic_split"]

NAMESPACE = "rollouts-demo"
_PR_SET_PDEATHSIG = 1
#: Seconds an observer's read may take (1 Hz loops: better to skip a tick than to stall the screen or the traffic).
_OBSERVE_TIMEOUT = 5.0


class DemoError(Exception):
    """Something the demo needs did not happen; the message says what and where to look."""


# --------------------------------------------------------------------------------------------------------------
# Traffic: the one place that decides which version gets which share of the requests


def read_route(kube: Kube, *, namespace: str) -> list[RouteBackend] | None:
    """The HTTPRoute's backends as a gateway resolves them: weight, and the version each Service's selector pins.

    None before the route exists. A backendRef to a Service that does not exist gets
    :data:`~rollouts.demo.app.UNROUTED` (nothing can answer).
    """
    route = kube.get(HTTP_ROUTES, manifests.HTTP_ROUTE, namespace)
    if route is None:
        return None
    selectors = {
        svc["metadata"]["name"]: (svc.get("spec") or {}).get("selector") or {}
        for svc in kube.list(SERVICES, namespace).items
    }
    return [
        RouteBackend(
            service=name,
            weight=weight,
            version=selectors[name].get(HASH_LABEL) if name in selectors else UNROUTED,
        )
        for name, weight in route_backend_weights(route)
    ]


def traffic_split(kube: Kube, *, namespace: str) -> tuple[list[Backend], Split]:
    """The application's versions and the share of requests each one receives right now.

    The demo's Rollout is routed: the HTTPRoute's weights decide the split between the stable and canary Services
    and each Service's share goes to the Ready pods of the version it is pinned to
    (:func:`rollouts.demo.app.routed_split`); a share without Ready pods is answered 503.
    """
    ready: dict[str, int] = {}
    images: dict[str, str] = {}
    for pod in kube.list(PODS, namespace, label_selector=f"app={manifests.ROLLOUT}").items:
        version = (pod["metadata"].get("labels") or {}).get(HASH_LABEL)
        if not version:
            continue
        containers = (pod.get("spec") or {}).get("containers") or []
        images.setdefault(version, str(containers[0].get("image", "")) if containers else "")
        is_ready = not pod["metadata"].get("deletionTimestamp") and any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (pod.get("status") or {}).get("conditions") or []
        )
        ready[version] = ready.get(version, 0) + int(is_ready)
    backends = [Backend(version=v, image=images[v], ready_pods=n) for v, n in sorted(ready.items())]
    route = read_route(kube, namespace=namespace)
    if route is None:
        return backends, Split()  # not deployed yet: no route, so no requests reach the app
    return backends, routed_split(route, backends)


def _route_state(backends: Sequence[RouteBackend]) -> RouteState:
    by_service = {b.service: b for b in backends}
    canary, stable = by_service.get(manifests.CANARY_SERVICE), by_service.get(manifests.STABLE_SERVICE)
    return RouteState(
        canary_weight=canary.weight if canary else 0,
        stable_weight=stable.weight if stable else 0,
        canary_version=canary.version if canary else None,
        stable_version=stable.version if stable else None,
    )


class _RouteWatch:
    """Every (canary, stable) weight pair the HTTPRoute held, from a watch (a thread).

    Polling would miss the short moments that matter: at promotion the canary carries 100% for about one
    reconcile before the stable Service moves to it and the weight returns to 0.
    """

    def __init__(self, kube: Kube, *, namespace: str) -> None:
        self._kube = kube
        self._namespace = namespace
        self._lock = threading.Lock()
        self._history: list[tuple[float, int, int]] = []  # (monotonic time, canary weight, stable weight)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-route-watch", daemon=True)

    def start(self) -> _RouteWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)  # a blocked watch read ends within its timeout; the thread is a daemon

    def _record(self, route: Mapping[str, Any]) -> None:
        weights = dict(route_backend_weights(route))
        pair = (weights.get(manifests.CANARY_SERVICE, 0), weights.get(manifests.STABLE_SERVICE, 0))
        with self._lock:
            if not self._history or self._history[-1][1:] != pair:
                self._history.append((time.monotonic(), *pair))

    def _run(self) -> None:
        # No resourceVersion at first: the server sends the route's current state as ADDED, then the changes. The
        # short server timeout bounds how long stop() waits for the thread.
        resource_version: str | None = None
        while not self._stopping.is_set():
            try:
                for event in self._kube.watch(
                    HTTP_ROUTES, self._namespace, field_selector=f"metadata.name={manifests.HTTP_ROUTE}",
                    resource_version=resource_version, timeout_seconds=5,
                ):  # fmt: skip
                    if event.type == "ERROR":  # e.g. 410 Gone: start over from the current state
                        resource_version = None
                        break
                    resource_version = str(event.object["metadata"]["resourceVersion"])
                    if event.type in {"ADDED", "MODIFIED"}:
                        self._record(event.object)
                    if self._stopping.is_set():
                        break
            except Exception:  # noqa: BLE001 -- API trouble must not end the record; try again
                if self._stopping.is_set():
                    return
                time.sleep(0.5)

    def since(self, started: float) -> list[tuple[int, int]]:
        """The pairs held at any time from ``started`` on (the one in force at ``started`` first)."""
        with self._lock:
            before = [h for h in self._history if h[0] <= started][-1:]
            return [(c, s) for _, c, s in before + [h for h in self._history if h[0] > started]]


# --------------------------------------------------------------------------------------------------------------
# Processes


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel kills it when the demo goes, even on SIGKILL (no orphans)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class _Controller:
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, *, kubeconfig: Path, namespace: str, log: Path) -> _Controller:
        # /metrics on a free port: the demo must not fail because another controller (or anything) has 8090.
        env = dict(os.environ)
        # The controller reaches the demo's Prometheus on loopback: never through a proxy.
        env["NO_PROXY"] = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
        with log.open("ab") as sink:
            process = subprocess.Popen(  # noqa: S603 -- our own CLI, arguments we build
                [sys.executable, "-m", "rollouts.cli", "controller", f"--kubeconfig={kubeconfig}",
                 f"--namespace={namespace}", f"--metrics-port={_free_port()}", "--healthz-port=0"],
                stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, env=env,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 -- only prctl, no locks
            )  # fmt: skip
        return cls(process=process, log=log)

    def check(self) -> None:
        if self.process.poll() is not None:
            raise DemoError(f"the controller exited with {self.process.returncode}; its log: {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _until(probe: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------------------------------
# The show


@dataclass
class _Show:
    console: Console
    kube: Kube
    rollouts: RolloutClient
    prometheus: PrometheusServer
    controller: _Controller
    timing: manifests.Timing
    route_watch: _RouteWatch

    def images_by_hash(self, view: RolloutView) -> dict[str, str]:
        images: dict[str, str] = {}
        for rs in view.replica_sets:
            pod_hash = (rs["metadata"].get("labels") or {}).get(HASH_LABEL)
            containers = ((rs["spec"].get("template") or {}).get("spec") or {}).get("containers") or []
            if pod_hash and containers:
                images[pod_hash] = str(containers[0].get("image", ""))
        return images

    def traffic(self, view: RolloutView) -> Group:
        """The route's split (from the cluster) over the traffic each version served (from Prometheus)."""
        images = self.images_by_hash(view)
        try:
            backends = read_route(self.kube.with_timeout(_OBSERVE_TIMEOUT), namespace=NAMESPACE)
        except (ApiError, urllib3.exceptions.HTTPError, OSError):
            backends = None
        route = route_line(_route_state(backends) if backends is not None else None, images=images)
        try:
            samples = self.prometheus.query("sum by (version, code) (rate(demo_requests_total[5s]))")
        except (OSError, RuntimeError) as error:
            return Group(route, f"traffic: Prometheus did not answer ({error})")
        return Group(route, traffic_line(version_rates(samples), images=images))

    def deploy(self) -> None:
        for service in manifests.services(namespace=NAMESPACE):
            self.kube.create(SERVICES, service, NAMESPACE)
        self.kube.create(HTTP_ROUTES, manifests.http_route(namespace=NAMESPACE), NAMESPACE)
        self.console.print(
            f"applied Services [bold]{manifests.STABLE_SERVICE}[/] and [bold]{manifests.CANARY_SERVICE}[/] and "
            f"HTTPRoute [bold]{manifests.HTTP_ROUTE}[/] (stable 100 / canary 0; parent Gateway {manifests.GATEWAY})"
        )
        self.kube.create(
            ANALYSIS_TEMPLATES,
            manifests.analysis_template(namespace=NAMESPACE, prometheus=self.prometheus.url, timing=self.timing),
            NAMESPACE,
        )
        self.kube.create(
            ROLLOUTS,
            manifests.rollout(namespace=NAMESPACE, image=manifests.INITIAL_IMAGE, timing=self.timing),
            NAMESPACE,
        )
        self.console.print(
            f"applied AnalysisTemplate [bold]{manifests.TEMPLATE}[/] (Prometheus {self.prometheus.url}) and Rollout "
            f"[bold]{manifests.ROLLOUT}[/] with {manifests.INITIAL_IMAGE}"
        )
        started = time.monotonic()

        def healthy() -> bool:
            self.controller.check()
            status = self.read_view_patiently().rollout.get("status") or {}
            return status.get("phase") == "Healthy" and status.get("availableReplicas") == manifests.REPLICAS

        _until(healthy, timeout=90, what=f"the first version ({manifests.INITIAL_IMAGE}) to become Healthy")
        self.console.print(
            f"{manifests.INITIAL_IMAGE} is stable: {manifests.REPLICAS}/{manifests.REPLICAS} pods available after "
            f"{time.monotonic() - started:.1f}s (a first deploy runs no steps)"
        )

    def read_view_patiently(self, *, attempts: int = 10) -> RolloutView:
        """``read_view``, riding out a few seconds of API trouble (a busy API server answers 429 at times)."""
        for _ in range(attempts - 1):
            with contextlib.suppress(CommandError, ApiError, urllib3.exceptions.HTTPError, OSError):
                return read_view(self.rollouts, manifests.ROLLOUT)
            time.sleep(1.0)
        return read_view(self.rollouts, manifests.ROLLOUT)  # the last attempt's error is the demo's

    def release(self, image: str, *, timeout: float) -> ReleaseResult:
        before = self.rollouts.get(manifests.ROLLOUT)
        old_stable = str((before.get("status") or {}).get("stableRS") or "")
        old_image = self.images_by_hash(read_view(self.rollouts, manifests.ROLLOUT)).get(old_stable, "?")
        self.console.rule(f"[bold]release {image}[/] (stable: {old_image})")
        events = _EventLog(self.console)
        view = read_view(self.rollouts, manifests.ROLLOUT)
        events.observe(view, self.images_by_hash(view), quiet=True)  # narrate what changes, not the previous release
        started = time.monotonic()
        self.rollouts.set_image(manifests.ROLLOUT, manifests.CONTAINER, image)
        settled_at: float | None = None
        with Live(console=self.console, refresh_per_second=2, transient=False) as live:
            while True:
                self.controller.check()
                view = self.read_view_patiently()
                events.route(self.route_watch.since(started))  # the weight moves before the step completes
                events.observe(view, self.images_by_hash(view))
                live.update(Group(render_rollout(view), self.traffic(view)))
                if _settled(view, old_stable=old_stable):
                    settled_at = settled_at or time.monotonic()
                    # After an abort the canary scales down over a few reconciles; let the screen show it.
                    if _scaled_back(view) or time.monotonic() - settled_at > 20:
                        break
                if time.monotonic() - started > timeout:
                    break
                time.sleep(1.0)
        if not self.console.is_terminal:
            self.console.line()  # a log gets the last frame without its line end
        seconds = (settled_at or time.monotonic()) - started
        release = f"{old_image} -> {image}"
        weights = self.route_watch.since(started)
        return self._result(view, release=release, image=image, old_stable=old_stable, seconds=seconds, weights=weights)

    def _result(
        self,
        view: RolloutView,
        *,
        release: str,
        image: str,
        old_stable: str,
        seconds: float,
        weights: Sequence[tuple[int, int]],
    ) -> ReleaseResult:
        status = view.rollout.get("status") or {}
        new_hash = str(status.get("currentPodHash") or "")
        images = self.images_by_hash(view)
        settled = _settled(view, old_stable=old_stable)
        error_ratio, requests = self.measured_errors(new_hash, seconds=seconds) if new_hash else (None, None)
        return ReleaseResult(
            release=release,
            image=image,
            phase=str(status.get("phase") or "Unknown") if settled else "Timeout",
            message=str(status.get("message") or ""),
            aborted=bool(status.get("abort")),
            stable_image=images.get(str(status.get("stableRS") or ""), "?"),
            seconds=seconds,
            verdicts=_verdicts(view, pod_hash=new_hash),
            error_ratio=error_ratio,
            requests=requests,
            max_canary_weight=max((canary for canary, _ in weights), default=None),
            final_weights=weights[-1] if weights else None,
        )

    def measured_errors(self, version: str, *, seconds: float) -> tuple[float | None, float | None]:
        """The new version's 5xx share and request count over the release, from Prometheus (``increase``)."""
        window = f"{math.ceil(seconds) + 5}s"
        selector = f'version="{version}"'
        try:
            total = self.prometheus.query(f"sum(increase(demo_requests_total{{{selector}}}[{window}]))")
            failed = self.prometheus.query(f'sum(increase(demo_requests_total{{{selector},code=~"5.."}}[{window}]))')
        except (OSError, RuntimeError):
            return None, None
        if not total or not failed:
            return None, None
        requests, errors = float(total[0]["value"][1]), float(failed[0]["value"][1])
        return (errors / requests if requests > 0 else None), requests


def _settled(view: RolloutView, *, old_stable: str) -> bool:
    """The release has an outcome: the new version is stable and Healthy, or the update was aborted."""
    rollout = view.rollout
    status = rollout.get("status") or {}
    current = status.get("currentPodHash")
    if str(status.get("observedGeneration", "")) != str(rollout["metadata"].get("generation", "")):
        return False
    if not current or current == old_stable:
        return False
    if status.get("phase") == "Healthy":
        return bool(status.get("stableRS") == current and status.get("availableReplicas") == manifests.REPLICAS)
    return status.get("phase") == "Degraded"


def _scaled_back(view: RolloutView) -> bool:
    """Every ReplicaSet but the stable one is at zero, and the stable one is fully available."""
    stable = (view.rollout.get("status") or {}).get("stableRS")
    for rs in view.replica_sets:
        pod_hash = (rs["metadata"].get("labels") or {}).get(HASH_LABEL)
        replicas = int(rs["spec"].get("replicas") or 0)
        available = int((rs.get("status") or {}).get("availableReplicas") or 0)
        if pod_hash == stable and available < manifests.REPLICAS:
            return False
        if pod_hash != stable and (replicas or available):
            return False
    return True


def _verdicts(view: RolloutView, *, pod_hash: str) -> tuple[str, ...]:
    verdicts = []
    for run in sorted(view.analysis_runs, key=lambda r: r["metadata"].get("creationTimestamp", "")):
        labels = run["metadata"].get("labels") or {}
        if labels.get(HASH_LABEL) != pod_hash:
            continue
        step = labels.get("rollouts.dev/step-index")
        phase = (run.get("status") or {}).get("phase") or "Pending"
        verdicts.append(f"step {step} {phase}" if step is not None else f"{run['metadata']['name']} {phase}")
    return tuple(verdicts)


class _EventLog:
    """Prints one line per change worth narrating: step, phase, pause, analysis verdicts, measurements."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.seen: dict[str, str] = {}
        self.quiet = False
        self.routes_told = 0

    def route(self, weights: Sequence[tuple[int, int]]) -> None:
        """One line per weight change of the HTTPRoute (every change the watch saw, even between two screens)."""
        for canary, stable in weights[self.routes_told :]:
            self.console.print(
                f"  HTTPRoute {manifests.HTTP_ROUTE}: canary {canary} / stable {stable}", highlight=False
            )
        self.routes_told = max(self.routes_told, len(weights))

    def _say(self, key: str, value: str, text: str) -> None:
        if self.seen.get(key) != value:
            self.seen[key] = value
            if not self.quiet:
                self.console.print(text, soft_wrap=True)

    def observe(self, view: RolloutView, images: Mapping[str, str], *, quiet: bool = False) -> None:
        self.quiet = quiet
        rollout = view.rollout
        status = rollout.get("status") or {}
        steps = ((rollout.get("spec") or {}).get("strategy") or {}).get("canary", {}).get("steps") or []
        index = status.get("currentStepIndex")
        if isinstance(index, int):
            step = f"{index}/{len(steps)}" + (f" {_describe(steps[index])}" if index < len(steps) else " (all done)")
            self._say("step", str(index), f"  step {step}")
        phase = str(status.get("phase") or "")
        message = str(status.get("message") or "")
        self._say("phase", f"{phase}:{message}", f"  phase {phase}" + (f": {message}" if message else ""))
        for run in view.analysis_runs:
            name = run["metadata"]["name"]
            run_status = run.get("status") or {}
            for result in run_status.get("metricResults") or []:
                for measurement in result.get("measurements") or []:
                    if "value" not in measurement:
                        continue
                    key = f"{name}/{result.get('name')}/{measurement.get('startedAt')}"
                    self._say(
                        key,
                        "seen",
                        f"  {name}: {result.get('name')} = {measurement['value']} -> {measurement.get('phase')}",
                    )
            run_phase = str(run_status.get("phase") or "")
            if run_phase in {"Successful", "Failed", "Error", "Inconclusive"}:
                self._say(f"run/{name}", run_phase, f"  AnalysisRun {name}: [bold]{run_phase}[/]")
        stable = images.get(str(status.get("stableRS") or ""), "?")
        self._say("stable", stable, f"  stable version: {stable}")


def _describe(step: Mapping[str, Any]) -> str:
    if "setWeight" in step:
        return f"setWeight {step['setWeight']}"
    if "pause" in step:
        duration = (step.get("pause") or {}).get("duration")
        return f"pause {duration}" if duration else "pause (until promoted)"
    if "analysis" in step:
        return "analysis " + ",".join(t.get("templateName", "?") for t in step["analysis"].get("templates") or [])
    return next(iter(step), "?")


# --------------------------------------------------------------------------------------------------------------
# Setting up and tearing down


@contextlib.contextmanager
def _cluster(state_dir: Path, *, nodes: int, keep: bool) -> Iterator[ClusterInfo]:
    """The local cluster; stopped at the end unless ``keep`` (then detached, so it outlives the demo)."""
    cluster = LocalCluster(state_dir=state_dir, nodes=nodes)
    info = cluster.start(tie_to_parent=not keep)
    try:
        yield info
    finally:
        if not keep:
            cluster.stop()


def _namespace(kube: Kube) -> None:
    kube.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})

    def service_account() -> bool:
        # Pods cannot be created before the namespace's default ServiceAccount exists (ServiceAccount admission).
        return kube.get(SERVICE_ACCOUNTS, "default", NAMESPACE) is not None

    _until(service_account, timeout=30, what=f"the default ServiceAccount of namespace {NAMESPACE}")


def _run(console: Console, *, work: Path, nodes: int, fast: bool, keep: bool) -> int:
    timing = manifests.Timing.fast() if fast else manifests.Timing.default()
    PrometheusServer.require_binaries()
    console.print(f"work directory {work} ({'--fast' if fast else 'default'} timings)", highlight=False)
    console.print("[bold]starting the local cluster[/] (etcd, kube-apiserver, controller-manager, scheduler, KWOK)")
    with contextlib.ExitStack() as stack:
        info = stack.enter_context(_cluster(work / "cluster", nodes=nodes, keep=keep))
        console.print(f"cluster ready in {info.start_seconds:.1f}s at {info.server}")
        kube = Kube.from_kubeconfig(str(info.kubeconfig))
        stack.callback(kube.close)
        install(kube)
        routing = install_routing_crds(kube, which=("gateway-api",))
        _namespace(kube)
        console.print(
            f"installed our CRDs and RBAC and the published Gateway API CRDs ({len(routing)}); namespace "
            f"[bold]{NAMESPACE}[/]"
        )

        observer = kube.with_timeout(_OBSERVE_TIMEOUT)
        app = DemoApp(observe=lambda: traffic_split(observer, namespace=NAMESPACE)).start()
        stack.callback(app.stop)
        prometheus = PrometheusServer.start(work / "prometheus", scrape=app.address, job="demo-app", tie_to_parent=True)
        stack.callback(prometheus.stop)
        console.print(f"simulated application at http://{app.address}/metrics, Prometheus at {prometheus.url}")

        controller = _Controller.start(kubeconfig=info.kubeconfig, namespace=NAMESPACE, log=work / "controller.log")
        stack.callback(controller.stop)
        console.print(f"rollouts controller started (pid {controller.process.pid}, log {controller.log})")
        route_watch = _RouteWatch(kube, namespace=NAMESPACE).start()
        stack.callback(route_watch.stop)

        show = _Show(
            console=console,
            kube=kube,
            rollouts=RolloutClient(kube=kube, namespace=NAMESPACE),
            prometheus=prometheus,
            controller=controller,
            timing=timing,
            route_watch=route_watch,
        )
        show.deploy()
        timeout = 180 if fast else 360
        good = show.release(manifests.GOOD_IMAGE, timeout=timeout)
        results = [good]
        if good.phase == "Healthy":
            results.append(show.release(manifests.BAD_IMAGE, timeout=timeout))
        console.print(summary_table(results))
        for line in result_lines(results):
            console.print(line, highlight=False, soft_wrap=True)
        passed = _judge(results)
        if keep:
            _print_keep(console, info)
    if passed:
        console.print(
            "[bold green]demo passed[/]: the good release was promoted, the bad one aborted by analysis and its "
            "traffic sent back to stable (HTTPRoute canary 0 / stable 100)"
        )
        return 0
    console.print("[bold red]demo failed[/]: " + _why(results), soft_wrap=True)
    return 1


# Where the HTTPRoute must end after either release: nothing on the canary Service, everything on stable.
_ALL_ON_STABLE = (0, 100)


def _judge(results: Sequence[ReleaseResult]) -> bool:
    return len(results) == 2 and not _why(results)


def _why(results: Sequence[ReleaseResult]) -> str:
    """Empty when the demo passed; otherwise every expectation that failed."""
    wrong = []
    expected = ["promoted, Healthy", "aborted, Degraded"]
    for result, outcome in zip(results, expected, strict=False):
        if result.outcome != outcome or result.stable_image != manifests.GOOD_IMAGE:
            wrong.append(f"{result.release} ended {result.outcome!r} with {result.stable_image} stable, expected "
                         f"{outcome!r} with {manifests.GOOD_IMAGE}")  # fmt: skip
        if result.final_weights != _ALL_ON_STABLE:
            wrong.append(f"{result.release} left the HTTPRoute at canary/stable {result.final_weights}, expected "
                         f"{_ALL_ON_STABLE}")  # fmt: skip
    if results and results[0].max_canary_weight != 100:  # a full promotion carries 100% on the new version
        wrong.append(f"{results[0].release} peaked at canary weight {results[0].max_canary_weight}, expected 100")
    if len(results) > 1 and results[1].max_canary_weight != manifests.STEP_WEIGHTS[0]:  # stopped at the 1st step
        wrong.append(
            f"{results[1].release} peaked at canary weight {results[1].max_canary_weight}, expected "
            f"{manifests.STEP_WEIGHTS[0]} (aborted by the first analysis)"
        )
    if len(results) < 2:
        wrong.append("the bad release was not attempted")
    return "; ".join(wrong)


def _print_keep(console: Console, info: ClusterInfo) -> None:
    console.print(
        "\n[bold]the cluster keeps running[/] (the controller, Prometheus and the simulated app stopped with the "
        "demo):\n"
        f"  export KUBECONFIG={info.kubeconfig}\n"
        f"  export PATH={info.bin_dir}:$PATH\n"
        f"  kubectl -n {NAMESPACE} get rollouts,replicasets,analysisruns\n"
        f"  .venv/bin/rollouts controller --kubeconfig={info.kubeconfig} --namespace={NAMESPACE}   # to go on\n"
        f"  .venv/bin/rollouts cluster --state-dir={info.state_dir} down   # when done",
        soft_wrap=True,
        highlight=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rollouts.demo",
        description="A metric-gated canary on a local cluster: a good release is promoted, a bad one aborted.",
    )
    parser.add_argument("--fast", action="store_true", help="short analysis windows and intervals (CI)")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running and print how to reach it")
    parser.add_argument("--nodes", type=int, default=2, help="fake nodes in the local cluster (default 2)")
    args = parser.parse_args(argv)
    console = Console()
    work = Path(tempfile.mkdtemp(prefix="rollouts-demo-"))
    code = 1
    try:
        code = _run(console, work=work, nodes=args.nodes, fast=args.fast, keep=args.keep)
    except PrometheusUnavailableError as error:
        console.print(f"[bold red]demo failed:[/] {error} (`make demo` installs it)")
    except (ClusterError, DemoError, CommandError, ApiError, TimeoutError, RuntimeError) as error:
        console.print(f"[bold red]demo failed:[/] {error}", soft_wrap=True)
    except KeyboardInterrupt:
        console.print("interrupted; stopping everything")
        code = 130
    if code == 0 and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
        console.print("[bold green]done[/]: every process stopped, nothing left running")
    elif code != 0:
        if args.keep and (work / "cluster" / "state.json").exists():
            console.print(f"the cluster keeps running: .venv/bin/rollouts cluster --state-dir={work / 'cluster'} down")
        controller_log = work / "controller.log"
        if controller_log.exists():
            tail = controller_log.read_text(errors="replace").splitlines()[-15:]
            console.print(f"last lines of {controller_log}:", highlight=False)
            console.print("\n".join(tail), markup=False, highlight=False, soft_wrap=True)
        console.print(f"logs kept in {work}: controller.log, prometheus/prometheus.log, cluster/logs/", soft_wrap=True)
    return code
