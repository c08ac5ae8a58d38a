"""A controller SIGKILLed mid-update continues where it stopped (no duplicate ReplicaSet, no skipped or repeated
step); invalid manifests are refused by the API server with a field path, and what only the controller can see
becomes an InvalidSpec condition, phase Degraded and a Warning Event while other Rollouts keep being served."""

from __future__ import annotations

import copy
import time

import pytest

from tests.support.cluster import ControllerProcess, Kube, apply, event_reasons, wait_for
from tests.support.cluster_rollouts import (
    READY_DELAY,
    analysis_runs,
    condition,
    create,
    kubectl_rollouts,
    live_pods,
    replica_sets,
    rollout,
    set_image,
    status,
    wait_healthy,
    wait_replicas,
    wait_status,
)


def test_sigkill_mid_step_continues_without_duplicates_or_skipped_steps(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    name = "survivor"
    steps = [{"setWeight": 20}, {"pause": {"duration": "3s"}}, {"setWeight": 40}, {"pause": {}}]
    body = rollout(name, replicas=5, strategy={"canary": {"steps": steps}}, pod_annotations={READY_DELAY: "1s"})
    apply(kube, namespace, body)
    stable = str(wait_healthy(kube, namespace, name, timeout=40)["stableRS"])

    canary = set_image(kube, namespace, name, "demo:green")
    wait_status(kube, namespace, name, what="in the timed pause", currentStepIndex=1, phase="Paused")
    controller.kill()
    killed_at = time.monotonic()
    # While nobody runs, nothing moves; the pause's time passes anyway.
    frozen = status(kube, namespace, name)
    assert frozen["currentStepIndex"] == 1
    time.sleep(max(0.0, 3.5 - (time.monotonic() - killed_at)))
    assert status(kube, namespace, name)["currentStepIndex"] == 1

    controller.start()
    seen: list[int] = []

    def at_second_pause() -> bool:
        current = status(kube, namespace, name)
        index = int(current.get("currentStepIndex", -1))
        if not seen or seen[-1] != index:
            seen.append(index)
        return index == 3 and current.get("phase") == "Paused"

    wait_for(at_second_pause, timeout=40, interval=0.1, what="the untimed pause at step 3 after the restart")
    # One step at a time, never backwards (a restart re-planning a finished step would show 1 again after 2).
    assert seen == sorted(seen), seen
    assert seen[0] >= 1, seen
    assert set(replica_sets(kube, namespace, name)) == {stable, canary}
    wait_replicas(kube, namespace, name, {stable: 3, canary: 2})

    # A second kill right after a command: the promotion is recorded on the object and carried out after restart.
    kubectl_rollouts(kube, namespace, "promote", name)
    controller.kill()
    controller.start()
    assert wait_healthy(kube, namespace, name, timeout=40)["stableRS"] == canary
    wait_replicas(kube, namespace, name, {canary: 5, stable: 0})
    assert set(replica_sets(kube, namespace, name)) == {stable, canary}


@pytest.mark.parametrize(
    ("case", "change", "expected"),
    [
        (
            "both-strategies",
            lambda s: s["strategy"].update(blueGreen={"activeService": "active"}),
            ["spec.strategy"],
        ),
        (
            "weight-over-100",
            lambda s: s["strategy"]["canary"].update(steps=[{"setWeight": 150}]),
            # A CEL rule over the steps and maxTrafficWeight: the server names the list; the controller's parser names
            # the index (unit tests).
            ["spec.strategy.canary.steps", "maxTrafficWeight (default 100)"],
        ),
        (
            "two-kinds-in-one-step",
            lambda s: s["strategy"]["canary"].update(steps=[{"setWeight": 10, "pause": {}}]),
            ["spec.strategy.canary.steps[0]"],
        ),
        (
            "same-canary-and-stable-service",
            lambda s: s["strategy"]["canary"].update(canaryService="web", stableService="web"),
            ["spec.strategy.canary"],
        ),
        ("no-selector", lambda s: s.pop("selector"), ["spec.selector"]),
    ],
)
def test_the_api_server_refuses_invalid_rollouts_with_a_field_path(
    kube: Kube, namespace: str, crds_installed: list[str], *, case: str, change: object, expected: list[str]
) -> None:
    body = rollout(case, replicas=1, strategy={"canary": {"steps": [{"setWeight": 10}]}})
    change(body["spec"])  # type: ignore[operator]
    result = create(kube, namespace, body)
    assert result.returncode != 0, result.stdout
    for text in expected:
        assert text in result.stderr, result.stderr


def test_what_only_the_controller_sees_is_reported_not_crashed_on(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    mismatched = rollout("mismatched", replicas=1, strategy={"canary": {}})
    mismatched["spec"]["selector"] = {"matchLabels": {"app": "something-else"}}
    missing = rollout(
        "missing-template",
        replicas=1,
        strategy={"canary": {"steps": [{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "nope"}]}}]}},
    )
    apply(kube, namespace, mismatched, missing, rollout("fine", replicas=2, strategy={"canary": {}}))

    invalid = wait_status(kube, namespace, "mismatched", what="InvalidSpec", phase="Degraded")
    cond = condition(invalid, "InvalidSpec")
    assert cond is not None, invalid
    assert cond["status"] == "True", invalid
    assert "spec.selector" in cond["message"] or "spec.template" in cond["message"], cond
    assert replica_sets(kube, namespace, "mismatched") == {}  # nothing is created for an invalid spec
    wait_for(lambda: "InvalidSpec" in event_reasons(kube, namespace, "mismatched"), timeout=10, what="Warning Event")

    # The other Rollouts are served meanwhile. A referenced AnalysisTemplate must exist whether or not an update
    # runs (as in Argo): the missing one is reported at once, with where it is referenced, and nothing is created.
    wait_healthy(kube, namespace, "fine")
    degraded = wait_status(kube, namespace, "missing-template", what="missing template reported", phase="Degraded")
    cond = condition(degraded, "InvalidSpec")
    assert cond is not None, degraded
    assert "spec.strategy.canary.steps[1].analysis.templates[0].templateName" in cond["message"], degraded
    assert "'nope' not found" in cond["message"], degraded
    assert replica_sets(kube, namespace, "missing-template") == {}
    assert analysis_runs(kube, namespace, "missing-template") == []
    wait_for(
        lambda: "InvalidSpec" in event_reasons(kube, namespace, "missing-template"), timeout=10, what="Warning Event"
    )
    # Once the template exists the Rollout deploys: the template's watch wakes the Rollouts that name it.
    template = {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "nope"},
        "spec": {"metrics": [{"name": "ok", "provider": {"web": {"url": "http://127.0.0.1:1/"}}}]},
    }
    apply(kube, namespace, template)
    wait_healthy(kube, namespace, "missing-template", timeout=20)

    # Fixing the problem lets the controller carry on: the selector now matches.
    apply(kube, namespace, rollout("mismatched", replicas=1, strategy={"canary": {}}))
    healthy = wait_healthy(kube, namespace, "mismatched")
    assert (condition(healthy, "InvalidSpec") or {"status": "False"})["status"] == "False", healthy
    assert controller.process is not None
    assert controller.process.poll() is None  # still running, never crashed
    assert status(kube, namespace, "fine")["phase"] == "Healthy"


def test_an_orphan_replica_set_of_the_template_under_another_hash_is_adopted(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    """A ReplicaSet another controller named with its own hash (no owner left, e.g. after a take-over whose hash
    function differs) is found by comparing templates as the API server stores them (one dry-run create) and
    adopted: its pods keep running and no ReplicaSet is created for the same template."""
    name = "orphaned"
    body = rollout(name, replicas=2, strategy={"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}})
    template = copy.deepcopy(body["spec"]["template"])
    template["metadata"]["labels"]["rollouts-pod-template-hash"] = "elsewhere"
    orphan = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": f"{name}-elsewhere", "labels": dict(template["metadata"]["labels"])},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}}, "template": template},
    }
    apply(kube, namespace, orphan)
    wait_for(
        lambda: replica_sets(kube, namespace, name).get("elsewhere", {}).get("available") == 2,
        timeout=30,
        what="the orphan's pods",
    )
    pods_before = sorted(p["metadata"]["uid"] for p in live_pods(kube, namespace, name))
    apply(kube, namespace, body)
    healthy = wait_healthy(kube, namespace, name)
    assert healthy["stableRS"] == "elsewhere"
    found = replica_sets(kube, namespace, name)
    assert set(found) == {"elsewhere"}
    assert found["elsewhere"]["owners"] == ["Rollout"]
    assert sorted(p["metadata"]["uid"] for p in live_pods(kube, namespace, name)) == pods_before
