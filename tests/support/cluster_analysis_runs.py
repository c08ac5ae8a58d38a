"""AnalysisRuns on the real cluster: create, read, terminate, wait until concluded, find a metric's result.

The manifests come from :mod:`tests.support.analysis_manifests`; the run's Jobs and Events are read with
:func:`tests.support.cluster.jobs` and :func:`tests.support.cluster.events`.
"""

from __future__ import annotations

import json
from typing import Any

from tests.support.cluster import Kube, create_custom, get_custom, patch_custom, wait_for

__all__ = ["CONCLUDED", "PLURAL", "concluded", "create", "metric", "read", "status", "terminate"]

PLURAL = "analysisruns"
CONCLUDED = {"Successful", "Failed", "Error", "Inconclusive"}


def create(kube: Kube, namespace: str, doc: dict[str, Any]) -> dict[str, Any]:
    return create_custom(kube, namespace, PLURAL, doc)


def read(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return get_custom(kube, namespace, PLURAL, name)


def status(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return dict(read(kube, namespace, name).get("status") or {})


def terminate(kube: Kube, namespace: str, name: str) -> None:
    """What ``spec.terminate`` asks for: stop measuring, conclude the run."""
    patch_custom(kube, namespace, PLURAL, name, {"spec": {"terminate": True}})


def concluded(kube: Kube, namespace: str, name: str, *, timeout: float = 40) -> dict[str, Any]:
    """The status once the run has concluded (phase final and completedAt written)."""

    def probe() -> dict[str, Any] | None:
        current = status(kube, namespace, name)
        return current if current.get("phase") in CONCLUDED and current.get("completedAt") else None

    return wait_for(probe, timeout=timeout, interval=0.2, what=f"AnalysisRun {name} to conclude")


def metric(status: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``metricResults`` entry of metric ``name`` in a run's status."""
    for result in status.get("metricResults") or []:
        if result["name"] == name:
            return dict(result)
    raise AssertionError(f"no metricResult {name!r} in {json.dumps(status)[:2000]}")
