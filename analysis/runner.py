"""Running an AnalysisRun on the shared workflow executor: one ``metric`` node per metric, ``dependencies`` as DAG
edges, and one *measurement* as the unit the executor schedules.

Argo's AnalysisRun controller loops: pick the metrics that are due, measure them, assess, requeue at the next due
time. Here the executor does the looping: each attempt of a metric node is one pass of that loop for one metric
(:class:`MetricRunner`): it asks the pure planner (:func:`analysis.assess.plan_run` on that metric alone) what is
due at ``now``, takes at most one measurement (secrets resolved on the executor's bounded thread pool, the provider
awaited on the loop), records it into the metric's :class:`~analysis.assess.MetricResult`, and either finishes the node
(the metric is assessed completed) or ends the attempt with ``NodeResult.again(after=<next due time>)``. Prometheus
and web measurements are awaited on the event loop (:class:`~analysis.providers.base.LoopMetricProvider`): when the
run ends, cancelling the attempt closes the request's connection at once, so a hung endpoint holds no pool thread.
The metric's result is the node's *state*: the executor keeps it between attempts, hands it to the next one, shows
it to the status sink and seeds it back after a controller restart. Nothing sleeps; no node holds an admission slot
while it waits for its next interval; the payload (:class:`MetricTask`) is immutable.

What the DAG does *not* decide is the analysis outcome: the run's phase is always :func:`analysis.assess.assess_run`
over the metrics' results (:func:`conclude`), so Argo's semantics live in one place.

Fail-fast: when a deciding (non-dry-run) metric ends Failed, Error or Inconclusive its node ends with ``stop_run``,
so the executor ends the run at once (the other metrics' waiting or running attempts end), as Argo terminates the run.

Long-running providers (:class:`~analysis.providers.base.AsyncMetricProvider`, the Job provider) record a Running
measurement with ``NodeContext.checkpoint`` (status shows it, a restart resumes it) and await the outcome on the
event loop. When the run ends (fail-fast, ``terminate``, deletion) such a measurement is cancelled and concluded as
Argo does ("Metric Terminated": Inconclusive for a Job, see :func:`conclude`), while an executor *shutdown* leaves it
Running for the next controller.

Status: :class:`AnalysisStatusSink` composes Argo's AnalysisRun status from the nodes' states when the executor
writes (coalesced: at most one write per ``status_interval`` per run, the final one immediately and never overtaken);
:func:`run_analysis` hands each composed body to the caller's ``report`` (the controller patches it, the local CLI
prints it). Intermediate bodies never show a concluded phase; the final one (with ``completedAt``) does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from analysis.args import Argument, RenderedProvider, SecretResolver, render_provider
from analysis.assess import (
    AnalysisPhase,
    Measurement,
    MetricResult,
    RunAssessment,
    assess_metric,
    assess_run,
    plan_run,
    record_measurement,
)
from analysis.errors import SecretResolutionError
from analysis.providers.base import (
    AsyncMetricProvider,
    LoopMetricProvider,
    MeasurementContext,
    ProviderRegistry,
    error_measurement,
)
from analysis.spec import DEFAULT_MEASUREMENT_RETENTION, AnalysisRunSpec, Metric, resolve_metrics
from analysis.status import encode_run_status
from workflows import DagBuilder, Executor, NodeContext, NodePhase, NodeResult, Plan, PreviousNode, Run

__all__ = [
    "METRIC_KIND",
    "TERMINATED_MESSAGE",
    "AnalysisOutcome",
    "AnalysisStatusSink",
    "Clock",
    "MetricRunner",
    "MetricState",
    "MetricTask",
    "Report",
    "RunContext",
    "compile_analysis",
    "conclude",
    "measure_once",
    "run_analysis",
    "utc_now",
]

logger = logging.getLogger(__name__)

METRIC_KIND = "metric"
#: The message of a measurement that was in flight when its run ended (Argo's wording).
TERMINATED_MESSAGE = "Metric Terminated"
TERMINATE_REASON = "Run Terminated"
Clock = Callable[[], datetime]
#: Receives each AnalysisRun status body the executor writes (Argo's shape; see :mod:`analysis.status`).
Report = Callable[[dict[str, Any]], Awaitable[None]]
_FINAL_WRITE_ATTEMPTS = 5


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunContext:
    """What every metric of one AnalysisRun shares; immutable (the run's changing state lives in the nodes)."""

    name: str
    namespace: str
    args: tuple[Argument, ...] = ()
    dry_run: frozenset[str] = frozenset()
    retention: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricTask:
    """The payload of one ``metric`` node: which metric, in which run."""

    metric: Metric
    run: RunContext = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricState:
    """A metric node's state between measurements: its result so far and when it could first be measured.

    ``ready_since`` is the run's start for a metric without dependencies and the moment its dependencies were
    satisfied otherwise (the DAG starts it then); ``initialDelay`` counts from it.
    """

    result: MetricResult | None = None
    ready_since: datetime | None = None


class MetricRunner:
    """The ``metric`` step runner: each attempt is one pass of Argo's loop for one metric (see the module docstring)."""

    uses_slot = False  # a metric spends its life waiting for its next interval (or on the loop, for its answer)

    def __init__(self, *, providers: ProviderRegistry, secrets: SecretResolver, clock: Clock = utc_now) -> None:
        self.providers = providers
        self.secrets = secrets
        self.clock = clock

    async def run(self, node: NodeContext) -> NodeResult:
        task = node.payload
        if not isinstance(task, MetricTask):
            return NodeResult.error("metric node without a MetricTask payload")
        metric, run = task.metric, task.run
        state = node.state if isinstance(node.state, MetricState) else MetricState()
        now = self.clock()
        if state.ready_since is None:
            state = replace(state, ready_since=now)  # started by the DAG right as its dependencies were satisfied
        if not assess_metric(metric, state.result, terminating=False).phase.completed:
            due = self._due(metric, state, now)
            if due is not None and due > now:
                return NodeResult.again((due - now).total_seconds(), state=state)
            if due is None:  # nothing scheduled and not complete: a planner bug, never a hang
                measurement = error_measurement("nothing left to schedule for this metric", now=now)
            else:
                measurement = await self._measure(node, metric, run, state, now)
            finished = replace(measurement, finished_at=max(self.clock(), now))
            state = replace(state, result=_record(metric, run, state.result, finished))
        assessment = assess_metric(metric, state.result, terminating=False)
        if not assessment.phase.completed:
            later = self.clock()
            due = self._due(metric, state, later)
            return NodeResult.again(0.0 if due is None else max(0.0, (due - later).total_seconds()), state=state)
        current = state.result or MetricResult(name=metric.name, dry_run=metric.name in run.dry_run)
        final = replace(current, phase=assessment.phase, message=assessment.reason)
        state = replace(state, result=final)
        text = f'metric "{metric.name}" assessed {final.phase}' + (f": {final.message}" if final.message else "")
        if final.phase is AnalysisPhase.SUCCESSFUL or metric.name in run.dry_run:
            return NodeResult(phase=NodePhase.SUCCEEDED, message=text, result=final.phase.value, state=state)
        return NodeResult(phase=NodePhase.FAILED, message=text, result=final.phase.value, state=state, stop_run=True)

    @staticmethod
    def _due(metric: Metric, state: MetricState, now: datetime) -> datetime | None:
        """When the next measurement of ``metric`` is due (``now`` or earlier: at once); None: nothing scheduled."""
        result = state.result
        last = result.last if result is not None else None
        if last is not None and last.in_flight:
            return now  # resume it (a restarted controller, or the attempt that recorded it)
        alone = replace(metric, dependencies=())  # the DAG already waited for the dependencies
        assert state.ready_since is not None
        plan = plan_run(
            metrics=(alone,), results={metric.name: result} if result else {}, started_at=state.ready_since, now=now
        )
        if metric.name in plan.measure:
            return now
        return plan.next_wakeup

    async def _measure(
        self, node: NodeContext, metric: Metric, run: RunContext, state: MetricState, now: datetime
    ) -> Measurement:
        provider = self.providers.get(metric.provider.kind)
        if provider is None:
            return error_measurement(
                f"no {metric.provider.kind} provider is available here"
                + (" (job metrics need the cluster controller)" if metric.provider.kind == "job" else ""),
                now=now,
            )
        if isinstance(provider, AsyncMetricProvider):
            return await self._measure_async(node, provider, metric=metric, run=run, state=state, now=now)
        if isinstance(provider, LoopMetricProvider):
            rendered = await self._render(node, metric, run)
            if isinstance(rendered, SecretResolutionError):
                return error_measurement(str(rendered), now=now)
            return await provider.measure_on_loop(metric, rendered, now=now)
        call = partial(
            _measure_blocking, provider=provider, metric=metric, args=run.args, namespace=run.namespace,
            secrets=self.secrets, now=now,
        )  # fmt: skip
        measurement: Measurement = await node.run_blocking(call)
        return measurement

    async def _render(
        self, node: NodeContext, metric: Metric, run: RunContext
    ) -> RenderedProvider | SecretResolutionError:
        """The provider body with args filled in, on a worker thread: reading a secret is a blocking API call (the
        one blocking step of a web or Prometheus measurement, bounded by the API client's request timeout)."""
        render = partial(
            render_provider, metric.provider.body, args=run.args, namespace=run.namespace, resolver=self.secrets
        )
        try:
            rendered: RenderedProvider = await node.run_blocking(render)
        except SecretResolutionError as error:
            return error
        return rendered

    async def _measure_async(
        self,
        node: NodeContext,
        provider: AsyncMetricProvider,
        *,
        metric: Metric,
        run: RunContext,
        state: MetricState,
        now: datetime,
    ) -> Measurement:
        """The long-running path: render on a worker thread (secret reads block), then await the provider."""
        result = state.result
        last = result.last if result is not None else None
        in_flight = last if last is not None and last.in_flight else None
        sequence = result.count + result.error + 1 if result is not None else 1
        rendered = await self._render(node, metric, run)
        if isinstance(rendered, SecretResolutionError):
            return error_measurement(str(rendered), now=now)

        def started(measurement: Measurement) -> None:
            node.checkpoint(replace(state, result=_record(metric, run, state.result, measurement)))

        context = MeasurementContext(
            run_name=run.name,
            namespace=run.namespace,
            metric=metric,
            sequence=sequence,
            in_flight=in_flight,
            owner=node.owner,
            started=started,
        )
        return await provider.measure_async(rendered, context=context, now=now, run_blocking=node.run_blocking)


def _record(metric: Metric, run: RunContext, result: MetricResult | None, measurement: Measurement) -> MetricResult:
    return record_measurement(
        result,
        measurement,
        metric_name=metric.name,
        dry_run=metric.name in run.dry_run,
        retention=run.retention.get(metric.name, DEFAULT_MEASUREMENT_RETENTION),
    )


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
# Compiling, concluding, status


def _node_names(metrics: Sequence[Metric]) -> dict[str, str]:
    """Metric name -> DAG node name; node names cannot contain '.', metric names may."""
    names: dict[str, str] = {}
    for index, metric in enumerate(metrics):
        names[metric.name] = metric.name if "." not in metric.name else f"{metric.name.replace('.', '-')}-{index}"
    return names


def compile_analysis(run: RunContext, metrics: Sequence[Metric]) -> Plan:
    """The DAG for a run: one ``metric`` node per metric, ``dependencies`` as edges, failFast on."""
    names = _node_names(metrics)
    dag = DagBuilder(run.name, namespace=run.namespace, fail_fast=True)
    for metric in metrics:
        dag.add(
            names[metric.name],
            kind=METRIC_KIND,
            payload=MetricTask(metric=metric, run=run),
            depends=[names[dependency] for dependency in metric.dependencies] or None,
            pool=f"metric-{metric.provider.kind}",
        )
    return dag.build()


def _results_of(run: Run, metrics: Sequence[Metric]) -> dict[str, MetricResult]:
    names = _node_names(metrics)
    results: dict[str, MetricResult] = {}
    for metric in metrics:
        state = run.state_of(names[metric.name])
        if isinstance(state, MetricState) and state.result is not None:
            results[metric.name] = state.result
    return results


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


def conclude(
    metrics: Sequence[Metric],
    results: Mapping[str, MetricResult],
    *,
    terminate: bool,
    dry_run: Collection[str],
    started_at: datetime,
    now: datetime,
) -> AnalysisOutcome:
    """The end of a run: measurements still in flight were stopped by it ("Metric Terminated"), every metric is
    wound up to its final assessment, and the run's verdict is :func:`assess_run` of that.

    A stopped measurement ends as Argo v1.10's providers end it: a Job that never finished is Inconclusive (its Job
    is deleted; nothing says the check would have passed), any other kind Successful.
    """
    final = dict(results)
    kinds = {metric.name: metric.provider.kind for metric in metrics}
    for name, result in results.items():
        last = result.last
        if last is not None and last.in_flight:
            phase = AnalysisPhase.INCONCLUSIVE if kinds.get(name) == "job" else AnalysisPhase.SUCCESSFUL
            ended = replace(last, phase=phase, finished_at=now, message=TERMINATED_MESSAGE)
            final[name] = record_measurement(
                result, ended, metric_name=name, dry_run=result.dry_run, retention=max(len(result.measurements), 1)
            )
    assessment = assess_run(metrics, final, terminate=terminate, dry_run=dry_run)
    for metric in metrics:
        current = final.get(metric.name)
        assessed = assessment.metrics[metric.name]
        if current is not None and current.phase is not assessed.phase:
            final[metric.name] = replace(current, phase=assessed.phase, message=assessed.reason)
    return AnalysisOutcome(
        phase=assessment.phase,
        message=assessment.message,
        results=final,
        assessment=assessment,
        started_at=started_at,
        finished_at=now,
    )


def _final_body(metrics: Sequence[Metric], outcome: AnalysisOutcome) -> dict[str, Any]:
    """The concluding status body: the final results, the verdict and ``completedAt``."""
    return encode_run_status(
        metric_names=[metric.name for metric in metrics],
        results=outcome.results,
        assessment=outcome.assessment,
        started_at=outcome.started_at,
        completed_at=outcome.finished_at,
    )


class AnalysisStatusSink:
    """The executor's status sink for one AnalysisRun: composes Argo's status from the metric nodes' states.

    Intermediate bodies say Running whatever the assessment (a run is concluded only by the final write, with
    ``completedAt``: a controller that dies before it resumes the run and winds it up instead of leaving Jobs behind
    a run that looks finished). The final body (the executor writes it the moment the run ends) carries the
    conclusion; it is retried a few times, because a lost final write would leave the run Running until a restart.
    """

    def __init__(
        self,
        *,
        metrics: Sequence[Metric],
        dry_run: frozenset[str],
        started_at: datetime,
        clock: Clock,
        report: Report | None,
        retry_delay: float = 0.2,
    ) -> None:
        self.metrics = tuple(metrics)
        self.dry_run = dry_run
        self.started_at = started_at
        self.clock = clock
        self.report = report
        self.retry_delay = retry_delay
        self.terminated = False  # spec.terminate: the run ends Successful unless something already failed
        self.outcome: AnalysisOutcome | None = None  # set by the final compose

    def compose(self, run: Run) -> dict[str, Any]:
        results = _results_of(run, self.metrics)
        if run.result is None:  # intermediate: never a concluded phase
            assessment = assess_run(self.metrics, results, terminate=self.terminated, dry_run=self.dry_run)
            body = encode_run_status(
                metric_names=[metric.name for metric in self.metrics],
                results=results,
                assessment=assessment,
                started_at=self.started_at,
            )
            if assessment.phase.completed:
                body["phase"] = AnalysisPhase.RUNNING.value
                body["message"] = None
            return body
        self.outcome = conclude(
            self.metrics,
            results,
            terminate=self.terminated,
            dry_run=self.dry_run,
            started_at=self.started_at,
            now=self.clock(),
        )
        return _final_body(self.metrics, self.outcome)

    async def write_status(self, run: Run, status: dict[str, Any]) -> None:
        if self.report is not None:
            await _deliver(self.report, status, final=run.result is not None, retry_delay=self.retry_delay)


async def _deliver(report: Report, status: dict[str, Any], *, final: bool, retry_delay: float = 0.2) -> None:
    """Hand ``status`` to ``report``; a final body is retried a few times (an intermediate one is simply superseded)."""
    attempts = _FINAL_WRITE_ATTEMPTS if final else 1
    for attempt in range(attempts):
        try:
            await report(status)
        except Exception:
            if attempt + 1 == attempts:
                raise
            logger.warning("final status write failed; retrying", exc_info=True)
            await asyncio.sleep(min(retry_delay * 2**attempt, 2.0))
        else:
            return


def _seeds(
    metrics: Sequence[Metric], results: Mapping[str, MetricResult], *, started_at: datetime, dry_run: Collection[str]
) -> tuple[dict[str, MetricState], dict[str, PreviousNode]]:
    """What a previous controller left, as executor input: states to continue, completed metrics as finished nodes."""
    names = _node_names(metrics)
    states: dict[str, MetricState] = {}
    previous: dict[str, PreviousNode] = {}
    for metric in metrics:
        result = results.get(metric.name)
        ready = started_at if not metric.dependencies else None
        states[names[metric.name]] = MetricState(result=result, ready_since=ready)
        if result is None or not result.phase.completed:
            continue
        good = result.phase is AnalysisPhase.SUCCESSFUL or metric.name in dry_run
        finished = result.last.finished_at if result.last is not None else None
        previous[names[metric.name]] = PreviousNode(
            phase=NodePhase.SUCCEEDED if good else NodePhase.FAILED,
            finished_at=finished.timestamp() if finished else None,
            message=result.message,
            result=result.phase.value,
        )
    return states, previous


async def run_analysis(
    executor: Executor,
    run: AnalysisRunSpec,
    *,
    name: str,
    namespace: str = "default",
    metrics: Sequence[Metric] | None = None,
    started_at: datetime | None = None,
    results: Mapping[str, MetricResult] | None = None,
    clock: Clock = utc_now,
    terminate: asyncio.Event | None = None,
    run_id: str | None = None,
    owner: Mapping[str, Any] | None = None,
    report: Report | None = None,
) -> AnalysisOutcome:
    """Run an AnalysisRun to completion on ``executor`` (whose registry has a :class:`MetricRunner` for ``metric``).

    ``metrics`` defaults to ``resolve_metrics(run)``; pass them to override (e.g. a local Prometheus address).
    ``started_at`` and ``results`` continue a run a previous controller started. Setting ``terminate`` (or
    ``run.terminate``) ends the run as Argo's ``spec.terminate`` does: Successful unless a metric already failed.
    ``run_id`` names the executor run (so a controller can ``executor.cancel(run_id)`` it); ``owner`` is the
    ownerReference objects created for measurements (Jobs) carry. ``report`` receives every status body the executor
    writes for the run (coalesced), the last one concluded with ``completedAt``.
    """
    resolved = tuple(metrics if metrics is not None else resolve_metrics(run))
    dry_run = frozenset(metric.name for metric in resolved if run.is_dry_run(metric.name))
    start = started_at or clock()
    stored = dict(results or {})
    context = RunContext(
        name=name,
        namespace=namespace,
        args=run.args,
        dry_run=dry_run,
        retention={metric.name: run.retention_limit(metric.name) for metric in resolved},
    )
    sink = AnalysisStatusSink(metrics=resolved, dry_run=dry_run, started_at=start, clock=clock, report=report)
    sink.terminated = run.terminate or (terminate is not None and terminate.is_set())
    before = assess_run(resolved, stored, terminate=sink.terminated, dry_run=dry_run)
    if before.phase.completed:  # decided before this controller came (no final write yet): conclude, measure nothing
        outcome = conclude(resolved, stored, terminate=sink.terminated, dry_run=dry_run, started_at=start, now=clock())
        if report is not None:
            await _deliver(report, _final_body(resolved, outcome), final=True)
        return outcome
    states, previous = _seeds(resolved, stored, started_at=start, dry_run=dry_run)
    handle = executor.submit(
        compile_analysis(context, resolved),
        run_id=run_id,
        previous=previous or None,
        states=states,
        sink=sink,
        owner=owner,
    )
    watcher = None
    if terminate is not None:

        async def watch() -> None:
            await terminate.wait()
            sink.terminated = True
            handle.cancel(TERMINATE_REASON)

        watcher = asyncio.ensure_future(watch())
    try:
        ended = await handle.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
    if ended.interrupted:  # the executor stopped: nothing is final, the next controller continues from the status
        so_far = _results_of(handle, resolved)
        return AnalysisOutcome(
            phase=AnalysisPhase.RUNNING,
            message="interrupted",
            results=so_far,
            assessment=assess_run(resolved, so_far, dry_run=dry_run),
            started_at=start,
            finished_at=clock(),
            interrupted=True,
        )
    if sink.outcome is not None:
        return sink.outcome
    # the final compose failed (logged by the executor): conclude here, from the same states
    return conclude(
        resolved,
        _results_of(handle, resolved),
        terminate=sink.terminated,
        dry_run=dry_run,
        started_at=start,
        now=clock(),
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
