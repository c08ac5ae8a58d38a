"""``maxTrafficWeight`` and ``minPodsPerReplicaSet``, replaying Argo's semantics.

In Argo every weight of a routed canary counts in units of ``trafficRouting.maxTrafficWeight`` (100 without it):
``setWeight: 5`` with ``maxTrafficWeight: 1000`` sends 0.5% of the traffic, the canary gets
``ceil(replicas * 5 / 1000)`` pods (``trafficWeightToReplicas``), the stable weight is ``1000 - 5``, a finished update
is at weight 1000, and every router writes in those units (nginx announces ``canary-weight-total``; Istio and Gateway
API weights are relative, so the stable gets ``total - weight``). ``minPodsPerReplicaSet`` raises a non-empty canary
(and, with ``dynamicStableScale``, the stable) to at least that many pods, capped at ``spec.replicas``
(``CheckMinPodsPerReplicaSet``).
"""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.core import SetTrafficWeight
from rollouts.core.replicas import ceil_share, lowest_servable_canary_weight, servable_weight, with_min_pods
from rollouts.core.simulate import SimCluster
from rollouts.routers.gateway import http_route_weights, weighted_http_route
from rollouts.routers.istio import virtual_service_weights, weighted_virtual_service
from tests.support.rollouts import canary_spec, deployed, settle
from tests.support.routing import http_route, rollout, routing_of, virtual_service

ROUTER = {"nginx": {"stableIngress": "ingress"}}


def by_hash(sim: SimCluster) -> dict[str, int]:
    return {rs.pod_hash: rs.replicas for rs in sim.replica_sets.values()}


def routed(image: str, steps: list[dict[str, Any]], **options: Any) -> Any:
    routing = {**ROUTER, **options.pop("routing", {})}
    return canary_spec(image, steps=steps, trafficRouting=routing, **options)


def test_set_weight_counts_in_units_of_max_traffic_weight() -> None:
    steps = [{"setWeight": 5}, {"pause": {}}]
    spec = routed("v2", steps, routing={"maxTrafficWeight": 1000})
    sim = deployed(routed("v1", steps, routing={"maxTrafficWeight": 1000}))
    done = settle(sim, spec)
    new = done.status["currentPodHash"]
    assert by_hash(sim)[new] == 1  # ceil(10 * 5 / 1000): 0.5% of the traffic still needs one pod
    assert sim.router_weight == 5  # 5 of 1000, not 5%
    weights = done.status["canary"]["weights"]
    assert (weights["canary"]["weight"], weights["stable"]["weight"]) == (5, 995)
    assert sim.status["phase"] == "Paused"
    sim.promote()
    finished = settle(sim, spec)
    assert finished.status["stableRS"] == new
    assert by_hash(sim)[new] == 10
    assert sim.router_weight == 0  # handed over: everything goes through the stable Service again


def test_a_weight_of_max_traffic_weight_is_all_the_traffic() -> None:
    steps = [{"setWeight": 500}, {"pause": {}}, {"setWeight": 1000}, {"pause": {}}]
    spec = routed("v2", steps, routing={"maxTrafficWeight": 1000})
    sim = deployed(routed("v1", steps, routing={"maxTrafficWeight": 1000}))
    settle(sim, spec)
    new = sim.status["currentPodHash"]
    assert (sim.router_weight, by_hash(sim)[new]) == (500, 5)
    sim.promote()
    settle(sim, spec)
    assert (sim.router_weight, by_hash(sim)[new]) == (1000, 10)
    assert sim.status["canary"]["weights"]["stable"]["weight"] == 0


def test_set_canary_scale_weight_counts_in_the_same_units() -> None:
    steps = [{"setCanaryScale": {"weight": 250}}, {"setWeight": 5}, {"pause": {}}]
    spec = routed("v2", steps, routing={"maxTrafficWeight": 1000})
    sim = deployed(routed("v1", steps, routing={"maxTrafficWeight": 1000}))
    settle(sim, spec)
    assert by_hash(sim)[sim.status["currentPodHash"]] == 3  # ceil(10 * 250 / 1000)
    assert sim.router_weight == 5


def test_min_pods_per_replica_set_raises_a_small_canary() -> None:
    steps = [{"setWeight": 5}, {"pause": {}}]
    spec = routed("v2", steps, minPodsPerReplicaSet=2)
    sim = deployed(routed("v1", steps, minPodsPerReplicaSet=2))
    settle(sim, spec)
    assert by_hash(sim)[sim.status["currentPodHash"]] == 2  # 5% of 10 is 1 pod; at least 2
    assert sim.router_weight == 5


def test_min_pods_per_replica_set_keeps_a_dynamically_scaled_stable() -> None:
    steps = [{"setWeight": 95}, {"pause": {}}]
    spec = routed("v2", steps, minPodsPerReplicaSet=3, dynamicStableScale=True)
    sim = deployed(routed("v1", steps, minPodsPerReplicaSet=3, dynamicStableScale=True))
    stable = sim.status["stableRS"]
    settle(sim, spec, ticks=30)
    assert sim.router_weight == 95
    assert by_hash(sim)[stable] == 3  # ceil(10 * 5%) is 1; the stable keeps 3


def test_every_plan_declares_the_weight_in_the_rollouts_units() -> None:
    steps = [{"setWeight": 7}, {"pause": {}}]
    spec = routed("v2", steps, routing={"maxTrafficWeight": 1000})
    sim = deployed(routed("v1", steps, routing={"maxTrafficWeight": 1000}))
    decided = settle(sim, spec)
    assert [a.weight for a in decided.of_type(SetTrafficWeight)] == [7]


@pytest.mark.parametrize(
    ("args", "expected"),
    [((10, 25, 100), 3), ((10, 5, 1000), 1), ((10, 0, 1000), 0), ((10, 1000, 1000), 10), ((3, 1, 3), 1)],
)
def test_ceil_share(args: tuple[int, int, int], expected: int) -> None:
    assert ceil_share(*args) == expected


@pytest.mark.parametrize(
    ("count", "min_pods", "replicas", "expected"),
    [(1, 2, 10, 2), (0, 2, 10, 0), (1, 5, 3, 3), (4, 2, 10, 4), (1, None, 10, 1)],
)
def test_with_min_pods_as_argo_checks_min_pods_per_replica_set(
    count: int, min_pods: int | None, replicas: int, expected: int
) -> None:
    assert with_min_pods(count, min_pods=min_pods, replicas=replicas) == expected


@pytest.mark.parametrize("total", [100, 1000, 7, 100_000])
@pytest.mark.parametrize("replicas", [1, 3, 10])
def test_the_lowest_servable_weight_is_what_a_scan_would_find(total: int, replicas: int) -> None:
    for available in range(replicas + 1):
        for target in (0, total // 3):
            scan = next(
                (
                    w
                    for w in range(target, total + 1)
                    if servable_weight(replicas=replicas, available=available, wanted=total - w, max_weight=total)
                ),
                total,
            )
            found = lowest_servable_canary_weight(
                replicas=replicas, stable_available=available, target=target, max_weight=total
            )
            assert found == scan


def test_istio_and_gateway_weights_add_up_to_max_traffic_weight() -> None:
    istio = routing_of(
        rollout({"maxTrafficWeight": 1000, "istio": {"virtualService": {"name": "web-vsvc", "routes": ["primary"]}}})
    )
    assert istio is not None
    assert istio.istio is not None
    ref = istio.istio.virtual_services[0]
    body = weighted_virtual_service(virtual_service(), ref=ref, routing=istio, rule=None, weight=5)
    assert virtual_service_weights(body, ref=ref, routing=istio, rule=None) == [(995, 5)]
    gateway = routing_of(rollout({"maxTrafficWeight": 1000, "gatewayAPI": {"httpRoute": "web-route"}}))
    assert gateway is not None
    route = weighted_http_route(http_route(), routing=gateway, weight=5)
    assert http_route_weights(route, routing=gateway) == [(995, 5)]
