"""The Gateway API router against the real API server and the PUBLISHED Gateway API CRDs."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from rollouts.core.errors import InvalidSpecError
from rollouts.core.routing import parse_managed_route
from rollouts.routers import Routers
from tests.support.cluster import Kube, get_custom
from tests.support.corpus import of_kind, rollouts_example
from tests.support.routing import GATEWAY, make_router, traffic


@pytest.fixture
def demo(namespace: str, routing_crds: list[str], apply_docs: Any) -> dict[str, Any]:
    """The corpus basic canary, routed through an HTTPRoute (the nginx example's Services)."""
    apply_docs(*rollouts_example("getting-started-nginx-services.yaml"))
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "demo-route"},
        "spec": {
            "parentRefs": [{"name": "demo-gateway"}],
            "hostnames": ["demo.local"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [
                        {"name": "rollouts-demo-stable", "port": 80},
                        {"name": "rollouts-demo-canary", "port": 80, "weight": 0},
                    ],
                },
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/static"}}],
                    "backendRefs": [{"name": "static", "port": 80}],
                },
            ],
        },
    }
    apply_docs(route)
    [rollout] = of_kind(rollouts_example("getting-started-nginx-rollout.yaml"), "Rollout")
    rollout["spec"]["strategy"]["canary"]["trafficRouting"] = {
        "managedRoutes": [{"name": "beta"}],
        "gatewayAPI": {"httpRoute": "demo-route", "useHeaderRoutes": True},
    }
    [created] = apply_docs(rollout)
    return created


def router(kube: Kube, rollout: dict[str, Any]) -> Routers:
    return make_router(kube, rollout)


def route_of(kube: Kube, namespace: str) -> dict[str, Any]:
    return get_custom(kube, namespace, "httproutes", "demo-route", api=GATEWAY)


def weights(route: dict[str, Any]) -> dict[str, int]:
    return {ref["name"]: ref["weight"] for ref in route["spec"]["rules"][-2]["backendRefs"]}


def test_whole_canary_with_header_route_and_promote_full(kube: Kube, namespace: str, demo: dict[str, Any]) -> None:
    r = router(kube, demo)
    r.set_weight(traffic(10, "h2", "h1"))
    assert weights(route_of(kube, namespace)) == {"rollouts-demo-stable": 90, "rollouts-demo-canary": 10}
    header = {"name": "beta", "match": [{"headerName": "X-Beta", "headerValue": {"exact": "yes"}}]}
    r.set_managed_route(parse_managed_route(kind="setHeaderRoute", name="beta", route=header, declared=["beta"]))
    route = route_of(kube, namespace)
    beta = route["spec"]["rules"][0]
    assert beta["name"] == "beta"
    assert beta["matches"][0]["headers"] == [{"type": "Exact", "name": "X-Beta", "value": "yes"}]
    assert [ref["name"] for ref in beta["backendRefs"]] == ["rollouts-demo-canary"]
    writes = r.writes
    r.set_weight(traffic(10, "h2", "h1"))
    assert r.writes == writes
    for weight in (50, 100):
        r.set_weight(traffic(weight, "h2", "h1"))
        assert weights(route_of(kube, namespace))["rollouts-demo-canary"] == weight
    r.set_weight(traffic(0, "h2", "h2", finished=True))
    route = route_of(kube, namespace)
    assert [rule.get("name") for rule in route["spec"]["rules"]] == [None, None]
    assert weights(route) == {"rollouts-demo-stable": 100, "rollouts-demo-canary": 0}
    assert route["spec"]["hostnames"] == ["demo.local"]


def test_hand_edit_is_put_back_and_abort_goes_to_stable(kube: Kube, namespace: str, demo: dict[str, Any]) -> None:
    r = router(kube, demo)
    r.set_weight(traffic(30, "h2", "h1"))
    route = route_of(kube, namespace)
    route["spec"]["rules"][0]["backendRefs"][1]["weight"] = 70
    client.CustomObjectsApi(kube.api_client).replace_namespaced_custom_object(
        *GATEWAY, namespace, "httproutes", "demo-route", route
    )
    assert r.weights() == (70,)  # read back: the drift is visible to the planner
    r.set_weight(traffic(30, "h2", "h1"))  # the next plan declares the same state again
    assert weights(route_of(kube, namespace)) == {"rollouts-demo-stable": 70, "rollouts-demo-canary": 30}
    r.set_weight(traffic(0, "h2", "h1", finished=True))  # aborted, back at 0
    assert weights(route_of(kube, namespace)) == {"rollouts-demo-stable": 100, "rollouts-demo-canary": 0}


def test_missing_route_is_a_clear_error(kube: Kube, namespace: str, demo: dict[str, Any]) -> None:
    demo["spec"]["strategy"]["canary"]["trafficRouting"]["gatewayAPI"]["httpRoute"] = "absent"
    with pytest.raises(InvalidSpecError) as caught:
        router(kube, demo).set_weight(traffic(10, "h2", "h1"))
    assert caught.value.message == f"HTTPRoute {namespace}/absent not found"
