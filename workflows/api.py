"""The product's API group and version, and how our objects point at their owners: one place, at the bottom layer.

Every package names the group the same way, and every object the controllers create (ReplicaSets, AnalysisRuns,
Jobs, canary Ingresses) carries the same shape of ``ownerReferences`` entry, so Kubernetes' garbage collector deletes
it with its owner and a restarted controller recognises what is its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["API_VERSION", "ARGO_API_VERSION", "GROUP", "MANAGED_LABEL", "MANAGER", "VERSION", "owner_reference"]

GROUP = "rollouts.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
#: Argo's group/version, accepted as an alias where a manifest is read (Workflows, AnalysisTemplates).
ARGO_API_VERSION = "argoproj.io/v1alpha1"
#: Every Job the engine runs (workflow container steps, analysis job metrics) carries this label, so one watch sees
#: them all (``workflows.runtime.jobs.JobIndex``).
MANAGED_LABEL = "workflows.rollouts.dev/managed-by"
MANAGER = "rollouts"


def owner_reference(owner: Mapping[str, Any], *, kind: str, api_version: str = API_VERSION) -> dict[str, Any]:
    """The controlling ``ownerReferences`` entry pointing at ``owner`` (a Rollout, AnalysisRun or Workflow body)."""
    meta = owner["metadata"]
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
