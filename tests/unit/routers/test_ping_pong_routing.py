"""Istio host-level weights with ``pingPong``: the weight lands on whichever of ping/pong the status makes canary."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.core.observed import status_from
from rollouts.core.pingpong import with_roles
from rollouts.core.routing import RoutingSpec
from rollouts.core.spec import parse_rollout
from rollouts.routers.gateway import http_route_weights, weighted_http_route
from rollouts.routers.istio import virtual_service_weights, weighted_virtual_service


def ping_pong_rollout() -> dict[str, Any]:
    return {
        "metadata": {"name": "istio-host-split", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "istio-host-split"}},
            "template": {
                "metadata": {"labels": {"app": "istio-host-split"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.19-alpine"}]},
            },
            "strategy": {
                "canary": {
                    "pingPong": {"pingService": "ping", "pongService": "pong"},
                    "trafficRouting": {
                        "istio": {"virtualService": {"name": "istio-host-split-vsvc", "routes": ["primary"]}}
                    },
                    "steps": [{"setWeight": 25}, {"pause": {"duration": "5s"}}],
                }
            },
        },
    }


def virtual_service() -> dict[str, Any]:
    return {
        "metadata": {"name": "istio-host-split-vsvc", "namespace": "default"},
        "spec": {
            "hosts": ["istio-host-split"],
            "http": [
                {
                    "name": "primary",
                    "route": [
                        {"destination": {"host": "ping"}, "weight": 100},
                        {"destination": {"host": "pong.default.svc.cluster.local"}, "weight": 0},
                    ],
                }
            ],
        },
    }


def routing_for(status: dict[str, Any], **routing: Any) -> RoutingSpec:
    body = ping_pong_rollout()
    if routing:
        body["spec"]["strategy"]["canary"]["trafficRouting"] = routing
    spec = parse_rollout(body)
    assert spec.canary is not None
    routing = with_roles(spec.canary, status_from(status)).traffic_routing
    assert routing is not None
    return routing


def by_host(body: dict[str, Any]) -> dict[str, int]:
    return {d["destination"]["host"].split(".")[0]: d["weight"] for d in body["spec"]["http"][0]["route"]}


@pytest.mark.parametrize(
    ("status", "stable", "canary"),
    [
        ({"stableRS": "abc", "canary": {"stablePingPong": "ping"}}, "ping", "pong"),
        ({"stableRS": "abc", "canary": {"stablePingPong": "pong"}}, "pong", "ping"),
        ({"stableRS": "abc", "canary": {}}, "pong", "ping"),  # Argo's IsStablePing: an empty record is not ping
        ({}, "ping", "pong"),  # nothing stable yet: the first version lands on ping
    ],
)
def test_the_weight_goes_to_the_canary_side_the_status_names(status: dict[str, Any], stable: str, canary: str) -> None:
    routing = routing_for(status)
    assert (routing.stable_service, routing.canary_service) == (stable, canary)
    assert routing.istio is not None
    ref = routing.istio.virtual_services[0]
    after = weighted_virtual_service(virtual_service(), ref=ref, routing=routing, rule=None, weight=25)
    assert by_host(after) == {stable: 75, canary: 25}
    assert virtual_service_weights(after, ref=ref, routing=routing, rule=None) == [(75, 25)]


def test_the_same_virtual_service_reads_back_from_either_side() -> None:
    """After a promotion the canary side carries everything; once the record flips that is the stable's share."""
    before = routing_for({"stableRS": "abc", "canary": {"stablePingPong": "ping"}})
    assert before.istio is not None
    ref = before.istio.virtual_services[0]
    promoted = weighted_virtual_service(virtual_service(), ref=ref, routing=before, rule=None, weight=100)
    assert by_host(promoted) == {"ping": 0, "pong": 100}
    after = routing_for({"stableRS": "def", "canary": {"stablePingPong": "pong"}})
    assert virtual_service_weights(promoted, ref=ref, routing=after, rule=None) == [(100, 0)]
    assert weighted_virtual_service(promoted, ref=ref, routing=after, rule=None, weight=0) == promoted


def test_the_gateway_api_plugin_weights_the_canary_side_too() -> None:
    plugin = {"plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "web"}}}
    route = {
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "rules": [
                {
                    "backendRefs": [
                        {"kind": "Service", "name": "ping", "port": 80, "weight": 100},
                        {"kind": "Service", "name": "pong", "port": 80, "weight": 0},
                    ]
                }
            ]
        },
    }
    pong_stable = routing_for({"stableRS": "abc", "canary": {"stablePingPong": "pong"}}, **plugin)
    after = weighted_http_route(route, routing=pong_stable, weight=25)
    assert {r["name"]: r["weight"] for r in after["spec"]["rules"][0]["backendRefs"]} == {"ping": 25, "pong": 75}
    assert http_route_weights(after, routing=pong_stable) == [(75, 25)]
