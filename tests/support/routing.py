"""Traffic routing for tests: routed Rollout bodies, the routed objects (Ingress, ALB Ingress, VirtualService,
DestinationRule, HTTPRoute) as the API server would show them, the routing spec parsed as the controller parses it,
and the routers the controller would build for a Rollout.

The builders are plain dicts and values; :func:`make_router` only constructs the routers (they write when called).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rollouts.core.actions import SetTrafficWeight
from rollouts.core.errors import InvalidSpecError
from rollouts.core.routing import RoutingSpec, parse_routing
from rollouts.routers import Routers
from workflows.api import owner_reference
from workflows.errors import Issues
from workflows.runtime.kube import Kube as KubeClient

if TYPE_CHECKING:
    from tests.support.cluster import Kube

ISTIO = ("networking.istio.io", "v1")  # API group and version of VirtualServices and DestinationRules
GATEWAY = ("gateway.networking.k8s.io", "v1")  # of HTTPRoutes
OWNER = {
    "apiVersion": "rollouts.dev/v1alpha1",
    "kind": "Rollout",
    "name": "demo",
    "uid": "uid-1",
    "controller": True,
    "blockOwnerDeletion": True,
}


def routing_of(body: Mapping[str, Any]) -> RoutingSpec | None:
    """The routing spec of a Rollout body, parsed as ``parse_rollout`` parses it (every problem raised at once)."""
    canary = body["spec"]["strategy"]["canary"]
    raw = canary.get("trafficRouting")
    if raw is None:
        return None
    issues = Issues()
    routing = parse_routing(
        raw,
        rollout=body["metadata"]["name"],
        namespace=body["metadata"].get("namespace") or "default",
        stable_service=canary.get("stableService") or "",
        canary_service=canary.get("canaryService") or "",
        issues=issues,
    )
    issues.raise_if_any(InvalidSpecError)
    return routing


def traffic(weight: int, canary_hash: str, stable_hash: str, *, finished: bool = False) -> SetTrafficWeight:
    """The routing state a plan declares."""
    return SetTrafficWeight(weight=weight, canary_hash=canary_hash, stable_hash=stable_hash, finished=finished)


def make_router(kube: Kube, rollout: dict[str, Any]) -> Routers:
    """The Rollout's routers on the test cluster, as the controller builds them (routing parsed as above)."""
    routing = routing_of(rollout)
    assert routing is not None
    return Routers(KubeClient(kube.api_client), routing, owner=owner_reference(rollout, kind="Rollout"))


def rollout(routing: Mapping[str, Any], *, name: str = "demo", namespace: str = "ns", **canary: Any) -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": namespace, "uid": "uid-1"},
        "spec": {
            "strategy": {
                "canary": {
                    "stableService": "web-stable",
                    "canaryService": "web-canary",
                    "trafficRouting": dict(routing),
                    **canary,
                }
            }
        },
    }


def stable_ingress(*, name: str = "web", extra_rules: bool = True) -> dict[str, Any]:
    rules: list[dict[str, Any]] = [
        {
            "host": "web.example.com",
            "http": {
                "paths": [
                    {
                        "path": "/",
                        "pathType": "Prefix",
                        "backend": {"service": {"name": "web-stable", "port": {"number": 80}}},
                    },
                    {
                        "path": "/admin",
                        "pathType": "Prefix",
                        "backend": {"service": {"name": "admin", "port": {"number": 80}}},
                    },
                ]
            },
        }
    ]
    if extra_rules:
        rules.append(
            {
                "host": "other.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "other", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "annotations": {"kubernetes.io/ingress.class": "nginx", "team": "web"},
        },
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"}],
            "rules": rules,
        },
    }


def alb_ingress(*, name: str = "web", action_service: str = "web-root", namespace: str = "ns") -> dict[str, Any]:
    """An Ingress for the AWS load balancer controller: the path to ``action_service`` takes its behaviour from the
    action annotation (port name ``use-annotation``), as in Argo's e2e fixtures; a second host routes elsewhere."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {"kubernetes.io/ingress.class": "alb", "alb.ingress.kubernetes.io/scheme": "internal"},
        },
        "spec": {
            "rules": [
                {
                    "host": "web.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/*",
                                "pathType": "ImplementationSpecific",
                                "backend": {"service": {"name": action_service, "port": {"name": "use-annotation"}}},
                            },
                            {
                                "path": "/static",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "static", "port": {"number": 80}}},
                            },
                        ]
                    },
                },
                {
                    "host": "other.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "other", "port": {"number": 80}}},
                            }
                        ]
                    },
                },
            ]
        },
    }


def virtual_service(*, subsets: bool = False, extra_route: bool = True) -> dict[str, Any]:
    def destination(which: str) -> dict[str, Any]:
        if subsets:
            return {"host": "web", "subset": which}
        return {"host": f"web-{which}", "port": {"number": 80}}

    http = [
        {
            "name": "primary",
            "route": [
                {"destination": destination("stable"), "weight": 100},
                {"destination": destination("canary"), "weight": 0},
            ],
        }
    ]
    if extra_route:
        http.append({"name": "static", "route": [{"destination": {"host": "static"}, "weight": 100}]})
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "web-vsvc", "namespace": "ns", "resourceVersion": "7", "annotations": {"owner": "team"}},
        "spec": {"hosts": ["web.example.com"], "gateways": ["web-gateway"], "http": http},
    }


def destination_rule() -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "web-destrule", "namespace": "ns"},
        "spec": {
            "host": "web",
            "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}},
            "subsets": [{"name": "stable", "labels": {"app": "web"}}, {"name": "canary", "labels": {"app": "web"}}],
        },
    }


def http_route() -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web-route", "namespace": "ns"},
        "spec": {
            "parentRefs": [{"name": "gw"}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [
                        {"name": "web-stable", "port": 80, "weight": 100},
                        {"name": "web-canary", "port": 80, "weight": 0},
                    ],
                },
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/static"}}],
                    "backendRefs": [{"name": "static", "port": 80}],
                },
            ],
        },
    }
