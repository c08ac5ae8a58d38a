"""Blue-green on the real cluster: the controller pins the active/preview Services to pod-template hashes, switches
active on promotion (manual or after ``autoPromotionSeconds``) and scales the old version down only after
``scaleDownDelaySeconds``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.support.cluster import ControllerProcess, Kube, apply, wait_for
from tests.support.cluster_rollouts import (
    HASH_LABEL,
    kubectl_rollouts,
    replica_sets,
    rollout,
    service,
    service_selector,
    set_image,
    status,
    wait_healthy,
    wait_replicas,
    wait_status,
)

DEADLINE_ANNOTATION = "rollouts.dev/scale-down-deadline"


def _blue_green(kube: Kube, namespace: str, name: str, **strategy: Any) -> str:
    active, preview = f"{name}-active", f"{name}-preview"
    apply(kube, namespace, service(active, name), service(preview, name))
    blue_green = {"activeService": active, "previewService": preview, **strategy}
    apply(kube, namespace, rollout(name, replicas=2, strategy={"blueGreen": blue_green}))
    first = wait_healthy(kube, namespace, name)
    stable = str(first["stableRS"])
    wait_replicas(kube, namespace, name, {stable: 2})
    assert service_selector(kube, namespace, active) == {"app": name, HASH_LABEL: stable}
    assert first["blueGreen"]["activeSelector"] == stable
    return stable


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_manual_promotion_switches_active_and_scales_old_down_after_the_delay(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    name = "bg"
    active, preview = f"{name}-active", f"{name}-preview"
    blue = _blue_green(kube, namespace, name, autoPromotionEnabled=False, scaleDownDelaySeconds=3)

    set_image(kube, namespace, name, "demo:green")
    paused = wait_status(kube, namespace, name, what="BlueGreenPause", phase="Paused")
    green = str(paused["currentPodHash"])
    assert green != blue
    assert [c["reason"] for c in paused["pauseConditions"]] == ["BlueGreenPause"]
    wait_replicas(kube, namespace, name, {blue: 2, green: 2})
    # Preview shows the new version; active still serves the old one, and stays so while paused.
    assert service_selector(kube, namespace, preview) == {"app": name, HASH_LABEL: green}
    assert service_selector(kube, namespace, active) == {"app": name, HASH_LABEL: blue}
    assert paused["blueGreen"] == {**paused["blueGreen"], "activeSelector": blue, "previewSelector": green}

    kubectl_rollouts(kube, namespace, "promote", name)
    healthy = wait_healthy(kube, namespace, name)
    assert healthy["stableRS"] == green
    assert service_selector(kube, namespace, active) == {"app": name, HASH_LABEL: green}
    assert healthy["blueGreen"]["activeSelector"] == green

    # The old version keeps its pods until the deadline written on its ReplicaSet, then goes to 0.
    old = wait_for(
        lambda: (
            (rs := replica_sets(kube, namespace, name)[blue])["body"]["metadata"]["annotations"].get(
                DEADLINE_ANNOTATION
            )
            and rs
        ),
        timeout=10,
        what="a scale-down deadline on the old ReplicaSet",
    )
    deadline = _parse(old["body"]["metadata"]["annotations"][DEADLINE_ANNOTATION])
    switched = _parse(
        next(c for c in healthy["conditions"] if c["type"] == "Healthy" and c["status"] == "True")["lastTransitionTime"]
    )
    assert dt.timedelta(seconds=2) <= deadline - switched <= dt.timedelta(seconds=5), (deadline, switched)
    wait_replicas(kube, namespace, name, {blue: 0, green: 2}, timeout=20)
    # Scaled down no earlier than the deadline (the API server's clock and ours are the same machine's).
    assert dt.datetime.now(dt.UTC) >= deadline - dt.timedelta(seconds=1)


def test_auto_promotion_after_seconds(kube: Kube, namespace: str, controller: ControllerProcess) -> None:
    name = "auto"
    active = f"{name}-active"
    blue = _blue_green(kube, namespace, name, autoPromotionSeconds=2, scaleDownDelaySeconds=1)
    set_image(kube, namespace, name, "demo:green")
    paused = wait_status(kube, namespace, name, what="BlueGreenPause", phase="Paused")
    green = str(paused["currentPodHash"])
    assert service_selector(kube, namespace, active)[HASH_LABEL] == blue
    # No command: the pause ends after autoPromotionSeconds.
    healthy = wait_healthy(kube, namespace, name, timeout=20)
    assert healthy["stableRS"] == green
    assert service_selector(kube, namespace, active)[HASH_LABEL] == green
    wait_replicas(kube, namespace, name, {blue: 0, green: 2}, timeout=20)
    assert status(kube, namespace, name)["phase"] == "Healthy"
