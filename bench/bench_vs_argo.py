"""Argo Rollouts' controller and ours, side by side in one run, on identical Rollouts (issue 11's benchmark).

For each N, on one fresh local cluster (Argo's published CRDs and ours installed side by side), each controller in
turn: create N Rollouts (2 replicas, canary ``setWeight 50 -> pause 1s -> setWeight 100``, no routing) and wait
until all are Healthy; update every template and wait until all are Healthy on the new version; then stay idle for
20 s. Only the apiVersion differs between the two sets of Rollouts. Measured per controller:

- create -> all Healthy and update -> all Healthy (wall clock from the first ``kubectl apply`` of the N manifests,
  50 to a call, the admin client polling every 0.5 s), and the update's per-Rollout distribution (p50/p99 of the
  time each became Healthy);
- controller CPU-seconds (``/proc/<pid>/stat`` utime+stime, children included) over create+update, and over the
  idle window; peak RSS (``VmHWM``);
- the step latency during the update: from the moment the ReplicaSets are at a step's counts (the canary's
  ``availableReplicas`` at what the step needs and the stable's down to the rest, as a watch reports them) to the
  controller's write of the next step (the Rollout's ``currentStepIndex`` moving past it, from a watch on the same
  API server): p50/p99 over both weighted steps of every Rollout, the time the controller alone adds to a step;
- the controller's API requests over create+update (the "per Rollout" column divides by N), and over the idle
  window: each controller runs as its own ServiceAccount, matched by its own FlowSchema, and
  ``apiserver_flowcontrol_dispatched_requests_total`` of that FlowSchema is read from the API server's /metrics
  before and after each phase (so the harness's own polling is not counted).

Argo's controller is the binary the conformance harness builds from github.com/argoproj/argo-rollouts v1.10.1
(``tools/conformance/build.sh``, cached in ``~/.cache/rollouts``); ours runs from this source tree. Only ratios
measured in the same run mean anything on a shared 2-core machine. ``--write docs/performance.md`` replaces the
block between the markers there with this run's table.

    python bench/bench_vs_argo.py [--n 50 200] [--write docs/performance.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from rollouts.devcluster.cluster import ClusterInfo, LocalCluster  # noqa: E402
from tools.conformance.controllers import free_port  # noqa: E402
from tools.conformance.peer import Peer, ensure_peer  # noqa: E402
from workflows.api import ARGO, ROLLOUTS_DEV  # noqa: E402
from workflows.runtime.crds import CRDS_DIR  # noqa: E402
from workflows.runtime.kube import REPLICA_SETS, Kube, Resource  # noqa: E402

BEGIN = "<!-- BEGIN bench_vs_argo: written by `python bench/bench_vs_argo.py --write`; do not edit by hand -->"
END = "<!-- END bench_vs_argo -->"
#: The fast-KCM run's block, kept apart from the default cluster's.
FAST_MARKERS = (BEGIN.replace("bench_vs_argo:", "bench_vs_argo fast-kcm:"), END.replace("argo", "argo fast-kcm"))
CONTROLLER_NAMESPACE = "bench-controllers"
STEPS = [{"setWeight": 50}, {"pause": {"duration": "1s"}}, {"setWeight": 100}]
_DISPATCHED = re.compile(
    r"^apiserver_flowcontrol_dispatched_requests_total\{(?P<labels>[^}]*)\}\s+(?P<value>[0-9.e+]+)$", re.MULTILINE
)


# -- pure parts (unit-tested) ------------------------------------------------------------------------------------


def dispatched_requests(metrics_text: str, flow_schema: str) -> int:
    """The API requests the API server dispatched for ``flow_schema``, summed over priority levels."""
    total = 0.0
    for match in _DISPATCHED.finditer(metrics_text):
        if f'flow_schema="{flow_schema}"' in match.group("labels"):
            total += float(match.group("value"))
    return int(total)


_CLIENT_REQUESTS = re.compile(
    r"^controller_clientset_k8s_request_total\{(?P<labels>[^}]*)\}\s+(?P<value>[0-9.e+]+)$", re.MULTILINE
)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def requests_by_kind_verb(metrics_text: str) -> dict[tuple[str, str], int]:
    """A controller's own ``controller_clientset_k8s_request_total`` (Argo's name; ours too), summed by
    (resource, verb) over every other label (Argo's carry namespace, name and status; ours the status)."""
    totals: dict[tuple[str, str], float] = {}
    for match in _CLIENT_REQUESTS.finditer(metrics_text):
        labels = dict(_LABEL.findall(match.group("labels")))
        key = (labels.get("kind", "?"), labels.get("verb", "?"))
        totals[key] = totals.get(key, 0.0) + float(match.group("value"))
    return {key: int(value) for key, value in totals.items()}


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def cpu_seconds(stat_line: str, ticks_per_second: int) -> float:
    """utime+stime+cutime+cstime of a ``/proc/<pid>/stat`` line, in seconds (the command may contain spaces)."""
    fields = stat_line[stat_line.rindex(")") + 2 :].split()
    # After the command: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    return sum(int(value) for value in fields[11:15]) / ticks_per_second


def rollout_manifest(api_version: str, name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": "Rollout",
        "metadata": {"name": name, "labels": {"bench": "vs-argo"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
            "strategy": {"canary": {"steps": STEPS}},
        },
    }


def healthy_on(status: Mapping[str, Any], *, generation: int) -> bool:
    """Healthy as both controllers report it, for the spec generation asked about."""
    return (
        status.get("phase") == "Healthy"
        and str(status.get("observedGeneration") or "") == str(generation)
        and bool(status.get("stableRS"))
        and status.get("stableRS") == status.get("currentPodHash")
    )


#: The weighted steps of STEPS whose completion waits on pods: (canary pods the step needs, the index written next).
#: Without traffic routing a weight is a replica count, so each step also waits for the stable ReplicaSet to be
#: scaled down to the rest (both controllers check both ReplicaSets' available replicas before moving on).
WEIGHTED_STEPS = ((1, 1), (2, 3))
REPLICAS = 2


@dataclass(frozen=True)
class Seen:
    """One watch event as the harness saw it: when (monotonic seconds), which Rollout, which pod-template hash, and
    the value watched (a ReplicaSet's availableReplicas, or a Rollout's currentStepIndex)."""

    at: float
    rollout: str
    pod_hash: str
    value: int


def step_ready_at(replica_sets: Sequence[Seen], rollout: str, pod_hash: str, needed: int) -> float | None:
    """When the watch first showed ``rollout``'s ReplicaSets at a weighted step's counts: ``needed`` available canary
    pods (hash ``pod_hash``) and at most ``REPLICAS - needed`` available in the others together. From then on the
    cluster has done its part and only the controller can move the step on."""
    available: dict[str, int] = {}
    for seen in sorted((s for s in replica_sets if s.rollout == rollout), key=lambda s: s.at):
        available[seen.pod_hash] = seen.value
        others = sum(count for hash_, count in available.items() if hash_ != pod_hash)
        if available.get(pod_hash, 0) >= needed and others <= REPLICAS - needed:
            return seen.at
    return None


def step_latencies(
    replica_sets: Sequence[Seen], rollouts: Sequence[Seen], new_hashes: Mapping[str, str]
) -> list[float]:
    """Seconds from "the ReplicaSets are at a weighted step's counts" (:func:`step_ready_at`) to "the next step is
    written", for each Rollout (its new hash in ``new_hashes``) and each of :data:`WEIGHTED_STEPS` both watches saw.
    A write seen before the ReplicaSets (the two watches race) counts as 0."""
    out: list[float] = []
    for rollout, pod_hash in new_hashes.items():
        for needed, next_index in WEIGHTED_STEPS:
            ready = step_ready_at(replica_sets, rollout, pod_hash, needed)
            written = next(
                (s.at for s in rollouts if s.rollout == rollout and s.pod_hash == pod_hash and s.value >= next_index),
                None,
            )
            if ready is not None and written is not None:
                out.append(max(0.0, written - ready))
    return out


@dataclass
class Result:
    controller: str
    n: int
    create_s: float = 0.0
    update_s: float = 0.0
    update_p50: float = 0.0
    update_p99: float = 0.0
    step_p50_ms: float = 0.0
    step_p99_ms: float = 0.0
    cpu_s: float = 0.0
    idle_cpu_s: float = 0.0
    apiserver_cpu_s: float = 0.0
    peak_rss_mib: float = 0.0
    requests: int = 0
    idle_requests: int = 0
    by_kind_verb: dict[tuple[str, str], int] = field(default_factory=dict)
    profile: list[str] = field(default_factory=list)  # py-spy's summary over create+update (``--profile``)
    notes: list[str] = field(default_factory=list)


def render(
    results: Sequence[Result],
    *,
    when: str,
    machine: str,
    versions: str,
    idle: float = 20.0,
    markers: tuple[str, str] = (BEGIN, END),
) -> str:
    lines = [
        markers[0],
        f"Measured {when} on {machine}; {versions}.",
        "",
        (
            "| N | controller | create -> all Healthy | update -> all Healthy | update p50 / p99 per Rollout "
            "| step latency p50 / p99 "
            "| CPU s | API server CPU s | peak RSS | API requests | requests per Rollout "
            f"| idle {idle:.0f} s: CPU s / requests |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {r.n} | {r.controller} | {r.create_s:.1f} s | {r.update_s:.1f} s | {r.update_p50:.1f} / "
        f"{r.update_p99:.1f} s | {r.step_p50_ms:.0f} / {r.step_p99_ms:.0f} ms | "
        f"{r.cpu_s:.1f} | {r.apiserver_cpu_s:.1f} | {r.peak_rss_mib:.0f} MiB | {r.requests:,} | "
        f"{r.requests / max(r.n, 1):.1f} | {r.idle_cpu_s:.2f} / {r.idle_requests} |"
        for r in results
    )
    lines += [
        "",
        "Ratios ours / Argo (same run):",
        "",
        "| N | API requests | CPU s | API server CPU s | update -> Healthy | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    by = {(r.n, r.controller): r for r in results}
    for n in sorted({r.n for r in results}):
        argo, ours = by.get((n, "argo")), by.get((n, "ours"))
        if argo is None or ours is None:
            continue
        lines.append(
            f"| {n} | {ours.requests / max(argo.requests, 1):.2f} | {ours.cpu_s / max(argo.cpu_s, 1e-9):.2f} | "
            f"{ours.apiserver_cpu_s / max(argo.apiserver_cpu_s, 1e-9):.2f} | "
            f"{ours.update_s / max(argo.update_s, 1e-9):.2f} | {ours.peak_rss_mib / max(argo.peak_rss_mib, 1e-9):.2f} |"
        )
    lines += ["", "Where the requests went (create+update, from each controller's own counter), the ten largest:", ""]
    for r in results:
        top = sorted(r.by_kind_verb.items(), key=lambda item: -item[1])[:10]
        lines.append(
            f"- {r.controller}, N={r.n}: "
            + (", ".join(f"{verb} {kind or 'discovery'} {count:,}" for (kind, verb), count in top) or "not reported")
        )
    for r in results:
        if r.profile:
            lines += [
                "",
                (
                    f"Profile of {r.controller} at N={r.n} (py-spy over create+update of this run, 50 samples/s of "
                    "the thread holding the GIL, so where the Python CPU time goes):"
                ),
                "",
            ]
            lines += ["```", *r.profile, "```"]
    notes = [f"- {r.controller} at N={r.n}: {note}" for r in results for note in r.notes]
    if notes:
        lines += ["", *notes]
    lines.append(markers[1])
    return "\n".join(lines)


def replace_block(document: str, block: str, markers: tuple[str, str] = (BEGIN, END)) -> str:
    begin_marker, end_marker = markers
    start, end = document.find(begin_marker), document.find(end_marker)
    if start < 0 or end < 0:
        return document.rstrip("\n") + "\n\n" + block + "\n"
    return document[:start] + block + document[end + len(end_marker) :]


# -- the cluster side ----------------------------------------------------------------------------------------------


class Kubectl:
    def __init__(self, cluster: ClusterInfo) -> None:
        self.command = str(cluster.kubectl)
        self.env = os.environ | {"KUBECONFIG": str(cluster.kubeconfig)}

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 300) -> str:
        result = subprocess.run(  # noqa: S603
            [self.command, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args[:3])}: {result.stderr.strip()[:500]}")
        return result.stdout

    def apply(self, *docs: Mapping[str, Any]) -> None:
        self(
            "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=yaml.safe_dump_all([dict(d) for d in docs])
        )


def identity(kubectl: Kubectl, cluster: ClusterInfo, name: str) -> Path:
    """A ServiceAccount for controller ``name`` (cluster-admin: the benchmark compares requests, not RBAC), its own
    FlowSchema (so the API server counts its requests apart), and a kubeconfig with its token."""
    account = f"bench-{name}"
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": account, "namespace": CONTROLLER_NAMESPACE},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": account},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": CONTROLLER_NAMESPACE}],
        },
        {
            "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
            "kind": "FlowSchema",
            "metadata": {"name": account},
            "spec": {
                "matchingPrecedence": 500,
                "priorityLevelConfiguration": {"name": "workload-high"},
                "distinguisherMethod": {"type": "ByUser"},
                "rules": [
                    {
                        "subjects": [
                            {
                                "kind": "ServiceAccount",
                                "serviceAccount": {"name": account, "namespace": CONTROLLER_NAMESPACE},
                            }
                        ],
                        "resourceRules": [
                            {
                                "verbs": ["*"],
                                "apiGroups": ["*"],
                                "resources": ["*"],
                                "namespaces": ["*"],
                                "clusterScope": True,
                            }
                        ],
                        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    }
                ],
            },
        },
    )
    token = kubectl("create", "token", account, "-n", CONTROLLER_NAMESPACE, "--duration=24h").strip()
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    for user in config.get("users") or []:
        user["user"] = {"token": token}
    path = cluster.state_dir / f"{account}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def component_pid(state_dir: Path, binary: str) -> int | None:
    """The pid of the local cluster's ``binary`` process (its command line names the cluster's state directory)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(binary.encode()) and any(str(state_dir).encode() in arg for arg in argv):
            return int(proc.name)
    return None


def process_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        return cpu_seconds(Path(f"/proc/{pid}/stat").read_text(), os.sysconf("SC_CLK_TCK"))
    except OSError:
        return 0.0


_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def _frame_origin(file: str) -> str:
    """Which code a sampled frame's file belongs to: a package under site-packages, ours, or the standard library."""
    parts = Path(file).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        return rest[0].removesuffix(".py") if rest else "site-packages"
    for ours in ("rollouts", "workflows", "analysis"):
        if ours in parts:
            return ours
    if not file:
        return "?"
    # py-spy shortens paths to the import root: "kubernetes/client/rest.py", "concurrent/futures/thread.py".
    top = parts[0].removesuffix(".py") if parts and not Path(file).is_absolute() else ""
    if top and top not in sys.stdlib_module_names:
        return top
    return f"stdlib {Path(file).stem}"


def profile_summary(collapsed: str, *, top: int = 12) -> list[str]:
    """py-spy's collapsed stacks (``frame;frame;... count`` per line, GIL-holding samples only) as the largest self
    costs by function and the share of busy samples each code origin (package) holds anywhere in the stack."""
    self_cost: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [match for frame in stack.split(";") if (match := _FRAME.match(frame.strip()))]
        if not frames:
            continue
        leaf = frames[-1]
        name = f"{leaf['function']} ({_frame_origin(leaf['file'])})"
        self_cost[name] = self_cost.get(name, 0) + count
        for origin in {_frame_origin(frame["file"]) for frame in frames}:
            inclusive[origin] = inclusive.get(origin, 0) + count
    if not total:
        return ["no samples"]
    lines = [f"{total:,} busy samples; largest self costs:"]
    lines += [
        f"  {100 * count / total:5.1f}%  {name}" for name, count in sorted(self_cost.items(), key=lambda i: -i[1])[:top]
    ]
    lines.append("share of busy samples by code anywhere on the stack:")
    lines += [
        f"  {100 * count / total:5.1f}%  {origin}"
        for origin, count in sorted(inclusive.items(), key=lambda i: -i[1])[:top]
    ]
    return lines


def server_metrics(kubectl: Kubectl) -> str:
    return kubectl("get", "--raw", "/metrics", timeout=60)


class StepWatch:
    """Watches one namespace's Rollouts and ReplicaSets from now on, recording :class:`Seen` events for
    :func:`step_latencies` (two daemon threads, the admin's client; not the controller's requests)."""

    def __init__(self, cluster: ClusterInfo, controller: str, namespace: str) -> None:
        self.kube = Kube.from_kubeconfig(str(cluster.kubeconfig))
        self.namespace = namespace
        self.rollouts_resource = ARGO.rollouts if controller == "argo" else ROLLOUTS_DEV.rollouts
        self.replica_sets: list[Seen] = []
        self.rollouts: list[Seen] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._follow, args=(REPLICA_SETS, self._replica_set), daemon=True),
            threading.Thread(target=self._follow, args=(self.rollouts_resource, self._rollout), daemon=True),
        ]

    def __enter__(self) -> StepWatch:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()

    def _follow(self, resource: Resource, record: Callable[[float, Mapping[str, Any]], None]) -> None:
        version = self.kube.list(resource, self.namespace).resource_version
        while not self._stop.is_set():
            for event in self.kube.watch(resource, self.namespace, resource_version=version, timeout_seconds=60):
                if self._stop.is_set():
                    return
                version = str((event.object.get("metadata") or {}).get("resourceVersion") or version)
                if event.type in {"ADDED", "MODIFIED"}:
                    record(time.monotonic(), event.object)

    def _replica_set(self, at: float, body: Mapping[str, Any]) -> None:
        meta = body.get("metadata") or {}
        owner = next((o for o in meta.get("ownerReferences") or () if o.get("controller")), None)
        pod_hash = (meta.get("labels") or {}).get("rollouts-pod-template-hash")
        if owner is not None and pod_hash:
            available = int((body.get("status") or {}).get("availableReplicas") or 0)
            self.replica_sets.append(Seen(at, str(owner.get("name")), str(pod_hash), available))

    def _rollout(self, at: float, body: Mapping[str, Any]) -> None:
        status = body.get("status") or {}
        index = status.get("currentStepIndex")
        if status.get("currentPodHash") and index is not None:
            name = str((body.get("metadata") or {}).get("name"))
            self.rollouts.append(Seen(at, name, str(status["currentPodHash"]), int(index)))


@dataclass
class Controller:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    metrics_port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(  # noqa: S603
                self.command, stdout=sink, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client_requests(self) -> dict[tuple[str, str], int]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as answer:
                return requests_by_kind_verb(answer.read().decode())
        except OSError:
            return {}

    def cpu(self) -> float:
        assert self.process is not None
        return cpu_seconds(Path(f"/proc/{self.process.pid}/stat").read_text(), os.sysconf("SC_CLK_TCK"))

    def peak_rss_mib(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0


def controllers(peer: Peer, cluster: ClusterInfo, kubectl: Kubectl, work: Path) -> dict[str, Controller]:
    env = os.environ | {"POD_NAMESPACE": CONTROLLER_NAMESPACE, "PYTHONPATH": str(REPO)}
    argo_config, ours_config = identity(kubectl, cluster, "argo"), identity(kubectl, cluster, "ours")
    argo_metrics, ours_metrics = free_port(), free_port()
    return {
        "argo": Controller(
            "argo",
            [
                str(peer.controller_binary),
                f"--kubeconfig={argo_config}",
                "--leader-elect=false",
                f"--healthzPort={free_port()}",
                f"--metricsPort={argo_metrics}",
            ],
            env,
            work / "argo.log",
            argo_metrics,
        ),
        "ours": Controller(
            "ours",
            [
                sys.executable,
                "-m",
                "rollouts.cli",
                "controller",
                f"--kubeconfig={ours_config}",
                f"--metrics-port={ours_metrics}",
                "--healthz-port=0",
                "--no-leader-elect",  # as Argo's runs here (--leader-elect=false): no Lease renewals in the counts
            ],
            env,
            work / "ours.log",
            ours_metrics,
        ),
    }


API_VERSIONS = {"argo": "argoproj.io/v1alpha1", "ours": "rollouts.dev/v1alpha1"}
PLURALS = {"argo": "rollouts.argoproj.io", "ours": "rollouts.rollouts.dev"}


def statuses(kubectl: Kubectl, controller: str, namespace: str) -> dict[str, tuple[int, dict[str, Any]]]:
    listed = json.loads(kubectl("get", PLURALS[controller], "-n", namespace, "-o", "json", timeout=120))
    return {
        item["metadata"]["name"]: (int(item["metadata"].get("generation") or 0), item.get("status") or {})
        for item in listed["items"]
    }


def apply_all(kubectl: Kubectl, namespace: str, manifests: Sequence[Mapping[str, Any]]) -> None:
    """Apply ``manifests``, 50 to a ``kubectl apply`` (a create, or an update of every template, in a few seconds)."""
    for start in range(0, len(manifests), 50):
        kubectl("apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump_all(manifests[start : start + 50]))


def wait_all_healthy(
    kubectl: Kubectl,
    controller: str,
    namespace: str,
    names: Sequence[str],
    *,
    generation: int,
    timeout: float,
    since: float,
) -> tuple[float, list[float]]:
    """Seconds from ``since`` (monotonic) until every Rollout is Healthy at ``generation``, and each one's time."""
    started = since
    done: dict[str, float] = {}
    while time.monotonic() - started < timeout:
        for name, (gen, status) in statuses(kubectl, controller, namespace).items():
            if name not in done and gen >= generation and healthy_on(status, generation=gen):
                done[name] = time.monotonic() - started
        if len(done) == len(names):
            return time.monotonic() - started, sorted(done.values())
        time.sleep(0.5)
    raise TimeoutError(f"{controller}: {len(done)}/{len(names)} Healthy after {timeout:.0f} s")


def update_all(
    controller: Controller,
    kubectl: Kubectl,
    cluster: ClusterInfo,
    namespace: str,
    names: Sequence[str],
    *,
    result: Result,
    timeout: float,
) -> list[float]:
    """Update every template and wait for all Healthy, recording the time and the step latencies in ``result``;
    each Rollout's time to Healthy."""
    updated = [rollout_manifest(API_VERSIONS[controller.name], name, "example/app:2") for name in names]
    with StepWatch(cluster, controller.name, namespace) as steps:
        started = time.monotonic()
        apply_all(kubectl, namespace, updated)
        result.update_s, each = wait_all_healthy(
            kubectl, controller.name, namespace, names, generation=2, timeout=timeout, since=started
        )
    new_hashes = {
        name: str(status.get("currentPodHash") or "")
        for name, (_, status) in statuses(kubectl, controller.name, namespace).items()
    }
    latencies = step_latencies(steps.replica_sets, steps.rollouts, new_hashes)
    if latencies:
        result.step_p50_ms = 1000 * percentile(latencies, 0.5)
        result.step_p99_ms = 1000 * percentile(latencies, 0.99)
    else:
        result.notes.append("no step latency observed")
    return each


def measure(
    controller: Controller,
    kubectl: Kubectl,
    cluster: ClusterInfo,
    n: int,
    *,
    idle: float,
    timeout: float,
    log: Callable[[str], None],
    profile: Path | None = None,
) -> Result:
    result = Result(controller=controller.name, n=n)
    namespace = f"bench-{controller.name}-{n}"
    kubectl("create", "namespace", namespace)
    names = [f"r{i:04d}" for i in range(n)]
    schema = f"bench-{controller.name}"
    controller.start()
    try:
        time.sleep(5)  # the controller's informers/watches start
        apiserver = component_pid(cluster.state_dir, "kube-apiserver")
        before_requests, before_cpu = dispatched_requests(server_metrics(kubectl), schema), controller.cpu()
        before_server_cpu = process_cpu(apiserver)
        sampler = None
        if profile is not None and controller.process is not None:
            sampler = subprocess.Popen(  # noqa: S603 -- py-spy from this virtualenv, our own child's pid
                [
                    str(Path(sys.executable).with_name("py-spy")),
                    *("record", "--pid", str(controller.process.pid), "--rate", "50", "--nonblocking", "--gil"),
                    *("--format", "raw", "-o", str(profile)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        before_kinds = controller.client_requests()
        manifests = [rollout_manifest(API_VERSIONS[controller.name], name, "example/app:1") for name in names]
        started = time.monotonic()
        apply_all(kubectl, namespace, manifests)
        result.create_s, _ = wait_all_healthy(
            kubectl, controller.name, namespace, names, generation=1, timeout=timeout, since=started
        )
        log(f"{controller.name} N={n}: created, all Healthy in {result.create_s:.1f} s")
        each = update_all(controller, kubectl, cluster, namespace, names, result=result, timeout=timeout)
        result.update_p50, result.update_p99 = percentile(each, 0.5), percentile(each, 0.99)
        log(f"{controller.name} N={n}: updated, all Healthy in {result.update_s:.1f} s")
        result.cpu_s = controller.cpu() - before_cpu
        if sampler is not None and profile is not None:
            sampler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            sampler.wait(timeout=60)
            result.profile = profile_summary(profile.read_text() if profile.exists() else "")
        result.apiserver_cpu_s = process_cpu(apiserver) - before_server_cpu
        result.requests = dispatched_requests(server_metrics(kubectl), schema) - before_requests
        after_kinds = controller.client_requests()
        result.by_kind_verb = {
            key: count - before_kinds.get(key, 0)
            for key, count in after_kinds.items()
            if count - before_kinds.get(key, 0) > 0
        }
        idle_requests, idle_cpu = dispatched_requests(server_metrics(kubectl), schema), controller.cpu()
        time.sleep(idle)
        result.idle_cpu_s = controller.cpu() - idle_cpu
        result.idle_requests = dispatched_requests(server_metrics(kubectl), schema) - idle_requests
        result.peak_rss_mib = controller.peak_rss_mib()
    finally:
        controller.stop()
        kubectl("delete", "namespace", namespace, "--wait=true", timeout=600)
    return result


@contextmanager
def bench_cluster(n_max: int, work: Path, *, fast_kcm: bool = False) -> Iterator[ClusterInfo]:
    # KWOK nodes take 110 pods each; an update needs up to 3 pods per Rollout at once.
    cluster = LocalCluster(
        state_dir=work / "cluster",
        nodes=max(2, math.ceil(3 * n_max / 100)),
        controller_manager_qps=1000 if fast_kcm else None,
    )
    info = cluster.start(tie_to_parent=True, timeout=240)
    try:
        yield info
    finally:
        cluster.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for all Healthy")
    parser.add_argument("--write", type=Path, help="replace the results block of this Markdown file")
    parser.add_argument(
        "--controllers", nargs="+", choices=["argo", "ours"], default=["argo", "ours"], help="which to measure"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample our controller with py-spy over create+update (its CPU column then includes the sampling)",
    )
    parser.add_argument(
        "--fast-kcm",
        action="store_true",
        help="raise the kube-controller-manager's client limit (--kube-api-qps=1000) so the controllers are exposed",
    )
    args = parser.parse_args(argv)

    def log(text: str) -> None:
        print(f"[bench] {text}", flush=True)

    peer = ensure_peer(build=True)
    work = Path(tempfile.mkdtemp(prefix="bench-vs-argo-"))
    results: list[Result] = []
    with bench_cluster(max(args.n), work, fast_kcm=args.fast_kcm) as cluster:
        kubectl = Kubectl(cluster)
        kubectl("apply", "--server-side", "--force-conflicts", "-k", str(peer.crds_dir))
        kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS_DIR))
        kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        kubectl("create", "namespace", CONTROLLER_NAMESPACE)
        both = controllers(peer, cluster, kubectl, work)
        results.extend(
            measure(
                both[name],
                kubectl,
                cluster,
                n,
                idle=args.idle,
                timeout=args.timeout,
                log=log,
                profile=work / f"profile-{name}-{n}.txt" if args.profile and name == "ours" else None,
            )
            for n in args.n
            for name in args.controllers
        )
    markers = FAST_MARKERS if args.fast_kcm else (BEGIN, END)
    block = render(
        results,
        when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        versions=(
            f"Argo Rollouts {peer.version} vs rollouts (this tree); "
            f"{'fast KCM (--kube-api-qps=1000)' if args.fast_kcm else 'default KCM'}; logs in {work}"
        ),
        idle=args.idle,
        markers=markers,
    )
    print(block)
    if args.write is not None:
        document = args.write.read_text() if args.write.exists() else ""
        args.write.write_text(replace_block(document, block, markers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
