"""Gateway API: weights on HTTPRoute backendRefs, header routes as named rules."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.core.errors import InvalidSpecError
from rollouts.core.routing import ManagedRoute, RouteKind, RoutingSpec, parse_managed_route
from rollouts.routers.gateway import http_route_weights, weighted_http_route, with_managed_route, without_managed_routes
from tests.support.routing import http_route, rollout, routing_of

HEADER = {"name": "beta", "match": [{"headerName": "x-beta", "headerValue": {"prefix": "v2"}}]}


def routing_for() -> RoutingSpec:
    routing = routing_of(
        rollout(
            {"managedRoutes": [{"name": "beta"}], "gatewayAPI": {"httpRoute": "web-route", "useHeaderRoutes": True}}
        )
    )
    assert routing is not None
    return routing


def header(routing: RoutingSpec, payload: dict[str, Any]) -> ManagedRoute:
    return parse_managed_route(kind="setHeaderRoute", name="beta", route=payload, declared=routing.managed_routes)


def test_weights_go_on_the_split_rule_only() -> None:
    routing = routing_for()
    after = weighted_http_route(http_route(), routing=routing, weight=15)
    assert http_route_weights(after, routing=routing) == [(85, 15)]
    assert after["spec"]["rules"][1] == http_route()["spec"]["rules"][1]
    assert after["spec"]["parentRefs"] == http_route()["spec"]["parentRefs"]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda r: r["spec"]["rules"][0]["backendRefs"].pop(), "no backendRef to the canary Service web-canary"),
        (lambda r: r["spec"]["rules"].pop(0), "no rule with a backendRef to the stable Service web-stable"),
        (lambda r: r["spec"]["rules"][0]["backendRefs"][0].update(kind="ServiceImport", group="x"), "stable Service"),
    ],
)
def test_routes_that_cannot_split_are_invalid(change: Any, fragment: str) -> None:
    route = http_route()
    change(route)
    with pytest.raises(InvalidSpecError, match=fragment):
        weighted_http_route(route, routing=routing_for(), weight=10)


def test_header_rule_copies_the_matches_and_adds_headers() -> None:
    routing = routing_for()
    after = with_managed_route(
        weighted_http_route(http_route(), routing=routing, weight=10), routing=routing, route=header(routing, HEADER)
    )
    rule = after["spec"]["rules"][0]
    assert rule["name"] == "beta"
    assert rule["matches"] == [
        {
            "path": {"type": "PathPrefix", "value": "/"},
            "headers": [{"type": "RegularExpression", "name": "x-beta", "value": "^v2"}],
        }
    ]
    assert rule["backendRefs"] == [{"name": "web-canary", "port": 80}]
    assert http_route_weights(weighted_http_route(after, routing=routing, weight=40), routing=routing) == [(60, 40)]
    removed = with_managed_route(after, routing=routing, route=header(routing, {"name": "beta"}))
    assert [r.get("name") for r in removed["spec"]["rules"]] == [None, None]


def test_mirror_is_refused_with_a_reason() -> None:
    with pytest.raises(InvalidSpecError, match="setHeaderRoute only"):
        with_managed_route(http_route(), routing=routing_for(), route=ManagedRoute(kind=RouteKind.MIRROR, name="beta"))


@given(
    ops=st.lists(st.one_of(st.integers(0, 100), st.booleans()), max_size=10),
    final=st.integers(0, 100),
)
def test_properties_of_the_http_route(ops: list[int | bool], final: int) -> None:
    """The split rule carries exactly the last weight; the header rule never takes a split weight; idempotent."""
    routing = routing_for()
    route = http_route()
    for op in [*ops, final]:
        if isinstance(op, bool):
            route = with_managed_route(
                route, routing=routing, route=header(routing, HEADER if op else {"name": "beta"})
            )
        else:
            route = weighted_http_route(route, routing=routing, weight=op)
    assert http_route_weights(route, routing=routing) == [(100 - final, final)]
    for rule in route["spec"]["rules"]:
        if rule.get("name") == "beta":
            assert all("weight" not in ref for ref in rule["backendRefs"])
    assert weighted_http_route(route, routing=routing, weight=final) == route
    done = without_managed_routes(weighted_http_route(route, routing=routing, weight=0), routing=routing)
    assert [r.get("name") for r in done["spec"]["rules"]] == [None, None]
