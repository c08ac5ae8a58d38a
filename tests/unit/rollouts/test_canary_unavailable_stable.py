"""A replica-weighted canary over a stable whose pods crash-loop (Argo e2e TestRolloutBadToBadUpdate,
TestRolloutBadToGoodUpdate, TestRolloutBadToGoodSetWeightUpdate), on the simulated cluster.

Argo counts the stable's requested pods as available while the canary grows, so a stable that is down is replaced
only as fast as canary pods become available: a bad update stays at the one pod the surge allows, a good one takes
over pod by pod.
"""

from __future__ import annotations

from rollouts.core import RolloutSpec
from rollouts.core.simulate import SimCluster
from tests.support.rollouts import canary_spec, cluster, settle

NEVER = 10_000.0  # seconds: a crash-looping pod never becomes available within these tests


def _spec(command: str | None, *, deadline: int = 10, steps: list[dict[str, object]] | None = None) -> RolloutSpec:
    spec = canary_spec(
        "nginx:1.19-alpine", replicas=4, progressDeadlineSeconds=deadline, maxSurge=1, maxUnavailable=0, steps=steps
    )
    if command is not None:
        spec.template["spec"]["containers"][0]["command"] = [command]
    return spec


def _pods(sim: SimCluster) -> dict[int, int]:
    """Pods asked for, by revision."""
    return {rs.revision: rs.replicas for rs in sim.replica_sets.values()}


def _crash_looping_stable(steps: list[dict[str, object]] | None = None) -> SimCluster:
    sim = cluster(delay=NEVER)
    last = settle(sim, _spec("/bad-command", steps=steps), ticks=30)
    assert last.status["phase"] == "Degraded"
    assert _pods(sim) == {1: 4}
    return sim


def test_bad_to_bad_keeps_the_stable_and_one_canary_pod() -> None:
    sim = _crash_looping_stable()
    spec = _spec("/bad-command2")
    phases = []
    for _ in range(30):
        decided = sim.reconcile(spec)
        phases.append(decided.status["phase"])
        assert sum(_pods(sim).values()) <= 5  # replicas + maxSurge, at every moment
        sim.advance(1)
    assert phases[0] == "Progressing"
    assert phases[-1] == "Degraded"
    assert decided.status["message"].startswith("ProgressDeadlineExceeded")
    assert _pods(sim) == {1: 4, 2: 1}  # Argo: ExpectRevisionPodCount("2", 1), ("1", 4)


def test_bad_to_bad_is_degraded_at_the_progress_deadline() -> None:
    sim = _crash_looping_stable()
    spec = _spec("/bad-command2")
    start = sim.now
    decided = sim.reconcile(spec)
    while decided.status["phase"] != "Degraded":
        assert decided.status["phase"] == "Progressing"
        assert (sim.now - start).total_seconds() <= 11
        sim.advance(1)
        decided = sim.reconcile(spec)
    progressing = next(c for c in decided.status["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    # The last progress is the canary ReplicaSet's first pod being asked for (observed one reconcile later).
    assert (sim.now - start).total_seconds() in {10, 11}


def test_bad_to_good_takes_over_pod_by_pod() -> None:
    sim = _crash_looping_stable()
    sim._pod_delay = lambda _: 1.0  # the new version's pods become available after 1 s
    spec = _spec(None, deadline=60)
    seen = []
    for _ in range(60):
        decided = sim.reconcile(spec)
        seen.append(_pods(sim))
        assert sum(_pods(sim).values()) <= 5
        if decided.status["phase"] == "Healthy":
            break
        sim.advance(1)
    assert decided.status["phase"] == "Healthy"
    assert _pods(sim) == {1: 0, 2: 4}  # Argo: ExpectRevisionPodCount("2", 4), ("1", 0)
    assert {1: 4, 2: 1} in seen  # one canary pod first, then one stable pod per available canary pod
    assert {1: 3, 2: 1} in seen


def test_bad_to_good_with_a_set_weight_step() -> None:
    """The 50% step is reached although the stable's remaining pods are not available: Argo asks only that they
    exist (a crash-looping stable does not hold a step)."""
    steps: list[dict[str, object]] = [{"setWeight": 50}, {"pause": {"duration": "5s"}}]
    sim = _crash_looping_stable(steps)
    sim._pod_delay = lambda _: 1.0
    spec = _spec(None, steps=steps)
    seen = []
    for _ in range(60):
        decided = sim.reconcile(spec)
        seen.append(_pods(sim))
        if decided.status["phase"] == "Healthy":
            break
        sim.advance(1)
    assert decided.status["phase"] == "Healthy"
    assert _pods(sim) == {1: 0, 2: 4}
    assert {1: 2, 2: 2} in seen
