"""Canary without a traffic router: steps, pauses, promotion, abort, retry and template changes, one rule each."""

from __future__ import annotations

import itertools

from rollouts.core import (
    CreateReplicaSet,
    Observed,
    ReplicaSetView,
    RolloutStatus,
    ScaleReplicaSet,
    SetServiceSelector,
    plan,
    pod_template_hash,
)
from rollouts.core.simulate import SimCluster
from rollouts.core.spec import RolloutSpec
from tests.support.rollouts import T0, canary_spec, cluster, deployed, settle

STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "30s"}}]


def test_the_first_deploy_goes_straight_to_healthy_without_steps() -> None:
    spec = canary_spec(steps=STEPS)
    first = plan(spec, Observed(), now=T0)
    created = first.of_type(CreateReplicaSet)
    assert len(created) == 1
    assert created[0].replicas == 10
    assert created[0].name == f"app-{created[0].pod_hash}"
    assert created[0].template["metadata"]["labels"]["rollouts-pod-template-hash"] == created[0].pod_hash
    assert first.status["stableRS"] is None  # stable once its ReplicaSet is observed, on the next pass (as Argo)
    assert first.status["currentStepIndex"] == len(STEPS)
    sim = cluster()
    final = settle(sim, spec)
    assert final.status["phase"] == "Healthy"
    assert final.status["stableRS"] == created[0].pod_hash
    assert sim.services["stable"] == sim.services["canary"] == created[0].pod_hash
    # Argo's Events for a first deploy, in Argo's order.
    assert sim.events == [
        "RolloutUpdated", "NewReplicaSetCreated", "RolloutNotCompleted", "ScalingReplicaSet", "SwitchService",
        "SwitchService", "RolloutCompleted",
    ]  # fmt: skip


def test_steps_advance_one_at_a_time_and_stop_at_an_indefinite_pause() -> None:
    sim = deployed(canary_spec(steps=STEPS))
    spec = canary_spec("v2", steps=STEPS)
    seen: list[int] = []
    for _ in range(20):
        decided = sim.reconcile(spec)
        seen.append(decided.status["currentStepIndex"])
        sim.advance(1)
    assert seen[0] == 0
    assert all(b - a in {0, 1} for a, b in itertools.pairwise(seen))
    assert seen[-1] == 1  # held at the pause
    assert sim.status["phase"] == "Paused"
    assert sim.status["pauseConditions"][0]["reason"] == "CanaryPauseStep"
    assert sim.status["controllerPause"] is True
    new = next(rs for rs in sim.replica_sets.values() if rs.pod_hash == sim.status["currentPodHash"])
    stable = next(rs for rs in sim.replica_sets.values() if rs.pod_hash == sim.status["stableRS"])
    assert (new.replicas, stable.replicas) == (2, 8)  # 20% of 10 by replicas


def test_promote_releases_an_indefinite_pause_and_a_timed_pause_ends_on_its_own() -> None:
    sim = deployed(canary_spec(steps=STEPS))
    spec = canary_spec("v2", steps=STEPS)
    paused = settle(sim, spec)
    assert paused.status["currentStepIndex"] == 1
    sim.promote()
    at_timed_pause = settle(sim, spec)
    assert at_timed_pause.status["currentStepIndex"] == 3
    assert at_timed_pause.status["phase"] == "Paused"
    assert 0 < (at_timed_pause.requeue_after or 0) <= 30
    sim.advance(31)
    final = settle(sim, spec)
    assert final.status["phase"] == "Healthy"
    assert final.status["stableRS"] == final.status["currentPodHash"]
    assert final.status["currentStepIndex"] == len(STEPS)
    assert sim.services["stable"] == sim.services["canary"] == final.status["currentPodHash"]
    assert [rs.replicas for rs in sim.replica_sets.values() if rs.pod_hash != final.status["stableRS"]] == [0]


def test_promote_full_skips_the_remaining_steps() -> None:
    sim = deployed(canary_spec(steps=STEPS))
    spec = canary_spec("v2", steps=STEPS)
    settle(sim, spec)
    sim.promote_full()
    final = settle(sim, spec)
    assert final.status["phase"] == "Healthy"
    assert final.status["currentStepIndex"] == len(STEPS)
    assert "promoteFull" not in sim.status


def test_promote_full_after_an_abort_releases_the_aborted_version() -> None:
    # Argo's promote --full only sets status.promoteFull; its controller then lifts the abort (RemoveAbort).
    sim = deployed(canary_spec(steps=STEPS))
    spec = canary_spec("v2", steps=STEPS)
    settle(sim, spec)
    sim.abort()
    assert settle(sim, spec).status["phase"] == "Degraded"
    sim.promote_full()
    final = settle(sim, spec)
    assert final.status["phase"] == "Healthy"
    assert final.status["stableRS"] == final.status["currentPodHash"]
    assert "abort" not in sim.status


def test_abort_returns_all_capacity_to_stable_and_retry_restarts_from_step_zero() -> None:
    sim = deployed(canary_spec(steps=STEPS))
    stable_hash = sim.status["stableRS"]
    spec = canary_spec("v2", steps=STEPS)
    settle(sim, spec)
    sim.abort()
    aborted = settle(sim, spec)
    assert aborted.status["phase"] == "Degraded"
    assert aborted.status["message"].startswith("RolloutAborted: Rollout aborted update to revision 2")
    assert aborted.status["currentStepIndex"] == 0
    assert aborted.status["stableRS"] == stable_hash
    by_hash = {rs.pod_hash: rs.replicas for rs in sim.replica_sets.values()}
    assert by_hash[stable_hash] == 10
    assert sum(by_hash.values()) == 10
    assert sim.services["canary"] == stable_hash
    assert any(c["type"] == "Progressing" and c["reason"] == "RolloutAborted" for c in aborted.status["conditions"])
    sim.retry()
    retried = settle(sim, spec)
    assert retried.status["phase"] == "Paused"
    assert retried.status["currentStepIndex"] == 1
    assert "abort" not in sim.status


def test_a_new_template_mid_rollout_restarts_from_step_zero_and_retires_the_old_canary() -> None:
    sim = deployed(canary_spec(steps=STEPS))
    stable_hash = sim.status["stableRS"]
    settle(sim, canary_spec("v2", steps=STEPS))
    sim.promote()
    at_second_pause = settle(sim, canary_spec("v2", steps=STEPS))
    assert at_second_pause.status["currentStepIndex"] == 3
    v2 = at_second_pause.status["currentPodHash"]
    restarted = sim.reconcile(canary_spec("v3", steps=STEPS))
    assert restarted.status["currentStepIndex"] == 0
    assert "pauseConditions" not in sim.status
    paused = settle(sim, canary_spec("v3", steps=STEPS))
    assert paused.status["currentStepIndex"] == 1
    by_hash = {rs.pod_hash: rs.replicas for rs in sim.replica_sets.values()}
    assert by_hash[v2] == 0
    assert by_hash[stable_hash] == 8
    assert by_hash[paused.status["currentPodHash"]] == 2


def test_a_rollback_to_the_stable_template_skips_the_steps() -> None:
    sim = deployed(canary_spec(steps=STEPS))
    stable_hash = sim.status["stableRS"]
    settle(sim, canary_spec("v2", steps=STEPS))
    back = settle(sim, canary_spec("v1", steps=STEPS))
    assert back.status["phase"] == "Healthy"
    assert back.status["currentPodHash"] == stable_hash
    assert back.status["currentStepIndex"] == len(STEPS)
    by_hash = {rs.pod_hash: rs.replicas for rs in sim.replica_sets.values()}
    assert by_hash[stable_hash] == 10
    assert sum(by_hash.values()) == 10


def test_spec_paused_holds_the_current_step() -> None:
    sim = deployed(canary_spec(steps=[{"setWeight": 20}, {"setWeight": 40}]))
    spec = canary_spec("v2", steps=[{"setWeight": 20}, {"setWeight": 40}], paused=True)
    held = settle(sim, spec, ticks=10)
    assert held.status["phase"] == "Paused"
    assert held.status["message"] == "manually paused"
    assert held.status["currentStepIndex"] == 0
    resumed = settle(sim, canary_spec("v2", steps=[{"setWeight": 20}, {"setWeight": 40}]))
    assert resumed.status["phase"] == "Healthy"


def test_a_rollout_without_steps_is_a_rolling_update_within_surge() -> None:
    sim = deployed(canary_spec(maxSurge=1, maxUnavailable=0))
    spec = canary_spec("v2", maxSurge=1, maxUnavailable=0)
    for _ in range(40):
        sim.reconcile(spec)
        assert sim.total_spec() <= 11
        assert sim.total_available() >= 10
        sim.advance(1)
    assert sim.status["phase"] == "Healthy"
    assert "currentStepIndex" not in sim.status


def test_an_existing_replica_set_with_an_equal_template_is_adopted() -> None:
    spec = canary_spec()
    template = {**spec.template, "metadata": {"labels": {"app": "x", "rollouts-pod-template-hash": "old"}}}
    existing = ReplicaSetView(
        name="app-old", pod_hash="old", replicas=10, available=10, pods=10, template=template, revision=1
    )
    decided = plan(spec, Observed(replica_sets=(existing,)), now=T0)
    assert not decided.of_type(CreateReplicaSet)
    assert decided.status["currentPodHash"] == "old"
    assert decided.status["stableRS"] == "old"


def test_a_replica_set_named_by_the_hash_is_never_created_twice() -> None:
    spec = canary_spec()
    wanted = pod_template_hash(spec.template)
    existing = ReplicaSetView(name=f"app-{wanted}", pod_hash=wanted, replicas=3, template={}, revision=1)
    decided = plan(spec, Observed(replica_sets=(existing,)), now=T0)
    assert not decided.of_type(CreateReplicaSet)
    assert decided.of_type(ScaleReplicaSet)[0].replicas == 10


def test_services_are_pinned_and_a_missing_service_is_reported_not_invented() -> None:
    spec = canary_spec()
    decided = plan(spec, Observed(), now=T0)
    assert not decided.of_type(SetServiceSelector)
    assert any("Service stable not found" in r for r in decided.reasons)


def test_history_beyond_the_limit_is_deleted_oldest_first() -> None:
    sim = deployed(canary_spec(revisionHistoryLimit=1))
    for image in ("v2", "v3", "v4"):
        settle(sim, canary_spec(image, revisionHistoryLimit=1), ticks=100)
    revisions = sorted(int(rs.annotations["rollouts.dev/revision"]) for rs in sim.replica_sets.values())
    assert revisions == [3, 4]


def test_a_recorded_status_is_a_fixpoint() -> None:
    sim = deployed(canary_spec(steps=STEPS))
    again = sim.reconcile(canary_spec(steps=STEPS))
    assert again.actions == ()
    before = dict(sim.status)
    sim.advance(3600)
    sim.reconcile(canary_spec(steps=STEPS))
    assert sim.status == before  # nothing changes with time alone: no status write storms


def test_status_fields_use_argo_names() -> None:
    sim = deployed(canary_spec(steps=STEPS))
    status = sim.status
    for key in ("phase", "currentPodHash", "stableRS", "currentStepIndex", "currentStepHash", "replicas"):
        assert key in status
    assert status["selector"] == "app=x"
    assert status["observedGeneration"] == "1"  # a string, as in Argo
    assert {c["type"] for c in status["conditions"]} == {"Available", "Completed", "Healthy", "Progressing"}
    assert RolloutStatus().abort is False


def test_a_good_update_over_a_broken_first_version_is_not_held_by_the_stable() -> None:
    # Argo's AtDesiredReplicaCountsForCanary: a weight step waits for the canary's pods to be available and the
    # stable's only to exist. The first version never becomes available (its pods crash); the fix must still go out.
    steps = [{"setWeight": 50}, {"pause": {"duration": "5s"}}]
    broken = canary_spec("v1", steps=steps, replicas=4, progressDeadlineSeconds=10, maxSurge=1, maxUnavailable=0)
    broken_hash = pod_template_hash(broken.template)
    sim = SimCluster(now=T0, services=("canary", "stable"), pod_delay=lambda pod: 1e9 if broken_hash in pod else 0.0)
    first = settle(sim, broken)
    assert first.status["phase"] == "Degraded", first.status
    fixed = canary_spec("v2", steps=steps, replicas=4, progressDeadlineSeconds=10, maxSurge=1, maxUnavailable=0)
    final = settle(sim, fixed, ticks=120, until=lambda p: p.status["phase"] in ("Healthy", "Degraded"))
    assert final.status["phase"] == "Healthy", final.status
    assert final.status["stableRS"] == pod_template_hash(fixed.template)


def _promoted(sim: SimCluster, spec: RolloutSpec) -> None:
    settle(sim, spec)
    sim.promote_full()
    assert settle(sim, spec).status["phase"] == "Healthy"


def test_a_rollback_within_the_window_skips_the_steps() -> None:
    # Argo's isRollbackWithinWindow: the version coming back is older than the stable, with fewer than
    # rollbackWindow.revisions versions created between them.
    window = {"rollbackWindow": {"revisions": 2}}
    sim = deployed(canary_spec("v1", steps=STEPS, **window))
    _promoted(sim, canary_spec("v2", steps=STEPS, **window))
    back = canary_spec("v1", steps=STEPS, **window)
    final = settle(sim, back)
    assert final.status["phase"] == "Healthy", final.status
    assert final.status["stableRS"] == pod_template_hash(back.template)
    assert final.status["currentStepIndex"] == len(STEPS)


def test_a_rollback_outside_the_window_goes_through_the_steps() -> None:
    window = {"rollbackWindow": {"revisions": 1}}
    sim = deployed(canary_spec("v1", steps=STEPS, **window))
    _promoted(sim, canary_spec("v2", steps=STEPS, **window))
    _promoted(sim, canary_spec("v3", steps=STEPS, **window))
    paused = settle(sim, canary_spec("v1", steps=STEPS, **window))  # v2 lies between v1 and the stable v3
    assert paused.status["phase"] == "Paused", paused.status
    assert paused.status["currentStepIndex"] == 1


def test_pausing_a_finished_rollout_is_not_paused_progress() -> None:
    # Argo's TestCanaryWithSpecPause: a complete rollout paused by spec.paused keeps Progressing True
    # (NewReplicaSetAvailable), never Unknown/RolloutPaused; its phase is Paused.
    sim = deployed(canary_spec(steps=STEPS))
    paused = settle(sim, canary_spec(steps=STEPS, paused=True))
    assert paused.status["phase"] == "Paused"
    progressing = next(c for c in paused.status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("True", "NewReplicaSetAvailable")
