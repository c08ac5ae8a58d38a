"""Routed canaries end to end: the real controller moves real traffic objects as the steps advance.

Each test runs ``rollouts controller`` against the local cluster with the published Istio/Gateway API CRDs, deploys
a Rollout whose ``trafficRouting`` names an nginx Ingress, an ALB Ingress, an Istio VirtualService or a Gateway API
HTTPRoute, and follows a whole update: weights at each step, promotion, abort, and cleanup.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.cluster import ControllerProcess, Kube, apply, get_custom, ingress, wait_for
from tests.support.cluster_rollouts import (
    kubectl_rollouts,
    rollout,
    service,
    service_selector,
    set_image,
    status,
    wait_healthy,
    wait_status,
)
from tests.support.corpus import of_kind, rollouts_example
from tests.support.routing import GATEWAY, ISTIO, alb_ingress


def _nginx_weight(kube: Kube, namespace: str, name: str) -> str | None:
    body = ingress(kube, namespace, name)
    return (
        None
        if body is None
        else (body["metadata"].get("annotations") or {}).get("nginx.ingress.kubernetes.io/canary-weight")
    )


def test_nginx_corpus_canary_moves_the_canary_ingress_and_cleans_up(
    kube: Kube, namespace: str, routing_crds: list[str], controller: ControllerProcess
) -> None:
    docs = [
        *rollouts_example("getting-started-nginx-services.yaml"),
        *rollouts_example("getting-started-nginx-ingress.yaml"),
        *rollouts_example("getting-started-nginx-rollout.yaml"),
    ]
    apply(kube, namespace, *docs)
    name = of_kind(docs, "Rollout")[0]["metadata"]["name"]
    wait_healthy(kube, namespace, name)
    canary_ingress = f"{name}-rollouts-demo-stable-canary"
    new_hash = set_image(kube, namespace, name, "argoproj/rollouts-demo:yellow", container="rollouts-demo")
    wait_status(kube, namespace, name, what="paused at the 5% step", phase="Paused", currentStepIndex=1)
    assert wait_for(lambda: _nginx_weight(kube, namespace, canary_ingress) == "5", what="canary-weight 5")
    body = ingress(kube, namespace, canary_ingress)
    assert body is not None
    annotations = body["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/canary"] == "true"
    backends = {p["backend"]["service"]["name"] for r in body["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends == {"rollouts-demo-canary"}
    assert body["metadata"]["ownerReferences"][0]["kind"] == "Rollout"
    assert service_selector(kube, namespace, "rollouts-demo-canary")["rollouts-pod-template-hash"] == new_hash

    kubectl_rollouts(kube, namespace, "promote", name)
    wait_healthy(kube, namespace, name)
    assert service_selector(kube, namespace, "rollouts-demo-stable")["rollouts-pod-template-hash"] == new_hash
    # The update is over: the canary Ingress goes away.
    assert wait_for(lambda: ingress(kube, namespace, canary_ingress) is None, what="canary Ingress removed")


def _alb_state(kube: Kube, namespace: str) -> tuple[dict[str, int], list[str]]:
    """The ALB action's target-group weights and the backends of the Ingress's first rule, in order."""
    body = ingress(kube, namespace, "web-alb")
    assert body is not None
    action = (body["metadata"].get("annotations") or {}).get("alb.ingress.kubernetes.io/actions.web-root")
    groups = json.loads(action)["ForwardConfig"]["TargetGroups"] if action else []
    paths = body["spec"]["rules"][0]["http"]["paths"]
    return {g["ServiceName"]: g["Weight"] for g in groups}, [p["backend"]["service"]["name"] for p in paths]


def test_alb_canary_writes_the_action_annotation_with_a_header_route_and_cleans_up(
    kube: Kube, namespace: str, routing_crds: list[str], controller: ControllerProcess
) -> None:
    """Argo's TestAlbHeaderRoute, on our controller: weights and the header route in the Ingress's annotations."""
    strategy = {
        "canary": {
            "canaryService": "web-canary",
            "stableService": "web-stable",
            "scaleDownDelaySeconds": 5,
            "trafficRouting": {
                "managedRoutes": [{"name": "header-route"}],
                "alb": {"ingress": "web-alb", "rootService": "web-root", "servicePort": 80},
            },
            "steps": [
                {"setWeight": 20},
                {"pause": {}},
                {
                    "setHeaderRoute": {
                        "name": "header-route",
                        "match": [{"headerName": "Custom-Header", "headerValue": {"exact": "Mozilla*"}}],
                    }
                },
                {"pause": {}},
                {"setHeaderRoute": {"name": "header-route"}},
                {"pause": {}},
            ],
        }
    }
    ingress_doc = alb_ingress(name="web-alb", action_service="web-root", namespace=namespace)
    apply(kube, namespace, service("web-stable", "web"), service("web-canary", "web"), ingress_doc)
    apply(kube, namespace, rollout("web", strategy=strategy, replicas=4))
    wait_healthy(kube, namespace, "web")
    stable_only = ({"web-canary": 0, "web-stable": 100}, ["web-root", "static"])
    assert wait_for(lambda: _alb_state(kube, namespace) == stable_only, what="the action at 0/100 once healthy")

    set_image(kube, namespace, "web", "web:2")
    wait_status(kube, namespace, "web", what="paused at 20%", phase="Paused", currentStepIndex=1)
    at_20 = {"web-canary": 20, "web-stable": 80}
    assert wait_for(lambda: _alb_state(kube, namespace) == (at_20, ["web-root", "static"]), what="20/80")
    kubectl_rollouts(kube, namespace, "promote", "web")
    wait_status(kube, namespace, "web", what="paused after the header route", phase="Paused", currentStepIndex=3)
    routed = (at_20, ["header-route", "web-root", "static"])
    assert wait_for(lambda: _alb_state(kube, namespace) == routed, what="the header route's path first")
    kubectl_rollouts(kube, namespace, "promote", "web")
    wait_status(kube, namespace, "web", what="paused after the route's removal", phase="Paused", currentStepIndex=5)
    assert wait_for(lambda: _alb_state(kube, namespace) == (at_20, ["web-root", "static"]), what="route removed")
    kubectl_rollouts(kube, namespace, "promote", "web")
    wait_healthy(kube, namespace, "web")
    assert wait_for(lambda: _alb_state(kube, namespace) == stable_only, what="0/100 after the promotion")


def _route_weights(kube: Kube, namespace: str) -> dict[str, int]:
    route = get_custom(kube, namespace, "httproutes", "web", api=GATEWAY)
    refs = route["spec"]["rules"][0]["backendRefs"]
    return {ref["name"]: int(ref.get("weight", 1)) for ref in refs}


def _http_route(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "parentRefs": [{"name": "edge"}],
            "rules": [
                {
                    "backendRefs": [
                        {"name": "web-stable", "port": 80, "weight": 100},
                        {"name": "web-canary", "port": 80, "weight": 0},
                    ]
                }
            ],
        },
    }


def test_gateway_api_canary_weights_follow_the_steps_and_abort_sends_everything_to_stable(
    kube: Kube, namespace: str, routing_crds: list[str], controller: ControllerProcess
) -> None:
    strategy = {
        "canary": {
            "canaryService": "web-canary",
            "stableService": "web-stable",
            "trafficRouting": {"gatewayAPI": {"httpRoute": "web"}},
            "steps": [{"setWeight": 30}, {"pause": {}}, {"setWeight": 60}, {"pause": {}}],
        }
    }
    apply(kube, namespace, service("web-stable", "web"), service("web-canary", "web"), _http_route(namespace))
    apply(kube, namespace, rollout("web", strategy=strategy, replicas=4))
    wait_healthy(kube, namespace, "web")
    assert _route_weights(kube, namespace) == {"web-stable": 100, "web-canary": 0}

    set_image(kube, namespace, "web", "web:2")
    wait_status(kube, namespace, "web", what="paused at 30%", phase="Paused", currentStepIndex=1)
    assert wait_for(lambda: _route_weights(kube, namespace) == {"web-stable": 70, "web-canary": 30}, what="30/70")
    kubectl_rollouts(kube, namespace, "promote", "web")
    wait_status(kube, namespace, "web", what="paused at 60%", phase="Paused", currentStepIndex=3)
    assert wait_for(lambda: _route_weights(kube, namespace) == {"web-stable": 40, "web-canary": 60}, what="60/40")
    kubectl_rollouts(kube, namespace, "promote", "web")
    wait_healthy(kube, namespace, "web")
    # Full promotion: stable switched to the new pods first, then the weight went back.
    assert wait_for(lambda: _route_weights(kube, namespace) == {"web-stable": 100, "web-canary": 0}, what="100/0")

    bad = set_image(kube, namespace, "web", "web:3-bad")
    wait_status(kube, namespace, "web", what="paused at 30%", phase="Paused", currentStepIndex=1)
    assert wait_for(lambda: _route_weights(kube, namespace)["web-canary"] == 30, what="canary at 30%")
    kubectl_rollouts(kube, namespace, "abort", "web")
    wait_status(kube, namespace, "web", what="aborted", phase="Degraded")
    assert wait_for(lambda: _route_weights(kube, namespace) == {"web-stable": 100, "web-canary": 0}, what="abort 100/0")
    assert service_selector(kube, namespace, "web-stable")["rollouts-pod-template-hash"] != bad
    assert status(kube, namespace, "web")["stableRS"] != bad


def _istio_weights(kube: Kube, namespace: str, name: str) -> dict[str, int]:
    vs = get_custom(kube, namespace, "virtualservices", name, api=ISTIO)
    route = vs["spec"]["http"][0]["route"]
    return {r["destination"]["host"]: int(r.get("weight", 0)) for r in route}


def test_istio_corpus_canary_splits_the_virtual_service(
    kube: Kube, namespace: str, routing_crds: list[str], controller: ControllerProcess
) -> None:
    docs = [
        *rollouts_example("getting-started-istio-services.yaml"),
        *rollouts_example("getting-started-istio-multipleVirtualsvc.yaml"),
        *rollouts_example("getting-started-istio-rollout.yaml"),
    ]
    apply(kube, namespace, *[d for d in docs if d["kind"] != "Gateway"])
    name = of_kind(docs, "Rollout")[0]["metadata"]["name"]
    wait_healthy(kube, namespace, name)
    container = of_kind(docs, "Rollout")[0]["spec"]["template"]["spec"]["containers"][0]["name"]
    set_image(kube, namespace, name, "argoproj/rollouts-demo:yellow", container=container)
    wait_status(kube, namespace, name, what="paused at the first step", phase="Paused", currentStepIndex=1)
    first = of_kind(docs, "Rollout")[0]["spec"]["strategy"]["canary"]["steps"][0]["setWeight"]
    split = {"rollouts-demo-stable": 100 - first, "rollouts-demo-canary": first}
    for vs_name in ("rollouts-demo-vsvc1", "rollouts-demo-vsvc2"):  # both VirtualServices the Rollout names
        assert wait_for(lambda n=vs_name: _istio_weights(kube, namespace, n) == split, what=f"{vs_name} at {first}%")
    kubectl_rollouts(kube, namespace, "promote", name, "--full")
    wait_healthy(kube, namespace, name, timeout=60)
    back = {"rollouts-demo-stable": 100, "rollouts-demo-canary": 0}
    for vs_name in ("rollouts-demo-vsvc1", "rollouts-demo-vsvc2"):
        assert wait_for(lambda n=vs_name: _istio_weights(kube, namespace, n) == back, what=f"{vs_name} back to stable")
