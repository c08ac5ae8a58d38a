"""Ephemeral canary/stable metadata follows a ReplicaSet's role; finished AnalysisRuns are kept up to limits."""

from __future__ import annotations

from datetime import timedelta

from analysis.assess import AnalysisPhase
from rollouts.core import AnalysisKind, AnalysisRunView, CreateReplicaSet, DeleteAnalysisRun, Observed, plan
from rollouts.core.spec import PodMetadata
from tests.support.rollouts import T0, canary_spec, deployed, settle

META = {"canaryMetadata": {"labels": {"role": "canary"}}, "stableMetadata": {"labels": {"role": "stable"}}}
STEPS = [{"setWeight": 50}, {"pause": {}}]


def test_canary_pods_carry_canary_metadata_until_they_become_stable() -> None:
    first = plan(canary_spec(steps=STEPS, **META), Observed(), now=T0)
    assert first.of_type(CreateReplicaSet)[0].pod_metadata == PodMetadata(labels={"role": "stable"})
    sim = deployed(canary_spec(steps=STEPS, **META))
    spec = canary_spec("v2", steps=STEPS, **META)
    settle(sim, spec)
    roles = {rs.pod_hash: rs.pod_metadata.labels.get("role") for rs in sim.replica_sets.values()}
    assert roles == {sim.status["stableRS"]: "stable", sim.status["currentPodHash"]: "canary"}
    sim.promote()
    settle(sim, spec)
    new = sim.status["currentPodHash"]
    assert sim.replica_sets[f"app-{new}"].pod_metadata.labels == {"role": "stable"}


def test_finished_runs_beyond_the_history_limits_are_deleted_newest_kept() -> None:
    spec = canary_spec(steps=STEPS)
    runs = tuple(
        AnalysisRunView(
            name=f"run-{i}",
            kind=AnalysisKind.STEP,
            pod_hash="old",
            step_index=0,
            phase=AnalysisPhase.SUCCESSFUL if i % 2 else AnalysisPhase.FAILED,
            created_at=T0 + timedelta(seconds=i),
        )
        for i in range(14)
    )
    decided = plan(spec, Observed(analysis_runs=runs), now=T0)
    deleted = sorted(a.name for a in decided.of_type(DeleteAnalysisRun))
    # 7 successful (odd) and 7 unsuccessful (even): the two oldest of each kind go.
    assert deleted == ["run-0", "run-1", "run-2", "run-3"]
