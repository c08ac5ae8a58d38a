"""Assessment: measurement truth table, metric limits, run precedence and fail-fast, and the pure plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.assess import (
    ERROR_RETRY_INTERVAL,
    PHASE_ORDER,
    AnalysisPhase,
    Measurement,
    MetricResult,
    assess_metric,
    assess_run,
    judge_measurement,
    plan_run,
    record_measurement,
    worst_phase,
)
from analysis.spec import Metric, Provider, ProviderKind

S, F, INC, E = (AnalysisPhase.SUCCESSFUL, AnalysisPhase.FAILED, AnalysisPhase.INCONCLUSIVE, AnalysisPhase.ERROR)
P, R = AnalysisPhase.PENDING, AnalysisPhase.RUNNING
T0 = datetime(2025, 1, 1, tzinfo=UTC)
PROVIDER = Provider(kind=ProviderKind.PROMETHEUS, body={"query": "up"})


def make_metric(name: str = "m", **fields: Any) -> Metric:
    return Metric(name=name, provider=PROVIDER, **fields)


def results_from(name: str, phases: list[AnalysisPhase], *, start: datetime = T0, step: int = 10) -> MetricResult:
    result: MetricResult | None = None
    for index, phase in enumerate(phases):
        at = start + timedelta(seconds=index * step)
        result = record_measurement(result, Measurement(phase=phase, started_at=at, finished_at=at), metric_name=name)
    assert result is not None
    return result


# -- one measurement --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("success", "failure", "expected"),
    [
        (None, None, S),
        ("result > 0", None, S),
        ("result < 0", None, F),
        (None, "result > 0", F),
        (None, "result < 0", S),
        ("result > 0", "result > 0", F),  # failure wins when both hold
        ("result > 0", "result < 0", S),
        ("result < 0", "result < 0", INC),  # neither holds
        ("result < 0", "result > 0", F),
        ("result[0] > 0", None, E),  # evaluation error on a number
        (None, "result.x > 0", E),
    ],
)
def test_measurement_truth_table(success: str | None, failure: str | None, expected: AnalysisPhase) -> None:
    assert judge_measurement(result=1.0, success_condition=success, failure_condition=failure).phase is expected


def test_evaluation_error_message_is_kept() -> None:
    judged = judge_measurement(result="x", success_condition="result > 1", failure_condition=None)
    assert judged.phase is E
    assert "invalid operation" in judged.message


# -- counters and retention -------------------------------------------------------------------------------------


def test_counters_follow_argo() -> None:
    result = results_from("m", [S, E, E, F, INC, E])
    assert (result.count, result.successful, result.failed, result.inconclusive) == (3, 1, 1, 1)
    assert (result.error, result.consecutive_error) == (3, 1)


def test_completing_an_in_flight_measurement_counts_once() -> None:
    running = record_measurement(None, Measurement(phase=R, started_at=T0), metric_name="m")
    assert running.count == 0
    done = record_measurement(running, Measurement(phase=S, started_at=T0, finished_at=T0), metric_name="m")
    assert (done.count, len(done.measurements)) == (1, 1)


@given(phases=st.lists(st.sampled_from([S, F, INC, E]), max_size=40), limit=st.integers(min_value=1, max_value=15))
def test_retention_never_keeps_more_than_the_limit_and_keeps_the_latest(
    phases: list[AnalysisPhase], limit: int
) -> None:
    result: MetricResult | None = None
    for index, phase in enumerate(phases):
        at = T0 + timedelta(seconds=index)
        result = record_measurement(
            result, Measurement(phase=phase, started_at=at, finished_at=at), metric_name="m", retention=limit
        )
    if result is None:
        return
    assert len(result.measurements) == min(limit, len(phases))
    assert result.measurements[-1].started_at == T0 + timedelta(seconds=len(phases) - 1)
    assert result.count + result.error == len(phases)  # totals survive trimming


# -- one metric -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "phases", "terminating", "expected"),
    [
        ({}, [], False, P),
        ({}, [], True, S),
        ({}, [S], False, S),  # no count, no interval: one measurement
        ({}, [F], False, F),  # failureLimit 0
        ({"failure_limit": 1, "count": 3, "interval": timedelta(seconds=5)}, [F], False, R),
        ({"failure_limit": 1, "count": 3, "interval": timedelta(seconds=5)}, [F, F], False, F),
        ({"failure_limit": -1, "count": 3, "interval": timedelta(seconds=5)}, [F, F, F], False, S),
        ({"inconclusive_limit": 1, "count": 3, "interval": timedelta(seconds=5)}, [INC], False, R),
        ({"inconclusive_limit": 1, "count": 3, "interval": timedelta(seconds=5)}, [INC, INC], False, INC),
        ({}, [E, E, E, E], False, R),  # 4 consecutive errors are still within the default limit
        ({}, [E, E, E, E, E], False, E),
        ({"consecutive_error_limit": -1}, [E] * 20, False, R),
        ({"consecutive_error_limit": 0}, [E], False, E),
        ({}, [E, E, E, E, S], False, S),  # a success resets consecutive errors
        ({"count": 2, "interval": timedelta(seconds=5)}, [S], False, R),
        ({"count": 2, "interval": timedelta(seconds=5)}, [S, S], False, S),
        ({"interval": timedelta(seconds=5)}, [S] * 50, False, R),  # interval without count: until stopped
        ({"interval": timedelta(seconds=5)}, [S] * 3, True, S),
        ({"count": 3, "interval": timedelta(seconds=5), "failure_limit": 2}, [F, F, S], False, S),
    ],
)
def test_metric_phase_table(
    fields: dict[str, Any], phases: list[AnalysisPhase], terminating: bool, expected: AnalysisPhase
) -> None:
    result = results_from("m", phases) if phases else None
    assert assess_metric(make_metric(**fields), result, terminating=terminating).phase is expected


def test_in_flight_measurement_keeps_the_metric_running_even_when_terminating() -> None:
    result = record_measurement(None, Measurement(phase=R, started_at=T0), metric_name="m")
    assert assess_metric(make_metric(), result, terminating=True).phase is R


def test_completed_metric_phase_is_final() -> None:
    result = MetricResult(name="m", phase=F, measurements=results_from("m", [S]).measurements, count=1)
    assert assess_metric(make_metric(), result, terminating=False).phase is F


# -- the run ----------------------------------------------------------------------------------------------------


def test_phase_order_is_argos() -> None:
    assert [p.value for p in PHASE_ORDER] == ["Successful", "Running", "Pending", "Inconclusive", "Error", "Failed"]


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        ({"a": [S], "b": [S]}, S),
        ({"a": [S], "b": []}, R),  # b not measured yet
        ({"a": [F], "b": []}, F),  # fail fast: b never gets to run
        ({"a": [INC], "b": [S]}, INC),
        ({"a": [E] * 5, "b": [F]}, F),  # Failed is worse than Error
        ({"a": [E] * 5, "b": [INC]}, E),
    ],
)
def test_run_phase_is_the_worst_metric_and_fails_fast(
    phases: dict[str, list[AnalysisPhase]], expected: AnalysisPhase
) -> None:
    metrics = [make_metric(name) for name in phases]
    results = {name: results_from(name, values) for name, values in phases.items() if values}
    assert assess_run(metrics, results).phase is expected


def test_run_message_names_the_deciding_metric() -> None:
    metrics = [make_metric("ok"), make_metric("rate", failure_limit=1, count=3, interval=timedelta(seconds=1))]
    results = {"ok": results_from("ok", [S]), "rate": results_from("rate", [F, F])}
    assessment = assess_run(metrics, results)
    assert assessment.phase is F
    assert assessment.decided_by == "rate"
    assert assessment.message == 'Metric "rate" assessed Failed due to failed (2) > failureLimit (1)'
    assert (assessment.summary.count, assessment.summary.failed, assessment.summary.successful) == (2, 1, 1)


def test_terminate_is_successful_unless_something_failed() -> None:
    forever = {"interval": timedelta(seconds=5)}
    metrics = [make_metric("a", **forever), make_metric("b", failure_limit=3, **forever)]
    running = {"a": results_from("a", [S, S]), "b": results_from("b", [F])}
    terminated = assess_run(metrics, running, terminate=True)
    assert terminated.phase is S
    assert terminated.message == "Run Terminated"
    failed = {
        "a": results_from("a", [S]),
        "b": MetricResult(name="b", phase=F, count=4, failed=4, measurements=results_from("b", [F]).measurements),
    }
    assert assess_run(metrics, failed, terminate=True).phase is F


def test_dry_run_metric_is_reported_but_never_decides() -> None:
    metrics = [make_metric("real"), make_metric("trial")]
    results = {"real": results_from("real", [S]), "trial": results_from("trial", [F])}
    assessment = assess_run(metrics, results, dry_run={"trial"})
    assert assessment.phase is S
    assert 'dry-run metric "trial" assessed Failed (not deciding)' in assessment.message
    assert (assessment.dry_run_summary.count, assessment.dry_run_summary.failed) == (1, 1)
    assert assessment.summary.count == 1


@given(
    real=st.lists(st.sampled_from([S, F, INC, E]), min_size=1, max_size=8),
    trial=st.lists(st.sampled_from([S, F, INC, E]), max_size=8),
)
def test_dry_run_metrics_never_change_the_run_phase(real: list[AnalysisPhase], trial: list[AnalysisPhase]) -> None:
    interval = {"interval": timedelta(seconds=5), "count": 8, "failure_limit": 8, "inconclusive_limit": 8}
    metrics_without = [make_metric("real", **interval)]
    metrics_with = [*metrics_without, make_metric("trial", **interval)]
    results = {"real": results_from("real", real)}
    with_trial = {**results, **({"trial": results_from("trial", trial)} if trial else {})}
    alone = assess_run(metrics_without, results)
    together = assess_run(metrics_with, with_trial, dry_run={"trial"})
    # A dry-run metric may keep the run Running until it has measured (as in Argo: every metric completes before
    # the run does), but it never changes the verdict.
    if together.phase.completed:
        assert together.phase is alone.phase
    if not alone.phase.completed:
        assert not together.phase.completed


@given(
    phases=st.lists(st.sampled_from([S, F, INC, E]), min_size=1, max_size=10),
    flip=st.integers(min_value=0, max_value=9),
    failure_limit=st.integers(min_value=0, max_value=3),
)
def test_phase_is_monotone_in_failures(phases: list[AnalysisPhase], flip: int, failure_limit: int) -> None:
    """Turning any one measurement into a failure never rescues a failed metric, and a run only gets worse."""
    metric = make_metric("m", count=10, interval=timedelta(seconds=1), failure_limit=failure_limit,
                         inconclusive_limit=10, consecutive_error_limit=-1)  # fmt: skip
    worse = list(phases)
    worse[flip % len(worse)] = F
    before = assess_run([metric], {"m": results_from("m", phases)}).phase
    after = assess_run([metric], {"m": results_from("m", worse)}).phase
    if before is F:
        assert after is F
    failures = sum(phase is F for phase in worse)
    assert (after is F) == (failures > failure_limit)


@given(
    phases=st.lists(st.sampled_from([S, F, INC, E]), min_size=1, max_size=6),
    extra=st.sampled_from([S, F, INC, E]),
)
def test_adding_a_metric_never_improves_a_completed_run(phases: list[AnalysisPhase], extra: AnalysisPhase) -> None:
    rank = {phase: index for index, phase in enumerate(PHASE_ORDER)}
    base = [make_metric("a", count=len(phases), interval=timedelta(seconds=1), failure_limit=6,
                        inconclusive_limit=6)]  # fmt: skip
    results = {"a": results_from("a", phases)}
    before = assess_run(base, results).phase
    after = assess_run([*base, make_metric("b")], {**results, "b": results_from("b", [extra])}).phase
    assert rank[after] >= rank[before]


def test_worst_phase() -> None:
    assert worst_phase(S, F) is F
    assert worst_phase(E, INC) is E


# -- the plan ---------------------------------------------------------------------------------------------------


def test_first_plan_measures_everything_without_delay() -> None:
    metrics = [make_metric("a"), make_metric("b", initial_delay=timedelta(minutes=1))]
    plan = plan_run(metrics=metrics, results={}, started_at=T0, now=T0)
    assert plan.measure == ("a",)
    assert plan.next_wakeup == T0 + timedelta(minutes=1)
    assert plan.phase is R


def test_interval_schedules_the_next_measurement() -> None:
    metric = make_metric("a", count=3, interval=timedelta(seconds=30))
    results = {"a": results_from("a", [S])}
    early = plan_run(metrics=[metric], results=results, started_at=T0, now=T0 + timedelta(seconds=10))
    assert early.measure == ()
    assert early.next_wakeup == T0 + timedelta(seconds=30)
    due = plan_run(metrics=[metric], results=results, started_at=T0, now=T0 + timedelta(seconds=30))
    assert due.measure == ("a",)


def test_error_is_retried_after_ten_seconds_whatever_the_interval() -> None:
    metric = make_metric("a", count=3, interval=timedelta(minutes=5))
    plan = plan_run(metrics=[metric], results={"a": results_from("a", [E])}, started_at=T0, now=T0)
    assert plan.next_wakeup == T0 + ERROR_RETRY_INTERVAL


def test_in_flight_measurements_are_resumed_or_wait_for_resume_at() -> None:
    metric = make_metric("a")
    later = T0 + timedelta(seconds=20)
    waiting = record_measurement(None, Measurement(phase=R, started_at=T0, resume_at=later), metric_name="a")
    plan = plan_run(metrics=[metric], results={"a": waiting}, started_at=T0, now=T0)
    assert (plan.resume, plan.next_wakeup) == ((), later)
    plan = plan_run(metrics=[metric], results={"a": waiting}, started_at=T0, now=later)
    assert plan.resume == ("a",)


def test_failing_metric_ends_the_run_and_stops_in_flight_measurements() -> None:
    metrics = [make_metric("bad"), make_metric("slow")]
    results = {
        "bad": results_from("bad", [F]),
        "slow": record_measurement(None, Measurement(phase=R, started_at=T0), metric_name="slow"),
    }
    plan = plan_run(metrics=metrics, results=results, started_at=T0, now=T0)
    assert plan.phase is F
    assert plan.completed
    assert (plan.measure, plan.terminate, plan.next_wakeup) == ((), ("slow",), None)


def test_dependencies_wait_for_success_and_delay_counts_from_it() -> None:
    smoke = make_metric("smoke")
    gate = make_metric("gate", dependencies=("smoke",), initial_delay=timedelta(seconds=30))
    first = plan_run(metrics=[smoke, gate], results={}, started_at=T0, now=T0)
    assert first.measure == ("smoke",)
    done_at = T0 + timedelta(minutes=2)
    smoke_done = record_measurement(None, Measurement(phase=S, started_at=T0, finished_at=done_at), metric_name="smoke")
    second = plan_run(metrics=[smoke, gate], results={"smoke": smoke_done}, started_at=T0, now=done_at)
    assert second.measure == ()
    assert second.next_wakeup == done_at + timedelta(seconds=30)
    third = plan_run(
        metrics=[smoke, gate], results={"smoke": smoke_done}, started_at=T0, now=done_at + timedelta(seconds=30)
    )
    assert third.measure == ("gate",)


def test_terminate_with_nothing_measured_is_successful_and_schedules_nothing() -> None:
    plan = plan_run(metrics=[make_metric("a")], results={}, started_at=T0, now=T0, terminate=True)
    assert (plan.phase, plan.measure, plan.next_wakeup) == (S, (), None)


@given(
    phases=st.lists(st.sampled_from([S, F, INC, E]), max_size=6),
    offset=st.integers(min_value=0, max_value=120),
)
def test_plan_never_schedules_in_the_past_and_never_measures_a_finished_run(
    phases: list[AnalysisPhase], offset: int
) -> None:
    metric = make_metric("a", count=6, interval=timedelta(seconds=15), failure_limit=6, inconclusive_limit=6)
    results = {"a": results_from("a", phases)} if phases else {}
    now = T0 + timedelta(seconds=offset)
    plan = plan_run(metrics=[metric], results=results, started_at=T0, now=now)
    if plan.next_wakeup is not None:
        assert plan.next_wakeup > now
    if plan.completed:
        assert plan.measure == ()
