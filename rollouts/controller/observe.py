"""Observe: read everything one Rollout reconcile needs from the API into the planner's plain values.

Reads only: the ReplicaSets the Rollout controls (by ownerReference; orphans with an equal template are adopted
through an ownerReference patch, as a Deployment adopts), the AnalysisRuns it created (by label), the Services its
strategy names, its pods (only when a restart is requested) and, for ``workloadRef``, the referenced Deployment's
template. The conversions themselves are the pure ``*_from`` helpers of :mod:`rollouts.core.observed`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from rollouts.core.hashing import POD_TEMPLATE_HASH_LABEL, templates_equal
from rollouts.core.observed import (
    ROLLOUT_LABEL,
    Observed,
    analysis_run_view_from,
    pod_view_from,
    replica_set_view_from,
    service_view_from,
    status_from,
)
from workflows.api import GROUP, VERSION

__all__ = ["Snapshot", "observe", "read_workload"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The observation plus the raw bodies the act layer needs (owner references, current selectors)."""

    observed: Observed
    replica_sets: Mapping[str, Mapping[str, Any]]
    services: Mapping[str, Mapping[str, Any]]


def _raw(response: Any) -> Any:
    """Decode a ``_preload_content=False`` response: plain dicts, no client models (they cost most of a list)."""
    return json.loads(response.data)


def _selector_string(match_labels: Mapping[str, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(match_labels.items()))


def read_workload(api: client.ApiClient, namespace: str, ref: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The Deployment named by ``spec.workloadRef`` (None when absent or of an unsupported kind)."""
    if ref.get("kind") != "Deployment":
        return None
    try:
        body: Mapping[str, Any] = _raw(
            client.AppsV1Api(api).read_namespaced_deployment(ref.get("name", ""), namespace, _preload_content=False)
        )
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    return body


def _service_names(rollout: Mapping[str, Any]) -> set[str]:
    strategy = (rollout.get("spec") or {}).get("strategy") or {}
    canary = strategy.get("canary") or {}
    blue_green = strategy.get("blueGreen") or {}
    names = {
        canary.get("canaryService"),
        canary.get("stableService"),
        blue_green.get("activeService"),
        blue_green.get("previewService"),
    }
    return {name for name in names if name}


def observe(api: client.ApiClient, rollout: Mapping[str, Any], *, selector: Mapping[str, Any]) -> Snapshot:
    """One consistent-enough read of the Rollout's world (each list is one request)."""
    meta = rollout["metadata"]
    namespace, name, uid = meta["namespace"], meta["name"], meta["uid"]
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    match_labels = selector.get("matchLabels") or {}
    listed = _raw(
        apps.list_namespaced_replica_set(
            namespace, label_selector=_selector_string(match_labels), _preload_content=False
        )
    )
    replica_sets: dict[str, Mapping[str, Any]] = {}
    template = (rollout.get("spec") or {}).get("template") or {}
    for rs in listed.get("items") or []:
        owners = rs["metadata"].get("ownerReferences") or []
        controller = next((o for o in owners if o.get("controller")), None)
        if controller is not None and controller.get("uid") == uid:
            replica_sets[rs["metadata"]["name"]] = rs
        elif controller is None and template and templates_equal(rs["spec"].get("template") or {}, template):
            replica_sets[rs["metadata"]["name"]] = _adopt(apps, rs, rollout)

    runs = _raw(
        client.CustomObjectsApi(api).list_namespaced_custom_object(
            GROUP, VERSION, namespace, "analysisruns", label_selector=f"{ROLLOUT_LABEL}={name}", _preload_content=False
        )
    )
    services: dict[str, Mapping[str, Any]] = {}
    for service in sorted(_service_names(rollout)):
        try:
            services[service] = _raw(core.read_namespaced_service(service, namespace, _preload_content=False))
        except client.ApiException as error:
            if error.status != 404:
                raise
    pods: list[Any] = []
    if (rollout.get("spec") or {}).get("restartAt"):
        hashes = [rs["metadata"].get("labels", {}).get(POD_TEMPLATE_HASH_LABEL) for rs in replica_sets.values()]
        if hashes:
            selector_text = f"{POD_TEMPLATE_HASH_LABEL} in ({','.join(h for h in hashes if h)})"
            pods = _raw(core.list_namespaced_pod(namespace, label_selector=selector_text, _preload_content=False))[
                "items"
            ]
    observed = Observed(
        replica_sets=tuple(replica_set_view_from(rs) for rs in replica_sets.values()),
        analysis_runs=tuple(v for v in (analysis_run_view_from(r) for r in runs.get("items") or []) if v),
        services={n: service_view_from(body) for n, body in services.items()},
        pods=tuple(v for v in (pod_view_from(p) for p in pods) if v),
        status=status_from(rollout.get("status")),
    )
    return Snapshot(observed=observed, replica_sets=replica_sets, services=services)


def _adopt(apps: client.AppsV1Api, rs: Mapping[str, Any], rollout: Mapping[str, Any]) -> Mapping[str, Any]:
    """Take ownership of an orphan ReplicaSet whose template equals the Rollout's (no duplicate RS is created)."""
    meta = rollout["metadata"]
    owner = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    patch = {"metadata": {"ownerReferences": [*(rs["metadata"].get("ownerReferences") or []), owner]}}
    adopted: Mapping[str, Any] = _raw(
        apps.patch_namespaced_replica_set(
            rs["metadata"]["name"], rs["metadata"]["namespace"], patch, _preload_content=False
        )
    )
    return adopted
