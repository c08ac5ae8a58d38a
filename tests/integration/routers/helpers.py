"""Helpers for the router integration tests: corpus manifests with the apiVersion change, reads as plain dicts."""

from __future__ import annotations

import json
from typing import Any

import yaml
from kubernetes import client

from rollouts.core.actions import SetTrafficWeight
from rollouts.routers import Routers
from tests.integration.conftest import Kube as TestKube
from tests.support.corpus import corpus_dir
from tests.unit.routers.routing_cases import routing_of
from workflows.api import owner_reference
from workflows.runtime.kube import Kube

ISTIO = ("networking.istio.io", "v1")
GATEWAY = ("gateway.networking.k8s.io", "v1")


def corpus(name: str) -> list[dict[str, Any]]:
    """One corpus file's documents; Rollouts move from argoproj.io to rollouts.dev (the only change promised)."""
    docs = [d for d in yaml.safe_load_all((corpus_dir() / "argo-rollouts" / name).read_text()) if d]
    for doc in docs:
        if doc["apiVersion"] == "argoproj.io/v1alpha1":
            doc["apiVersion"] = "rollouts.dev/v1alpha1"
    return docs


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d.get("kind") == kind]


def ingress(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        response: Any = client.NetworkingV1Api(api).read_namespaced_ingress(name, namespace, _preload_content=False)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    body: dict[str, Any] = json.loads(response.data)
    return body


def custom(
    api: client.ApiClient, group_version: tuple[str, str], plural: str, namespace: str, name: str
) -> dict[str, Any]:
    body: Any = client.CustomObjectsApi(api).get_namespaced_custom_object(*group_version, namespace, plural, name)
    return dict(body)


def make_router(kube: TestKube, rollout: dict[str, Any]) -> Routers:
    """The Rollout's routers as the controller builds them (the routing spec parsed as parse_rollout parses it)."""
    routing = routing_of(rollout)
    assert routing is not None
    return Routers(Kube(kube.api_client), routing, owner=owner_reference(rollout, kind="Rollout"))


def traffic(weight: int, canary_hash: str, stable_hash: str, *, finished: bool = False) -> SetTrafficWeight:
    """The routing state a plan declares."""
    return SetTrafficWeight(weight=weight, canary_hash=canary_hash, stable_hash=stable_hash, finished=finished)
