"""References checked on every reconcile, as Argo does: a Rollout naming a missing Service, (Cluster)AnalysisTemplate,
Ingress, VirtualService (route) or HTTPRoute is InvalidSpec with the field path and a Warning Event, first deploy
included; the object appearing clears it with no other touch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from rollouts.core import parse_rollout
from rollouts.core.references import Reference, ReferenceKind, reference_issues, references
from rollouts.core.simulate import SimCluster
from tests.support.rollouts import T0, blue_green_spec, canary_spec, rollout, settle

Found = dict[tuple[ReferenceKind, str, str], Mapping[str, Any]]
ROUTING = "spec.strategy.canary.trafficRouting"


def service(name: str) -> tuple[tuple[ReferenceKind, str, str], Mapping[str, Any]]:
    return (ReferenceKind.SERVICE, "default", name), {"metadata": {"name": name}}


def ingress(name: str, *backends: str) -> tuple[tuple[ReferenceKind, str, str], Mapping[str, Any]]:
    paths = [{"path": "/", "backend": {"service": {"name": b, "port": {"number": 80}}}} for b in backends]
    return (ReferenceKind.INGRESS, "default", name), {"spec": {"rules": [{"http": {"paths": paths}}]}}


def virtual_service(name: str, *routes: str) -> tuple[tuple[ReferenceKind, str, str], Mapping[str, Any]]:
    http = [{"name": route, "route": []} for route in routes]
    return (ReferenceKind.VIRTUAL_SERVICE, "default", name), {"spec": {"http": http}}


def routed(routing: dict[str, Any]) -> Any:
    canary = {"canaryService": "canary", "stableService": "stable", "trafficRouting": routing, "steps": []}
    return parse_rollout(rollout(canary=canary))


def issues_of(spec: Any, found: Found) -> list[tuple[str, str]]:
    return [(issue.path, issue.message) for issue in reference_issues(spec, "default", found)]


# -- what is named, and where ----------------------------------------------------------------------------------------


def test_every_named_object_is_listed_with_the_field_naming_it() -> None:
    spec = canary_spec(
        steps=[{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "rate"}]}}],
        analysis={"templates": [{"templateName": "shared", "clusterScope": True}]},
    )
    assert references(spec, "ns") == (
        Reference(kind=ReferenceKind.SERVICE, namespace="ns", name="stable", path="spec.strategy.canary.stableService"),
        Reference(kind=ReferenceKind.SERVICE, namespace="ns", name="canary", path="spec.strategy.canary.canaryService"),
        Reference(
            kind=ReferenceKind.CLUSTER_ANALYSIS_TEMPLATE,
            namespace="",
            name="shared",
            path="spec.strategy.canary.analysis.templates[0].templateName",
        ),
        Reference(
            kind=ReferenceKind.ANALYSIS_TEMPLATE,
            namespace="ns",
            name="rate",
            path="spec.strategy.canary.steps[1].analysis.templates[0].templateName",
        ),
    )


def test_blue_green_names_its_services_and_promotion_templates() -> None:
    spec = blue_green_spec(
        prePromotionAnalysis={"templates": [{"templateName": "pre"}]},
        postPromotionAnalysis={"templates": [{"templateName": "post"}]},
    )
    assert [(r.kind, r.name, r.path) for r in references(spec, "default")] == [
        (ReferenceKind.SERVICE, "active", "spec.strategy.blueGreen.activeService"),
        (ReferenceKind.SERVICE, "preview", "spec.strategy.blueGreen.previewService"),
        (
            ReferenceKind.ANALYSIS_TEMPLATE,
            "pre",
            "spec.strategy.blueGreen.prePromotionAnalysis.templates[0].templateName",
        ),
        (
            ReferenceKind.ANALYSIS_TEMPLATE,
            "post",
            "spec.strategy.blueGreen.postPromotionAnalysis.templates[0].templateName",
        ),
    ]


def test_ping_pong_services_are_named() -> None:
    spec = parse_rollout(
        rollout(
            canary={
                "pingPong": {"pingService": "ping", "pongService": "pong"},
                "trafficRouting": {"alb": {"ingress": "web", "servicePort": 80, "rootService": "root"}},
            }
        )
    )
    named = [(r.kind, r.name, r.path) for r in references(spec, "default")]
    assert (ReferenceKind.SERVICE, "ping", "spec.strategy.canary.pingPong.pingService") in named
    assert (ReferenceKind.SERVICE, "pong", "spec.strategy.canary.pingPong.pongService") in named
    assert (ReferenceKind.INGRESS, "web", f"{ROUTING}.alb.ingress") in named


# -- present vs missing, each kind -------------------------------------------------------------------------------------


def test_nothing_to_say_when_every_named_object_exists() -> None:
    spec = canary_spec(steps=[{"analysis": {"templates": [{"templateName": "rate"}]}}])
    found = dict([service("stable"), service("canary")])
    found[ReferenceKind.ANALYSIS_TEMPLATE, "default", "rate"] = {"metadata": {"name": "rate"}}
    assert issues_of(spec, found) == []


def test_missing_services_are_reported_in_argos_words() -> None:
    spec = canary_spec()
    assert issues_of(spec, {}) == [
        ("spec.strategy.canary.stableService", 'Invalid value: "stable": service "stable" not found'),
        ("spec.strategy.canary.canaryService", 'Invalid value: "canary": service "canary" not found'),
    ]
    assert issues_of(blue_green_spec(), dict([service("preview")])) == [
        ("spec.strategy.blueGreen.activeService", 'Invalid value: "active": service "active" not found'),
    ]


@pytest.mark.parametrize("step", [0, 2])
def test_every_steps_templates_are_checked_not_only_the_current_ones(step: int) -> None:
    steps: list[dict[str, Any]] = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 50}]
    steps[step] = {"analysis": {"templates": [{"templateName": "ok"}, {"templateName": "typo", "clusterScope": True}]}}
    found = dict([service("stable"), service("canary")])
    found[ReferenceKind.ANALYSIS_TEMPLATE, "default", "ok"] = {}
    assert issues_of(canary_spec(steps=steps), found) == [
        (
            f"spec.strategy.canary.steps[{step}].analysis.templates[1].templateName",
            "Invalid value: \"typo\": ClusterAnalysisTemplate 'typo' not found",
        )
    ]


def test_background_and_promotion_templates_are_checked() -> None:
    background = canary_spec(analysis={"templates": [{"templateName": "bg"}]})
    assert issues_of(background, dict([service("stable"), service("canary")])) == [
        (
            "spec.strategy.canary.analysis.templates[0].templateName",
            "Invalid value: \"bg\": AnalysisTemplate 'bg' not found",
        )
    ]
    blue_green = blue_green_spec(postPromotionAnalysis={"templates": [{"templateName": "post"}]})
    assert [path for path, _ in issues_of(blue_green, dict([service("active"), service("preview")]))] == [
        "spec.strategy.blueGreen.postPromotionAnalysis.templates[0].templateName"
    ]


def test_a_missing_nginx_stable_ingress_and_one_without_the_stable_backend() -> None:
    spec = routed({"nginx": {"stableIngress": "web"}})
    services = dict([service("stable"), service("canary")])
    assert issues_of(spec, services) == [
        (f"{ROUTING}.nginx.stableIngress", 'Invalid value: "web": ingress.networking.k8s.io "web" not found')
    ]
    assert issues_of(spec, {**services, **dict([ingress("web", "other")])}) == [
        (
            f"{ROUTING}.nginx.stableIngress",
            'Invalid value: "web": ingress `web` has no rules using service stable backend',
        )
    ]
    assert issues_of(spec, {**services, **dict([ingress("web", "other", "stable")])}) == []


def test_several_stable_ingresses_are_each_named_by_index() -> None:
    spec = routed({"nginx": {"stableIngresses": ["a", "b"]}})
    found = {**dict([service("stable"), service("canary")]), **dict([ingress("a", "stable")])}
    assert [path for path, _ in issues_of(spec, found)] == [f"{ROUTING}.nginx.stableIngresses[1]"]


def test_alb_ingress_must_route_to_the_root_service_when_set() -> None:
    spec = routed({"alb": {"ingress": "web", "servicePort": 80, "rootService": "root"}})
    services = dict([service("stable"), service("canary")])
    assert issues_of(spec, {**services, **dict([ingress("web", "stable")])}) == [
        (f"{ROUTING}.alb.ingress", 'Invalid value: "web": ingress `web` has no rules using service root backend')
    ]
    assert issues_of(spec, {**services, **dict([ingress("web", "root")])}) == []


def test_a_missing_virtual_service_and_a_route_name_it_does_not_have() -> None:
    spec = routed({"istio": {"virtualService": {"name": "vs", "routes": ["primary", "typo"]}}})
    services = dict([service("stable"), service("canary")])
    assert issues_of(spec, services) == [
        (
            f"{ROUTING}.istio.virtualService.name",
            'Invalid value: "vs": virtualservices.networking.istio.io "vs" not found',
        )
    ]
    assert issues_of(spec, {**services, **dict([virtual_service("vs", "primary", "secondary")])}) == [
        (
            f"{ROUTING}.istio.virtualService.routes[1]",
            (
                'Invalid value: "vs": Istio VirtualService has invalid HTTP routes. '
                "Error: HTTP Route 'typo' is not found in the defined Virtual Service."
            ),
        )
    ]


def test_unnamed_routes_need_exactly_one_http_route() -> None:
    spec = routed({"istio": {"virtualServices": [{"name": "vs"}]}})
    services = dict([service("stable"), service("canary")])
    assert issues_of(spec, {**services, **dict([virtual_service("vs", "only")])}) == []
    [(path, message)] = issues_of(spec, {**services, **dict([virtual_service("vs", "a", "b")])})
    assert path == f"{ROUTING}.istio.virtualServices[0].name"
    assert "must have exactly one route" in message


@pytest.mark.parametrize(
    ("routing", "path"),
    [
        ({"gatewayAPI": {"httpRoute": "web"}}, f"{ROUTING}.gatewayAPI.httpRoute"),
        (
            {"plugins": {"argoproj-labs/gatewayAPI": {"httpRoutes": [{"name": "web"}]}}},
            f"{ROUTING}.plugins.argoproj-labs/gatewayAPI.httpRoutes[0].name",
        ),
    ],
)
def test_a_missing_http_route(routing: dict[str, Any], path: str) -> None:
    spec = routed(routing)
    services = dict([service("stable"), service("canary")])
    assert issues_of(spec, services) == [
        (path, 'Invalid value: "web": httproutes.gateway.networking.k8s.io "web" not found')
    ]
    assert issues_of(spec, {**services, (ReferenceKind.HTTP_ROUTE, "default", "web"): {}}) == []


# -- the planner refuses; the object appearing clears it -------------------------------------------------------------


def sim_with(objects: Found, services: tuple[str, ...] = ()) -> SimCluster:
    return SimCluster(now=T0, services=services, objects=objects)


def test_first_deploy_naming_a_missing_template_is_invalid_spec_and_creates_nothing() -> None:
    spec = canary_spec(steps=[{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "rate"}]}}])
    sim = sim_with({}, services=("stable", "canary"))
    decided = sim.reconcile(spec)
    path = "spec.strategy.canary.steps[1].analysis.templates[0].templateName"
    assert decided.status["phase"] == "Degraded"
    assert (
        decided.status["message"] == f"InvalidSpec: {path}: Invalid value: \"rate\": AnalysisTemplate 'rate' not found"
    )
    [condition] = [c for c in decided.status["conditions"] if c["type"] == "InvalidSpec"]
    assert (condition["status"], condition["reason"]) == ("True", "InvalidSpec")
    assert path in condition["message"]
    assert sim.replica_sets == {}
    assert sim.events == ["InvalidSpec"]
    # Reconciled again (a resync): reported once, not an Event per reconcile.
    sim.advance(60)
    sim.reconcile(spec)
    assert sim.events == ["InvalidSpec"]
    # The template is created: the next reconcile proceeds to Healthy, the condition gone.
    assert sim.objects is not None
    sim.objects[ReferenceKind.ANALYSIS_TEMPLATE, "default", "rate"] = {"metadata": {"name": "rate"}}
    final = settle(sim, spec)
    assert final.status["phase"] == "Healthy"
    assert "InvalidSpec" not in {c["type"] for c in sim.status["conditions"]}


def test_blue_green_with_a_missing_active_service_waits_for_it() -> None:
    spec = blue_green_spec()
    sim = sim_with({}, services=("preview",))
    decided = sim.reconcile(spec)
    assert decided.status["message"].startswith("InvalidSpec: spec.strategy.blueGreen.activeService: ")
    assert sim.replica_sets == {}
    sim.services["active"] = None
    assert settle(sim, spec).status["phase"] == "Healthy"


def test_a_reference_removed_mid_release_stops_the_release_where_it_is() -> None:
    spec = canary_spec(steps=[{"setWeight": 20}, {"pause": {}}])
    sim = sim_with({}, services=("stable", "canary"))
    assert settle(sim, spec).status["phase"] == "Healthy"
    update = canary_spec("v2", steps=[{"setWeight": 20}, {"pause": {}}])
    assert settle(sim, update).status["phase"] == "Paused"
    sets = {name: rs.replicas for name, rs in sim.replica_sets.items()}
    del sim.services["canary"]
    decided = sim.reconcile(update)
    assert decided.status["phase"] == "Degraded"
    assert decided.actions
    assert {type(a).__name__ for a in decided.actions} == {"EmitEvent"}
    assert {name: rs.replicas for name, rs in sim.replica_sets.items()} == sets
    assert sim.status["currentStepIndex"] == 1  # the step state is kept for when the Service is back
