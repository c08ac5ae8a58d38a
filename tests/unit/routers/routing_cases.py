"""Shared builders for the router unit tests: Rollout bodies and routed objects as the API server would show them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from rollouts.core.errors import InvalidSpecError
from rollouts.core.routing import RoutingSpec, parse_routing
from tests.support.corpus import corpus_dir
from workflows.errors import Issues

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


def corpus_docs(name: str) -> list[dict[str, Any]]:
    """The documents of one corpus file, with the Rollout's apiVersion changed (the compatibility promise)."""
    docs = [d for d in yaml.safe_load_all((corpus_dir() / "argo-rollouts" / name).read_text()) if d]
    for doc in docs:
        if doc.get("kind") == "Rollout":
            doc["apiVersion"] = "rollouts.dev/v1alpha1"
    return docs


def corpus_object(name: str, kind: str, object_name: str | None = None) -> dict[str, Any]:
    for doc in corpus_docs(name):
        if doc.get("kind") == kind and (object_name is None or doc["metadata"]["name"] == object_name):
            return doc
    raise LookupError(f"{name} has no {kind} {object_name or ''}")


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
