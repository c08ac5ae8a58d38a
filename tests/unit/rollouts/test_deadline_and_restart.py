"""Progress deadline (Degraded, optional abort) and restartAt (pods recycled oldest first within the budget)."""

from __future__ import annotations

from datetime import timedelta

from rollouts.core import RestartPod
from tests.support.rollouts import T0, canary_spec, cluster, deployed, settle
from workflows.model.times import format_time

STEPS = [{"setWeight": 50}, {"pause": {}}]


def stuck_cluster() -> object:
    """Pods of the second version never become available."""
    sim = cluster()
    settle(sim, canary_spec(steps=STEPS))
    sim._pod_delay = lambda _: 10_000.0
    return sim


def test_no_progress_for_progress_deadline_seconds_is_degraded() -> None:
    sim = stuck_cluster()
    spec = canary_spec("v2", steps=STEPS, progressDeadlineSeconds=60)
    phases: list[tuple[float, str]] = []
    for _ in range(30):
        decided = sim.reconcile(spec)
        phases.append(((sim.now - T0).total_seconds(), decided.status["phase"]))
        if decided.status["phase"] == "Degraded":
            break
        assert decided.requeue_after is not None
        assert 0 < decided.requeue_after <= 60
        sim.advance(decided.requeue_after)
    late = decided
    assert late.status["phase"] == "Degraded"
    assert late.status["message"].startswith("ProgressDeadlineExceeded")
    assert phases[-2][0] + 60 == phases[-1][0]  # exactly the deadline after the last progress
    progressing = next(c for c in late.status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert "abort" not in sim.status  # without progressDeadlineAbort the update is left where it is


def test_progress_resets_the_deadline_and_paused_time_does_not_count() -> None:
    sim = cluster(delay=30)
    settle(sim, canary_spec(steps=STEPS), ticks=100)
    spec = canary_spec("v2", steps=STEPS, progressDeadlineSeconds=45)
    for _ in range(40):  # pods take 30 s: progress keeps happening within the deadline
        sim.reconcile(spec)
        sim.advance(2)
    assert sim.status["phase"] == "Paused"
    sim.advance(3600)
    assert sim.reconcile(spec).status["phase"] == "Paused"
    sim.promote()
    resumed = sim.reconcile(spec)
    assert resumed.status["phase"] == "Progressing"


def test_progress_deadline_abort_aborts_the_update() -> None:
    sim = stuck_cluster()
    spec = canary_spec("v2", steps=STEPS, progressDeadlineSeconds=60, progressDeadlineAbort=True)
    exceeded = sim.reconcile(spec)
    for _ in range(30):
        if sim.status.get("abort"):
            break
        assert exceeded.requeue_after is not None
        sim.advance(exceeded.requeue_after)
        exceeded = sim.reconcile(spec)
    assert sim.status["abort"] is True
    # The same reconcile already acts on the abort it wrote (a settled plan chains on its own status).
    assert any("aborted canary" in reason for reason in exceeded.reasons), exceeded.reasons
    after = sim.reconcile(spec)
    assert after.status["phase"] == "Degraded"
    assert after.status["message"].startswith("RolloutAborted: ProgressDeadlineExceeded")
    settle(sim, spec)
    stable = sim.status["stableRS"]
    assert {rs.pod_hash: rs.replicas for rs in sim.replica_sets.values()} == {
        stable: 10,
        after.status["currentPodHash"]: 0,
    }


def test_restart_recycles_old_pods_one_budget_at_a_time() -> None:
    spec = canary_spec(maxUnavailable=2, maxSurge=1)
    sim = deployed(spec, delay=2)
    sim.advance(10)
    restart_at = sim.now + timedelta(seconds=5)
    spec = canary_spec(maxUnavailable=2, maxSurge=1, restartAt=format_time(restart_at))
    early = sim.reconcile(spec)
    assert not early.of_type(RestartPod)
    assert early.requeue_after is not None
    assert early.requeue_after > 0
    sim.advance(early.requeue_after)
    restarted: list[str] = []
    for _ in range(60):
        decided = sim.reconcile(spec)
        restarted += [a.name for a in decided.of_type(RestartPod)]
        assert len(decided.of_type(RestartPod)) <= 2
        assert sim.total_available() >= 8
        sim.advance(1)
    assert len(restarted) == 10
    assert len(set(restarted)) == 10
    assert sim.status["restartedAt"] == format_time(restart_at)
    assert all(pod.created_at >= restart_at for rs in sim.replica_sets.values() for pod in rs.pods)
    assert not sim.reconcile(spec).of_type(RestartPod)
