"""The controller's Prometheus metrics, served on ``/metrics`` (``--metrics-port``, default 8090 as in Argo Rollouts).

Names, label sets, types and buckets are Argo Rollouts' controller's (v1.10), so its users' dashboards and alerts keep
working after a switch; docs/metrics.md lists every series. Two kinds of series:

- **Counted as things happen** (:class:`ControllerMetrics`): ``rollout_reconcile`` and ``analysis_run_reconcile``
  (histograms, Argo's buckets), ``rollout_reconcile_error``, ``analysis_run_reconcile_error``,
  ``rollout_events_total`` and ``controller_clientset_k8s_request_total``. A deleted object's series go with it.
- **Computed at scrape time** from what the controller already holds (:class:`ScrapeSources`: the informer caches
  and the shared executor), as Argo's collectors read its listers: ``rollout_info`` and its replica counts,
  ``rollout_phase``, ``analysis_run_info``/``_phase``/``_metric_type``/``_metric_phase``, ``analysis_template_*``
  and our own ``workflow_nodes`` and ``workflow_executor_*``. Nothing per object is kept between scrapes, so a
  deleted object's series cannot go stale, and a reconcile pays nothing for them.

The exposition is Prometheus' text format 0.0.4, written here (:func:`exposition`) rather than by
``prometheus_client``'s writer, for two reasons: Argo's counters ``rollout_reconcile_error`` and
``analysis_run_reconcile_error`` have no ``_total`` suffix, which that writer would add to their ``# TYPE`` lines;
and our series are written as lines as they are computed (:class:`Lines`), 4x faster than through a ``Sample`` and a
label dict each (14 ms instead of 61 ms for 200 Rollouts with their AnalysisRuns). No ``_created`` series are
written (Argo's Go client has none). ``prometheus_client`` still provides the process and Python runtime series of
the default registry.

Every function here that maps an object to its series is pure (a body in, label values out), so the collector is
unit-tested on plain dicts; only :func:`serve_metrics` does I/O.
"""

from __future__ import annotations

import bisect
import decimal
import functools
import gzip
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import Metric

from analysis.spec import DryRunRule
from workflows.api import ApiMode
from workflows.runtime.executor import ExecutorStats
from workflows.runtime.informer import Cache
from workflows.runtime.kube import RequestTarget

__all__ = [
    "DEFAULT_METRICS_PORT",
    "RECONCILE_BUCKETS",
    "ControllerMetrics",
    "Lines",
    "ReconcileSeries",
    "ScrapeSources",
    "analysis_run_series",
    "exposition",
    "label_text",
    "number_text",
    "process_metrics",
    "rollout_phase",
    "rollout_series",
    "serve_metrics",
    "strategy_and_traffic_router",
]

logger = logging.getLogger(__name__)

DEFAULT_METRICS_PORT = 8090  # Argo's controller.DefaultMetricsPort
#: Argo's buckets for every reconcile histogram (seconds).
RECONCILE_BUCKETS: tuple[float, ...] = (0.01, 0.15, 0.25, 0.5, 1.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LabelValues = tuple[str, ...]


# -- families written as lines ----------------------------------------------------------------------------------


class Lines(Metric):
    """A family whose samples are written as exposition lines as they are added, with their labels in the order
    given (Prometheus does not care about the order): the per-object series are thousands of samples per scrape,
    and building a ``Sample`` and a label dict for each cost more than the rest of the scrape. ``prometheus_client``'s
    own readers see no samples in it; :func:`exposition` writes its :attr:`lines`."""

    def __init__(self, name: str, documentation: str, typ: str) -> None:
        super().__init__(name, documentation, typ)
        self.lines: list[str] = []

    def add(self, labels: str, value: float, suffix: str = "") -> None:
        """One sample of ``<name><suffix>``; ``labels`` as :func:`label_text` writes them ("" for none)."""
        braces = f"{{{labels}}}" if labels else ""
        self.lines.append(f"{self.name}{suffix}{braces} {number_text(value)}\n")


def label_text(*pairs: tuple[str, str]) -> str:
    """``a="1",b="x"``: label pairs in the exposition's spelling (values escaped), in the order given."""
    return ",".join(f'{key}="{_escape_label(value)}"' for key, value in pairs)


def _histogram_lines(
    family: Lines, labels: str, *, bounds: Sequence[str], counts: Sequence[float], total: float
) -> None:
    """One histogram series from per-bucket counts (non-cumulative, the last one above every bound: +Inf); ``bounds``
    are the ``le`` values as written (:func:`number_text`)."""
    cumulative = 0.0
    sep = "," if labels else ""
    for bound, count in zip((*bounds, "+Inf"), counts, strict=True):
        cumulative += count
        family.add(f'{labels}{sep}le="{bound}"', cumulative, "_bucket")
    family.add(labels, total, "_sum")
    family.add(labels, cumulative, "_count")


# -- series counted as things happen -------------------------------------------------------------------------------


class _Counter:
    """A labelled counter, exposed under exactly ``name`` (Argo's names; some have no ``_total``). Thread-safe."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        self.name, self.documentation, self.labels = name, documentation, tuple(labels)
        self._values: dict[LabelValues, float] = {}
        self._texts: dict[LabelValues, str] = {}  # each series' labels as written, made once
        self._lock = threading.Lock()

    def inc(self, *values: str) -> None:
        with self._lock:
            if values not in self._values:
                self._texts[values] = label_text(*zip(self.labels, values, strict=True))
            self._values[values] = self._values.get(values, 0.0) + 1.0

    def value(self, *values: str) -> float | None:
        with self._lock:
            return self._values.get(values)

    def remove_matching(self, **labels: str) -> None:
        """Forget every series whose labels include ``labels`` (Argo's ``DeletePartialMatch``)."""
        positions = [(self.labels.index(key), value) for key, value in labels.items()]
        with self._lock:
            for key in [k for k in self._values if all(k[i] == v for i, v in positions)]:
                del self._values[key]
                del self._texts[key]

    def family(self) -> Lines:
        family = Lines(self.name, self.documentation, "counter")
        with self._lock:
            items = [(self._texts[values], value) for values, value in self._values.items()]
        for labels, value in items:
            family.add(labels, value)
        return family


class _Histogram:
    """A labelled histogram with fixed buckets (``_bucket``/``_sum``/``_count``). Thread-safe."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str], buckets: Sequence[float]) -> None:
        self.name, self.documentation, self.labels = name, documentation, tuple(labels)
        self.bounds = tuple(buckets)
        self._le = tuple(number_text(bound) for bound in self.bounds)
        self._series: dict[LabelValues, list[float]] = {}  # per bucket (non-cumulative, +Inf last), then sum
        self._texts: dict[LabelValues, str] = {}
        self._lock = threading.Lock()

    def observe(self, seconds: float, *values: str) -> None:
        index = bisect.bisect_left(self.bounds, seconds)
        with self._lock:
            series = self._series.get(values)
            if series is None:
                series = self._series[values] = [0.0] * (len(self.bounds) + 2)
                self._texts[values] = label_text(*zip(self.labels, values, strict=True))
            series[index] += 1
            series[-1] += seconds

    def count(self, *values: str) -> int | None:
        with self._lock:
            series = self._series.get(values)
            return None if series is None else int(sum(series[:-1]))

    def remove(self, *values: str) -> None:
        with self._lock:
            self._series.pop(values, None)
            self._texts.pop(values, None)

    def family(self) -> Lines:
        family = Lines(self.name, self.documentation, "histogram")
        with self._lock:
            items = [(self._texts[values], list(series)) for values, series in self._series.items()]
        for labels, series in items:
            _histogram_lines(family, labels, bounds=self._le, counts=series[:-1], total=series[-1])
        return family


class ReconcileSeries:
    """A kind's ``<kind>_reconcile`` histogram and ``<kind>_reconcile_error`` counter, by namespace and name.

    What the AnalysisRun controller is handed (``analysis.controller.ReconcileObserver``): the analysis package
    cannot import this one."""

    def __init__(self, prefix: str, what: str, error_help: str) -> None:
        labels = ("namespace", "name")
        self.histogram = _Histogram(
            f"{prefix}_reconcile", f"{what} reconciliation performance.", labels, RECONCILE_BUCKETS
        )
        self.errors = _Counter(f"{prefix}_reconcile_error", error_help, labels)

    def reconciled(self, namespace: str, name: str, seconds: float) -> None:
        self.histogram.observe(seconds, namespace, name)

    def failed(self, namespace: str, name: str) -> None:
        self.errors.inc(namespace, name)

    def forget(self, namespace: str, name: str) -> None:
        self.histogram.remove(namespace, name)
        self.errors.remove_matching(namespace=namespace, name=name)


def _request_labels(target: RequestTarget) -> tuple[str, str, str]:
    """(kind, namespace, name) as Argo counts a request: lists, Events and ReplicaSets by kind only (``N/A``)."""
    name = target.name
    if target.verb == "List" or target.kind in {"events", "replicasets"}:
        name = "N/A"
    return target.kind, target.namespace, name


class ControllerMetrics:
    """The process' series: those counted as things happen, and the scrape-time ones of the attached sources.

    One instance per registry (:func:`process_metrics` for the process' default registry). It is itself the
    registry's collector, so everything it exposes is written by one :meth:`collect`."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.rollouts = ReconcileSeries("rollout", "Rollout", "Error occurring during the rollout")
        self.analysis_runs = ReconcileSeries("analysis_run", "Analysis Run", "Error occurring during the analysis run")
        self.events = _Counter(
            "rollout_events_total", "Count of rollout events", ("namespace", "name", "type", "reason")
        )
        self.requests = _Counter(
            "controller_clientset_k8s_request_total",
            "Number of kubernetes requests executed during application reconciliation.",
            ("kind", "namespace", "name", "verb", "status_code"),
        )
        self._sources: ScrapeSources | None = None
        self._controller_version = _package_version()
        if registry is not None:
            registry.register(self)

    # -- recording (any thread) -------------------------------------------------------------------------------------
    def reconciled(self, namespace: str, name: str, seconds: float) -> None:
        """One reconcile of Rollout ``namespace/name`` took ``seconds``."""
        self.rollouts.reconciled(namespace, name, seconds)

    def failed(self, namespace: str, name: str) -> None:
        """A reconcile of Rollout ``namespace/name`` failed (raised; it is retried with a backoff)."""
        self.rollouts.failed(namespace, name)

    def event(self, namespace: str, name: str, *, type: str, reason: str) -> None:  # noqa: A002 -- Argo's label
        """An Event was posted about Rollout ``namespace/name``."""
        self.events.inc(namespace, name, type, reason)

    def request(self, target: RequestTarget, status: int) -> None:
        """One API request (the :attr:`workflows.runtime.kube.Kube.observer`)."""
        self.requests.inc(*_request_labels(target), target.verb, str(status))

    def forget(self, namespace: str, name: str) -> None:
        """The Rollout was deleted: its counted series go (its scrape-time ones went with the cache's copy)."""
        self.rollouts.forget(namespace, name)
        self.events.remove_matching(namespace=namespace, name=name)

    # -- scrape-time sources --------------------------------------------------------------------------------------
    def attach(self, sources: ScrapeSources) -> None:
        """Compute the per-object series from ``sources`` from now on (the operator, once it is built)."""
        self._sources = sources

    def detach(self, sources: ScrapeSources) -> None:
        """Stop computing from ``sources`` (an equal value will do), unless other sources were attached since."""
        if self._sources == sources:
            self._sources = None

    # -- the collector --------------------------------------------------------------------------------------------
    def describe(self) -> Iterator[Metric]:
        """The family names, for the registry's duplicate check (without reading any source)."""
        for name in _FAMILY_NAMES:
            yield Metric(name, "", "unknown")

    def collect(self) -> Iterator[Metric]:
        sources = self._sources
        if sources is not None:
            yield from sources.families()
        yield self.rollouts.histogram.family()
        yield self.rollouts.errors.family()
        yield self.events.family()
        yield self.analysis_runs.histogram.family()
        yield self.analysis_runs.errors.family()
        yield self.requests.family()
        info = Lines("argo_rollouts_controller_info", "Running Argo-rollouts version", "gauge")
        info.add(label_text(("version", self._controller_version)), 1.0)
        yield info


def _package_version() -> str:
    try:
        return version("rollouts")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


@functools.cache
def process_metrics() -> ControllerMetrics:
    """The series of this process, on the default registry (created once: a registry refuses a name twice)."""
    return ControllerMetrics()


# -- series computed at scrape time (pure functions of one object) ---------------------------------------------------

#: Argo's ``calculatePhase``: the ``Progressing`` condition's reason -> the phase ``rollout_info`` reports.
_PROGRESSING_REASONS = {
    "NewReplicaSetAvailable": "Completed",
    "RolloutPaused": "Paused",
    "ReplicaSetCreateError": "Error",
    "ProgressDeadlineExceeded": "Timeout",
    "RolloutAborted": "Abort",
}
#: The phases of the deprecated ``rollout_phase`` (one series each, 1 for the current one).
ROLLOUT_PHASES = ("Completed", "Progressing", "Paused", "Timeout", "Error", "Abort")
#: The phases of ``analysis_run_phase`` and ``analysis_run_metric_phase`` (an empty phase counts as Pending).
ANALYSIS_PHASES = ("Pending", "Error", "Failed", "Successful", "Running", "Inconclusive")
#: Argo's ``trafficRouting`` fields -> ``traffic_router`` label, checked in Argo's order (the last one set wins).
_TRAFFIC_ROUTERS = (
    ("gatewayAPI", "GatewayAPI"),  # ours (Argo reaches Gateway API through a plugin, which it labels "")
    ("alb", "ALB"),
    ("ambassador", "Ambassador"),
    ("istio", "Istio"),
    ("nginx", "Nginx"),
    ("smi", "SMI"),
    ("appMesh", "AppMesh"),
)
#: A metric's provider field -> Argo's provider type name (``metricproviders.Type``); ``workflow`` is ours.
_PROVIDER_TYPES = (
    ("prometheus", "Prometheus"),
    ("job", "Job"),
    ("kayenta", "Kayenta"),
    ("web", "Web"),
    ("datadog", "Datadog"),
    ("wavefront", "Wavefront"),
    ("newRelic", "NewRelic"),
    ("cloudWatch", "CloudWatch"),
    ("graphite", "Graphite"),
    ("influxdb", "Influxdb"),
    ("skywalking", "skywalking"),
    ("plugin", "RPCPlugin"),
    ("workflow", "Workflow"),
)


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: object) -> int:
    if isinstance(value, int | float) and math.isfinite(value):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return 0


def _conditions(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in status.get("conditions") or () if isinstance(c, Mapping)}


def rollout_phase(rollout: Mapping[str, Any]) -> str:
    """The phase ``rollout_info`` reports (Argo's ``calculatePhase``): from the ``Progressing`` condition's reason,
    ``InvalidSpec`` whenever that condition exists, ``Progressing`` otherwise. Not ``status.phase``."""
    conditions = _conditions(_map(rollout.get("status")))
    if "InvalidSpec" in conditions:
        return "InvalidSpec"
    reason = str(_map(conditions.get("Progressing")).get("reason") or "")
    return _PROGRESSING_REASONS.get(reason, "Progressing")


def strategy_and_traffic_router(rollout: Mapping[str, Any]) -> tuple[str, str]:
    """``("blueGreen" | "canary" | "none", traffic router)`` as Argo's ``getStrategyAndTrafficRouter`` names them."""
    strategy = _map(_map(rollout.get("spec")).get("strategy"))
    if isinstance(strategy.get("blueGreen"), Mapping):
        return "blueGreen", ""
    canary = strategy.get("canary")
    if not isinstance(canary, Mapping):
        return "none", ""
    routing = _map(canary.get("trafficRouting"))
    router = ""
    for field, label in _TRAFFIC_ROUTERS:
        if isinstance(routing.get(field), Mapping):
            router = label
    return "canary", router


@dataclass(frozen=True, slots=True)
class RolloutSeries:
    """The scrape-time values of one Rollout."""

    namespace: str
    name: str
    strategy: str
    traffic_router: str
    phase: str
    available: int
    unavailable: int
    desired: int
    updated: int


def rollout_series(rollout: Mapping[str, Any]) -> RolloutSeries:
    meta, spec, status = (_map(rollout.get(key)) for key in ("metadata", "spec", "status"))
    strategy, router = strategy_and_traffic_router(rollout)
    available = _int(status.get("availableReplicas"))
    replicas = spec.get("replicas")
    return RolloutSeries(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        strategy=strategy,
        traffic_router=router,
        phase=rollout_phase(rollout),
        available=available,
        unavailable=_int(status.get("replicas")) - available,
        desired=1 if replicas is None else _int(replicas),  # Argo's defaults.GetReplicasOrDefault
        updated=_int(status.get("updatedReplicas")),
    )


def provider_type(metric: Mapping[str, Any]) -> str:
    """Argo's provider type name of a metric (``metricproviders.Type``): ``Prometheus``, ``Web``, ``Job``, ..."""
    provider = _map(metric.get("provider"))
    for field, label in _PROVIDER_TYPES:
        if provider.get(field) is not None:
            return label
    return "Unknown Provider"


@dataclass(frozen=True, slots=True)
class MetricSeries:
    name: str
    type: str
    dry_run: bool
    phase: str  # "" when the metric has no result yet


@dataclass(frozen=True, slots=True)
class AnalysisRunSeries:
    """The scrape-time values of one AnalysisRun."""

    namespace: str
    name: str
    phase: str
    metrics: tuple[MetricSeries, ...]


def analysis_run_series(run: Mapping[str, Any]) -> AnalysisRunSeries:
    meta, spec, status = (_map(run.get(key)) for key in ("metadata", "spec", "status"))
    rules = [
        DryRunRule(metric_name=str(rule.get("metricName") or ""))
        for rule in spec.get("dryRun") or ()
        if isinstance(rule, Mapping) and rule.get("metricName")
    ]
    phases = {
        str(result.get("name")): str(result.get("phase") or "")
        for result in status.get("metricResults") or ()
        if isinstance(result, Mapping)
    }
    metrics = tuple(
        MetricSeries(
            name=str(metric.get("name") or ""),
            type=provider_type(metric),
            dry_run=any(rule.matches(str(metric.get("name") or "")) for rule in rules),
            phase=phases.get(str(metric.get("name") or ""), ""),
        )
        for metric in spec.get("metrics") or ()
        if isinstance(metric, Mapping)
    )
    return AnalysisRunSeries(
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name") or ""),
        phase=str(status.get("phase") or ""),
        metrics=metrics,
    )


def _is(phase: str, wanted: str) -> float:
    return 1.0 if phase == wanted or (wanted == "Pending" and not phase) else 0.0


# -- the scrape-time collector -----------------------------------------------------------------------------------


_ROLLOUT_GAUGES = (
    ("rollout_info_replicas_available", "The number of available replicas per rollout.", "available"),
    ("rollout_info_replicas_unavailable", "The number of unavailable replicas per rollout.", "unavailable"),
    ("rollout_info_replicas_desired", "The number of desired replicas per rollout.", "desired"),
    ("rollout_info_replicas_updated", "The number of updated replicas per rollout.", "updated"),
)


@dataclass(frozen=True, slots=True)
class ScrapeSources:
    """What the scrape-time series are computed from: the operator's informer caches (Rollouts, AnalysisRuns and
    templates of ``mode``'s group) and the shared executor's :meth:`~workflows.runtime.executor.Executor.stats`."""

    cache: Cache
    mode: ApiMode
    executor_stats: Callable[[], ExecutorStats] | None = None

    def _objects(self, resource: Any) -> list[dict[str, Any]]:
        informer = self.cache.informer(resource)
        return informer.list() if informer is not None else []

    def families(self) -> Iterator[Metric]:
        yield from rollout_families(self._objects(self.mode.rollouts))
        yield from analysis_run_families(self._objects(self.mode.analysis_runs))
        yield from analysis_template_families(
            [*self._objects(self.mode.analysis_templates), *self._objects(self.mode.cluster_analysis_templates)]
        )
        if self.executor_stats is not None:
            yield from executor_families(self.executor_stats())


def rollout_families(rollouts: Iterable[Mapping[str, Any]]) -> Iterator[Metric]:
    """``rollout_info``, its four replica gauges and the deprecated ``rollout_phase``, for every Rollout."""
    info = Lines("rollout_info", "Information about rollout.", "gauge")
    gauges = [(Lines(name, text, "gauge"), field) for name, text, field in _ROLLOUT_GAUGES]
    phase = Lines("rollout_phase", "Information on the state of the rollout (DEPRECATED - use rollout_info)", "gauge")
    for body in rollouts:
        series = rollout_series(body)
        at = label_text(("namespace", series.namespace), ("name", series.name))
        strategy = label_text(("strategy", series.strategy))
        info.add(f'{at},{strategy},{label_text(("traffic_router", series.traffic_router))},phase="{series.phase}"', 1)
        for family, field in gauges:
            family.add(at, getattr(series, field))
        for name in ROLLOUT_PHASES:
            phase.add(f'{at},{strategy},phase="{name}"', 1 if series.phase == name else 0)
    yield info
    for family, _ in gauges:
        yield family
    yield phase


def analysis_run_families(runs: Iterable[Mapping[str, Any]]) -> Iterator[Metric]:
    """``analysis_run_info``, ``analysis_run_phase`` (deprecated), ``analysis_run_metric_type`` and
    ``analysis_run_metric_phase``, for every AnalysisRun."""
    info = Lines("analysis_run_info", "Information about analysis run.", "gauge")
    phase = Lines(
        "analysis_run_phase",
        "Information on the state of the Analysis Run (DEPRECATED - use analysis_run_info)",
        "gauge",
    )
    metric_type = Lines(
        "analysis_run_metric_type", "Information on the type of a specific metric in the Analysis Runs", "gauge"
    )
    metric_phase = Lines(
        "analysis_run_metric_phase", "Information on the duration of a specific metric in the Analysis Run", "gauge"
    )
    for body in runs:
        series = analysis_run_series(body)
        at = label_text(("namespace", series.namespace), ("name", series.name))
        info.add(f"{at},{label_text(('phase', series.phase))}", 1)
        for name in ANALYSIS_PHASES:
            phase.add(f'{at},phase="{name}"', _is(series.phase, name))
        for metric in series.metrics:
            which = f"{at},{label_text(('metric', metric.name), ('type', metric.type))}"
            metric_type.add(which, 1)
            dry_run = "true" if metric.dry_run else "false"
            for name in ANALYSIS_PHASES:
                metric_phase.add(f'{which},dry_run="{dry_run}",phase="{name}"', _is(metric.phase, name))
    yield from (info, phase, metric_type, metric_phase)


def analysis_template_families(templates: Iterable[Mapping[str, Any]]) -> Iterator[Metric]:
    """``analysis_template_info`` and ``analysis_template_metric_info`` (a ClusterAnalysisTemplate: namespace "")."""
    info = Lines("analysis_template_info", "Information about analysis templates.", "gauge")
    metric_info = Lines("analysis_template_metric_info", "Information on metrics in analysis templates.", "gauge")
    for body in templates:
        meta = _map(body.get("metadata"))
        at = label_text(("namespace", str(meta.get("namespace") or "")), ("name", str(meta.get("name") or "")))
        info.add(at, 1)
        for metric in _map(body.get("spec")).get("metrics") or ():
            if isinstance(metric, Mapping):
                which = label_text(("type", provider_type(metric)), ("metric", str(metric.get("name") or "")))
                metric_info.add(f"{at},{which}", 1)
    yield from (info, metric_info)


def executor_families(stats: ExecutorStats) -> Iterator[Metric]:
    """Our own: the shared executor's nodes, slots and queues (Workflows and AnalysisRuns alike)."""
    nodes = Lines(
        "workflow_nodes",
        "Nodes of the workflow runs in progress on the shared executor, by the kind of object the run belongs to "
        "(Workflow, AnalysisRun) and node phase.",
        "gauge",
    )
    for (kind, phase), count in sorted(stats.nodes.items()):
        nodes.add(label_text(("kind", kind), ("phase", phase)), count)
    yield nodes
    for name, text, value in (
        ("workflow_executor_runs", "Workflow runs in progress on the shared executor.", stats.runs),
        ("workflow_executor_running", "Steps holding one of the executor's slots.", stats.running),
        ("workflow_executor_slots", "The executor's slots: steps that may run at once.", stats.slots),
        (
            "workflow_executor_queue_depth",
            "Steps ready to run and waiting for admission (a slot, their run's parallelism or their pool).",
            stats.waiting,
        ),
        (
            "workflow_executor_blocking_queue_depth",
            "Blocking calls (provider queries, API writes) waiting for a thread of the executor's pool.",
            stats.blocking_queued,
        ),
    ):
        gauge = Lines(name, text, "gauge")
        gauge.add("", value)
        yield gauge
    latency = Lines(
        "workflow_executor_queue_latency_seconds",
        "Seconds from a step being ready to its first attempt starting (admission latency).",
        "histogram",
    )
    admission = stats.admission
    bounds = tuple(number_text(bound) for bound in admission.bounds)
    counts = list(admission.counts)  # one copy: the loop may count meanwhile
    _histogram_lines(latency, "", bounds=bounds, counts=counts, total=admission.total_seconds)
    yield latency


_FAMILY_NAMES = (
    "rollout_info",
    *(name for name, _, _ in _ROLLOUT_GAUGES),
    "rollout_phase",
    "rollout_reconcile",
    "rollout_reconcile_error",
    "rollout_events_total",
    "analysis_run_info",
    "analysis_run_phase",
    "analysis_run_metric_type",
    "analysis_run_metric_phase",
    "analysis_run_reconcile",
    "analysis_run_reconcile_error",
    "analysis_template_info",
    "analysis_template_metric_info",
    "controller_clientset_k8s_request_total",
    "argo_rollouts_controller_info",
    "workflow_nodes",
    "workflow_executor_runs",
    "workflow_executor_running",
    "workflow_executor_slots",
    "workflow_executor_queue_depth",
    "workflow_executor_blocking_queue_depth",
    "workflow_executor_queue_latency_seconds",
)


# -- the exposition and the endpoint -----------------------------------------------------------------------------


def number_text(value: float) -> str:
    """A sample value or bucket bound as Go's ``strconv.FormatFloat(v, 'g', -1, 64)`` writes it (what Argo's
    controller exposes): ``1`` (not ``1.0``: dashboards match ``le="1"``), ``0.25``, ``123456``, ``1.234567e+06``,
    ``1e-05``, ``+Inf``, ``NaN``."""
    value = float(value)
    if value.is_integer() and -1e6 < value < 1e6:  # nearly every sample (0, 1, counts): the fast path
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign, digit_tuple, exponent = decimal.Decimal(repr(float(value))).as_tuple()  # repr: the shortest round trip
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    exponent = int(exponent) + len(digit_tuple) - len(digits)
    point = len(digits) + exponent  # where the decimal point goes in the digits
    minus = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:  # Go's 'g' with the shortest precision: %e outside [1e-4, 1e6)
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        power = point - 1
        return f"{minus}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{minus}{digits}{'0' * (point - len(digits))}"
    return f"{minus}{digits[:point]}.{digits[point:]}"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(value: str) -> str:
    if "\\" not in value and '"' not in value and "\n" not in value:  # Kubernetes names never need it
        return value
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


_TYPES = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}


def exposition(registry: CollectorRegistry = REGISTRY) -> bytes:
    """Every family of ``registry`` in Prometheus' text format 0.0.4, without ``_created`` series.

    A family's ``# HELP``/``# TYPE`` name is the name its samples carry: ``prometheus_client``'s counters (named
    without their ``_total``) get it back, Argo's counters without one keep their name."""
    lines: list[str] = []
    for family in registry.collect():
        if isinstance(family, Lines):  # ours: written already, under the family's own name
            lines.append(f"# HELP {family.name} {_escape_help(family.documentation)}\n")
            lines.append(f"# TYPE {family.name} {family.type}\n")
            lines.extend(family.lines)
            continue
        samples = [s for s in family.samples if not s.name.endswith("_created")]
        name = family.name
        if family.type == "counter" and any(s.name == f"{name}_total" for s in samples):
            name = f"{name}_total"
        elif family.type == "info":
            name = f"{name}_info"
        lines.append(f"# HELP {name} {_escape_help(family.documentation)}\n")
        lines.append(f"# TYPE {name} {_TYPES.get(family.type, family.type)}\n")
        for sample in samples:
            if sample.labels:
                labels = ",".join(f'{key}="{_escape_label(value)}"' for key, value in sorted(sample.labels.items()))
                lines.append(f"{sample.name}{{{labels}}} {number_text(sample.value)}\n")
            else:
                lines.append(f"{sample.name} {number_text(sample.value)}\n")
    return "".join(lines).encode()


def serve_metrics(
    port: int,
    address: str = "0.0.0.0",  # noqa: S104 -- scraped from other pods
    registry: CollectorRegistry = REGISTRY,
) -> ThreadingHTTPServer:
    """Serve ``/metrics`` on ``address:port`` from a daemon thread (``shutdown()`` the server returned to stop it);
    OSError when the port is taken (a misconfiguration the operator must see at start-up, not a silently missing
    endpoint). gzip when the scraper accepts it, as Argo's Go handler does."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self._answer(404, b"not found\n", "text/plain; charset=utf-8")
                return
            try:
                body = exposition(registry)
            except Exception:  # a scrape must answer; the collector's bug is logged, not raised into the server
                logger.exception("collecting /metrics failed")
                self._answer(500, b"collecting metrics failed\n", "text/plain; charset=utf-8")
                return
            self._answer(200, body, CONTENT_TYPE)

        def _answer(self, code: int, body: bytes, content_type: str) -> None:
            zipped = "gzip" in (self.headers.get("Accept-Encoding") or "")
            if zipped:
                body = gzip.compress(body, compresslevel=1)  # the fastest level: a scrape's CPU is what we save
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            if zipped:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:  # every scrape would be a log line
            return

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    logger.info("metrics on http://%s:%d/metrics", address, port)
    return server
