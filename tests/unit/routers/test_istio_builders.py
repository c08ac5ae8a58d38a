"""Istio: destination weights (host- and subset-level), DestinationRule hashes, managed header/mirror routes."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.core.errors import InvalidSpecError
from rollouts.core.routing import ManagedRoute, RoutingSpec, parse_managed_route
from rollouts.routers.istio import (
    desired_destination_rule,
    virtual_service_weights,
    weighted_virtual_service,
    with_managed_route,
    without_managed_routes,
)
from tests.support.corpus import corpus_object
from tests.support.routing import destination_rule, rollout, routing_of, virtual_service

HEADER = {"name": "beta", "match": [{"headerName": "x-beta", "headerValue": {"exact": "yes"}}]}
MIRROR = {"name": "mirror", "percentage": 35, "match": [{"method": {"exact": "POST"}, "path": {"prefix": "/color"}}]}


def host_routing(**istio: Any) -> RoutingSpec:
    routing = routing_of(
        rollout(
            {
                "managedRoutes": [{"name": "beta"}, {"name": "mirror"}],
                "istio": {"virtualService": {"name": "web-vsvc", "routes": ["primary"]}, **istio},
            }
        )
    )
    assert routing is not None
    return routing


def subset_routing() -> RoutingSpec:
    return host_routing(
        destinationRule={"name": "web-destrule", "canarySubsetName": "canary", "stableSubsetName": "stable"}
    )


def weigh(routing: RoutingSpec, current: dict[str, Any], weight: int) -> dict[str, Any]:
    assert routing.istio is not None
    ref, rule = routing.istio.virtual_services[0], routing.istio.destination_rule
    return weighted_virtual_service(current, ref=ref, routing=routing, rule=rule, weight=weight)


def weights(routing: RoutingSpec, body: dict[str, Any]) -> list[tuple[int, int]]:
    assert routing.istio is not None
    ref, rule = routing.istio.virtual_services[0], routing.istio.destination_rule
    return virtual_service_weights(body, ref=ref, routing=routing, rule=rule)


def managed(routing: RoutingSpec, current: dict[str, Any], route: ManagedRoute) -> dict[str, Any]:
    assert routing.istio is not None
    ref, rule = routing.istio.virtual_services[0], routing.istio.destination_rule
    return with_managed_route(current, ref=ref, routing=routing, rule=rule, route=route)


def step(kind: str, payload: dict[str, Any], routing: RoutingSpec) -> ManagedRoute:
    return parse_managed_route(kind=kind, name=payload["name"], route=payload, declared=routing.managed_routes)


def test_host_level_split_sets_both_weights_and_nothing_else() -> None:
    routing = host_routing()
    before = virtual_service()
    after = weigh(routing, before, 30)
    assert weights(routing, after) == [(70, 30)]
    assert after["spec"]["http"][1] == before["spec"]["http"][1]  # the route we were not asked about
    assert after["metadata"] == before["metadata"]
    assert before == virtual_service()  # the input is not modified


def test_subset_level_split_and_destination_rule_hashes() -> None:
    routing = subset_routing()
    after = weigh(routing, virtual_service(subsets=True), 10)
    assert weights(routing, after) == [(90, 10)]
    assert routing.istio is not None
    assert routing.istio.destination_rule is not None
    rule = desired_destination_rule(
        destination_rule(), rule=routing.istio.destination_rule, canary_hash="new", stable_hash="old"
    )
    subsets = {s["name"]: s["labels"] for s in rule["spec"]["subsets"]}
    assert subsets == {
        "stable": {"app": "web", "rollouts-pod-template-hash": "old"},
        "canary": {"app": "web", "rollouts-pod-template-hash": "new"},
    }
    assert rule["spec"]["trafficPolicy"] == destination_rule()["spec"]["trafficPolicy"]


def test_destination_rule_without_the_named_subset_is_invalid() -> None:
    routing = subset_routing()
    assert routing.istio is not None
    assert routing.istio.destination_rule is not None
    rule = destination_rule()
    rule["spec"]["subsets"].pop()
    with pytest.raises(InvalidSpecError, match="no subset named 'canary'"):
        desired_destination_rule(rule, rule=routing.istio.destination_rule, canary_hash="a", stable_hash="b")


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda vs: vs["spec"]["http"][0].update(name="renamed"), "no HTTP route named 'primary'"),
        (lambda vs: vs["spec"]["http"][0]["route"].pop(), "needs both a stable and a canary destination"),
    ],
)
def test_routes_that_cannot_split_are_invalid(change: Any, fragment: str) -> None:
    vs = virtual_service()
    change(vs)
    with pytest.raises(InvalidSpecError, match=fragment):
        weigh(host_routing(), vs, 10)


def test_unnamed_single_route_is_used_when_no_route_is_named() -> None:
    routing = routing_of(rollout({"istio": {"virtualService": {"name": "web-vsvc"}}}))
    assert routing is not None
    vs = virtual_service(extra_route=False)
    del vs["spec"]["http"][0]["name"]
    assert weights(routing, weigh(routing, vs, 40)) == [(60, 40)]
    with pytest.raises(InvalidSpecError, match="2 HTTP routes"):
        weigh(routing, virtual_service(), 40)


def test_tls_and_tcp_routes() -> None:
    docs = corpus_object("getting-started-istio-multipleVirtualsvc.yaml", "VirtualService", "rollouts-demo-vsvc1")
    body = rollout(
        {
            "istio": {
                "virtualService": {
                    "name": "rollouts-demo-vsvc1",
                    "routes": ["primary"],
                    "tlsRoutes": [{"port": 3000, "sniHosts": ["reviews.bookinfo.com", "localhost"]}],
                }
            }
        },
    )
    body["spec"]["strategy"]["canary"].update(
        stableService="rollouts-demo-stable", canaryService="rollouts-demo-canary"
    )
    routing = routing_of(body)
    assert routing is not None
    after = weigh(routing, docs, 25)
    assert [d["weight"] for d in after["spec"]["http"][0]["route"]] == [75, 25]
    assert [d["weight"] for d in after["spec"]["tls"][0]["route"]] == [75, 25]
    vs = virtual_service()
    vs["spec"]["tcp"] = [{"match": [{"port": 5432}], "route": copy.deepcopy(vs["spec"]["http"][0]["route"])}]
    tcp_routing = host_routing()
    assert tcp_routing.istio is not None
    ref = tcp_routing.istio.virtual_services[0]
    tcp_ref = type(ref)(name=ref.name, namespace=ref.namespace, tcp_ports=(5432,), path=ref.path)
    tcp_after = weighted_virtual_service(vs, ref=tcp_ref, routing=tcp_routing, rule=None, weight=60)
    assert [d["weight"] for d in tcp_after["spec"]["tcp"][0]["route"]] == [40, 60]
    assert tcp_after["spec"]["http"] == vs["spec"]["http"]


def test_header_route_goes_first_and_sends_everything_to_the_canary() -> None:
    routing = host_routing()
    after = managed(routing, weigh(routing, virtual_service(), 10), step("setHeaderRoute", HEADER, routing))
    names = [r.get("name") for r in after["spec"]["http"]]
    assert names == ["beta", "primary", "static"]
    beta = after["spec"]["http"][0]
    assert beta["match"] == [{"headers": {"x-beta": {"exact": "yes"}}}]
    assert beta["route"] == [{"destination": {"host": "web-canary", "port": {"number": 80}}, "weight": 100}]
    reweighed = weigh(routing, after, 50)
    assert reweighed["spec"]["http"][0] == beta  # weights never touch a header route
    assert weights(routing, reweighed) == [(50, 50)]


def test_mirror_route_splits_like_the_primary_and_follows_the_weight() -> None:
    routing = subset_routing()
    vs = weigh(routing, virtual_service(subsets=True), 20)
    with_header = managed(routing, vs, step("setHeaderRoute", HEADER, routing))
    after = managed(routing, with_header, step("setMirrorRoute", MIRROR, routing))
    assert [r.get("name") for r in after["spec"]["http"]] == ["beta", "mirror", "primary", "static"]  # declared order
    mirror = after["spec"]["http"][1]
    assert mirror["match"] == [{"method": {"exact": "POST"}, "uri": {"prefix": "/color"}}]
    assert mirror["mirror"] == {"host": "web", "subset": "canary"}
    assert mirror["mirrorPercentage"] == {"value": 35.0}
    assert [d["weight"] for d in mirror["route"]] == [80, 20]
    moved = weigh(routing, after, 60)
    assert [d["weight"] for d in moved["spec"]["http"][1]["route"]] == [40, 60]


def test_a_step_without_match_removes_its_route_and_finishing_removes_all() -> None:
    routing = host_routing()
    vs = managed(routing, virtual_service(), step("setHeaderRoute", HEADER, routing))
    vs = managed(routing, vs, step("setMirrorRoute", MIRROR, routing))
    removed = managed(routing, vs, step("setHeaderRoute", {"name": "beta"}, routing))
    assert [r.get("name") for r in removed["spec"]["http"]] == ["mirror", "primary", "static"]
    clean = without_managed_routes(vs, routing=routing)
    assert clean["spec"]["http"] == virtual_service()["spec"]["http"]


ops = st.lists(
    st.one_of(
        st.tuples(st.just("weight"), st.integers(0, 100)),
        st.tuples(st.just("header"), st.booleans()),
        st.tuples(st.just("mirror"), st.booleans()),
    ),
    max_size=12,
)


@given(ops=ops, subsets=st.booleans(), final=st.integers(0, 100))
def test_properties_of_the_virtual_service(ops: list[tuple[str, Any]], subsets: bool, final: int) -> None:
    """Whatever happened before: the split routes carry exactly (100 - w, w) for the last weight, managed routes sit
    first in declared order, the user's other routes are untouched, and re-applying changes nothing (no write)."""
    routing = subset_routing() if subsets else host_routing()
    vs = virtual_service(subsets=subsets)
    for op, value in [*ops, ("weight", final)]:
        if op == "weight":
            vs = weigh(routing, vs, value)
        elif op == "header":
            vs = managed(routing, vs, step("setHeaderRoute", HEADER if value else {"name": "beta"}, routing))
        else:
            vs = managed(routing, vs, step("setMirrorRoute", MIRROR if value else {"name": "mirror"}, routing))
    assert weights(routing, vs) == [(100 - final, final)]
    names = [r.get("name") for r in vs["spec"]["http"]]
    assert names[-2:] == ["primary", "static"]
    assert names[:-2] == [n for n in ("beta", "mirror") if n in names]
    assert vs["spec"]["http"][-1] == virtual_service(subsets=subsets)["spec"]["http"][-1]
    for route in vs["spec"]["http"]:
        if route.get("mirror") is not None:
            assert sorted(d["weight"] for d in route["route"]) == sorted([100 - final, final])
    assert weigh(routing, vs, final) == vs
    finished = without_managed_routes(weigh(routing, vs, 0), routing=routing)
    assert [r.get("name") for r in finished["spec"]["http"]] == ["primary", "static"]
    assert weights(routing, finished) == [(100, 0)]


def test_a_tls_only_virtual_service_ignores_the_http_route_names() -> None:
    """Argo's TestIstioHostSplitOnlyTls: ``routes: [primary]`` next to tlsRoutes, on a VirtualService without http."""
    docs = corpus_object("getting-started-istio-multipleVirtualsvc.yaml", "VirtualService", "rollouts-demo-vsvc1")
    del docs["spec"]["http"]
    body = rollout(
        {
            "istio": {
                "virtualService": {
                    "name": "rollouts-demo-vsvc1",
                    "routes": ["primary"],
                    "tlsRoutes": [{"port": 3000, "sniHosts": ["reviews.bookinfo.com", "localhost"]}],
                }
            }
        },
    )
    body["spec"]["strategy"]["canary"].update(
        stableService="rollouts-demo-stable", canaryService="rollouts-demo-canary"
    )
    routing = routing_of(body)
    assert routing is not None
    after = weigh(routing, docs, 10)
    assert [d["weight"] for d in after["spec"]["tls"][0]["route"]] == [90, 10]
    assert "http" not in after["spec"]
    docs["spec"]["http"] = []
    with pytest.raises(InvalidSpecError, match="no HTTP route named 'primary'"):
        weigh(routing, docs, 10)
