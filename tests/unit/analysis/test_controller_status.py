"""The AnalysisRun controller's pure parts: status in Argo's camelCase shape (and back, the restart seam), the run
status body, spec preparation with field paths, and the status the executor writes for a run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.assess import AnalysisPhase, Measurement, MetricResult, assess_run
from analysis.controller import prepare_run
from analysis.errors import SpecError
from analysis.providers.base import ProviderRegistry
from analysis.runner import run_analysis
from analysis.spec import ProviderKind, parse_run_spec, resolve_metrics
from analysis.status import (
    decode_metric_result,
    decode_metric_results,
    encode_measurement,
    encode_metric_result,
    encode_run_status,
)
from tests.support.fakes import ScriptedProvider
from tests.support.metric_runner import metric_executor
from tests.support.virtual_time import VirtualTime
from workflows import Executor

T0 = datetime(2024, 5, 1, 12, 0, 3, tzinfo=UTC)

# Whole seconds: metav1.Time's precision, so the round trip is exact.
instants = st.integers(min_value=0, max_value=10**8).map(lambda s: T0 + timedelta(seconds=s))
phases = st.sampled_from(list(AnalysisPhase))
texts = st.text(max_size=20)


@st.composite
def measurements(draw: st.DrawFn) -> Measurement:
    return Measurement(
        phase=draw(phases),
        started_at=draw(instants),
        finished_at=draw(st.none() | instants),
        value=draw(st.none() | texts),
        message=draw(texts),
        resume_at=draw(st.none() | instants),
        metadata=draw(st.dictionaries(st.text(min_size=1, max_size=8), texts, max_size=3)),
    )


counters = st.integers(min_value=0, max_value=10**6)


@st.composite
def metric_results(draw: st.DrawFn) -> MetricResult:
    return MetricResult(
        name=draw(st.text(min_size=1, max_size=12)),
        phase=draw(phases),
        measurements=tuple(draw(st.lists(measurements(), max_size=4))),
        count=draw(counters),
        successful=draw(counters),
        failed=draw(counters),
        inconclusive=draw(counters),
        error=draw(counters),
        consecutive_error=draw(counters),
        message=draw(texts),
        dry_run=draw(st.booleans()),
    )


@given(metric_results())
def test_metric_results_round_trip_through_status(result: MetricResult) -> None:
    assert decode_metric_result(encode_metric_result(result), fallback_time=T0) == result


def test_measurement_is_written_in_argo_shape() -> None:
    measurement = Measurement(
        phase=AnalysisPhase.SUCCESSFUL,
        started_at=T0,
        finished_at=T0 + timedelta(seconds=2, microseconds=700),
        value="[0.99]",
        metadata={"job-name": "run-m-1"},
    )
    assert encode_measurement(measurement) == {
        "phase": "Successful",
        "startedAt": "2024-05-01T12:00:03Z",
        "finishedAt": "2024-05-01T12:00:05Z",
        "value": "[0.99]",
        "metadata": {"job-name": "run-m-1"},
    }


def test_metric_result_is_written_in_argo_shape_with_counters_and_without_empty_fields() -> None:
    result = MetricResult(name="rate", phase=AnalysisPhase.RUNNING, count=3, successful=2, failed=1)
    assert encode_metric_result(result) == {
        "name": "rate",
        "phase": "Running",
        "measurements": [],
        "count": 3,
        "successful": 2,
        "failed": 1,
        "inconclusive": 0,
        "error": 0,
        "consecutiveError": 0,
    }
    flagged = encode_metric_result(MetricResult(name="x", dry_run=True, message="why"))
    assert (flagged["dryRun"], flagged["message"]) == (True, "why")


def test_status_written_by_argo_or_by_hand_decodes_tolerantly() -> None:
    status: dict[str, Any] = {
        "metricResults": [
            {"name": "a", "phase": "Running", "count": 2, "successful": "2", "measurements": [{"phase": "Running"}]},
            {"phase": "Successful"},  # no name: nothing to attach it to
            "garbage",
            {"name": "b", "phase": "Bogus", "consecutiveError": -1, "dryRun": "yes"},
        ]
    }
    results = decode_metric_results(status, fallback_time=T0)
    assert set(results) == {"a", "b"}
    a = results["a"]
    assert (a.count, a.successful) == (2, 0)  # a string is not a counter
    assert a.measurements[0].started_at == T0  # missing startedAt falls back
    assert a.last is not None
    assert a.last.in_flight
    b = results["b"]
    assert (b.phase, b.consecutive_error, b.dry_run) == (AnalysisPhase.PENDING, 0, False)
    assert decode_metric_results(None, fallback_time=T0) == {}


def test_run_status_orders_metrics_as_the_spec_and_summarises() -> None:
    spec = parse_run_spec(
        {
            "metrics": [
                {"name": "b", "provider": {"web": {"url": "http://x"}}},
                {"name": "a", "provider": {"web": {"url": "http://x"}}},
                {"name": "later", "provider": {"web": {"url": "http://x"}}},
            ],
            "dryRun": [{"metricName": "a"}],
        }
    )
    metrics = resolve_metrics(spec)
    done = Measurement(phase=AnalysisPhase.FAILED, started_at=T0, finished_at=T0)
    results = {
        "a": MetricResult(name="a", phase=AnalysisPhase.FAILED, measurements=(done,), count=1, failed=1, dry_run=True),
        "b": MetricResult(name="b", phase=AnalysisPhase.FAILED, measurements=(done,), count=1, failed=1),
    }
    assessment = assess_run(metrics, results, dry_run={"a"})
    body = encode_run_status(
        metric_names=[m.name for m in metrics],
        results=results,
        assessment=assessment,
        started_at=T0,
        completed_at=T0 + timedelta(seconds=5),
    )
    assert body["phase"] == "Failed"
    assert [r["name"] for r in body["metricResults"]] == ["b", "a"]
    assert body["runSummary"] == {"count": 2, "successful": 1, "failed": 1, "inconclusive": 0, "error": 0}
    assert body["dryRunSummary"] == {"count": 1, "successful": 0, "failed": 1, "inconclusive": 0, "error": 0}
    assert body["completedAt"] == "2024-05-01T12:00:08Z"
    assert 'Metric "b" assessed Failed' in body["message"]
    running = encode_run_status(
        metric_names=["x"],
        results={},
        assessment=assess_run(metrics, {}),
        started_at=T0,
        completed_at=T0,
    )
    assert running["phase"] == "Running"
    assert "completedAt" not in running  # only a concluded run has one
    assert running["message"] is None  # a merge patch that clears an old message


# --------------------------------------------------------------------------------------------------------------
# Spec preparation


def run_object(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"metadata": {"name": "r", "namespace": "ns", "uid": "u", **metadata}, "spec": spec}


def test_field_refs_read_the_analysis_run_itself() -> None:
    body = run_object(
        {
            "args": [{"name": "app", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}],
            "metrics": [{"name": "m", "provider": {"web": {"url": "http://svc/{{args.app}}"}}}],
        },
        labels={"app": "checkout"},
    )
    _, metrics = prepare_run(body)
    assert metrics[0].provider.body["url"] == "http://svc/checkout"


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"metrics": [{"name": "m", "successCondition": "result >", "provider": {"web": {"url": "http://x"}}}]},
         "spec.metrics[0].successCondition"),
        ({"metrics": [{"name": "m", "provider": {"web": {"url": "http://x/{{args.nope}}"}}}]},
         "spec.metrics[0].provider.web.url"),
        ({"args": [{"name": "a", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['missing']"}}}],
          "metrics": [{"name": "m", "provider": {"web": {"url": "http://x/{{args.a}}"}}}]},
         "spec.args.a.valueFrom.fieldRef.fieldPath"),
        ({"metrics": [{"name": "m", "provider": {"datadog": {"query": "q"}}}]}, "spec.metrics[0].provider.datadog"),
    ],
    ids=["condition-syntax", "unknown-arg", "missing-field", "unsupported-provider"],
)  # fmt: skip
def test_invalid_runs_are_refused_with_the_field_path(spec: dict[str, Any], path: str) -> None:
    with pytest.raises(SpecError) as caught:
        prepare_run(run_object(spec))
    assert path in str(caught.value)


# --------------------------------------------------------------------------------------------------------------
# The status the executor writes for a run (AnalysisStatusSink)


class Writes:
    """A ``report`` that records the bodies written, failing the first ``fail_next`` calls."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.fail_next = 0

    async def write(self, body: dict[str, Any]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("API hiccup")
        self.bodies.append(body)


def _executor(vt: VirtualTime, provider: ScriptedProvider) -> Executor:
    return metric_executor(ProviderRegistry({ProviderKind.PROMETHEUS: provider}), vt=vt)


async def test_intermediate_writes_never_conclude_and_the_final_one_does(vt: VirtualTime) -> None:
    provider = ScriptedProvider(scripts={"bad": [1.0, 0.0]})
    spec = parse_run_spec(
        {
            "metrics": [
                {"name": "bad", "count": 3, "interval": "1m", "successCondition": "result > 0.5",
                 "provider": {"prometheus": {"query": "q"}}},
            ]
        }
    )  # fmt: skip
    executor, writes = _executor(vt, provider), Writes()
    try:
        outcome = await vt.run(
            run_analysis(executor, spec, name="r", clock=vt.clock, started_at=vt.start, report=writes.write)
        )
    finally:
        await executor.close()
    assert outcome.phase is AnalysisPhase.FAILED
    *intermediate, final = writes.bodies
    assert intermediate
    assert all(body["phase"] == "Running" and "completedAt" not in body for body in intermediate)
    assert final["phase"] == "Failed"
    assert final["completedAt"] == "2024-01-01T12:01:00Z"  # concluded by the failing measurement at t=60
    assert final["metricResults"][0]["failed"] == 1


async def test_a_failed_final_write_is_retried(vt: VirtualTime) -> None:
    spec = parse_run_spec({"metrics": [{"name": "m", "provider": {"prometheus": {"query": "q"}}}]})
    executor, writes = _executor(vt, ScriptedProvider()), Writes()
    writes.fail_next = 2  # the one intermediate write and the first final attempt
    try:
        await vt.run(run_analysis(executor, spec, name="r", clock=vt.clock, report=writes.write))
    finally:
        await executor.close()
    assert writes.bodies[-1]["phase"] == "Successful"
    assert writes.bodies[-1]["completedAt"]


async def test_a_run_decided_before_the_controller_came_writes_only_its_conclusion(vt: VirtualTime) -> None:
    """A controller that died after a metric failed but before the final write: the next one only concludes."""
    provider = ScriptedProvider()
    spec = parse_run_spec({"metrics": [{"name": "m", "provider": {"prometheus": {"query": "q"}}}]})
    stored = {"m": MetricResult(name="m", phase=AnalysisPhase.FAILED, count=1, failed=1)}
    executor, writes = _executor(vt, provider), Writes()
    try:
        outcome = await vt.run(
            run_analysis(executor, spec, name="r", clock=vt.clock, results=stored, report=writes.write)
        )
    finally:
        await executor.close()
    assert outcome.phase is AnalysisPhase.FAILED
    assert provider.calls == []
    assert [body["phase"] for body in writes.bodies] == ["Failed"]
    assert writes.bodies[0]["completedAt"]
