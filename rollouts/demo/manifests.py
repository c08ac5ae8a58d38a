"""The demo's manifests as Python dicts: the ``success-rate`` AnalysisTemplate, the ``demo`` canary Rollout routed
through a Gateway API HTTPRoute, and the two Services the route splits between.

They are ordinary ``rollouts.dev/v1alpha1`` objects (change the group to ``argoproj.io`` and Argo Rollouts with its
Gateway API plugin would run them too) and standard-channel ``gateway.networking.k8s.io/v1`` / core ``v1`` objects.
The Rollout names ``stableService``/``canaryService`` and ``trafficRouting.gatewayAPI.httpRoute``: the controller
pins each Service's selector to one version (``rollouts-pod-template-hash``) and writes the canary's share as the
backendRef weights. Only the timings differ between the default run and ``--fast``, and they are chosen together,
because that is where metric-gated demos flake:

- the query's rate window must hold several scrapes (1 s apart) of the canary, and the first measurement waits
  ``initial_delay`` after the analysis starts, by which time the canary's pods have served for at least that long
  (a step's analysis starts only after its ``setWeight`` is reached, i.e. the canary pods are Ready);
- no ``or vector(1)``: a canary without traffic has proved nothing, so an empty result is an Error measurement
  (retried 10 s later, four in a row allowed) rather than a pass;
- ``failureLimit: 1`` needs two bad measurements to abort, so a single unlucky scrape cannot, and the healthy
  versions sit far above the 95% bar (99.5%) while the bad one sits far below (75%).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflows.api import API_VERSION

__all__ = [
    "BAD_IMAGE",
    "CANARY_SERVICE",
    "CONTAINER",
    "GATEWAY",
    "GOOD_IMAGE",
    "HTTP_ROUTE",
    "INITIAL_IMAGE",
    "REPLICAS",
    "ROLLOUT",
    "STABLE_SERVICE",
    "STEP_WEIGHTS",
    "TEMPLATE",
    "Timing",
    "analysis_template",
    "http_route",
    "rollout",
    "services",
    "success_rate_query",
]

ROLLOUT = "demo"
TEMPLATE = "success-rate"
CONTAINER = "app"
INITIAL_IMAGE = "demo:1.0"
GOOD_IMAGE = "demo:2.0"
BAD_IMAGE = "demo:3.0-bad"
REPLICAS = 5
STABLE_SERVICE = f"{ROLLOUT}-stable"
CANARY_SERVICE = f"{ROLLOUT}-canary"
HTTP_ROUTE = ROLLOUT
# The HTTPRoute's parent. No Gateway object runs on the local cluster (no gateway implementation either): the
# route is the source of truth for the split, and the simulated application plays the gateway reading it.
GATEWAY = f"{ROLLOUT}-gateway"
PORT = 80
TARGET_PORT = 8080
# The canary's traffic share at each setWeight step (with 5 replicas: 1 canary pod at 20%, 3 at 50%).
STEP_WEIGHTS = (20, 50)


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """Every duration of the demo (seconds), chosen together; see the module docstring for the constraints."""

    window: int  # the rate() window of the success-rate query
    initial_delay: int  # before an analysis' first measurement
    interval: int  # between measurements
    count: int  # measurements per analysis
    pause: int  # the timed pause between the two analyses
    ready_delay: int  # how long a new pod takes to become Ready (KWOK stage annotation)
    # How long a version keeps its pods after traffic left it (promotion: the old stable; abort: the canary). With
    # a router the weight moves first and the pods go later, so gateways still sending to them have time to notice.
    scale_down_delay: int

    @classmethod
    def default(cls) -> Timing:
        return cls(window=20, initial_delay=10, interval=10, count=3, pause=5, ready_delay=2, scale_down_delay=5)

    @classmethod
    def fast(cls) -> Timing:
        return cls(window=10, initial_delay=6, interval=3, count=3, pause=2, ready_delay=0, scale_down_delay=2)


def success_rate_query(*, window: int, version: str = "{{args.canary-hash}}") -> str:
    """The share of the version's requests that did not fail with a 5xx, over the last ``window`` seconds."""
    selector = f'version="{version}"'
    return (
        f'sum(rate(demo_requests_total{{{selector},code!~"5.."}}[{window}s]))'
        f" / sum(rate(demo_requests_total{{{selector}}}[{window}s]))"
    )


def analysis_template(*, namespace: str, prometheus: str, timing: Timing) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "AnalysisTemplate",
        "metadata": {"name": TEMPLATE, "namespace": namespace},
        "spec": {
            "args": [{"name": "canary-hash"}],
            "metrics": [
                {
                    "name": "success-rate",
                    "initialDelay": f"{timing.initial_delay}s",
                    "interval": f"{timing.interval}s",
                    "count": timing.count,
                    "failureLimit": 1,
                    "successCondition": "result[0] >= 0.95",
                    "provider": {
                        "prometheus": {"address": prometheus, "query": success_rate_query(window=timing.window)}
                    },
                }
            ],
        },
    }


def services(*, namespace: str) -> list[dict[str, Any]]:
    """``demo-stable`` and ``demo-canary``: both select the app's pods; the controller adds the version to pin them."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": ROLLOUT}},
            "spec": {
                "selector": {"app": ROLLOUT},
                "ports": [{"name": "http", "port": PORT, "targetPort": TARGET_PORT, "protocol": "TCP"}],
            },
        }
        for name in (STABLE_SERVICE, CANARY_SERVICE)
    ]


def http_route(*, namespace: str) -> dict[str, Any]:
    """One catch-all rule splitting between the two Services: everything on stable until the controller says so."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": HTTP_ROUTE, "namespace": namespace, "labels": {"app": ROLLOUT}},
        "spec": {
            "parentRefs": [{"name": GATEWAY}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [
                        {"name": STABLE_SERVICE, "port": PORT, "weight": 100},
                        {"name": CANARY_SERVICE, "port": PORT, "weight": 0},
                    ],
                }
            ],
        },
    }


def rollout(*, namespace: str, image: str, timing: Timing) -> dict[str, Any]:
    labels = {"app": ROLLOUT}
    analysis = {
        "templates": [{"templateName": TEMPLATE}],
        "args": [{"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}}],
    }
    annotations = {"kwok.rollouts.dev/ready-delay": f"{timing.ready_delay}s"} if timing.ready_delay else {}
    return {
        "apiVersion": API_VERSION,
        "kind": "Rollout",
        "metadata": {"name": ROLLOUT, "namespace": namespace},
        "spec": {
            "replicas": REPLICAS,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": annotations},
                "spec": {"containers": [{"name": CONTAINER, "image": image, "ports": [{"containerPort": 8080}]}]},
            },
            "strategy": {
                "canary": {
                    "stableService": STABLE_SERVICE,
                    "canaryService": CANARY_SERVICE,
                    "trafficRouting": {"gatewayAPI": {"httpRoute": HTTP_ROUTE}},
                    "scaleDownDelaySeconds": timing.scale_down_delay,
                    "abortScaleDownDelaySeconds": timing.scale_down_delay,
                    "steps": [
                        {"setWeight": STEP_WEIGHTS[0]},
                        {"analysis": analysis},
                        {"setWeight": STEP_WEIGHTS[1]},
                        {"pause": {"duration": f"{timing.pause}s"}},
                        {"analysis": analysis},
                    ],
                }
            },
        },
    }
