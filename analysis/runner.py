"""Running an AnalysisRun on the shared workflow executor: one ``metric`` node per metric, edges from
``dependencies``, and a :class:`MetricRunner` that takes a metric's measurements on schedule.

Why a DAG: independent metrics then run concurrently on the same executor (and the same bounded thread pool) as
Workflows, a metric that depends on another starts when that one is Successful, and the engine's admission, restart
and status machinery is reused instead of re-invented. What the DAG does *not* decide is the analysis outcome: the
run's phase is always :func:`analysis.assess.assess_run` over the recorded metric results, so the Argo semantics
live in one place.

Per metric, the runner repeats: ask the pure planner (:func:`analysis.assess.plan_run` on that metric alone) whether
a measurement is due; if so render the provider body (secrets resolved now, on a worker thread), call the provider
on the executor's thread pool and record the measurement (:func:`analysis.assess.record_measurement`), handing the
updated :class:`~analysis.assess.MetricResult` to the caller's ``on_update`` so a controller can persist
``status.metricResults``; otherwise sleep until the planner's ``next_wakeup``. Time comes from an injected clock and
sleeping from an injected ``sleep``, so tests drive hours of schedule in microseconds.

Fail-fast: when a deciding (non-dry-run) metric ends Failed, Error or Inconclusive its node fails and the whole run
is cancelled at once (other metric nodes are interrupted wherever they wait), as Argo terminates the run.

Restart seam: :func:`run_analysis` accepts the metric results a previous controller stored. Completed metrics are
not measured again; running ones continue their counts and their schedule from the last measurement.

Long-running providers (:class:`~analysis.providers.base.AsyncMetricProvider`, the Job provider) take the async
path instead: secrets are rendered on a worker thread, then the provider's coroutine records a Running measurement
through :class:`~analysis.providers.base.MeasurementContext` and awaits the outcome on the event loop. When the run
ends (fail-fast, ``terminate``, deletion) such a measurement is cancelled; :func:`run_analysis` then completes it as
Argo does (Successful, "Metric Terminated"), while an executor *shutdown* leaves it Running for the next controller.

Metric nodes do not hold executor slots (``uses_slot = False``): a metric spends nearly all its life waiting for its
next interval, and holding a slot for minutes would starve Workflows. The real work -- provider calls -- is bounded
by the executor's thread pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial

from analysis.args import Argument, SecretResolver, render_provider
from analysis.assess import (
    AnalysisPhase,
    Measurement,
    MetricAssessment,
    MetricResult,
    RunAssessment,
    assess_metric,
    assess_run,
    plan_run,
    record_measurement,
)
from analysis.errors import SecretResolutionError
from analysis.providers.base import AsyncMetricProvider, MeasurementContext, ProviderRegistry, error_measurement
from analysis.spec import DEFAULT_MEASUREMENT_RETENTION, AnalysisRunSpec, Metric, resolve_metrics
from workflows import DagBuilder, Executor, NodeContext, NodePhase, NodeResult, Plan, PreviousNode

__all__ = [
    "METRIC_KIND",
    "TERMINATED_MESSAGE",
    "AnalysisExecution",
    "AnalysisOutcome",
    "Clock",
    "MetricRunner",
    "MetricTask",
    "Sleep",
    "UpdateCallback",
    "compile_analysis",
    "measure_once",
    "run_analysis",
    "utc_now",
]

logger = logging.getLogger(__name__)

METRIC_KIND = "metric"
#: The message of a measurement that was in flight when its run ended (Argo's wording).
TERMINATED_MESSAGE = "Metric Terminated"
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]
#: Called on the event loop after every recorded measurement and when a metric completes.
UpdateCallback = Callable[[str, MetricResult], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AnalysisExecution:
    """The live state of one AnalysisRun shared by its metric nodes: results so far and the way to stop the run.

    Mutated only on the event loop (after a provider call returns), so no locks are needed.
    """

    def __init__(
        self,
        *,
        name: str,
        namespace: str,
        metrics: Sequence[Metric],
        args: Sequence[Argument],
        dry_run: Collection[str],
        retention: Mapping[str, int],
        started_at: datetime,
        results: Mapping[str, MetricResult] | None = None,
        on_update: UpdateCallback | None = None,
        owner: Mapping[str, object] | None = None,
    ) -> None:
        self.name = name
        self.owner = owner
        self.namespace = namespace
        self.metrics = tuple(metrics)
        self.args = tuple(args)
        self.dry_run = frozenset(dry_run)
        self.retention = dict(retention)
        self.started_at = started_at
        self.results: dict[str, MetricResult] = dict(results or {})
        self.on_update = on_update
        self.stop_reason: str | None = None
        self._cancel: Callable[[str], None] | None = None

    def ready_since(self, metric: Metric) -> datetime:
        """When ``metric`` could start: the run's start, or the last finish among its dependencies."""
        ready = self.started_at
        for name in metric.dependencies:
            result = self.results.get(name)
            last = result.last if result else None
            if last is not None and last.finished_at is not None and last.finished_at > ready:
                ready = last.finished_at
        return ready

    def record(self, metric: Metric, measurement: Measurement) -> MetricResult:
        name = metric.name
        updated = record_measurement(
            self.results.get(name),
            measurement,
            metric_name=name,
            dry_run=name in self.dry_run,
            retention=self.retention.get(name, DEFAULT_MEASUREMENT_RETENTION),
        )
        self.results[name] = updated
        self._notify(name, updated)
        return updated

    def complete(self, metric: Metric, assessment: MetricAssessment) -> MetricResult:
        current = self.results.get(metric.name) or MetricResult(name=metric.name, dry_run=metric.name in self.dry_run)
        updated = replace(current, phase=assessment.phase, message=assessment.reason)
        self.results[metric.name] = updated
        self._notify(metric.name, updated)
        return updated

    def bind(self, cancel: Callable[[str], None]) -> None:
        """Attach the executor run's ``cancel`` so :meth:`stop` can end every metric node."""
        self._cancel = cancel

    def stop(self, reason: str) -> None:
        """End the run: every other metric node is cancelled (scheduled, so the caller's node finishes first)."""
        if self.stop_reason is not None:
            return
        self.stop_reason = reason
        if self._cancel is not None:
            asyncio.get_running_loop().call_soon(self._cancel, reason)

    def _notify(self, name: str, result: MetricResult) -> None:
        if self.on_update is None:
            return
        try:
            self.on_update(name, result)
        except Exception:  # a persistence hiccup must not kill the measurement loop
            logger.exception("on_update for metric %s of %s failed", name, self.name)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricTask:
    """The payload of one ``metric`` node: which metric, in which run."""

    metric: Metric
    execution: AnalysisExecution = field(repr=False)


class MetricRunner:
    """The ``metric`` step runner: takes one metric's measurements until the metric completes."""

    uses_slot = False

    def __init__(
        self,
        *,
        providers: ProviderRegistry,
        secrets: SecretResolver,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.providers = providers
        self.secrets = secrets
        self.clock = clock
        self.sleep = sleep

    async def run(self, node: NodeContext) -> NodeResult:
        task = node.payload
        if not isinstance(task, MetricTask):
            return NodeResult.error("metric node without a MetricTask payload")
        metric, execution = task.metric, task.execution
        name = metric.name
        # The planner sees this metric alone: the DAG already waited for its dependencies.
        alone = replace(metric, dependencies=())
        ready_since = execution.ready_since(metric)
        while True:
            result = execution.results.get(name)
            if assess_metric(metric, result, terminating=False).phase.completed:
                break
            now = self.clock()
            plan = plan_run(metrics=(alone,), results={name: result} if result else {}, started_at=ready_since, now=now)
            if plan.completed:
                break
            if name in plan.measure or name in plan.resume:
                measurement = await self._measure(node, metric, execution, now)
                execution.record(metric, replace(measurement, finished_at=max(self.clock(), now)))
                continue
            if plan.next_wakeup is None:  # nothing scheduled and not complete: a planner bug, never a hang
                execution.record(metric, error_measurement("nothing left to schedule for this metric", now=now))
                continue
            await self.sleep(max(0.0, (plan.next_wakeup - now).total_seconds()))
        final = execution.complete(metric, assess_metric(metric, execution.results.get(name), terminating=False))
        text = f'metric "{name}" assessed {final.phase}' + (f": {final.message}" if final.message else "")
        if final.phase is AnalysisPhase.SUCCESSFUL or name in execution.dry_run:
            return NodeResult.succeeded(result=final.phase.value, message=text)
        execution.stop(text)
        return NodeResult.failed(text, result=final.phase.value)

    async def _measure(
        self, node: NodeContext, metric: Metric, execution: AnalysisExecution, now: datetime
    ) -> Measurement:
        provider = self.providers.get(metric.provider.kind)
        if provider is None:
            return error_measurement(
                f"no {metric.provider.kind} provider is available here"
                + (" (job metrics need the cluster controller)" if metric.provider.kind == "job" else ""),
                now=now,
            )
        if isinstance(provider, AsyncMetricProvider):
            return await self._measure_async(node, provider, metric, execution, now)
        call = partial(
            _measure_blocking,
            provider=provider,
            metric=metric,
            args=execution.args,
            namespace=execution.namespace,
            secrets=self.secrets,
            now=now,
        )
        measurement: Measurement = await node.run_blocking(call)
        return measurement

    async def _measure_async(
        self,
        node: NodeContext,
        provider: AsyncMetricProvider,
        metric: Metric,
        execution: AnalysisExecution,
        now: datetime,
    ) -> Measurement:
        """The long-running path: render on a worker thread (secret reads block), then await the provider."""
        result = execution.results.get(metric.name)
        last = result.last if result is not None else None
        in_flight = last if last is not None and last.in_flight else None
        sequence = result.count + result.error + 1 if result is not None else 1
        render = partial(
            render_provider,
            metric.provider.body,
            args=execution.args,
            namespace=execution.namespace,
            resolver=self.secrets,
        )
        try:
            rendered = await node.run_blocking(render)
        except SecretResolutionError as error:
            return error_measurement(str(error), now=now)
        context = MeasurementContext(
            run_name=execution.name,
            namespace=execution.namespace,
            metric=metric,
            sequence=sequence,
            in_flight=in_flight,
            owner=execution.owner,
            started=partial(execution.record, metric),
        )
        return await provider.measure_async(rendered, context=context, now=now, run_blocking=node.run_blocking)


def _measure_blocking(
    *,
    provider: object,
    metric: Metric,
    args: Sequence[Argument],
    namespace: str,
    secrets: SecretResolver,
    now: datetime,
    at: datetime | None = None,
) -> Measurement:
    """Worker-thread part of a measurement: resolve secrets (may call the API server), then call the provider."""
    from analysis.providers.base import MetricProvider

    assert isinstance(provider, MetricProvider)
    try:
        rendered = render_provider(metric.provider.body, args=args, namespace=namespace, resolver=secrets)
    except SecretResolutionError as error:
        return error_measurement(str(error), now=now)
    return provider.measure(metric, rendered, now=now, at=at)


# --------------------------------------------------------------------------------------------------------------
# Compiling and running


def _node_names(metrics: Sequence[Metric]) -> dict[str, str]:
    """Metric name -> DAG node name; node names cannot contain '.', metric names may."""
    names: dict[str, str] = {}
    for index, metric in enumerate(metrics):
        names[metric.name] = metric.name if "." not in metric.name else f"{metric.name.replace('.', '-')}-{index}"
    return names


def compile_analysis(execution: AnalysisExecution) -> Plan:
    """The DAG for a run: one ``metric`` node per metric, ``dependencies`` as edges, failFast on."""
    names = _node_names(execution.metrics)
    dag = DagBuilder(execution.name, namespace=execution.namespace, fail_fast=True)
    for metric in execution.metrics:
        dag.add(
            names[metric.name],
            kind=METRIC_KIND,
            payload=MetricTask(metric=metric, execution=execution),
            depends=[names[dependency] for dependency in metric.dependencies] or None,
            pool=f"metric-{metric.provider.kind}",
        )
    return dag.build()


def _previous_nodes(execution: AnalysisExecution) -> dict[str, PreviousNode]:
    """Completed metrics from a previous controller become finished nodes, so they are not measured again."""
    names = _node_names(execution.metrics)
    previous: dict[str, PreviousNode] = {}
    for metric in execution.metrics:
        result = execution.results.get(metric.name)
        if result is None or not result.phase.completed:
            continue
        good = result.phase is AnalysisPhase.SUCCESSFUL or metric.name in execution.dry_run
        finished = result.last.finished_at if result.last is not None else None
        previous[names[metric.name]] = PreviousNode(
            phase=NodePhase.SUCCEEDED if good else NodePhase.FAILED,
            finished_at=finished.timestamp() if finished else None,
            message=result.message,
            result=result.phase.value,
        )
    return previous


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisOutcome:
    """How a run ended: the run phase and message (``assess_run``), and every metric's final result."""

    phase: AnalysisPhase
    message: str
    results: Mapping[str, MetricResult]
    assessment: RunAssessment
    started_at: datetime
    finished_at: datetime
    #: The executor shut down before the run ended (controller stopping): nothing is final, a restart continues.
    interrupted: bool = False


async def run_analysis(
    executor: Executor,
    run: AnalysisRunSpec,
    *,
    name: str,
    namespace: str = "default",
    metrics: Sequence[Metric] | None = None,
    started_at: datetime | None = None,
    results: Mapping[str, MetricResult] | None = None,
    on_update: UpdateCallback | None = None,
    clock: Clock = utc_now,
    terminate: asyncio.Event | None = None,
    run_id: str | None = None,
    owner: Mapping[str, object] | None = None,
) -> AnalysisOutcome:
    """Run an AnalysisRun to completion on ``executor`` (whose registry has a :class:`MetricRunner` for ``metric``).

    ``metrics`` defaults to ``resolve_metrics(run)``; pass them to override (e.g. a local Prometheus address).
    ``started_at`` and ``results`` continue a run a previous controller started. Setting ``terminate`` (or
    ``run.terminate``) ends the run as Argo's ``spec.terminate`` does: Successful unless a metric already failed.
    ``run_id`` names the executor run (so a controller can ``executor.cancel(run_id)`` it); ``owner`` is the
    ownerReference objects created for measurements (Jobs) carry.
    """
    resolved = tuple(metrics if metrics is not None else resolve_metrics(run))
    dry_run = frozenset(metric.name for metric in resolved if run.is_dry_run(metric.name))
    start = started_at or clock()
    execution = AnalysisExecution(
        name=name,
        namespace=namespace,
        metrics=resolved,
        args=run.args,
        dry_run=dry_run,
        retention={metric.name: run.retention_limit(metric.name) for metric in resolved},
        started_at=start,
        results=results,
        on_update=on_update,
        owner=owner,
    )
    interrupted = False
    terminated = run.terminate or (terminate is not None and terminate.is_set())
    before = assess_run(resolved, execution.results, terminate=terminated, dry_run=dry_run)
    if not before.phase.completed:
        handle = executor.submit(
            compile_analysis(execution), run_id=run_id, previous=_previous_nodes(execution) or None
        )
        execution.bind(handle.cancel)
        watcher = None
        if terminate is not None:

            async def watch() -> None:
                await terminate.wait()
                handle.cancel("Run Terminated")

            watcher = asyncio.ensure_future(watch())
        try:
            interrupted = (await handle.wait()).interrupted
        finally:
            if watcher is not None:
                watcher.cancel()
        terminated = terminated or (terminate is not None and terminate.is_set())
    if not interrupted:
        _terminate_in_flight(execution, now=clock())
    final = assess_run(resolved, execution.results, terminate=terminated, dry_run=dry_run)
    for metric in resolved:
        current = execution.results.get(metric.name)
        assessed = final.metrics[metric.name]
        if current is not None and current.phase is not assessed.phase:
            execution.complete(metric, assessed)
    return AnalysisOutcome(
        phase=final.phase,
        message=final.message,
        results=dict(execution.results),
        assessment=final,
        started_at=start,
        finished_at=clock(),
        interrupted=interrupted,
    )


def _terminate_in_flight(execution: AnalysisExecution, *, now: datetime) -> None:
    """Measurements still Running when the run ended were stopped by it: Successful, "Metric Terminated" (Argo)."""
    for metric in execution.metrics:
        result = execution.results.get(metric.name)
        last = result.last if result is not None else None
        if last is not None and last.in_flight:
            execution.record(
                metric,
                replace(last, phase=AnalysisPhase.SUCCESSFUL, finished_at=now, message=TERMINATED_MESSAGE),
            )


def measure_once(
    providers: ProviderRegistry,
    metric: Metric,
    *,
    args: Sequence[Argument],
    secrets: SecretResolver,
    now: datetime,
    at: datetime | None = None,
    namespace: str = "default",
) -> Measurement:
    """One blocking measurement outside any run (backtests, ``lint --probe``); never raises."""
    provider = providers.get(metric.provider.kind)
    if provider is None or isinstance(provider, AsyncMetricProvider):
        return error_measurement(f"no {metric.provider.kind} provider is available here", now=now)
    return _measure_blocking(
        provider=provider, metric=metric, args=args, namespace=namespace, secrets=secrets, now=now, at=at
    )
