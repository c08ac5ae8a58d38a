"""The Events a release posts, in Argo Rollouts' vocabulary and order (``rollouts.core.events``).

The two scenarios are the ones Argo's own e2e suite pins event by event (FunctionalSuite.TestRolloutAbortRetryPromote
and TestBlueGreenUpdate), replayed on the simulated cluster: a user reading ``kubectl get events`` (or an alert built
on them) sees what Argo's controller would have said.
"""

from __future__ import annotations

from typing import Any

from analysis.assess import AnalysisPhase
from rollouts.core import parse_rollout
from rollouts.core.actions import CreateAnalysisRun
from rollouts.core.simulate import SimCluster
from tests.support.rollouts import T0, rollout, settle


def _spec(image: str, **strategy: Any) -> Any:
    body = rollout(image=image, replicas=strategy.pop("replicas"), **strategy)
    return parse_rollout(body)


def test_canary_abort_retry_promote_posts_argos_events_in_argos_order() -> None:
    sim = SimCluster(now=T0, services=(), pod_delay=lambda _: 1.0)
    steps = [{"setWeight": 50}, {"pause": {"duration": "3s"}}]
    settle(sim, _spec("v1", replicas=1, canary={"steps": steps}))
    v2 = _spec("v2", replicas=1, canary={"steps": steps})
    assert settle(sim, v2).status["phase"] == "Paused"
    sim.abort()
    assert settle(sim, v2).status["phase"] == "Degraded"
    sim.retry()
    assert settle(sim, v2, until=lambda p: p.status["phase"] == "Paused").status["phase"] == "Paused"
    assert settle(sim, v2, until=lambda p: p.status["phase"] == "Healthy").status["phase"] == "Healthy"
    assert sim.events == [
        "RolloutUpdated",  # revision 1
        "NewReplicaSetCreated",
        "RolloutNotCompleted",
        "ScalingReplicaSet",  # up, 0 to 1
        "RolloutCompleted",  # Initial deploy
        "RolloutUpdated",  # revision 2
        "NewReplicaSetCreated",
        "RolloutNotCompleted",
        "ScalingReplicaSet",  # revision 2 up, 0 to 1
        "RolloutStepCompleted",  # 1/2 setWeight 50
        "RolloutPaused",  # CanaryPauseStep
        "ScalingReplicaSet",  # abort: revision 2 down, 1 to 0
        "RolloutAborted",
        "ScalingReplicaSet",  # retry: revision 2 up, 0 to 1
        "RolloutStepCompleted",  # 1/2 again
        "RolloutPaused",
        "RolloutStepCompleted",  # 2/2 pause 3s
        "RolloutResumed",
        "ScalingReplicaSet",  # revision 1 down, 1 to 0
        "RolloutCompleted",  # Completed all 2 canary steps
    ]


def test_blue_green_update_posts_argos_events_in_argos_order() -> None:
    sim = SimCluster(now=T0, services=("bluegreen",), pod_delay=lambda _: 1.0)
    blue_green = {"activeService": "bluegreen", "scaleDownDelaySeconds": 10}
    settle(sim, _spec("v1", replicas=3, blue_green=blue_green))
    assert settle(sim, _spec("v2", replicas=3, blue_green=blue_green)).status["phase"] == "Healthy"
    assert sim.events == [
        "RolloutUpdated",
        "NewReplicaSetCreated",
        "ScalingReplicaSet",  # up, 0 to 3
        "RolloutCompleted",  # Initial deploy
        "SwitchService",  # '' -> revision 1
        "RolloutUpdated",
        "NewReplicaSetCreated",
        "RolloutNotCompleted",
        "ScalingReplicaSet",  # revision 2 up, 0 to 3
        "SwitchService",  # revision 1 -> revision 2
        "RolloutCompleted",  # Completed blue-green update
    ]


def test_steps_that_wait_for_nothing_complete_in_one_write_each_with_its_event() -> None:
    sim = SimCluster(now=T0, services=(), pod_delay=lambda _: 1.0)
    steps = [{"setWeight": 100}, {"pause": {"duration": "0s"}}, {"pause": {"duration": "0s"}}, {"pause": {}}]
    settle(sim, _spec("v1", replicas=1, canary={"steps": steps}))
    v2 = _spec("v2", replicas=1, canary={"steps": steps})
    jumps = []
    for _ in range(30):
        index, posted = sim.status.get("currentStepIndex"), len(sim.events)
        decided = sim.reconcile(v2)
        if sim.status.get("phase") == "Paused":
            jumps.append((index, sim.status["currentStepIndex"], sim.events[posted:], decided.reasons))
            break
        sim.advance(1)
    # The reconcile that saw the canary pod available completed the weight step and passed both 0 s pauses (they need
    # nothing of the cluster), entering the last pause: one status write, every Event of the chain in order.
    assert [jump[:3] for jump in jumps] == [(0, 3, ["RolloutStepCompleted"] * 3 + ["RolloutPaused"])], jumps


def test_a_step_analysis_posts_its_phases_on_the_rollout_before_the_step_completes() -> None:
    """Argo's rollout controller reports each current run's phase on the Rollout (``AnalysisRun<Phase>``, Warning for
    Failed/Error): the notification triggers on-analysis-run-running/-failed/-error follow these Events."""
    verdicts = iter([AnalysisPhase.SUCCESSFUL, AnalysisPhase.FAILED])

    def outcome(_: CreateAnalysisRun) -> tuple[AnalysisPhase, float]:
        return next(verdicts), 2.0

    sim = SimCluster(now=T0, services=(), pod_delay=lambda _: 1.0, run_outcome=outcome)
    steps = [{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "t"}]}}, {"pause": {}}]
    settle(sim, _spec("v1", replicas=2, canary={"steps": steps}))
    assert settle(sim, _spec("v2", replicas=2, canary={"steps": steps})).status["phase"] == "Paused"
    analysis = [event for event in sim.events if event.startswith("AnalysisRun")]
    # A run just created ("Pending" in our status, no phase yet in Argo's) is not reported, as in Argo.
    assert analysis == ["AnalysisRunRunning", "AnalysisRunSuccessful"]
    # The success is reported before the step it completed.
    last_step = len(sim.events) - 1 - sim.events[::-1].index("RolloutStepCompleted")
    assert sim.events.index("AnalysisRunSuccessful") < last_step

    assert settle(sim, _spec("v3", replicas=2, canary={"steps": steps})).status["phase"] == "Degraded"
    assert [e for e in sim.events if e.startswith("AnalysisRun")][2:] == [
        "AnalysisRunRunning",
        "AnalysisRunFailed",
    ]
    assert "RolloutAborted" in sim.events[-4:]
