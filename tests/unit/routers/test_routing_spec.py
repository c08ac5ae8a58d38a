"""The routing spec and managed-route payloads as values: the corpus examples parse, bad input names its field."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.core.errors import InvalidSpecError
from rollouts.core.routing import MatchKind, RouteKind, parse_managed_route
from tests.support.corpus import corpus_object
from tests.support.routing import rollout, routing_of


def test_a_canary_without_traffic_routing_has_no_routing() -> None:
    body = rollout({})
    del body["spec"]["strategy"]["canary"]["trafficRouting"]
    assert routing_of(body) is None


def test_corpus_nginx_getting_started() -> None:
    routing = routing_of(corpus_object("getting-started-nginx-rollout.yaml", "Rollout"))
    assert routing is not None
    assert routing.nginx is not None
    assert routing.nginx.stable_ingresses == ("rollouts-demo-stable",)
    assert routing.nginx.annotation_prefix == "nginx.ingress.kubernetes.io"
    assert (routing.stable_service, routing.canary_service) == ("rollouts-demo-stable", "rollouts-demo-canary")
    assert routing.istio is None
    assert routing.gateway is None


def test_corpus_istio_two_virtual_services() -> None:
    routing = routing_of(corpus_object("getting-started-istio-rollout.yaml", "Rollout"))
    assert routing is not None
    assert routing.istio is not None
    refs = routing.istio.virtual_services
    assert [(r.name, r.routes) for r in refs] == [
        ("rollouts-demo-vsvc1", ("primary",)),
        ("rollouts-demo-vsvc2", ("secondary",)),
    ]
    assert refs[1].path.endswith("virtualServices[1]")


def test_corpus_istio_subset_split_and_mirror() -> None:
    split = routing_of(corpus_object("istio-istio-subset-split.yaml", "Rollout"))
    assert split is not None
    assert split.istio is not None
    rule = split.istio.destination_rule
    assert rule is not None
    assert (rule.name, rule.canary_subset, rule.stable_subset) == ("istio-subset-split-destrule", "canary", "stable")
    mirror = routing_of(corpus_object("istio-istio-mirror.yaml", "Rollout"))
    assert mirror is not None
    assert mirror.managed_routes == ("mirror-route",)


def test_nginx_options_and_max_weight() -> None:
    routing = routing_of(
        rollout(
            {
                "maxTrafficWeight": 1000,
                "nginx": {
                    "stableIngresses": ["a", "b"],
                    "annotationPrefix": "custom.nginx.org",
                    "additionalIngressAnnotations": {"canary-by-cookie": "beta"},
                    "canaryIngressAnnotations": {"example.com/team": "web"},
                },
            }
        )
    )
    assert routing is not None
    assert routing.max_traffic_weight == 1000
    assert routing.nginx is not None
    assert routing.nginx.stable_ingresses == ("a", "b")
    assert routing.nginx.additional_annotations == {"canary-by-cookie": "beta"}


def test_gateway_api_and_the_plugin_spelling_are_the_same_router() -> None:
    built_in = routing_of(rollout({"gatewayAPI": {"httpRoute": "web-route", "useHeaderRoutes": True}}))
    plugin = routing_of(
        rollout({"plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "web-route", "useHeaderRoutes": True}}})
    )
    assert built_in is not None
    assert built_in == plugin
    assert built_in.gateway is not None
    assert built_in.gateway.http_routes[0].use_header_routes


def test_istio_names_may_carry_a_namespace() -> None:
    routing = routing_of(rollout({"istio": {"virtualService": {"name": "vs.mesh", "routes": ["p"]}}}))
    assert routing is not None
    assert routing.istio is not None
    assert (routing.istio.virtual_services[0].name, routing.istio.virtual_services[0].namespace) == ("vs", "mesh")


def test_alb_options() -> None:
    routing = routing_of(
        rollout(
            {
                "alb": {
                    "ingresses": ["a", "b"],
                    "servicePort": 8080,
                    "rootService": "web-root",
                    "annotationPrefix": "custom.io",
                    "stickinessConfig": {"enabled": True, "durationSeconds": 604800},
                }
            }
        )
    )
    assert routing is not None
    assert routing.alb is not None
    assert routing.alb.ingresses == ("a", "b")
    assert (routing.alb.service_port, routing.alb.action_service) == (8080, "web-root")
    assert (routing.alb.annotation_prefix, routing.alb.stickiness_seconds) == ("custom.io", 604800)
    assert routing.alb.ingress_path(0) == "spec.strategy.canary.trafficRouting.alb.ingresses[0]"
    assert not routing.empty


def test_alb_defaults_to_the_stable_service_and_argos_prefix() -> None:
    routing = routing_of(
        rollout({"alb": {"ingress": "web", "servicePort": 80, "stickinessConfig": {"enabled": False}}})
    )
    assert routing is not None
    assert routing.alb is not None
    assert routing.alb.ingresses == ("web",)
    assert routing.alb.action_service == "web-stable"
    assert routing.alb.annotation_prefix == "alb.ingress.kubernetes.io"
    assert routing.alb.stickiness_seconds is None
    assert routing.alb.ingress_path(0) == "spec.strategy.canary.trafficRouting.alb.ingress"


_ALB = "spec.strategy.canary.trafficRouting.alb"


@pytest.mark.parametrize(
    ("routing", "canary", "path", "fragment"),
    [
        ({"alb": {"ingress": "web"}}, {}, f"{_ALB}.servicePort", "servicePort is required"),
        ({"alb": {"ingress": "web", "servicePort": 0}}, {}, f"{_ALB}.servicePort", "port number"),
        ({"alb": {"servicePort": 80}}, {}, f"{_ALB}.ingress", "name the Ingress"),
        ({"alb": {"servicePort": 80, "ingresses": []}}, {}, f"{_ALB}.ingress", "name the Ingress"),
        ({"alb": {"servicePort": 80, "ingress": "a", "ingresses": ["b"]}}, {}, _ALB, "not both"),
        *[
            (
                {"alb": {"ingress": "web", "servicePort": 80, "stickinessConfig": {"enabled": True, **duration}}},
                {},
                f"{_ALB}.stickinessConfig.durationSeconds",
                "between 1 and 604800 seconds",
            )
            for duration in ({"durationSeconds": 0}, {"durationSeconds": 604801}, {})
        ],
        (
            {"alb": {"ingress": "web", "servicePort": 80}, "maxTrafficWeight": 1000},
            {},
            "spec.strategy.canary.trafficRouting.maxTrafficWeight",
            "at most 999",
        ),
    ],
)
def test_unusable_alb_routing_names_the_field(
    routing: dict[str, Any], canary: dict[str, Any], path: str, fragment: str
) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        routing_of(rollout(routing, **canary))
    assert [(issue.path, fragment in issue.message) for issue in caught.value.issues] == [(path, True)]


@pytest.mark.parametrize(
    ("routing", "path"),
    [
        ({"nginx": {}}, "trafficRouting.nginx.stableIngress"),
        ({"istio": {}}, "trafficRouting.istio.virtualService"),
        ({"istio": {"virtualServices": [{"routes": ["p"]}]}}, "virtualServices[0].name"),
        ({"gatewayAPI": {}}, "trafficRouting.gatewayAPI.httpRoute"),
    ],
)
def test_unusable_routing_names_the_field(routing: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        routing_of(rollout(routing))
    assert caught.value.path.endswith(path)


def test_header_route_payload() -> None:
    route = parse_managed_route(
        kind="setHeaderRoute",
        name="beta",
        route={"name": "beta", "match": [{"headerName": "X-Beta", "headerValue": {"prefix": "yes"}}]},
        declared=["beta"],
    )
    assert route.kind is RouteKind.HEADER
    assert route.headers[0].name == "X-Beta"
    assert route.headers[0].value.kind is MatchKind.PREFIX
    assert not route.removes


def test_mirror_payload_defaults_to_everything_and_no_match_removes() -> None:
    route = parse_managed_route(
        kind="setMirrorRoute",
        name="m",
        route={"name": "m", "match": [{"method": {"exact": "POST"}, "path": {"prefix": "/color"}}]},
        declared=["m"],
    )
    assert route.percentage == 100
    assert route.mirror[0].method is not None
    assert route.mirror[0].method.value == "POST"
    removal = parse_managed_route(kind="setMirrorRoute", name="m", route={"name": "m"}, declared=["m"])
    assert removal.removes


@pytest.mark.parametrize(
    ("kind", "route", "declared", "fragment"),
    [
        ("setHeaderRoute", {"match": [{"headerName": "a", "headerValue": {"exact": "1"}}]}, [], "not declared"),
        ("setHeaderRoute", {"match": [{"headerName": "a", "headerValue": {}}]}, ["r"], "exactly one"),
        (
            "setHeaderRoute",
            {"match": [{"headerName": "a", "headerValue": {"exact": "1", "regex": "x"}}]},
            ["r"],
            "exactly one",
        ),
        ("setWeirdRoute", {}, ["r"], "unknown managed route kind"),
    ],
)
def test_bad_managed_routes(kind: str, route: dict[str, Any], declared: list[str], fragment: str) -> None:
    with pytest.raises(InvalidSpecError, match=fragment):
        parse_managed_route(kind=kind, name="r", route=route, declared=declared)
