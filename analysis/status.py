"""AnalysisRun ``status`` in Argo's camelCase shape: encode what the runner knows, decode what a controller stored.

Why a module of its own: the status is the restart seam. A controller that dies mid-run leaves ``metricResults``
behind, and the next one must read back exactly the counters and the in-flight measurement it would have had in
memory, or counts would start over and Jobs would be duplicated. Keeping encode and decode side by side (and pure)
lets unit tests hold the round trip to that promise.

Shape (Argo's ``AnalysisRunStatus``): ``phase``, ``message``, ``startedAt``, ``completedAt``, ``metricResults[]``
(``name``, ``phase``, ``measurements[]``, ``count``, ``successful``, ``failed``, ``inconclusive``, ``error``,
``consecutiveError``, ``dryRun``, ``message``), ``runSummary`` and ``dryRunSummary``. Timestamps are RFC 3339 in UTC
with second precision, as Kubernetes' ``metav1.Time`` writes them. Empty strings and false flags are omitted, as Go's
``omitempty`` would; counters are always written so ``kubectl get -o yaml`` reads the same for every metric.

Pure: no clock (``now`` is passed in), no Kubernetes client. What is encoded has already been redacted by the
providers; this module adds nothing that could hold a secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from analysis.assess import AnalysisPhase, Measurement, MetricResult, RunAssessment, RunSummary
from workflows.model.times import format_time, parse_time

__all__ = [
    "decode_measurement",
    "decode_metric_result",
    "decode_metric_results",
    "encode_measurement",
    "encode_metric_result",
    "encode_run_status",
    "encode_summary",
]

_PHASES = {phase.value: phase for phase in AnalysisPhase}


def _phase(value: object, default: AnalysisPhase) -> AnalysisPhase:
    return _PHASES.get(value, default) if isinstance(value, str) else default


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


# --------------------------------------------------------------------------------------------------------------
# Measurements and metric results


def encode_measurement(measurement: Measurement) -> dict[str, Any]:
    body: dict[str, Any] = {"phase": measurement.phase.value, "startedAt": format_time(measurement.started_at)}
    if measurement.finished_at is not None:
        body["finishedAt"] = format_time(measurement.finished_at)
    if measurement.value is not None:
        body["value"] = measurement.value
    if measurement.message:
        body["message"] = measurement.message
    if measurement.resume_at is not None:
        body["resumeAt"] = format_time(measurement.resume_at)
    if measurement.metadata:
        body["metadata"] = dict(measurement.metadata)
    return body


def decode_measurement(body: Mapping[str, Any], *, fallback_time: datetime) -> Measurement:
    """A stored measurement. ``fallback_time`` stands in for a missing ``startedAt`` (hand-written status)."""
    metadata = body.get("metadata")
    value = body.get("value")
    return Measurement(
        phase=_phase(body.get("phase"), AnalysisPhase.ERROR),
        started_at=parse_time(body.get("startedAt")) or fallback_time,
        finished_at=parse_time(body.get("finishedAt")),
        value=None if value is None else str(value),
        message=str(body.get("message") or ""),
        resume_at=parse_time(body.get("resumeAt")),
        metadata={str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, Mapping) else {},
    )


def encode_metric_result(result: MetricResult) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": result.name,
        "phase": result.phase.value,
        "measurements": [encode_measurement(measurement) for measurement in result.measurements],
        "count": result.count,
        "successful": result.successful,
        "failed": result.failed,
        "inconclusive": result.inconclusive,
        "error": result.error,
        "consecutiveError": result.consecutive_error,
    }
    if result.dry_run:
        body["dryRun"] = True
    if result.message:
        body["message"] = result.message
    return body


def decode_metric_result(body: Mapping[str, Any], *, fallback_time: datetime) -> MetricResult | None:
    """One ``metricResults[]`` entry, or None when it has no name (nothing to attach it to)."""
    name = body.get("name")
    if not isinstance(name, str) or not name:
        return None
    raw_measurements = body.get("measurements")
    measurements = tuple(
        decode_measurement(item, fallback_time=fallback_time)
        for item in (raw_measurements if isinstance(raw_measurements, list) else [])
        if isinstance(item, Mapping)
    )
    return MetricResult(
        name=name,
        phase=_phase(body.get("phase"), AnalysisPhase.RUNNING if measurements else AnalysisPhase.PENDING),
        measurements=measurements,
        count=_count(body.get("count")),
        successful=_count(body.get("successful")),
        failed=_count(body.get("failed")),
        inconclusive=_count(body.get("inconclusive")),
        error=_count(body.get("error")),
        consecutive_error=_count(body.get("consecutiveError")),
        message=str(body.get("message") or ""),
        dry_run=body.get("dryRun") is True,
    )


def decode_metric_results(status: Mapping[str, Any] | None, *, fallback_time: datetime) -> dict[str, MetricResult]:
    """``status.metricResults`` by metric name (the runner's restart input); a later duplicate name wins."""
    raw = (status or {}).get("metricResults")
    results: dict[str, MetricResult] = {}
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, Mapping):
            decoded = decode_metric_result(item, fallback_time=fallback_time)
            if decoded is not None:
                results[decoded.name] = decoded
    return results


# --------------------------------------------------------------------------------------------------------------
# The run


def encode_summary(summary: RunSummary) -> dict[str, int]:
    return {
        "count": summary.count,
        "successful": summary.successful,
        "failed": summary.failed,
        "inconclusive": summary.inconclusive,
        "error": summary.error,
    }


def encode_run_status(
    *,
    metric_names: Sequence[str],
    results: Mapping[str, MetricResult],
    assessment: RunAssessment,
    started_at: datetime,
    completed_at: datetime | None = None,
    extra_names: Iterable[str] = (),
) -> dict[str, Any]:
    """The whole ``status`` body for one merge patch: metric results in spec order, then the run's verdict.

    ``phase`` is the assessment's (the one place the run's outcome is decided); ``completedAt`` only once it is
    completed. Metrics that have not produced a result yet are left out, as Argo does. ``extra_names`` keeps
    results of metrics no longer in the spec (never expected; kept rather than silently dropped).
    """
    ordered = [name for name in (*metric_names, *extra_names) if name in results]
    body: dict[str, Any] = {
        "phase": assessment.phase.value,
        "message": assessment.message or None,
        "startedAt": format_time(started_at),
        "metricResults": [encode_metric_result(results[name]) for name in dict.fromkeys(ordered)],
        "runSummary": encode_summary(assessment.summary),
        "dryRunSummary": encode_summary(assessment.dry_run_summary),
    }
    if assessment.phase.completed and completed_at is not None:
        body["completedAt"] = format_time(completed_at)
    return body
