"""Parsing Rollouts: every corpus Rollout parses (and deploys), and what the schema cannot see is reported by path."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rollouts.core import InvalidSpecError, Observed, parse_rollout, plan, plan_invalid
from rollouts.core.simulate import SimCluster
from rollouts.core.spec import BlueGreenStrategy, CanaryStrategy, HashSource, StepKind
from tests.support.corpus import CORPUS, documents
from tests.support.rollouts import T0, canary_spec, rollout


def corpus_rollouts() -> list[tuple[str, dict[str, Any]]]:
    """Every Rollout of the shared corpus (a missing corpus is an error, never an empty parametrisation)."""
    return [
        (f"{path.name}:{document['metadata']['name']}", document)
        for path in sorted((CORPUS / "argo-rollouts").glob("*.yaml"))
        for document in documents(path)
        if document.get("kind") == "Rollout"
    ]


CASES = corpus_rollouts()


@pytest.mark.parametrize(("name", "document"), CASES, ids=[name for name, _ in CASES])
def test_every_corpus_rollout_parses_and_deploys_to_healthy(name: str, document: dict[str, Any]) -> None:
    body = {**document, "metadata": {**document["metadata"], "generation": 1}}
    if "workloadRef" in body["spec"]:
        workload_template = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"image": "i"}]}}
        spec = parse_rollout(body, workload_template=workload_template, workload_selector={"matchLabels": {"app": "x"}})
    else:
        spec = parse_rollout(body)
    strategy = spec.strategy
    services = (
        (strategy.active_service, strategy.preview_service)
        if isinstance(strategy, BlueGreenStrategy)
        else (strategy.canary_service, strategy.stable_service)
    )
    sim = SimCluster(now=T0, services=tuple(s for s in services if s))
    for _ in range(5):
        sim.reconcile(spec)
        sim.advance(1)
    assert sim.status["phase"] == "Healthy", (name, sim.status.get("message"))


def test_fields_and_defaults() -> None:
    spec = parse_rollout(
        rollout(
            canary={
                "steps": [
                    {"setWeight": 20},
                    {"pause": {"duration": "1m30s"}},
                    {"pause": {"duration": 45}},
                    {"pause": {}},
                    {
                        "analysis": {
                            "templates": [{"templateName": "t"}],
                            "args": [{"name": "h", "valueFrom": {"podTemplateHashValue": "Stable"}}],
                        }
                    },
                ],
                "maxSurge": "50%",
                "maxUnavailable": 0,
            },
            restartAt="2026-01-01T00:00:00Z",
        )
    )
    canary = spec.canary
    assert isinstance(canary, CanaryStrategy)
    assert [s.kind for s in canary.steps] == [
        StepKind.SET_WEIGHT,
        StepKind.PAUSE,
        StepKind.PAUSE,
        StepKind.PAUSE,
        StepKind.ANALYSIS,
    ]
    assert canary.steps[1].pause_duration == timedelta(seconds=90)
    assert canary.steps[2].pause_duration == timedelta(seconds=45)
    assert canary.steps[3].pause_duration is None
    analysis = canary.steps[4].analysis
    assert analysis is not None
    assert analysis.args[0].pod_template_hash is HashSource.STABLE
    assert (canary.max_surge, canary.max_unavailable) == ("50%", 0)
    assert canary.scale_down_delay_seconds == 30
    assert not canary.routed
    assert spec.revision_history_limit == 10
    assert spec.progress_deadline_seconds == 600
    assert spec.restart_at == T0


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"canary": {"maxSurge": "12x"}}, "spec.strategy.canary.maxSurge"),
        ({"canary": {"maxUnavailable": "150%"}}, "spec.strategy.canary.maxUnavailable"),
        ({"canary": {"steps": [{"pause": {"duration": "5 minutes"}}]}}, "spec.strategy.canary.steps[0].pause.duration"),
        ({"canary": {"steps": [{"pause": {"duration": "-5s"}}]}}, "spec.strategy.canary.steps[0].pause.duration"),
        ({"canary": {"steps": [{"setWeight": 10, "pause": {}}]}}, "spec.strategy.canary.steps[0]"),
        (
            {
                "canary": {
                    "steps": [{"setWeight": 10}],
                    "analysis": {"templates": [{"templateName": "t"}], "startingStep": -1},
                }
            },
            "spec.strategy.canary.analysis.startingStep",
        ),
        ({"canary": {"steps": [{"analysis": {"templates": []}}]}}, "spec.strategy.canary.steps[0].analysis.templates"),
        ({"blue_green": {"activeService": "a", "previewService": "a"}}, "spec.strategy.blueGreen.previewService"),
        ({"restartAt": "yesterday"}, "spec.restartAt"),
    ],
)
def test_problems_the_schema_cannot_see_are_reported_with_their_path(change: dict[str, Any], path: str) -> None:
    body = rollout(**change)
    with pytest.raises(InvalidSpecError) as caught:
        parse_rollout(body)
    assert path in [issue.path for issue in caught.value.issues]


ROUTING = {"nginx": {"stableIngress": "web"}}


def test_routed_only_fields_and_max_traffic_weight() -> None:
    spec = parse_rollout(
        rollout(
            canary={
                "trafficRouting": {**ROUTING, "maxTrafficWeight": 1000},
                "steps": [{"setWeight": 5}, {"setCanaryScale": {"weight": 500}}, {"setCanaryScale": {"replicas": 2}}],
                "minPodsPerReplicaSet": 2,
                "scaleDownDelayRevisionLimit": 1,
                "antiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": {"weight": 40}},
            }
        )
    )
    canary = spec.canary
    assert canary is not None
    assert canary.max_weight == 1000
    assert [s.weight for s in canary.steps] == [5, None, None]
    assert (canary.steps[1].scale_weight, canary.steps[2].scale_replicas) == (500, 2)
    assert canary.min_pods_per_replica_set == 2
    assert canary.scale_down_delay_revision_limit == 1
    assert canary.anti_affinity is not None
    assert canary.anti_affinity.weight == 40
    assert canary.scale_down_delay_seconds == 30  # Argo's default, applied by the parser (no schema default)


def test_blue_green_max_unavailable_anti_affinity_and_revision_limit() -> None:
    spec = parse_rollout(
        rollout(
            blue_green={
                "activeService": "a",
                "maxUnavailable": 2,
                "scaleDownDelayRevisionLimit": 1,
                "antiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}},
            }
        )
    )
    blue_green = spec.blue_green
    assert blue_green is not None
    assert blue_green.max_unavailable == 2
    assert blue_green.scale_down_delay_revision_limit == 1
    assert blue_green.anti_affinity is not None
    assert blue_green.anti_affinity.weight is None  # required
    assert parse_rollout(rollout(blue_green={"activeService": "a"})).strategy.max_unavailable == "25%"


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        # Argo's validation (pkg/apis/rollouts/validation) and its messages: these only mean something with a router.
        (
            {"canary": {"scaleDownDelaySeconds": 10}},
            "spec.strategy.canary.scaleDownDelaySeconds",
            "Canary scaleDownDelaySeconds can only be used with traffic routing",
        ),
        (
            {"canary": {"dynamicStableScale": True}},
            "spec.strategy.canary.dynamicStableScale",
            "Canary dynamicStableScale can only be used with traffic routing",
        ),
        (
            {"canary": {"trafficRouting": ROUTING, "dynamicStableScale": True, "scaleDownDelaySeconds": 0}},
            "spec.strategy.canary.dynamicStableScale",
            "Canary dynamicStableScale cannot be used with scaleDownDelaySeconds",
        ),
        (
            {"canary": {"steps": [{"setCanaryScale": {"replicas": 1}}]}},
            "spec.strategy.canary.steps[0].setCanaryScale",
            "SetCanaryScale requires TrafficRouting to be set",
        ),
        (
            {"canary": {"minPodsPerReplicaSet": 2}},
            "spec.strategy.canary.minPodsPerReplicaSet",
            "can only be used with traffic routing",
        ),
        ({"canary": {"steps": [{"setWeight": 101}]}}, "spec.strategy.canary.steps[0].setWeight", "between 0 and 100"),
        (
            {"canary": {"trafficRouting": {**ROUTING, "maxTrafficWeight": 10}, "steps": [{"setWeight": 11}]}},
            "spec.strategy.canary.steps[0].setWeight",
            "between 0 and 10",
        ),
        (
            {"canary": {"trafficRouting": ROUTING, "steps": [{"setCanaryScale": {"weight": 101}}]}},
            "spec.strategy.canary.steps[0].setCanaryScale.weight",
            "between 0 and 100",
        ),
        (
            {"canary": {"antiAffinity": {}}},
            "spec.strategy.canary.antiAffinity",
            "AntiAffinity must have exactly one strategy listed",
        ),
        (
            {
                "blue_green": {
                    "activeService": "a",
                    "antiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": {"weight": 101}},
                }
            },
            "spec.strategy.blueGreen.antiAffinity.preferredDuringSchedulingIgnoredDuringExecution.weight",
            "AntiAffinity weight must be between 1-100",
        ),
        (
            {"blue_green": {"activeService": "a", "scaleDownDelayRevisionLimit": 11}},
            "spec.strategy.blueGreen.scaleDownDelayRevisionLimit",
            "can not be smaller than the rollout's scale down limit",
        ),
        (
            {"blue_green": {"activeService": "a", "maxUnavailable": "x"}},
            "spec.strategy.blueGreen.maxUnavailable",
            "percentage",
        ),
    ],
)
def test_argo_validation_is_reported_with_its_path_and_message(change: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(InvalidSpecError) as caught:
        parse_rollout(rollout(**change))
    assert any(issue.path == path and message in issue.message for issue in caught.value.issues), caught.value.issues


def test_a_selector_that_does_not_match_the_template_is_invalid() -> None:
    body = rollout()
    body["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(InvalidSpecError, match="does not match the template"):
        parse_rollout(body)


def test_every_issue_is_reported_at_once() -> None:
    body = rollout(canary={"maxSurge": "x", "steps": [{"pause": {"duration": "soon"}}]})
    with pytest.raises(InvalidSpecError) as caught:
        parse_rollout(body)
    assert len(caught.value.issues) == 2


def test_a_workload_ref_without_a_found_workload_is_invalid() -> None:
    body = rollout()
    body["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}
    with pytest.raises(InvalidSpecError, match="workloadRef"):
        parse_rollout(body)


def test_a_workload_ref_with_an_inline_template_too_is_refused_not_one_ignored() -> None:
    body = rollout()  # has an inline template
    body["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}
    workload = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "a", "image": "i"}]}}
    with pytest.raises(InvalidSpecError) as caught:
        parse_rollout(body, workload_template=workload, workload_selector={"matchLabels": {"app": "x"}})
    assert [(i.path, i.message) for i in caught.value.issues] == [
        ("spec.template", "template must be empty for workload reference rollout")
    ]
    body["spec"]["template"] = {"metadata": {}, "spec": {"containers": []}}  # an empty template is no template
    parse_rollout(body, workload_template=workload, workload_selector={"matchLabels": {"app": "x"}})


def test_the_workload_generation_planned_from_is_in_status() -> None:
    body = rollout()
    body["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}
    del body["spec"]["template"]
    workload = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "a", "image": "i"}]}}
    spec = parse_rollout(body, workload_template=workload, workload_selector={"matchLabels": {"app": "x"}})
    assert plan(spec, Observed(workload_generation=4), now=T0).status["workloadObservedGeneration"] == "4"
    assert plan(parse_rollout(rollout()), Observed(), now=T0).status["workloadObservedGeneration"] is None


def test_an_invalid_spec_becomes_a_degraded_status_not_an_error() -> None:
    body = rollout(canary={"maxSurge": "x"})
    try:
        parse_rollout(body)
    except InvalidSpecError as error:
        decided = plan_invalid(error, Observed(), now=T0, generation=3)
    assert decided.actions == ()
    assert decided.status["phase"] == "Degraded"
    assert decided.status["message"].startswith("InvalidSpec: spec.strategy.canary.maxSurge")
    assert decided.status["observedGeneration"] == "3"
    condition = decided.status["conditions"][0]
    assert (condition["type"], condition["status"]) == ("InvalidSpec", "True")
    # Once fixed, the condition goes away.
    fixed = plan(parse_rollout(rollout()), Observed(), now=T0)
    assert "InvalidSpec" not in {c["type"] for c in fixed.status["conditions"]}


@pytest.mark.parametrize(
    ("routing", "steps", "path", "fragment"),
    [
        ({"nginx": {}}, [], "trafficRouting.nginx.stableIngress", "name the stable Ingress"),
        ({"plugins": {"acme/router": {}}}, [], "trafficRouting.plugins.acme/router", "plugin not supported"),
        ({"traefik": {}}, [], "trafficRouting.traefik", "traffic router not supported"),
        ({"managedRoutes": [{"name": "h"}]}, [], "trafficRouting", "names no traffic router"),
        (
            {"nginx": {"stableIngress": "i"}},
            [{"setHeaderRoute": {"name": "undeclared", "match": [{"headerName": "a", "headerValue": {"exact": "1"}}]}}],
            "trafficRouting.managedRoutes",
            "not declared",
        ),
        (
            {"nginx": {"stableIngress": "i"}, "managedRoutes": [{"name": "m"}]},
            [{"setMirrorRoute": {"name": "m", "match": [{"method": {"exact": "GET"}}]}}],
            "steps[0].setMirrorRoute",
            "needs the Istio router",
        ),
        (
            {"gatewayAPI": {"httpRoute": "r"}, "managedRoutes": [{"name": "h"}]},
            [{"setHeaderRoute": {"name": "h", "match": [{"headerName": "a", "headerValue": {"exact": "1"}}]}}],
            "gatewayAPI.useHeaderRoutes",
            "set useHeaderRoutes",
        ),
        (
            {"alb": {"ingress": "i", "servicePort": 80}, "managedRoutes": [{"name": "h"}]},
            [
                {
                    "setHeaderRoute": {
                        "name": "h",
                        "match": [
                            {"headerName": "a", "headerValue": {"exact": "1"}},
                            {"headerName": "b", "headerValue": {"prefix": "1"}},
                        ],
                    }
                }
            ],
            "steps[0].setHeaderRoute.match[1]",
            "ALB supports 'exact' value only",
        ),
        (
            {"alb": {"ingress": "i", "servicePort": 80}, "managedRoutes": [{"name": "m"}]},
            [{"setMirrorRoute": {"name": "m", "match": [{"method": {"exact": "GET"}}]}}],
            "steps[0].setMirrorRoute",
            "ALB and Gateway API cannot mirror",
        ),
    ],
)
def test_a_routing_spec_that_cannot_work_is_refused_at_parse_time(
    routing: dict[str, Any], steps: list[dict[str, Any]], path: str, fragment: str
) -> None:
    """Before any traffic moves: the problem is an InvalidSpec with its path the moment the Rollout is applied."""
    with pytest.raises(InvalidSpecError) as caught:
        canary_spec(steps=steps, trafficRouting=routing)
    matching = [issue for issue in caught.value.issues if path in issue.path]
    assert matching, caught.value.issues
    assert fragment in matching[0].message


def test_alb_is_traffic_routing_for_the_fields_that_need_it() -> None:
    """scaleDownDelaySeconds, dynamicStableScale, setCanaryScale and header routes are accepted with ALB alone."""
    alb = {"alb": {"ingress": "i", "servicePort": 80}, "managedRoutes": [{"name": "h"}]}
    delayed = canary_spec(steps=[{"setCanaryScale": {"weight": 20}}], trafficRouting=alb, scaleDownDelaySeconds=5)
    assert delayed.canary is not None
    assert delayed.canary.routed
    assert delayed.canary.scale_down_delay_seconds == 5
    with pytest.raises(InvalidSpecError) as caught:
        canary_spec(trafficRouting=alb, canaryService=None)
    assert [(i.path, i.message) for i in caught.value.issues] == [
        (
            "spec.strategy.canary.canaryService",
            "Canary service and Stable service must to be set to use Traffic Routing",
        )
    ]
    dynamic = canary_spec(
        steps=[{"setHeaderRoute": {"name": "h", "match": [{"headerName": "a", "headerValue": {"exact": "1"}}]}}],
        trafficRouting=alb,
        dynamicStableScale=True,
    )
    assert dynamic.canary is not None
    assert dynamic.canary.dynamic_stable_scale


def test_routing_and_managed_routes_are_parsed_once_into_values() -> None:
    spec = canary_spec(
        steps=[{"setHeaderRoute": {"name": "h", "match": [{"headerName": "X-Beta", "headerValue": {"exact": "1"}}]}}],
        trafficRouting={
            "istio": {"virtualService": {"name": "vs", "routes": ["primary"]}},
            "managedRoutes": [{"name": "h"}],
        },
    )
    assert spec.canary is not None
    assert spec.canary.traffic_routing is not None
    assert spec.canary.traffic_routing.istio is not None
    route = spec.canary.steps[0].route
    assert route is not None
    assert (route.name, route.headers[0].name) == ("h", "X-Beta")
