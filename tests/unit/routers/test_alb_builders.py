"""The ALB Ingress: the action annotation (Argo's JSON, byte for byte), managed annotations, header routes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.core.errors import InvalidSpecError
from rollouts.core.routing import AlbSpec, ManagedRoute, RoutingSpec, parse_managed_route
from rollouts.routers.alb import (
    MANAGED_ANNOTATIONS,
    forward_action,
    header_conditions,
    ingress_weight,
    managed_annotations,
    weighted_ingress,
    with_header_route,
    without_managed_routes,
)
from tests.support.routing import alb_ingress, rollout, routing_of

P = "alb.ingress.kubernetes.io"
ACTION = f"{P}/actions.web-root"
PATH = "spec.strategy.canary.trafficRouting.alb.ingress"


def routing_for(*, routes: tuple[str, ...] = (), max_weight: int | None = None, **alb: Any) -> RoutingSpec:
    raw: dict[str, Any] = {"alb": {"ingress": "web", "servicePort": 80, "rootService": "web-root", **alb}}
    if routes:
        raw["managedRoutes"] = [{"name": name} for name in routes]
    if max_weight is not None:
        raw["maxTrafficWeight"] = max_weight
    routing = routing_of(rollout(raw))
    assert routing is not None
    assert routing.alb is not None
    return routing


def spec_of(routing: RoutingSpec) -> AlbSpec:
    assert routing.alb is not None
    return routing.alb


def weighted(weight: int, routing: RoutingSpec, current: dict[str, Any] | None = None) -> dict[str, Any]:
    return weighted_ingress(
        current if current is not None else alb_ingress(),
        routing=routing,
        alb=spec_of(routing),
        weight=weight,
        path=PATH,
    )


def header_route(name: str, *matches: tuple[str, dict[str, str]]) -> ManagedRoute:
    raw = {"name": name, "match": [{"headerName": h, "headerValue": v} for h, v in matches]} if matches else {}
    return parse_managed_route(kind="setHeaderRoute", name=name, route=raw, declared=[name, "first", "second"])


def annotations(body: dict[str, Any]) -> dict[str, str]:
    return dict(body["metadata"]["annotations"])


def paths(body: dict[str, Any], rule: int = 0) -> list[tuple[str, str]]:
    return [
        (p["path"], p["backend"]["service"]["name"]) for p in body["spec"]["rules"][rule].get("http", {}).get("paths")
    ]


def test_the_action_annotation_is_argos_json_byte_for_byte() -> None:
    routing = routing_for()
    body = weighted(20, routing)
    got = annotations(body)
    assert got[ACTION] == (
        '{"Type":"forward","ForwardConfig":{"TargetGroups":['
        '{"ServiceName":"web-canary","ServicePort":"80","Weight":20},'
        '{"ServiceName":"web-stable","ServicePort":"80","Weight":80}]}}'
    )
    assert got[MANAGED_ANNOTATIONS] == '{"demo":["alb.ingress.kubernetes.io/actions.web-root"]}'
    # Only annotations change: the other annotations and the whole spec are as they were.
    assert got["kubernetes.io/ingress.class"] == "alb"
    assert got[f"{P}/scheme"] == "internal"
    assert body["spec"] == alb_ingress()["spec"]


def test_stickiness_follows_the_target_groups() -> None:
    routing = routing_for(stickinessConfig={"enabled": True, "durationSeconds": 3600})
    assert annotations(weighted(0, routing))[ACTION] == (
        '{"Type":"forward","ForwardConfig":{"TargetGroups":['
        '{"ServiceName":"web-canary","ServicePort":"80","Weight":0},'
        '{"ServiceName":"web-stable","ServicePort":"80","Weight":100}],'
        '"TargetGroupStickinessConfig":{"Enabled":true,"DurationSeconds":3600}}}'
    )
    disabled = routing_for(stickinessConfig={"enabled": False, "durationSeconds": 0})
    assert "Stickiness" not in annotations(weighted(0, disabled))[ACTION]


def test_the_action_is_named_after_the_stable_service_without_root_service_and_takes_the_prefix() -> None:
    routing = routing_of(rollout({"alb": {"ingress": "web", "servicePort": 8080, "annotationPrefix": "custom.io"}}))
    assert routing is not None
    body = weighted(10, routing, alb_ingress(action_service="web-stable"))
    got = annotations(body)
    assert json.loads(got["custom.io/actions.web-stable"])["ForwardConfig"]["TargetGroups"][0] == {
        "ServiceName": "web-canary",
        "ServicePort": "8080",
        "Weight": 10,
    }
    assert json.loads(got[MANAGED_ANNOTATIONS]) == {"demo": ["custom.io/actions.web-stable"]}


def test_weights_count_in_max_traffic_weight_units() -> None:
    routing = routing_for(max_weight=500)
    body = weighted(25, routing)
    groups = json.loads(annotations(body)[ACTION])["ForwardConfig"]["TargetGroups"]
    assert [(g["ServiceName"], g["Weight"]) for g in groups] == [("web-canary", 25), ("web-stable", 475)]
    assert ingress_weight(body, routing=routing, alb=spec_of(routing)) == 25


def test_managed_annotations_keep_other_rollouts_entries() -> None:
    routing = routing_for()
    current = alb_ingress()
    current["metadata"]["annotations"][MANAGED_ANNOTATIONS] = '{"zeta":["x/actions.z"],"alpha":["x/actions.a"]}'
    got = annotations(weighted(30, routing, current))
    assert got[MANAGED_ANNOTATIONS] == (
        '{"alpha":["x/actions.a"],"demo":["alb.ingress.kubernetes.io/actions.web-root"],"zeta":["x/actions.z"]}'
    )
    removed = managed_annotations(got, rollout="demo", add=False, keys=[ACTION], path=PATH)
    assert removed == '{"alpha":["x/actions.a"],"demo":[],"zeta":["x/actions.z"]}'
    again = managed_annotations(got, rollout="demo", add=True, keys=[ACTION], path=PATH)
    assert again == got[MANAGED_ANNOTATIONS]  # a key is listed once


def test_a_managed_annotations_value_that_is_not_json_is_the_users_to_fix() -> None:
    current = alb_ingress()
    current["metadata"]["annotations"][MANAGED_ANNOTATIONS] = "demo:web-root"  # Argo's old managed-alb-actions form
    with pytest.raises(InvalidSpecError) as caught:
        weighted(10, routing_for(), current)
    assert caught.value.path == PATH
    assert MANAGED_ANNOTATIONS in caught.value.message


def test_an_ingress_without_the_action_service_is_invalid() -> None:
    routing = routing_for()
    with pytest.raises(InvalidSpecError) as caught:
        weighted(10, routing, alb_ingress(action_service="something-else"))
    assert caught.value.path == PATH
    assert caught.value.message == "ingress does not have service `web-root` in rules"
    many = routing_of(rollout({"alb": {"ingresses": ["a", "b"], "servicePort": 80}}))
    assert many is not None
    assert many.alb is not None
    assert many.alb.ingress_path(1) == "spec.strategy.canary.trafficRouting.alb.ingresses[1]"


def test_header_route_action_conditions_and_path() -> None:
    routing = routing_for(routes=("first", "second"))
    body = weighted(20, routing)
    route = header_route(
        "second", ("X-Beta", {"exact": "yes"}), ("X-Beta", {"exact": "true"}), ("X-Team", {"exact": "web"})
    )
    body = with_header_route(body, routing=routing, alb=spec_of(routing), route=route, path=PATH)
    got = annotations(body)
    assert got[f"{P}/actions.second"] == (
        '{"Type":"forward","ForwardConfig":{"TargetGroups":[{"ServiceName":"web-canary","ServicePort":"80","Weight":100}]}}'
    )
    assert got[f"{P}/conditions.second"] == (
        '[{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"X-Beta","values":["yes","true"]}},'
        '{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"X-Team","values":["web"]}}]'
    )
    assert json.loads(got[MANAGED_ANNOTATIONS]) == {"demo": [ACTION, f"{P}/actions.second", f"{P}/conditions.second"]}
    assert body["spec"]["rules"][0]["http"]["paths"][0] == {
        "path": "/*",
        "pathType": "ImplementationSpecific",
        "backend": {"service": {"name": "second", "port": {"name": "use-annotation"}}},
    }
    assert paths(body) == [("/*", "second"), ("/*", "web-root"), ("/static", "static")]
    assert paths(body, 1) == [("/", "other")]  # a rule that does not route to the action Service is left alone
    # The same route again: the same object (no second path).
    assert with_header_route(body, routing=routing, alb=spec_of(routing), route=route, path=PATH) == body

    # A route declared earlier in managedRoutes goes first.
    first = header_route("first", ("X-Canary", {"exact": "1"}))
    both = with_header_route(body, routing=routing, alb=spec_of(routing), route=first, path=PATH)
    assert paths(both) == [("/*", "first"), ("/*", "second"), ("/*", "web-root"), ("/static", "static")]

    # A step without matches removes its route: annotations, managed keys and path.
    removed = with_header_route(both, routing=routing, alb=spec_of(routing), route=header_route("second"), path=PATH)
    got = annotations(removed)
    assert f"{P}/actions.second" not in got
    assert f"{P}/conditions.second" not in got
    assert json.loads(got[MANAGED_ANNOTATIONS]) == {"demo": [ACTION, f"{P}/actions.first", f"{P}/conditions.first"]}
    assert paths(removed) == [("/*", "first"), ("/*", "web-root"), ("/static", "static")]

    # The update is over: every managed route goes, the weight action stays.
    done = without_managed_routes(removed, routing=routing, alb=spec_of(routing), path=PATH)
    assert json.loads(annotations(done)[MANAGED_ANNOTATIONS]) == {"demo": [ACTION]}
    assert annotations(done)[ACTION] == annotations(body)[ACTION]
    assert done["spec"] == alb_ingress()["spec"]


def test_header_values_are_escaped_as_go_escapes_them() -> None:
    route = header_route("first", ("X-Q", {"exact": 'a<b>&"c'}))
    assert header_conditions(route, path=PATH) == (
        '[{"field":"http-header","httpHeaderConfig":{"httpHeaderName":"X-Q","values":["a\\u003cb\\u003e\\u0026\\"c"]}}]'
    )


def test_alb_matches_exact_header_values_only() -> None:
    route = header_route("first", ("X-Beta", {"prefix": "y"}))
    with pytest.raises(InvalidSpecError, match="exact"):
        header_conditions(route, path="steps[2].setHeaderRoute")


def test_without_managed_routes_is_a_no_op_without_managed_routes() -> None:
    routing = routing_for()
    body = weighted(40, routing)
    assert without_managed_routes(body, routing=routing, alb=spec_of(routing), path=PATH) == body


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 0),
        ("not json", 0),
        ('{"Type":"forward"}', 0),
        (forward_action([("web-canary", 3), ("web-stable", 7)], port=80, stickiness_seconds=None), 30),  # of 10
        (forward_action([("web-stable", 100)], port=80, stickiness_seconds=None), 0),
    ],
)
def test_reading_the_weight_back(value: str | None, expected: int) -> None:
    routing = routing_for()
    body = alb_ingress()
    if value is not None:
        body["metadata"]["annotations"][ACTION] = value
    assert ingress_weight(body, routing=routing, alb=spec_of(routing)) == expected


foreign = st.dictionaries(st.from_regex(r"example\.com/[a-z]{1,8}", fullmatch=True), st.text(max_size=5), max_size=3)


@given(
    total=st.one_of(st.none(), st.integers(1, 999)),
    data=st.data(),
    others=foreign,
    sticky=st.one_of(st.none(), st.integers(1, 604_800)),
)
def test_properties_of_the_weighted_ingress(
    total: int | None, data: st.DataObject, others: dict[str, str], sticky: int | None
) -> None:
    """Canary and stable add up to the total; the weight reads back; rebuilding is a fixed point (no second write);
    other annotations and the spec are never touched."""
    extra: dict[str, Any] = {"stickinessConfig": {"enabled": True, "durationSeconds": sticky}} if sticky else {}
    routing = routing_for(max_weight=total, **extra)
    weight = data.draw(st.integers(0, total or 100))
    current = alb_ingress()
    current["metadata"]["annotations"].update(others)
    body = weighted(weight, routing, copy.deepcopy(current))
    action = json.loads(annotations(body)[ACTION])
    assert sum(g["Weight"] for g in action["ForwardConfig"]["TargetGroups"]) == (total or 100)
    assert ingress_weight(body, routing=routing, alb=spec_of(routing)) == weight
    assert weighted(weight, routing, body) == body
    assert all(annotations(body)[k] == v for k, v in others.items())
    assert body["spec"] == current["spec"]
