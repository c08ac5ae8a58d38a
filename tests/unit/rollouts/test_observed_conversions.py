"""Raw Kubernetes bodies -> observed values: what the observe layer will feed the planner."""

from __future__ import annotations

import pytest

from analysis.assess import AnalysisPhase
from rollouts.core import (
    AnalysisKind,
    analysis_run_view_from,
    pod_view_from,
    replica_set_view_from,
    service_view_from,
    status_from,
)
from rollouts.core.planner import selector_string
from tests.support.rollouts import T0
from workflows.api import ARGO, ROLLOUTS_DEV

# The names each mode reads: ours, and Argo's (drop-in mode) exactly as Argo Rollouts writes them.
NAMES = {
    "rollouts.dev": (ROLLOUTS_DEV, "rollouts.dev/revision", "rollouts.dev/scale-down-deadline",
                     "rollouts.dev/ephemeral-metadata", "rollouts.dev/analysis-kind", "rollouts.dev/step-index"),
    "argoproj.io": (ARGO, "rollout.argoproj.io/revision", "scale-down-deadline",
                    "rollout.argoproj.io/ephemeral-metadata", "rollout-type", "step-index"),
}  # fmt: skip


@pytest.mark.parametrize(("generation", "observed", "counted"), [(3, 3, True), (3, 4, True), (4, 3, False)])
def test_counts_reported_before_the_latest_scale_was_seen_are_not_available(
    generation: int, observed: int, counted: bool
) -> None:
    """An abort scales the canary to 0 and a retry back to 1 before the ReplicaSet controller has acted: its status
    still says 1 available, about a pod it is deleting. Until it reports the latest generation nothing counts."""
    view = replica_set_view_from(
        {
            "metadata": {"name": "app-abc", "generation": generation, "labels": {"rollouts-pod-template-hash": "abc"}},
            "spec": {"replicas": 1},
            "status": {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1, "observedGeneration": observed},
        },
        mode=NAMES["rollouts.dev"][0],
    )
    assert (view.available, view.ready) == ((1, 1) if counted else (0, 0))
    assert view.pods == 1  # pods that exist still count against surge bounds


@pytest.mark.parametrize("group", sorted(NAMES))
def test_replica_set_view(group: str) -> None:
    mode, revision, deadline, ephemeral, _, _ = NAMES[group]
    view = replica_set_view_from(
        {
            "metadata": {
                "name": "app-abc",
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": {"rollouts-pod-template-hash": "abc"},
                "annotations": {
                    revision: "3",
                    deadline: "2026-01-01T00:00:30Z",
                    ephemeral: '{"labels": {"role": "canary"}}',
                },
            },
            "spec": {"replicas": 4, "template": {"metadata": {}}},
            "status": {"replicas": 4, "readyReplicas": 3, "availableReplicas": 2},
        },
        mode=mode,
    )
    assert (view.name, view.pod_hash, view.replicas, view.pods, view.ready, view.available) == (
        "app-abc",
        "abc",
        4,
        4,
        3,
        2,
    )
    assert view.revision == 3
    assert view.created_at == T0
    assert view.scale_down_deadline is not None
    assert (view.scale_down_deadline - T0).total_seconds() == 30
    assert view.pod_metadata.labels == {"role": "canary"}


@pytest.mark.parametrize("group", sorted(NAMES))
def test_analysis_run_view_reads_the_modes_labels_and_ignores_foreign_runs(group: str) -> None:
    mode, _, _, _, kind_label, step_label = NAMES[group]
    labels = {
        kind_label: "Step",
        step_label: "2",
        "rollouts-pod-template-hash": "abc",
        "rollouts.dev/superseded": "true",
    }
    view = analysis_run_view_from(
        {
            "metadata": {"name": "r", "labels": labels},
            "spec": {"terminate": True},
            "status": {"phase": "Failed", "message": "m"},
        },
        mode=mode,
    )
    assert view is not None
    assert (view.kind, view.step_index, view.phase, view.superseded, view.terminating) == (
        AnalysisKind.STEP,
        2,
        AnalysisPhase.FAILED,
        True,
        True,
    )
    assert analysis_run_view_from({"metadata": {"name": "other", "labels": {}}}, mode=mode) is None
    other = ARGO if mode is ROLLOUTS_DEV else ROLLOUTS_DEV
    assert analysis_run_view_from({"metadata": {"name": "r", "labels": labels}}, mode=other) is None


def test_service_and_pod_views() -> None:
    service = service_view_from(
        {"metadata": {"name": "s"}, "spec": {"selector": {"app": "x", "rollouts-pod-template-hash": "h"}}}
    )
    assert service.pod_hash == "h"
    pod = pod_view_from(
        {
            "metadata": {
                "name": "p",
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "labels": {"rollouts-pod-template-hash": "h"},
            },
            "status": {"conditions": [{"type": "Ready", "status": "True"}]},
        }
    )
    assert pod is not None
    assert (pod.name, pod.pod_hash, pod.available, pod.terminating) == ("p", "h", True, False)
    assert pod_view_from({"metadata": {"name": "x"}}) is None


def test_status_from_reads_commands_and_memory() -> None:
    status = status_from(
        {
            "abort": True,
            "promoteFull": True,
            "controllerPause": True,
            "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-01-01T00:00:00Z"}],
            "currentStepIndex": 2,
            "stableRS": "s",
            "currentPodHash": "c",
            "canary": {"weights": {"canary": {"weight": 40}}},
            "blueGreen": {"scaleUpPreviewCheckPoint": True},
        }
    )
    assert status.abort
    assert status.promote_full
    assert status.pause_condition("CanaryPauseStep") is not None
    assert status.current_step_index == 2
    assert status.canary_weight == 40
    assert status.scale_up_preview_check_point
    assert status_from(None).current_step_index is None


def test_selector_string() -> None:
    selector = {
        "matchLabels": {"b": "2", "a": "1"},
        "matchExpressions": [
            {"key": "t", "operator": "In", "values": ["y", "x"]},
            {"key": "u", "operator": "NotIn", "values": ["z"]},
            {"key": "v", "operator": "Exists"},
            {"key": "w", "operator": "DoesNotExist"},
        ],
    }
    assert selector_string(selector) == "a=1,b=2,t in (x,y),u notin (z),v,!w"
