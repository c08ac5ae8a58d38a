"""The AnalysisRun controller's pure parts: status in Argo's camelCase shape (and back, the restart seam), the run
status body, spec preparation with field paths, and the coalescing status writer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.assess import AnalysisPhase, Measurement, MetricResult, assess_run
from analysis.controller import StatusBatcher, prepare_run
from analysis.errors import SpecError
from analysis.spec import parse_run_spec, resolve_metrics
from analysis.status import (
    decode_metric_result,
    decode_metric_results,
    encode_measurement,
    encode_metric_result,
    encode_run_status,
)

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
# The status writer


class Writes:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.gate: asyncio.Event | None = None
        self.fail_next = 0

    async def write(self, body: dict[str, Any]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("API hiccup")
        self.bodies.append(body)


async def test_a_burst_of_updates_is_one_write_then_the_final_one() -> None:
    writes = Writes()
    state = {"n": 0}
    batcher = StatusBatcher(write=writes.write, compose=lambda: {"n": state["n"]}, interval=3600)
    for _ in range(50):
        state["n"] += 1
        batcher.mark_dirty()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert writes.bodies == [{"n": 50}]  # composed when written, not per update
    for _ in range(10):
        batcher.mark_dirty()  # within the interval: held back...
    await asyncio.sleep(0)
    assert len(writes.bodies) == 1
    assert await batcher.close({"final": True})  # ...and superseded by the final write, which is last
    assert writes.bodies == [{"n": 50}, {"final": True}]
    batcher.mark_dirty()  # after close: ignored
    await asyncio.sleep(0)
    assert writes.bodies[-1] == {"final": True}


async def test_the_final_write_waits_for_a_write_in_flight() -> None:
    writes = Writes()
    writes.gate = asyncio.Event()
    batcher = StatusBatcher(write=writes.write, compose=lambda: {"stale": True}, interval=0)
    batcher.mark_dirty()
    await asyncio.sleep(0)
    closing = asyncio.ensure_future(batcher.close({"final": True}))
    await asyncio.sleep(0)
    assert not closing.done()
    writes.gate.set()
    assert await closing
    assert writes.bodies == [{"stale": True}, {"final": True}]


async def test_a_failed_final_write_is_retried() -> None:
    writes = Writes()
    writes.fail_next = 1
    batcher = StatusBatcher(write=writes.write, compose=dict, interval=0, retry_delay=0)
    assert await batcher.close({"final": True}, attempts=2)
    assert writes.bodies == [{"final": True}]
