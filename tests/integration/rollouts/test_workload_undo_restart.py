"""``workloadRef`` (the Rollout runs a Deployment's template), ``undo`` (back to an earlier revision) and ``restart``
(pods older than ``restartAt`` are replaced without breaking ``maxUnavailable``) on the real cluster."""

from __future__ import annotations

import time

import pytest
from kubernetes import client

from tests.support.cluster import ControllerProcess, Kube, apply, wait_for
from tests.support.cluster_rollouts import (
    HASH_LABEL,
    READY_DELAY,
    get_rollout,
    kubectl_rollouts,
    live_pods,
    replica_sets,
    rollout,
    set_image,
    wait_healthy,
    wait_replicas,
    wait_status,
)


def _deployment(name: str, image: str) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def test_workload_ref_takes_the_deployments_template_and_follows_its_edits(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    name = "ref"
    apply(kube, namespace, _deployment(name, "demo:blue"))
    body = rollout(name, replicas=3, strategy={"canary": {"steps": [{"setWeight": 34}, {"pause": {}}]}})
    del body["spec"]["template"], body["spec"]["selector"]
    body["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    apply(kube, namespace, body)
    blue = str(wait_healthy(kube, namespace, name)["stableRS"])
    rs = wait_replicas(kube, namespace, name, {blue: 3})[blue]
    assert rs["body"]["spec"]["template"]["spec"]["containers"][0]["image"] == "demo:blue"
    assert rs["owners"] == ["Rollout"]

    # Editing the Deployment is what starts an update (no resync wait: the controller watches the Deployment).
    kube.kubectl("set", "image", f"deployment/{name}", "app=demo:green", f"--namespace={namespace}")
    paused = wait_status(kube, namespace, name, what="canary of the edited Deployment", phase="Paused", timeout=20)
    green = str(paused["currentPodHash"])
    assert green != blue
    # 3 replicas at 34%: as Argo, the counts closest to the weight within the surge, 1 canary pod (33%) and 2 stable.
    rs = wait_replicas(kube, namespace, name, {blue: 2, green: 1})[green]
    assert rs["body"]["spec"]["template"]["spec"]["containers"][0]["image"] == "demo:green"
    kubectl_rollouts(kube, namespace, "promote", name)
    assert wait_healthy(kube, namespace, name)["stableRS"] == green
    wait_replicas(kube, namespace, name, {green: 3, blue: 0})
    # scaleDown unset means "never": the Deployment keeps the replicas it was given (0) and runs no pods itself.
    deployment = client.AppsV1Api(kube.api_client).read_namespaced_deployment(name, namespace)
    assert deployment.spec.replicas == 0


def test_set_image_and_undo_of_a_workload_ref_rollout_edit_its_deployment(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    # As Argo's plugin: the template lives in the Deployment, so that is what `set image` and `undo` write.
    name = "ref-cli"
    apply(kube, namespace, _deployment(name, "demo:blue"))
    body = rollout(name, replicas=2, strategy={"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}})
    del body["spec"]["template"], body["spec"]["selector"]
    body["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
    apply(kube, namespace, body)
    blue = str(wait_healthy(kube, namespace, name)["stableRS"])
    generation = get_rollout(kube, namespace, name)["metadata"]["generation"]
    apps = client.AppsV1Api(kube.api_client)

    def deployment_image() -> str:
        return str(apps.read_namespaced_deployment(name, namespace).spec.template.spec.containers[0].image)

    out = kubectl_rollouts(kube, namespace, "set", "image", name, "app=demo:green")
    assert out == f'deployment "{name}" image updated\n'
    assert deployment_image() == "demo:green"
    assert get_rollout(kube, namespace, name)["metadata"]["generation"] == generation  # the Rollout is untouched
    paused = wait_status(kube, namespace, name, what="canary of green", phase="Paused", timeout=20)
    green = str(paused["currentPodHash"])
    assert green != blue
    kubectl_rollouts(kube, namespace, "promote", name)
    kubectl_rollouts(kube, namespace, "status", name, "--timeout", "30s")  # exits 0 once Healthy
    assert get_rollout(kube, namespace, name)["status"]["stableRS"] == green

    out = kubectl_rollouts(kube, namespace, "undo", name)
    assert out == f"rollout '{name}' rolled back to revision 1 (deployment '{name}')\n"
    assert deployment_image() == "demo:blue"
    back = wait_status(kube, namespace, name, what="undo paused at step 1", phase="Paused", currentStepIndex=1)
    assert back["currentPodHash"] == blue  # the old ReplicaSet is reused, no new one
    owned = {pod_hash for pod_hash, rs in replica_sets(kube, namespace, name).items() if rs["owners"] == ["Rollout"]}
    assert owned == {blue, green}


def test_undo_goes_back_a_revision_and_undo_to_stable_skips_the_steps(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    name = "undo"
    steps = [{"setWeight": 50}, {"pause": {}}]
    apply(kube, namespace, rollout(name, replicas=2, strategy={"canary": {"steps": steps}}))
    blue = str(wait_healthy(kube, namespace, name)["stableRS"])
    green = set_image(kube, namespace, name, "demo:green")
    wait_status(kube, namespace, name, what="paused", phase="Paused", currentStepIndex=1)
    kubectl_rollouts(kube, namespace, "promote", name)
    assert wait_healthy(kube, namespace, name)["stableRS"] == green

    # Undo to the previous revision (blue, no longer stable): an update like any other, through the steps.
    out = kubectl_rollouts(kube, namespace, "undo", name)
    assert "revision 1" in out
    assert get_rollout(kube, namespace, name)["spec"]["template"]["spec"]["containers"][0]["image"] == "demo:blue"
    back = wait_status(kube, namespace, name, what="undo paused at step 1", phase="Paused", currentStepIndex=1)
    assert back["currentPodHash"] == blue  # the old ReplicaSet is reused, no new one
    wait_replicas(kube, namespace, name, {blue: 1, green: 1})
    kubectl_rollouts(kube, namespace, "promote", name)
    assert wait_healthy(kube, namespace, name)["stableRS"] == blue
    sets = wait_replicas(kube, namespace, name, {blue: 2, green: 0})
    assert set(sets) == {blue, green}
    assert sets[blue]["revision"] == "3"  # the rolled-back version becomes the newest revision

    # Mid-update, undo brings back the stable template: no steps to run, the canary goes away at once.
    red = set_image(kube, namespace, name, "demo:red")
    wait_status(kube, namespace, name, what="red paused", phase="Paused", currentStepIndex=1)
    kubectl_rollouts(kube, namespace, "undo", name)
    healthy = wait_healthy(kube, namespace, name)
    assert healthy["stableRS"] == blue
    assert healthy["currentPodHash"] == blue
    wait_replicas(kube, namespace, name, {blue: 2, red: 0})


def test_restart_replaces_old_pods_within_max_unavailable(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    name = "restart"
    strategy = {"canary": {"maxUnavailable": 1, "maxSurge": 0}}
    apply(kube, namespace, rollout(name, replicas=3, strategy=strategy, pod_annotations={READY_DELAY: "1s"}))
    stable = str(wait_healthy(kube, namespace, name)["stableRS"])
    wait_replicas(kube, namespace, name, {stable: 3})
    before = {p["metadata"]["name"] for p in live_pods(kube, namespace, name)}
    assert len(before) == 3
    time.sleep(1.1)  # creation timestamps have second precision: restartAt must be strictly later

    kubectl_rollouts(kube, namespace, "restart", name)
    lowest_ready = 3

    def all_replaced() -> bool:
        nonlocal lowest_ready
        pods = live_pods(kube, namespace, name)
        ready = sum(
            1
            for p in pods
            if any(
                c["type"] == "Ready" and c["status"] == "True" for c in (p.get("status") or {}).get("conditions", [])
            )
        )
        lowest_ready = min(lowest_ready, ready)
        names = {p["metadata"]["name"] for p in pods}
        return len(names) == 3 and not names & before and ready == 3

    wait_for(all_replaced, timeout=40, interval=0.1, what="every pod replaced by a newer one")
    # maxUnavailable 1: at no sampled moment were fewer than 2 pods ready.
    assert lowest_ready >= 2, lowest_ready
    done = wait_status(kube, namespace, name, what="restartedAt recorded", phase="Healthy")
    assert done.get("restartedAt"), done
    assert {p["metadata"]["labels"][HASH_LABEL] for p in live_pods(kube, namespace, name)} == {stable}
    assert set(replica_sets(kube, namespace, name)) == {stable}  # a restart is not an update


@pytest.mark.parametrize("mode", ["onsuccess", "progressively"])
def test_workload_ref_scale_down_hands_the_deployments_capacity_to_the_rollout(
    kube: Kube, namespace: str, controller: ControllerProcess, mode: str
) -> None:
    name = f"legacy-{mode}"
    deployment = _deployment(name, "demo:blue")
    deployment["spec"]["replicas"] = 3  # type: ignore[index]
    apply(kube, namespace, deployment)
    apps = client.AppsV1Api(kube.api_client)
    wait_for(
        lambda: (apps.read_namespaced_deployment(name, namespace).status.available_replicas or 0) == 3,
        what="the Deployment's own pods",
    )
    body = rollout(name, replicas=3, strategy={"canary": {"steps": []}})
    del body["spec"]["template"], body["spec"]["selector"]
    body["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "scaleDown": mode}
    apply(kube, namespace, body)
    stable = str(wait_healthy(kube, namespace, name)["stableRS"])
    wait_replicas(kube, namespace, name, {stable: 3})
    wait_for(
        lambda: apps.read_namespaced_deployment(name, namespace).spec.replicas == 0, what=f"{mode}: Deployment at 0"
    )
