"""The CRD case tables, shared by the unit tier (judged by :mod:`tests.support.crd_validator`) and the integration
tier (judged by the real API server), so both hold the same expectations.

Three tables:
- ``CORPUS_REFUSALS``: which manifests of ``shared/corpus`` use unsupported Argo features, and the field path the
  refusal must name (``UNSUPPORTED``). Every other corpus document of our kinds must be accepted after changing only
  apiVersion (``SUPPORTED``).
- ``INVALID_CASES``: hand-made manifests that break one rule each, with the path and message fragment expected.
- ``DEFAULT_CASES``: fields the schema defaults, and the value to read back.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.corpus import CORPUS
from workflows.api import API_VERSION

OUR_KINDS = frozenset(
    {"Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Workflow", "WorkflowTemplate"}
)

Manifest = dict[str, Any]


@dataclass(frozen=True)
class CorpusDocument:
    """One document of a corpus file that is of one of our kinds, with apiVersion already switched."""

    file: str  # e.g. "argo-workflows/dag-diamond.yaml"
    index: int  # position of the document in the file
    manifest: Manifest

    @property
    def case_id(self) -> str:
        return f"{self.file}#{self.index}"


def corpus_documents(corpus_dir: Path = CORPUS) -> Iterator[CorpusDocument]:
    for path in sorted(corpus_dir.rglob("*.yaml")):
        relative = path.relative_to(corpus_dir).as_posix()
        for index, document in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if isinstance(document, dict) and document.get("kind") in OUR_KINDS:
                manifest = copy.deepcopy(document)
                manifest["apiVersion"] = API_VERSION
                yield CorpusDocument(file=relative, index=index, manifest=manifest)


# case_id -> field paths that must appear among the refusal's errors. The real server may stop at the first
# unknown field under strict decoding, so the integration tier checks that at least the first path appears.
CORPUS_REFUSALS: dict[str, tuple[str, ...]] = {
    "argo-workflows/dag-conditional-parameters.yaml#0": (
        "spec.templates[0].outputs",
        "spec.templates[1].script",
        "spec.templates[2].script",
        "spec.templates[3].script",
    ),
    "argo-workflows/dag-inline-workflowtemplate.yaml#0": ("spec.templates[0].dag.tasks[0].inline",),
    "argo-workflows/dag-targets.yaml#0": ("spec.templates[0].dag.target",),
    "argo-workflows/http-hello-world.yaml#0": ("spec.templates[0].steps",),
    "argo-workflows/http-success-condition.yaml#0": ("spec.templates[0].steps",),
    "argo-workflows/loops-param-result.yaml#0": ("spec.templates[0].steps", "spec.templates[1].script"),
    "argo-workflows/parallelism-limit.yaml#0": ("spec.templates[0].steps",),
    "argo-workflows/retry-with-steps.yaml#0": ("spec.templates[0].steps",),
    "argo-workflows/suspend-template.yaml#0": ("spec.templates[0].steps",),
    "argo-workflows/timeouts-workflow.yaml#0": ("spec.templates[0].steps",),
    "argo-workflows/workflow-template-templates.yaml#2": ("spec.templates[1].steps",),
}

# Every corpus document of our kinds, split by the table above: what the schemas accept and what they refuse.
CORPUS_DOCUMENTS = list(corpus_documents())
SUPPORTED = [d for d in CORPUS_DOCUMENTS if d.case_id not in CORPUS_REFUSALS]
UNSUPPORTED = [d for d in CORPUS_DOCUMENTS if d.case_id in CORPUS_REFUSALS]


# --- minimal valid manifests ------------------------------------------------------------------------------------

_POD_TEMPLATE: Manifest = {
    "metadata": {"labels": {"app": "demo"}},
    "spec": {"containers": [{"name": "demo", "image": "nginx:1.27"}]},
}


def canary_rollout() -> Manifest:
    return {
        "apiVersion": API_VERSION,
        "kind": "Rollout",
        "metadata": {"name": "demo"},
        "spec": {
            "selector": {"matchLabels": {"app": "demo"}},
            "template": copy.deepcopy(_POD_TEMPLATE),
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}},
        },
    }


def routed_canary_rollout() -> Manifest:
    rollout = canary_rollout()
    rollout["spec"]["strategy"]["canary"].update(
        {
            "canaryService": "demo-canary",
            "stableService": "demo-stable",
            "trafficRouting": {"nginx": {"stableIngress": "demo"}, "managedRoutes": [{"name": "header"}]},
            "steps": [
                {"setWeight": 10},
                {"setHeaderRoute": {"name": "header", "match": [{"headerName": "x", "headerValue": {"exact": "1"}}]}},
                {"pause": {"duration": "1m"}},
            ],
        }
    )
    return rollout


def blue_green_rollout() -> Manifest:
    rollout = canary_rollout()
    rollout["spec"]["strategy"] = {"blueGreen": {"activeService": "demo-active", "previewService": "demo-preview"}}
    return rollout


def analysis_template(kind: str = "AnalysisTemplate") -> Manifest:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": "success-rate"},
        "spec": {
            "args": [{"name": "service"}],
            "metrics": [
                {
                    "name": "success-rate",
                    "interval": "1m",
                    "count": 3,
                    "successCondition": "result[0] >= 0.95",
                    "provider": {"prometheus": {"address": "http://prometheus:9090", "query": "up"}},
                }
            ],
        },
    }


def analysis_run() -> Manifest:
    run = analysis_template("AnalysisRun")
    run["spec"]["args"] = [{"name": "service", "value": "demo"}]
    return run


def workflow(kind: str = "Workflow") -> Manifest:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": "diamond"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {"name": "A", "template": "echo"},
                            {"name": "B", "template": "echo", "depends": "A"},
                        ]
                    },
                },
                {"name": "echo", "container": {"image": "busybox", "command": ["echo", "hi"]}},
            ],
        },
    }


VALID_MANIFESTS: dict[str, Callable[[], Manifest]] = {
    "canary": canary_rollout,
    "routed-canary": routed_canary_rollout,
    "blue-green": blue_green_rollout,
    "analysis-template": analysis_template,
    "cluster-analysis-template": lambda: analysis_template("ClusterAnalysisTemplate"),
    "analysis-run": analysis_run,
    "workflow": workflow,
    "workflow-template": lambda: workflow("WorkflowTemplate"),
}


# --- invalid manifests ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvalidCase:
    """A manifest that breaks one rule; the refusal must name ``path`` and contain ``message``."""

    case_id: str
    build: Callable[[], Manifest]
    path: str
    message: str


def edit(base: Callable[[], Manifest], change: Callable[[Manifest], None]) -> Callable[[], Manifest]:
    def build() -> Manifest:
        manifest = base()
        change(manifest)
        return manifest

    return build


def _canary(m: Manifest) -> dict[str, Any]:
    canary: dict[str, Any] = m["spec"]["strategy"]["canary"]
    return canary


def _blue_green(m: Manifest) -> dict[str, Any]:
    blue_green: dict[str, Any] = m["spec"]["strategy"]["blueGreen"]
    return blue_green


def _metric(m: Manifest) -> dict[str, Any]:
    metric: dict[str, Any] = m["spec"]["metrics"][0]
    return metric


def _task(m: Manifest) -> dict[str, Any]:
    task: dict[str, Any] = m["spec"]["templates"][0]["dag"]["tasks"][0]
    return task


_STEPS = "spec.strategy.canary.steps"

INVALID_CASES: tuple[InvalidCase, ...] = (
    # --- Rollout: strategy and steps
    InvalidCase(
        "both-strategies",
        edit(canary_rollout, lambda m: m["spec"]["strategy"].update(blueGreen={"activeService": "a"})),
        "spec.strategy",
        "strategy needs exactly one of canary or blueGreen",
    ),
    InvalidCase(
        "no-strategy",
        edit(canary_rollout, lambda m: m["spec"].update(strategy={})),
        "spec.strategy",
        "strategy needs exactly one of canary or blueGreen",
    ),
    InvalidCase(
        "set-weight-150",
        edit(canary_rollout, lambda m: _canary(m).update(steps=[{"setWeight": 150}])),
        _STEPS,
        "setWeight and setCanaryScale.weight must be between 0 and trafficRouting.maxTrafficWeight (default 100)",
    ),
    InvalidCase(
        "set-weight-above-max-traffic-weight",
        edit(
            routed_canary_rollout,
            lambda m: [
                _canary(m)["trafficRouting"].update(maxTrafficWeight=1000),
                _canary(m)["steps"].append({"setWeight": 1001}),
            ],
        ),
        _STEPS,
        "must be between 0 and trafficRouting.maxTrafficWeight",
    ),
    InvalidCase(
        "set-canary-scale-weight-above-max-traffic-weight",
        edit(routed_canary_rollout, lambda m: _canary(m)["steps"].append({"setCanaryScale": {"weight": 101}})),
        _STEPS,
        "must be between 0 and trafficRouting.maxTrafficWeight",
    ),
    InvalidCase(
        "plugin-step",
        edit(canary_rollout, lambda m: _canary(m).update(steps=[{"plugin": {"name": "acme/step"}}])),
        f"{_STEPS}[0].plugin",
        "does not support step plugins",
    ),
    # --- Rollout: fields Argo only allows with traffic routing (its validation messages)
    InvalidCase(
        "scale-down-delay-without-routing",
        edit(canary_rollout, lambda m: _canary(m).update(scaleDownDelaySeconds=10)),
        "spec.strategy.canary.scaleDownDelaySeconds",
        "Canary scaleDownDelaySeconds can only be used with traffic routing",
    ),
    InvalidCase(
        "dynamic-stable-scale-without-routing",
        edit(canary_rollout, lambda m: _canary(m).update(dynamicStableScale=True)),
        "spec.strategy.canary.dynamicStableScale",
        "Canary dynamicStableScale can only be used with traffic routing",
    ),
    InvalidCase(
        "dynamic-stable-scale-with-scale-down-delay",
        edit(routed_canary_rollout, lambda m: _canary(m).update(dynamicStableScale=True, scaleDownDelaySeconds=5)),
        "spec.strategy.canary.dynamicStableScale",
        "Canary dynamicStableScale cannot be used with scaleDownDelaySeconds",
    ),
    InvalidCase(
        "set-canary-scale-without-routing",
        edit(canary_rollout, lambda m: _canary(m).update(steps=[{"setCanaryScale": {"replicas": 1}}])),
        "spec.strategy.canary.trafficRouting",
        "SetCanaryScale requires TrafficRouting to be set",
    ),
    InvalidCase(
        "min-pods-without-routing",
        edit(canary_rollout, lambda m: _canary(m).update(minPodsPerReplicaSet=2)),
        "spec.strategy.canary.minPodsPerReplicaSet",
        "minPodsPerReplicaSet can only be used with traffic routing",
    ),
    InvalidCase(
        "replica-progress-threshold",
        edit(routed_canary_rollout, lambda m: _canary(m).update(replicaProgressThreshold={"type": "Pod", "value": 1})),
        "spec.strategy.canary.replicaProgressThreshold",
        "does not support replicaProgressThreshold",
    ),
    InvalidCase(
        "anti-affinity-both-strategies",
        edit(
            canary_rollout,
            lambda m: _canary(m).update(
                antiAffinity={
                    "preferredDuringSchedulingIgnoredDuringExecution": {"weight": 10},
                    "requiredDuringSchedulingIgnoredDuringExecution": {},
                }
            ),
        ),
        "spec.strategy.canary.antiAffinity",
        "AntiAffinity must have exactly one strategy listed",
    ),
    InvalidCase(
        "anti-affinity-weight-out-of-range",
        edit(
            canary_rollout,
            lambda m: _canary(m).update(
                antiAffinity={"preferredDuringSchedulingIgnoredDuringExecution": {"weight": 0}}
            ),
        ),
        "spec.strategy.canary.antiAffinity.preferredDuringSchedulingIgnoredDuringExecution.weight",
        "should be greater than or equal to 1",
    ),
    InvalidCase(
        "set-weight-negative",
        edit(canary_rollout, lambda m: _canary(m).update(steps=[{"setWeight": -1}])),
        f"{_STEPS}[0].setWeight",
        "0",
    ),
    InvalidCase(
        "step-with-two-actions",
        edit(canary_rollout, lambda m: _canary(m).update(steps=[{"setWeight": 10, "pause": {}}])),
        f"{_STEPS}[0]",
        "a canary step needs exactly one of",
    ),
    InvalidCase(
        "empty-step",
        edit(canary_rollout, lambda m: _canary(m).update(steps=[{}])),
        f"{_STEPS}[0]",
        "a canary step needs exactly one of",
    ),
    InvalidCase(
        "experiment-step",
        edit(canary_rollout, lambda m: _canary(m).update(steps=[{"experiment": {"templates": []}}])),
        f"{_STEPS}[0].experiment",
        "does not support the experiment canary step",
    ),
    InvalidCase(
        "pause-duration-garbage",
        edit(canary_rollout, lambda m: _canary(m).update(steps=[{"pause": {"duration": "soon"}}])),
        f"{_STEPS}[0].pause.duration",
        "should match",
    ),
    InvalidCase(
        "set-canary-scale-two-modes",
        edit(canary_rollout, lambda m: _canary(m).update(steps=[{"setCanaryScale": {"weight": 10, "replicas": 2}}])),
        f"{_STEPS}[0].setCanaryScale",
        "setCanaryScale needs exactly one of",
    ),
    InvalidCase(
        "header-route-not-managed",
        edit(
            routed_canary_rollout,
            lambda m: _canary(m)["steps"].append({"setHeaderRoute": {"name": "unknown-route"}}),
        ),
        "spec.strategy.canary.steps",
        "must name a route listed in trafficRouting.managedRoutes",
    ),
    InvalidCase(
        "max-surge-and-unavailable-zero",
        edit(canary_rollout, lambda m: _canary(m).update(maxSurge=0, maxUnavailable="0%")),
        "spec.strategy.canary.maxUnavailable",
        "maxSurge and maxUnavailable cannot both be 0",
    ),
    InvalidCase(
        "max-surge-garbage",
        edit(canary_rollout, lambda m: _canary(m).update(maxSurge="lots")),
        "spec.strategy.canary.maxSurge",
        "should match",
    ),
    InvalidCase(
        "analysis-step-without-templates",
        edit(canary_rollout, lambda m: _canary(m).update(steps=[{"analysis": {"args": []}}])),
        f"{_STEPS}[0].analysis.templates",
        "Required value",
    ),
    # --- Rollout: services and routing
    InvalidCase(
        "canary-service-equals-stable",
        edit(routed_canary_rollout, lambda m: _canary(m).update(canaryService="demo-stable")),
        "spec.strategy.canary.stableService",
        "canaryService and stableService must be different Services",
    ),
    InvalidCase(
        "traffic-routing-without-services",
        edit(routed_canary_rollout, lambda m: [_canary(m).pop("canaryService"), _canary(m).pop("stableService")]),
        "spec.strategy.canary.trafficRouting",
        "trafficRouting needs canaryService and stableService",
    ),
    InvalidCase(
        "traefik-router",
        edit(
            routed_canary_rollout,
            lambda m: _canary(m)["trafficRouting"].update(traefik={"weightedTraefikServiceName": "x"}),
        ),
        "spec.strategy.canary.trafficRouting.traefik",
        "does not support Traefik traffic routing",
    ),
    InvalidCase(
        "alb-stickiness-duration",
        edit(
            routed_canary_rollout,
            lambda m: _canary(m)["trafficRouting"].update(
                alb={"ingress": "x", "servicePort": 80, "stickinessConfig": {"enabled": True, "durationSeconds": 0}}
            ),
        ),
        "spec.strategy.canary.trafficRouting.alb.stickinessConfig.durationSeconds",
        "must be between 1 and 604800 seconds",
    ),
    InvalidCase(
        "smi-router",
        edit(routed_canary_rollout, lambda m: _canary(m)["trafficRouting"].update(smi={"rootService": "x"})),
        "spec.strategy.canary.trafficRouting.smi",
        "does not support SMI traffic routing",
    ),
    InvalidCase(
        "app-mesh-router",
        edit(routed_canary_rollout, lambda m: _canary(m)["trafficRouting"].update(appMesh={})),
        "spec.strategy.canary.trafficRouting.appMesh",
        "does not support App Mesh traffic routing",
    ),
    InvalidCase(
        "other-router-plugin",
        edit(
            routed_canary_rollout,
            lambda m: _canary(m)["trafficRouting"].update(plugins={"acme/router": {"httpRoute": "r"}}),
        ),
        "spec.strategy.canary.trafficRouting.plugins",
        "only the argoproj-labs/gatewayAPI traffic router plugin is supported",
    ),
    InvalidCase(
        "nginx-without-ingress",
        edit(routed_canary_rollout, lambda m: _canary(m)["trafficRouting"].update(nginx={})),
        "spec.strategy.canary.trafficRouting.nginx",
        "nginx needs exactly one of stableIngress or stableIngresses",
    ),
    InvalidCase(
        "istio-without-virtual-service",
        edit(
            routed_canary_rollout,
            lambda m: [_canary(m)["trafficRouting"].pop("nginx"), _canary(m)["trafficRouting"].update(istio={})],
        ),
        "spec.strategy.canary.trafficRouting.istio",
        "istio needs exactly one of virtualService or virtualServices",
    ),
    InvalidCase(
        "istio-additional-subset-names",
        edit(
            routed_canary_rollout,
            lambda m: _canary(m)["trafficRouting"].update(
                istio={
                    "virtualService": {"name": "vs"},
                    "destinationRule": {
                        "name": "dr",
                        "canarySubsetName": "canary",
                        "stableSubsetName": "stable",
                        "additionalSubsetNames": ["exp"],
                    },
                }
            ),
        ),
        "spec.strategy.canary.trafficRouting.istio.destinationRule.additionalSubsetNames",
        "does not support additionalSubsetNames",
    ),
    InvalidCase(
        "gateway-api-grpc-route",
        edit(
            routed_canary_rollout,
            lambda m: [
                _canary(m)["trafficRouting"].pop("nginx"),
                _canary(m)["trafficRouting"].update(
                    plugins={
                        "argoproj-labs/gatewayAPI": {"httpRoute": "web", "grpcRoute": "grpc", "useHeaderRoutes": True}
                    }
                ),
            ],
        ),
        "spec.strategy.canary.trafficRouting.plugins[argoproj-labs/gatewayAPI].grpcRoute",
        "does not support GRPCRoute traffic routing",
    ),
    InvalidCase(
        "gateway-api-route-selector",
        edit(
            routed_canary_rollout,
            lambda m: [
                _canary(m)["trafficRouting"].pop("nginx"),
                _canary(m)["trafficRouting"].update(
                    gatewayAPI={"httpRouteSelector": {"matchLabels": {"app": "web"}}, "useHeaderRoutes": True}
                ),
            ],
        ),
        "spec.strategy.canary.trafficRouting.gatewayAPI.httpRouteSelector",
        "does not support route discovery by label selector",
    ),
    InvalidCase(
        "blue-green-scale-down-limit-above-history",
        edit(
            blue_green_rollout,
            lambda m: [m["spec"].update(revisionHistoryLimit=2), _blue_green(m).update(scaleDownDelayRevisionLimit=3)],
        ),
        "spec.strategy.blueGreen.scaleDownDelayRevisionLimit",
        "revision history limit can not be smaller than the rollout's scale down limit",
    ),
    InvalidCase(
        "blue-green-missing-active-service",
        edit(blue_green_rollout, lambda m: _blue_green(m).pop("activeService")),
        "spec.strategy.blueGreen.activeService",
        "Required value",
    ),
    InvalidCase(
        "blue-green-same-services",
        edit(blue_green_rollout, lambda m: _blue_green(m).update(previewService="demo-active")),
        "spec.strategy.blueGreen.previewService",
        "previewService must differ from activeService",
    ),
    # --- Rollout: workload
    InvalidCase(
        "missing-selector",
        edit(canary_rollout, lambda m: m["spec"].pop("selector")),
        "spec.selector",
        "spec.selector is required unless spec.workloadRef is set",
    ),
    InvalidCase(
        "missing-template",
        edit(canary_rollout, lambda m: m["spec"].pop("template")),
        "spec.template",
        "spec.template is required unless spec.workloadRef is set",
    ),
    InvalidCase(
        "workload-ref-with-template",
        edit(
            canary_rollout,
            lambda m: m["spec"].update(workloadRef={"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}),
        ),
        "spec.template",
        "spec.template must be empty when spec.workloadRef is set",
    ),
    InvalidCase(
        "workload-ref-bad-scale-down",
        edit(
            canary_rollout,
            lambda m: [
                m["spec"].pop("template"),
                m["spec"].update(
                    workloadRef={"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "scaleDown": "always"}
                ),
            ],
        ),
        "spec.workloadRef.scaleDown",
        "Unsupported value",
    ),
    # --- analysis
    InvalidCase(
        "metric-with-two-providers",
        edit(analysis_template, lambda m: _metric(m)["provider"].update(web={"url": "http://x"})),
        "spec.metrics[0].provider",
        "a metric provider needs exactly one of prometheus, web, job or workflow",
    ),
    InvalidCase(
        "metric-without-provider-choice",
        edit(analysis_template, lambda m: _metric(m).update(provider={})),
        "spec.metrics[0].provider",
        "a metric provider needs exactly one of prometheus, web, job or workflow",
    ),
    InvalidCase(
        "datadog-provider",
        edit(analysis_template, lambda m: _metric(m).update(provider={"datadog": {"query": "q"}})),
        "spec.metrics[0].provider.datadog",
        "does not support the datadog metric provider",
    ),
    InvalidCase(
        "prometheus-authentication",
        edit(
            analysis_template,
            lambda m: _metric(m)["provider"]["prometheus"].update(authentication={"oauth2": {"tokenUrl": "http://t"}}),
        ),
        "spec.metrics[0].provider.prometheus.authentication",
        "does not support prometheus authentication",
    ),
    InvalidCase(
        "count-without-interval",
        edit(analysis_template, lambda m: _metric(m).pop("interval")),
        "spec.metrics[0].interval",
        "a metric with count greater than 1 needs an interval",
    ),
    InvalidCase(
        "duplicate-metric-names",
        edit(analysis_template, lambda m: m["spec"]["metrics"].append(copy.deepcopy(_metric(m)))),
        "spec.metrics[1]",
        "Duplicate value",
    ),
    InvalidCase(
        "dependency-on-unknown-metric",
        edit(analysis_template, lambda m: _metric(m).update(dependencies=["nope"])),
        "spec.metrics",
        "every entry of metrics[].dependencies must name a metric of this template",
    ),
    InvalidCase(
        "arg-with-value-and-value-from",
        edit(
            analysis_template,
            lambda m: m["spec"].update(
                args=[{"name": "a", "value": "1", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
            ),
        ),
        "spec.args[0].valueFrom",
        "an argument has either value or valueFrom, not both",
    ),
    InvalidCase(
        "run-with-two-providers",
        edit(analysis_run, lambda m: _metric(m)["provider"].update(job={"spec": {"template": {}}})),
        "spec.metrics[0].provider",
        "a metric provider needs exactly one of prometheus, web, job or workflow",
    ),
    InvalidCase(
        "web-bad-method",
        edit(analysis_template, lambda m: _metric(m).update(provider={"web": {"url": "http://x", "method": "TRACE"}})),
        "spec.metrics[0].provider.web.method",
        "Unsupported value",
    ),
    # --- workflows
    InvalidCase(
        "template-with-two-kinds",
        edit(workflow, lambda m: m["spec"]["templates"][1].update(http={"url": "http://x"})),
        "spec.templates[1]",
        "a template needs exactly one of dag, container, http or suspend",
    ),
    InvalidCase(
        "template-with-no-kind",
        edit(workflow, lambda m: m["spec"]["templates"][1].pop("container")),
        "spec.templates[1]",
        "a template needs exactly one of dag, container, http or suspend",
    ),
    InvalidCase(
        "steps-template",
        edit(workflow, lambda m: m["spec"]["templates"].append({"name": "s", "steps": [[{"name": "a"}]]})),
        "spec.templates[2].steps",
        "does not support steps templates",
    ),
    InvalidCase(
        "script-template",
        edit(workflow, lambda m: m["spec"]["templates"].append({"name": "s", "script": {"image": "python"}})),
        "spec.templates[2].script",
        "does not support script templates",
    ),
    InvalidCase(
        "input-artifacts",
        edit(workflow, lambda m: m["spec"]["templates"][1].update(inputs={"artifacts": [{"name": "a"}]})),
        "spec.templates[1].inputs.artifacts",
        "does not support artifacts",
    ),
    InvalidCase(
        "task-with-template-and-template-ref",
        edit(workflow, lambda m: _task(m).update(templateRef={"name": "wt", "template": "t"})),
        "spec.templates[0].dag.tasks[0]",
        "a task needs exactly one of template or templateRef",
    ),
    InvalidCase(
        "task-with-depends-and-dependencies",
        edit(workflow, lambda m: m["spec"]["templates"][0]["dag"]["tasks"][1].update(dependencies=["A"])),
        "spec.templates[0].dag.tasks[1].depends",
        "a task uses dependencies or depends, not both",
    ),
    InvalidCase(
        "duplicate-task-names",
        edit(workflow, lambda m: m["spec"]["templates"][0]["dag"]["tasks"][1].update(name="A")),
        "spec.templates[0].dag.tasks[1]",
        "Duplicate value",
    ),
    InvalidCase(
        "entrypoint-not-a-template",
        edit(workflow, lambda m: m["spec"].update(entrypoint="nope")),
        "spec.entrypoint",
        "entrypoint must name a template of spec.templates",
    ),
    InvalidCase(
        "workflow-without-entrypoint",
        edit(workflow, lambda m: m["spec"].pop("entrypoint")),
        "spec.entrypoint",
        "a workflow needs spec.entrypoint",
    ),
    InvalidCase(
        "container-without-image",
        edit(workflow, lambda m: m["spec"]["templates"][1].update(container={"command": ["true"]})),
        "spec.templates[1].container.image",
        "Required value",
    ),
    InvalidCase(
        "bad-retry-policy",
        edit(workflow, lambda m: m["spec"]["templates"][1].update(retryStrategy={"retryPolicy": "Sometimes"})),
        "spec.templates[1].retryStrategy.retryPolicy",
        "Unsupported value",
    ),
    InvalidCase(
        "pod-fields-on-dag-template",
        edit(workflow, lambda m: m["spec"]["templates"][0].update(nodeSelector={"disk": "ssd"})),
        "spec.templates[0]",
        "apply only to container templates",
    ),
    InvalidCase(
        "http-header-from-secret",
        edit(
            workflow,
            lambda m: (
                m["spec"]["templates"][1].clear()
                or m["spec"]["templates"][1].update(
                    name="echo",
                    http={
                        "url": "http://x",
                        "headers": [
                            {"name": "a", "value": "", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
                        ],
                    },
                )
            ),
        ),
        "spec.templates[1].http.headers[0].valueFrom",
        "does not support http header valueFrom",
    ),
    InvalidCase(
        "pod-gc",
        edit(workflow, lambda m: m["spec"].update(podGC={"strategy": "OnPodSuccess"})),
        "spec.podGC",
        "does not support podGC",
    ),
    InvalidCase(
        "consecutive-success-limit",
        edit(analysis_template, lambda m: _metric(m).update(consecutiveSuccessLimit=3)),
        "spec.metrics[0].consecutiveSuccessLimit",
        "does not support consecutiveSuccessLimit",
    ),
    InvalidCase(
        "workflow-template-dag-target",
        edit(
            lambda: workflow("WorkflowTemplate"),
            lambda m: m["spec"]["templates"][0]["dag"].update(target="B"),
        ),
        "spec.templates[0].dag.target",
        "does not support dag target",
    ),
)


# --- defaults -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DefaultCase:
    """``build()`` omits the field at ``path`` (a tuple of keys/indexes); the API server must fill ``expected``."""

    case_id: str
    build: Callable[[], Manifest]
    path: tuple[str | int, ...]
    expected: Any


DEFAULT_CASES: tuple[DefaultCase, ...] = (
    DefaultCase("rollout-replicas", canary_rollout, ("spec", "replicas"), 1),
    DefaultCase("revision-history-limit", canary_rollout, ("spec", "revisionHistoryLimit"), 10),
    DefaultCase("progress-deadline-seconds", canary_rollout, ("spec", "progressDeadlineSeconds"), 600),
    DefaultCase(
        "auto-promotion-enabled", blue_green_rollout, ("spec", "strategy", "blueGreen", "autoPromotionEnabled"), True
    ),
    DefaultCase(
        "blue-green-scale-down-delay",
        blue_green_rollout,
        ("spec", "strategy", "blueGreen", "scaleDownDelaySeconds"),
        30,
    ),
    DefaultCase(
        "blue-green-abort-scale-down-delay",
        blue_green_rollout,
        ("spec", "strategy", "blueGreen", "abortScaleDownDelaySeconds"),
        30,
    ),
    DefaultCase("consecutive-error-limit", analysis_template, ("spec", "metrics", 0, "consecutiveErrorLimit"), 4),
    DefaultCase("failure-limit", analysis_template, ("spec", "metrics", 0, "failureLimit"), 0),
    DefaultCase("inconclusive-limit", analysis_run, ("spec", "metrics", 0, "inconclusiveLimit"), 0),
)


def dig(manifest: Any, path: tuple[str | int, ...]) -> Any:
    """``manifest[path[0]][path[1]]...``; raises KeyError/IndexError when absent."""
    value = manifest
    for key in path:
        value = value[key]
    return value


def without_defaults_fields() -> tuple[tuple[str, Callable[[], Manifest], tuple[str | int, ...]], ...]:
    """Fields the schema deliberately does not default (the engine does): they must stay absent."""
    return (
        ("dag-fail-fast", workflow, ("spec", "templates", 0, "dag", "failFast")),
        ("canary-max-surge", canary_rollout, ("spec", "strategy", "canary", "maxSurge")),
        ("canary-max-unavailable", canary_rollout, ("spec", "strategy", "canary", "maxUnavailable")),
        # Argo refuses scaleDownDelaySeconds on a canary without traffic routing: a default would refuse them all.
        ("canary-scale-down-delay", canary_rollout, ("spec", "strategy", "canary", "scaleDownDelaySeconds")),
    )
