"""The demo's manifests are valid for our own parsers, and its analysis judges the two profiles as intended."""

from __future__ import annotations

import pytest

from analysis import AnalysisPhase, build_run_spec, judge_measurement, parse_template_manifest, resolve_metrics
from analysis.args import Argument
from rollouts.core import parse_rollout
from rollouts.demo import manifests
from rollouts.demo.app import BAD, HEALTHY, route_backend_weights
from rollouts.routers.gateway import http_route_weights, weighted_http_route
from tests.support.routing import routing_of


@pytest.mark.parametrize("timing", [manifests.Timing.default(), manifests.Timing.fast()], ids=["default", "fast"])
def test_the_template_resolves_with_the_canary_hash(timing: manifests.Timing) -> None:
    doc = manifests.analysis_template(namespace="ns", prometheus="http://127.0.0.1:9090", timing=timing)
    template = parse_template_manifest(doc)
    run = build_run_spec(template, args=[Argument(name="canary-hash", value="5fd49fbb7d")])
    (metric,) = resolve_metrics(run)
    assert metric.name == "success-rate"
    assert metric.provider.kind == "prometheus"
    query = str(metric.provider.body["query"])
    assert query.count('version="5fd49fbb7d"') == 2
    assert f"[{timing.window}s]" in query
    assert "vector(1)" not in query  # no traffic is no evidence, never a pass


@pytest.mark.parametrize("timing", [manifests.Timing.default(), manifests.Timing.fast()], ids=["default", "fast"])
def test_timings_leave_room_for_enough_samples(timing: manifests.Timing) -> None:
    """Prometheus scrapes every second: the window must hold several scrapes, the first measurement must wait until
    the canary has served for a good part of it, and two failures (failureLimit 1) must fit in the count."""
    assert timing.window >= 5
    assert timing.initial_delay >= timing.window / 2
    assert timing.count >= 2


@pytest.mark.parametrize(
    ("result", "phase"),
    [
        ([1 - HEALTHY.error_rate], AnalysisPhase.SUCCESSFUL),
        ([1 - BAD.error_rate], AnalysisPhase.FAILED),
        ([0.95], AnalysisPhase.SUCCESSFUL),
        ([], AnalysisPhase.ERROR),  # no canary traffic yet: an error (retried), not a verdict
    ],
)
def test_the_condition_separates_the_profiles(result: list[float], phase: AnalysisPhase) -> None:
    doc = manifests.analysis_template(namespace="ns", prometheus="http://p", timing=manifests.Timing.fast())
    condition = doc["spec"]["metrics"][0]["successCondition"]
    assert judge_measurement(result=result, success_condition=condition, failure_condition=None).phase == phase


@pytest.mark.parametrize("timing", [manifests.Timing.default(), manifests.Timing.fast()], ids=["default", "fast"])
def test_the_rollout_parses_as_a_gateway_routed_canary_with_two_analyses(timing: manifests.Timing) -> None:
    body = manifests.rollout(namespace="ns", image=manifests.INITIAL_IMAGE, timing=timing)
    body["metadata"]["generation"] = 1
    spec = parse_rollout(body)
    assert spec.replicas == manifests.REPLICAS
    canary = spec.canary
    assert canary is not None
    assert canary.traffic_routing is not None
    assert canary.stable_service == manifests.STABLE_SERVICE
    assert canary.canary_service == manifests.CANARY_SERVICE
    assert canary.scale_down_delay_seconds == canary.abort_scale_down_delay_seconds == timing.scale_down_delay > 0
    kinds = [next(iter(raw)) for raw in canary.steps_raw]
    assert kinds == ["setWeight", "analysis", "setWeight", "pause", "analysis"]
    weights = [raw["setWeight"] for raw in canary.steps_raw if "setWeight" in raw]
    assert weights == list(manifests.STEP_WEIGHTS)
    assert weights == sorted(weights), "the weight only moves forward"
    containers = body["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == [manifests.CONTAINER]


def test_the_router_can_split_the_demo_route_at_every_step() -> None:
    """The Gateway API router accepts the route (both Services in one rule) and writes what the gateway reads."""
    body = manifests.rollout(namespace="ns", image=manifests.INITIAL_IMAGE, timing=manifests.Timing.fast())
    routing = routing_of(body)
    assert routing is not None
    assert routing.gateway is not None
    assert [r.name for r in routing.gateway.http_routes] == [manifests.HTTP_ROUTE]
    route = manifests.http_route(namespace="ns")
    assert http_route_weights(route, routing=routing) == [(100, 0)]  # everything on stable until the first step
    for weight in (*manifests.STEP_WEIGHTS, 100, 0):
        written = weighted_http_route(route, routing=routing, weight=weight)
        assert dict(route_backend_weights(written)) == {
            manifests.STABLE_SERVICE: 100 - weight,
            manifests.CANARY_SERVICE: weight,
        }


def test_both_services_select_the_app_and_target_its_port() -> None:
    services = manifests.services(namespace="ns")
    assert [s["metadata"]["name"] for s in services] == [manifests.STABLE_SERVICE, manifests.CANARY_SERVICE]
    body = manifests.rollout(namespace="ns", image=manifests.INITIAL_IMAGE, timing=manifests.Timing.fast())
    pod_labels = body["spec"]["template"]["metadata"]["labels"]
    pod_ports = {p["containerPort"] for p in body["spec"]["template"]["spec"]["containers"][0]["ports"]}
    for service in services:
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= pod_ports
    route = manifests.http_route(namespace="ns")
    ports = {ref["name"]: ref["port"] for ref in route["spec"]["rules"][0]["backendRefs"]}
    assert ports == {s["metadata"]["name"]: s["spec"]["ports"][0]["port"] for s in services}
