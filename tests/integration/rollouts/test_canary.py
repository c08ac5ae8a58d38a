"""Replica-weighted canary on the real cluster: pod counts follow the weights, pauses hold until promoted or until
their duration passes, ``promote --full`` skips the rest, ``abort`` returns everything to stable, ``retry`` starts
over from step 0."""

from __future__ import annotations

from tests.support.cluster import ControllerProcess, Kube, apply, wait_for
from tests.support.cluster_rollouts import (
    condition,
    kubectl_rollouts,
    replica_sets,
    rollout,
    set_image,
    status,
    wait_healthy,
    wait_pods,
    wait_replicas,
    wait_status,
)

STEPS = [
    {"setWeight": 20},
    {"pause": {}},
    {"setWeight": 40},
    {"pause": {"duration": "2s"}},
    {"setWeight": 60},
    {"pause": {}},
    {"setWeight": 80},
    {"pause": {}},
]


def _deploy(kube: Kube, namespace: str, name: str) -> str:
    apply(kube, namespace, rollout(name, replicas=5, strategy={"canary": {"steps": STEPS}}))
    first = wait_healthy(kube, namespace, name)
    stable = str(first["stableRS"])
    # First deploy: no steps, straight to all 5 on the first version.
    assert first["currentStepIndex"] == len(STEPS)
    wait_replicas(kube, namespace, name, {stable: 5})
    return stable


def test_weights_pauses_promote_and_promote_full(kube: Kube, namespace: str, controller: ControllerProcess) -> None:
    name = "canary"
    stable = _deploy(kube, namespace, name)

    set_image(kube, namespace, name, "demo:green")
    paused = wait_status(kube, namespace, name, what="paused at step 1", phase="Paused", currentStepIndex=1)
    canary = str(paused["currentPodHash"])
    assert canary != stable
    assert paused["stableRS"] == stable
    assert [c["reason"] for c in paused["pauseConditions"]] == ["CanaryPauseStep"]
    # 5 replicas at 20%: ceil(5*0.2) = 1 canary pod, ceil(5*0.8) = 4 stable pods.
    wait_replicas(kube, namespace, name, {stable: 4, canary: 1})
    wait_pods(kube, namespace, name, {stable: 4, canary: 1})
    # An untimed pause holds: nothing moves while nobody promotes (the controller has had events since).
    assert status(kube, namespace, name)["currentStepIndex"] == 1

    kubectl_rollouts(kube, namespace, "promote", name)
    # setWeight 40 (2 canary / 3 stable), then the 2 s pause ends by itself and setWeight 60 lands on the pause at 5.
    wait_status(kube, namespace, name, what="paused at step 5", phase="Paused", currentStepIndex=5, timeout=40)
    wait_replicas(kube, namespace, name, {stable: 2, canary: 3})
    wait_pods(kube, namespace, name, {stable: 2, canary: 3})

    out = kubectl_rollouts(kube, namespace, "promote", "--full", name)
    assert "fully promoted" in out
    healthy = wait_healthy(kube, namespace, name, timeout=40)
    assert healthy["stableRS"] == canary
    assert healthy["currentStepIndex"] == len(STEPS)
    assert not healthy.get("promoteFull")  # cleared once the update completed
    wait_replicas(kube, namespace, name, {canary: 5, stable: 0})
    wait_pods(kube, namespace, name, {canary: 5})
    assert condition(healthy, "Completed") is not None
    assert kubectl_rollouts(kube, namespace, "status", name).startswith("Healthy")


def test_timed_pauses_advance_and_weights_step_through(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    """Every weight's pod split is observed while its pause holds; the timed pause advances by itself."""
    name = "steps"
    stable = _deploy(kube, namespace, name)
    set_image(kube, namespace, name, "demo:green")
    expected = {1: (4, 1), 5: (2, 3), 7: (1, 4)}  # step index of the pause -> (stable pods, canary pods)
    canary = ""
    for index, (stable_pods, canary_pods) in expected.items():
        at = wait_status(kube, namespace, name, what=f"paused at {index}", phase="Paused", currentStepIndex=index)
        canary = str(at["currentPodHash"])
        wait_replicas(kube, namespace, name, {stable: stable_pods, canary: canary_pods})
        kubectl_rollouts(kube, namespace, "promote", name)
        if index == 1:  # step 3 is the 2 s pause: it is reached and left without any command
            wait_status(kube, namespace, name, what="timed pause at 3", currentStepIndex=3, timeout=20)
    healthy = wait_healthy(kube, namespace, name, timeout=40)
    assert healthy["stableRS"] == canary
    wait_replicas(kube, namespace, name, {canary: 5, stable: 0})


def test_abort_returns_capacity_to_stable_and_retry_starts_over(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    name = "abort"
    stable = _deploy(kube, namespace, name)
    set_image(kube, namespace, name, "demo:green")
    wait_status(kube, namespace, name, what="paused at 1", phase="Paused", currentStepIndex=1)
    kubectl_rollouts(kube, namespace, "promote", name)  # pass the first pause: stop at the untimed pause at 5
    at = wait_status(kube, namespace, name, what="paused at 5", phase="Paused", currentStepIndex=5, timeout=40)
    canary = str(at["currentPodHash"])
    wait_replicas(kube, namespace, name, {stable: 2, canary: 3})

    kubectl_rollouts(kube, namespace, "abort", name)
    aborted = wait_status(kube, namespace, name, what="aborted", phase="Degraded", abort=True)
    assert aborted["currentStepIndex"] == 0
    assert aborted.get("abortedAt")
    assert "RolloutAborted" in str(aborted.get("message"))
    assert aborted["stableRS"] == stable
    wait_replicas(kube, namespace, name, {stable: 5, canary: 0})
    wait_pods(kube, namespace, name, {stable: 5})
    assert kubectl_rollouts(kube, namespace, "status", name, expect=1).startswith("Degraded")

    kubectl_rollouts(kube, namespace, "retry", name)
    retried = wait_status(kube, namespace, name, what="retried to step 1", phase="Paused", currentStepIndex=1)
    assert not retried.get("abort")
    assert retried["currentPodHash"] == canary  # the same canary ReplicaSet, scaled up again
    wait_replicas(kube, namespace, name, {stable: 4, canary: 1})
    assert set(replica_sets(kube, namespace, name)) == {stable, canary}


def test_scaling_a_stuck_update_keeps_the_surge_bound(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    """Argo's TestRolloutScalingDuringUpdate: a canary that never becomes available (its command cannot exist), no
    steps, maxSurge 2 and maxUnavailable 0. Scaling up lets the canary use the new surge; scaling back down takes
    the canary back to what the surge allows, while the stable keeps every pod."""
    name = "stuck"
    strategy = {"canary": {"maxSurge": 2, "maxUnavailable": 0}}
    apply(kube, namespace, rollout(name, replicas=4, strategy=strategy))
    stable = str(wait_healthy(kube, namespace, name)["stableRS"])
    broken = rollout(name, replicas=4, strategy=strategy)
    broken["spec"]["template"]["spec"]["containers"][0]["command"] = ["/bad-command"]
    apply(kube, namespace, broken)
    canary = str(wait_status(kube, namespace, name, what="the update", replicas=6)["currentPodHash"])
    assert canary != stable

    def asked() -> dict[str, int]:
        return {h: rs["replicas"] for h, rs in replica_sets(kube, namespace, name).items()}

    wait_for(lambda: asked() == {stable: 4, canary: 2}, timeout=30, what="canary 2 (surge), stable 4")
    for replicas, expected in ((8, {stable: 4, canary: 6}), (4, {stable: 4, canary: 2})):
        broken["spec"]["replicas"] = replicas
        apply(kube, namespace, broken)
        wait_for(lambda expected=expected: asked() == expected, timeout=30, what=f"{expected} at {replicas}")
