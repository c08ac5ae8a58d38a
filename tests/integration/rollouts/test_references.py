"""References checked on every reconcile, the first deploy included, as Argo does: a Rollout with a typo in a name it
references is InvalidSpec with the field path and a Warning Event (not Healthy), and creating the missing object makes
it proceed to Healthy without any other touch (the object's watch wakes the Rollouts that name it)."""

from __future__ import annotations

from typing import Any

from tests.support.cluster import ControllerProcess, Kube, apply, event_reasons, wait_for
from tests.support.cluster_rollouts import (
    analysis_runs,
    condition,
    replica_sets,
    rollout,
    service,
    status,
    wait_healthy,
    wait_status,
)

ROUTING = "spec.strategy.canary.trafficRouting"


def _invalid_at(kube: Kube, namespace: str, name: str, *paths: str) -> dict[str, Any]:
    """Wait until ``name`` is InvalidSpec naming every path; nothing created for it, a Warning Event posted."""
    degraded = wait_status(kube, namespace, name, what="InvalidSpec", phase="Degraded")
    cond = condition(degraded, "InvalidSpec")
    assert cond is not None, degraded
    assert (cond["status"], cond["reason"]) == ("True", "InvalidSpec"), cond
    for path in paths:
        assert path in cond["message"], cond
    assert replica_sets(kube, namespace, name) == {}
    wait_for(lambda: "InvalidSpec" in event_reasons(kube, namespace, name), timeout=10, what="Warning Event")
    return cond


def _ingress(name: str, backend: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name},
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "web.example",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": backend, "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def test_a_typo_in_any_reference_is_invalid_spec_until_the_object_exists(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    analysis_step = rollout(
        "step-template",
        replicas=1,
        strategy={"canary": {"steps": [{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "typo"}]}}]}},
    )
    routed = rollout(
        "routed",
        replicas=1,
        strategy={
            "canary": {
                "canaryService": "routed-canary",
                "stableService": "routed-stable",
                "trafficRouting": {"nginx": {"stableIngress": "routed-ingress"}},
                "steps": [{"setWeight": 20}, {"pause": {}}],
            }
        },
    )
    blue_green = rollout("bg", replicas=1, strategy={"blueGreen": {"activeService": "bg-active"}})
    apply(kube, namespace, analysis_step, routed, blue_green)

    # Each is refused on its first deploy, naming the field with the typo (every one of them, not only the first).
    cond = _invalid_at(
        kube, namespace, "step-template", "spec.strategy.canary.steps[1].analysis.templates[0].templateName"
    )
    assert "AnalysisTemplate 'typo' not found" in cond["message"], cond
    assert analysis_runs(kube, namespace, "step-template") == []
    cond = _invalid_at(
        kube,
        namespace,
        "routed",
        "spec.strategy.canary.stableService",
        "spec.strategy.canary.canaryService",
        f"{ROUTING}.nginx.stableIngress",
    )
    assert 'service "routed-stable" not found' in cond["message"], cond
    assert 'ingress.networking.k8s.io "routed-ingress" not found' in cond["message"], cond
    cond = _invalid_at(kube, namespace, "bg", "spec.strategy.blueGreen.activeService")
    assert 'service "bg-active" not found' in cond["message"], cond

    # Creating the missing objects is all it takes.
    template = {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "typo"},
        "spec": {"metrics": [{"name": "ok", "provider": {"web": {"url": "http://127.0.0.1:1/"}}}]},
    }
    apply(kube, namespace, template, service("bg-active", "bg"))
    wait_healthy(kube, namespace, "step-template", timeout=20)
    wait_healthy(kube, namespace, "bg", timeout=20)

    # The routed canary: its Services first (still invalid: the Ingress is missing, and the message says only that),
    # then an Ingress that does not route to the stable Service, then one that does.
    apply(kube, namespace, service("routed-stable", "routed"), service("routed-canary", "routed"))
    wait_for(
        lambda: "service" not in (condition(status(kube, namespace, "routed"), "InvalidSpec") or {}).get("message", ""),
        timeout=20,
        what="Services found",
    )
    apply(kube, namespace, _ingress("routed-ingress", "elsewhere"))
    wait_for(
        lambda: (
            "has no rules using service routed-stable backend"
            in (condition(status(kube, namespace, "routed"), "InvalidSpec") or {}).get("message", "")
        ),
        timeout=20,
        what="Ingress without the stable backend reported",
    )
    apply(kube, namespace, _ingress("routed-ingress", "routed-stable"))
    healthy = wait_healthy(kube, namespace, "routed", timeout=20)
    assert condition(healthy, "InvalidSpec") is None, healthy
    assert controller.process is not None
    assert controller.process.poll() is None
