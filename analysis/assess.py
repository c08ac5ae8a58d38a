"""Assessment: the pure heart of analysis. One place where a measurement is judged, a metric is assessed and a run's
phase is decided -- and :func:`plan_run`, which tells a driver (the AnalysisRun controller or the DAG executor)
what to measure now and when to wake up.

Argo's semantics, restated:

* a measurement: only successCondition -> true is Successful, false is Failed; only failureCondition -> true is
  Failed, false is Successful; both -> failure wins, then success, else Inconclusive; neither -> Successful.
  A condition that cannot be evaluated makes the measurement Error (:func:`judge_measurement`).
* a metric: Failed once ``failed > failureLimit`` (-1 disables), Error once ``consecutiveError >
  consecutiveErrorLimit`` (-1 disables), Inconclusive once ``inconclusive > inconclusiveLimit``, Successful once
  ``count`` measurements were taken (no count and no interval means one), otherwise Running; a completed metric
  stays completed (:func:`assess_metric`).
* a run: the worst metric by Successful < Running < Pending < Inconclusive < Error < Failed; a Failed, Error or
  Inconclusive metric that is not dry-run ends the run at once, and so does ``terminate`` (Successful unless
  something already failed); dry-run metrics are reported but never decide (:func:`assess_run`).

Nothing here reads a clock: ``now`` is a parameter. Nothing here logs: reasons come back as data.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from analysis.spec import DEFAULT_MEASUREMENT_RETENTION, Metric
from workflows.errors import ExpressionError
from workflows.model.expr import compile_condition

__all__ = [
    "ERROR_RETRY_INTERVAL",
    "PHASE_ORDER",
    "AnalysisPhase",
    "Judgement",
    "Measurement",
    "MetricAssessment",
    "MetricResult",
    "RunAssessment",
    "RunPlan",
    "RunSummary",
    "assess_metric",
    "assess_run",
    "judge_measurement",
    "plan_run",
    "record_measurement",
    "worst_phase",
]

#: Retry delay after an Error measurement (Argo's DefaultErrorRetryInterval), whatever the metric's interval.
ERROR_RETRY_INTERVAL = timedelta(seconds=10)


class AnalysisPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    ERROR = "Error"
    INCONCLUSIVE = "Inconclusive"

    @property
    def completed(self) -> bool:
        return self not in (AnalysisPhase.PENDING, AnalysisPhase.RUNNING)


#: Best to worst. A run reports the worst phase of its deciding metrics.
PHASE_ORDER = (
    AnalysisPhase.SUCCESSFUL,
    AnalysisPhase.RUNNING,
    AnalysisPhase.PENDING,
    AnalysisPhase.INCONCLUSIVE,
    AnalysisPhase.ERROR,
    AnalysisPhase.FAILED,
)
_RANK = {phase: rank for rank, phase in enumerate(PHASE_ORDER)}
_ENDS_RUN = frozenset({AnalysisPhase.FAILED, AnalysisPhase.ERROR, AnalysisPhase.INCONCLUSIVE})


def worst_phase(left: AnalysisPhase, right: AnalysisPhase) -> AnalysisPhase:
    return right if _RANK[right] > _RANK[left] else left


# --------------------------------------------------------------------------------------------------------------
# One measurement


@dataclass(frozen=True, slots=True, kw_only=True)
class Judgement:
    phase: AnalysisPhase
    message: str = ""


def judge_measurement(*, result: object, success_condition: str | None, failure_condition: str | None) -> Judgement:
    """Apply a metric's conditions to one provider result (Argo's truth table; an evaluation error is Error)."""
    succeeded = failed = False
    env = {"result": result}
    try:
        if success_condition:
            succeeded = compile_condition(success_condition).evaluate(env)
        if failure_condition:
            failed = compile_condition(failure_condition).evaluate(env)
    except ExpressionError as error:
        return Judgement(phase=AnalysisPhase.ERROR, message=str(error))
    if not success_condition and not failure_condition:
        return Judgement(phase=AnalysisPhase.SUCCESSFUL)
    if success_condition and not failure_condition:
        failed = not succeeded
    elif failure_condition and not success_condition:
        succeeded = not failed
    if failed:
        return Judgement(phase=AnalysisPhase.FAILED)
    if not succeeded:
        return Judgement(
            phase=AnalysisPhase.INCONCLUSIVE, message="neither successCondition nor failureCondition was met"
        )
    return Judgement(phase=AnalysisPhase.SUCCESSFUL)


# --------------------------------------------------------------------------------------------------------------
# Status records


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One measurement as stored in status. In flight while its phase is Pending/Running."""

    phase: AnalysisPhase
    started_at: datetime
    finished_at: datetime | None = None
    value: str | None = None
    message: str = ""
    resume_at: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def in_flight(self) -> bool:
        return not self.phase.completed


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricResult:
    """A metric's status: retained measurements plus totals (which count every measurement ever taken)."""

    name: str
    phase: AnalysisPhase = AnalysisPhase.PENDING
    measurements: tuple[Measurement, ...] = ()
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    message: str = ""
    dry_run: bool = False

    @property
    def last(self) -> Measurement | None:
        return self.measurements[-1] if self.measurements else None


def record_measurement(
    result: MetricResult | None,
    measurement: Measurement,
    *,
    metric_name: str,
    dry_run: bool = False,
    retention: int = DEFAULT_MEASUREMENT_RETENTION,
) -> MetricResult:
    """Add (or complete the in-flight) measurement, update the counters, keep at most ``retention`` measurements.

    Counters change only when the measurement is completed, so recording a Running measurement and later its
    completion counts it once.
    """
    current = result or MetricResult(name=metric_name, phase=AnalysisPhase.RUNNING, dry_run=dry_run)
    measurements = list(current.measurements)
    if measurements and measurements[-1].in_flight:
        measurements[-1] = measurement
    else:
        measurements.append(measurement)
    count, successful, failed, inconclusive = current.count, current.successful, current.failed, current.inconclusive
    error, consecutive_error = current.error, current.consecutive_error
    phase = measurement.phase
    if phase is AnalysisPhase.ERROR:
        error += 1
        consecutive_error += 1
    elif phase.completed:
        count += 1
        consecutive_error = 0
        successful += phase is AnalysisPhase.SUCCESSFUL
        failed += phase is AnalysisPhase.FAILED
        inconclusive += phase is AnalysisPhase.INCONCLUSIVE
    keep = max(retention, 1)
    return replace(
        current,
        measurements=tuple(measurements[-keep:]),
        dry_run=dry_run or current.dry_run,
        count=count,
        successful=successful,
        failed=failed,
        inconclusive=inconclusive,
        error=error,
        consecutive_error=consecutive_error,
    )


# --------------------------------------------------------------------------------------------------------------
# One metric


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricAssessment:
    phase: AnalysisPhase
    reason: str = ""


def assess_metric(metric: Metric, result: MetricResult | None, *, terminating: bool) -> MetricAssessment:
    """A metric's phase from its counters (Argo's assessMetricStatus); completed phases are final."""
    if result is not None and result.phase.completed:
        return MetricAssessment(phase=result.phase, reason=result.message)
    if result is None or not result.measurements:
        if terminating:
            return MetricAssessment(phase=AnalysisPhase.SUCCESSFUL, reason="run terminated before any measurement")
        return MetricAssessment(phase=AnalysisPhase.PENDING)
    if result.measurements[-1].in_flight:
        return MetricAssessment(phase=AnalysisPhase.RUNNING)
    # Worst first: when several limits are crossed at once, the metric reports the worst of them.
    if metric.failure_limit != -1 and result.failed > metric.failure_limit:
        return MetricAssessment(
            phase=AnalysisPhase.FAILED, reason=f"failed ({result.failed}) > failureLimit ({metric.failure_limit})"
        )
    if metric.consecutive_error_limit != -1 and result.consecutive_error > metric.consecutive_error_limit:
        return MetricAssessment(
            phase=AnalysisPhase.ERROR,
            reason=(
                f"consecutiveErrors ({result.consecutive_error}) > "
                f"consecutiveErrorLimit ({metric.consecutive_error_limit})"
            ),
        )
    if result.inconclusive > metric.inconclusive_limit:
        return MetricAssessment(
            phase=AnalysisPhase.INCONCLUSIVE,
            reason=f"inconclusive ({result.inconclusive}) > inconclusiveLimit ({metric.inconclusive_limit})",
        )
    effective = metric.effective_count
    if effective is not None and result.count >= effective:
        return MetricAssessment(phase=AnalysisPhase.SUCCESSFUL, reason=f"count ({effective}) reached")
    if terminating:
        return MetricAssessment(phase=AnalysisPhase.SUCCESSFUL, reason="run terminated")
    return MetricAssessment(phase=AnalysisPhase.RUNNING)


# --------------------------------------------------------------------------------------------------------------
# The run


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RunAssessment:
    phase: AnalysisPhase
    message: str
    metrics: Mapping[str, MetricAssessment]
    terminating: bool
    decided_by: str | None = None
    summary: RunSummary = RunSummary()
    dry_run_summary: RunSummary = RunSummary()


def assess_run(
    metrics: Sequence[Metric],
    results: Mapping[str, MetricResult],
    *,
    terminate: bool = False,
    dry_run: Collection[str] = (),
) -> RunAssessment:
    """The run's phase and message from its metrics. Fail-fast: a non-dry-run Failed/Error/Inconclusive metric
    (or ``terminate``) ends the run in this very assessment, and the other metrics are wound up as Argo does.
    """
    stored_end = any(result.phase in _ENDS_RUN for name, result in results.items() if name not in dry_run)
    terminating = terminate or stored_end
    assessed = {
        metric.name: assess_metric(metric, results.get(metric.name), terminating=terminating) for metric in metrics
    }
    if not terminating and any(
        assessed[metric.name].phase in _ENDS_RUN for metric in metrics if metric.name not in dry_run
    ):
        terminating = True
        assessed = {
            metric.name: assess_metric(metric, results.get(metric.name), terminating=True) for metric in metrics
        }
    worst: AnalysisPhase | None = None
    decided_by: str | None = None
    everything_completed = True
    summary = {"count": 0, "successful": 0, "failed": 0, "inconclusive": 0, "error": 0}
    dry_summary = dict(summary)
    notes: list[str] = []
    for metric in metrics:
        assessment = assessed[metric.name]
        is_dry = metric.name in dry_run
        bucket = dry_summary if is_dry else summary
        bucket["count"] += 1
        if not assessment.phase.completed:
            everything_completed = False
            continue
        key = assessment.phase.value.lower()
        bucket[key] += 1
        if is_dry:
            if assessment.phase is not AnalysisPhase.SUCCESSFUL:
                notes.append(f'dry-run metric "{metric.name}" assessed {assessment.phase} (not deciding)')
            worst = worst or AnalysisPhase.SUCCESSFUL
            continue
        if worst is None or _RANK[assessment.phase] > _RANK[worst]:
            worst = assessment.phase
            decided_by = metric.name
    if terminating:
        phase = worst or AnalysisPhase.SUCCESSFUL
    elif not everything_completed or worst is None:
        phase = AnalysisPhase.RUNNING
    else:
        phase = worst
    message = _run_message(
        phase=phase,
        decided_by=decided_by,
        assessment=assessed.get(decided_by) if decided_by else None,
        result=results.get(decided_by) if decided_by else None,
        terminate=terminate,
        notes=notes,
    )
    return RunAssessment(
        phase=phase,
        message=message,
        metrics=assessed,
        terminating=terminating,
        decided_by=decided_by if phase.completed and phase is not AnalysisPhase.SUCCESSFUL else None,
        summary=RunSummary(**summary),
        dry_run_summary=RunSummary(**dry_summary),
    )


def _run_message(
    *,
    phase: AnalysisPhase,
    decided_by: str | None,
    assessment: MetricAssessment | None,
    result: MetricResult | None,
    terminate: bool,
    notes: list[str],
) -> str:
    parts: list[str] = []
    if phase.completed and phase is not AnalysisPhase.SUCCESSFUL and decided_by and assessment:
        text = f'Metric "{decided_by}" assessed {phase}'
        if assessment.reason:
            text += f" due to {assessment.reason}"
        last = result.last if result else None
        if last is not None and last.message:
            text += f': "{last.message}"'
        parts.append(text)
    elif terminate and phase.completed:
        parts.append("Run Terminated")
    parts.extend(notes)
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------------------------
# The plan: what to do now


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPlan:
    """What a driver should do at ``now``: start, resume or terminate measurements, and when to call again."""

    phase: AnalysisPhase
    message: str
    measure: tuple[str, ...] = ()
    resume: tuple[str, ...] = ()
    terminate: tuple[str, ...] = ()
    next_wakeup: datetime | None = None
    assessment: RunAssessment | None = None

    @property
    def completed(self) -> bool:
        return self.phase.completed


def plan_run(
    *,
    metrics: Sequence[Metric],
    results: Mapping[str, MetricResult],
    started_at: datetime,
    now: datetime,
    terminate: bool = False,
    dry_run: Collection[str] = (),
) -> RunPlan:
    """Decide, purely, which metrics to measure now and when to wake up next (Argo's generateMetricTasks and
    calculateNextReconcileTime, plus metric ``dependencies``).

    ``measure`` lists metrics to start a new measurement for; ``resume`` those whose in-flight measurement should
    be polled; ``terminate`` in-flight measurements to stop because the run is ending. ``next_wakeup`` is the
    earliest future time something becomes due (None when nothing is scheduled).
    """
    assessment = assess_run(metrics, results, terminate=terminate, dry_run=dry_run)
    measure: list[str] = []
    resume: list[str] = []
    stop: list[str] = []
    wakeups: list[datetime] = []
    run_ends = assessment.phase.completed
    for metric in metrics:
        result = results.get(metric.name)
        last = result.last if result else None
        if last is not None and last.in_flight:
            if run_ends or assessment.terminating:
                stop.append(metric.name)
            elif last.resume_at is not None and last.resume_at > now:
                wakeups.append(last.resume_at)
            else:
                resume.append(metric.name)
            continue
        if run_ends or assessment.terminating or assessment.metrics[metric.name].phase.completed:
            continue
        if last is None:
            ready_since = _dependencies_done_at(metric, assessment, results, started_at, dry_run)
            if ready_since is None:
                continue  # waiting on a dependency; its completion triggers the next plan
            due = ready_since + (metric.initial_delay or timedelta(0))
        else:
            effective = metric.effective_count
            if effective is not None and result is not None and result.count >= effective:
                continue
            if last.phase is AnalysisPhase.ERROR:
                interval = ERROR_RETRY_INTERVAL
            else:
                interval = metric.interval or ERROR_RETRY_INTERVAL
            due = (last.finished_at or last.started_at) + interval
        if due <= now:
            measure.append(metric.name)
        else:
            wakeups.append(due)
    return RunPlan(
        phase=assessment.phase,
        message=assessment.message,
        measure=tuple(measure),
        resume=tuple(resume),
        terminate=tuple(stop),
        next_wakeup=min(wakeups) if wakeups and not run_ends else None,
        assessment=assessment,
    )


def _dependencies_done_at(
    metric: Metric,
    assessment: RunAssessment,
    results: Mapping[str, MetricResult],
    started_at: datetime,
    dry_run: Collection[str],
) -> datetime | None:
    """When the metric's dependencies were all satisfied (run start if it has none), or None if not yet.

    A dependency is satisfied once Successful; a dry-run dependency once completed in any phase, because a
    dry-run metric must never decide the run, not even by blocking it.
    """
    ready = started_at
    for name in metric.dependencies:
        phase = assessment.metrics[name].phase if name in assessment.metrics else AnalysisPhase.PENDING
        satisfied = phase is AnalysisPhase.SUCCESSFUL or (name in dry_run and phase.completed)
        if not satisfied:
            return None
        dependency = results.get(name)
        last = dependency.last if dependency else None
        if last is not None and last.finished_at is not None and last.finished_at > ready:
            ready = last.finished_at
    return ready
