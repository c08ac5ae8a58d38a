"""``antiAffinity``: the new version's pods keep off the nodes that run the stable version's pods.

As Argo does (``GenerateReplicaSetAffinity``): when a new ReplicaSet is created while a *different* stable version
exists, one pod anti-affinity term is added to its pod template, after the user's own terms::

    labelSelector: {matchExpressions: [{key: rollouts-pod-template-hash, operator: In, values: [<stable hash>]}]}
    namespaces: [<namespace>]
    topologyKey: kubernetes.io/hostname

``preferredDuringSchedulingIgnoredDuringExecution`` (with the strategy's weight) or
``requiredDuringSchedulingIgnoredDuringExecution``. The first revision (no stable) and a rollback to the stable
template get nothing injected. The term stays on the ReplicaSet once it becomes stable (Argo leaves it too); the term
is not part of what makes two templates equal (:func:`without_injected_anti_affinity`, Argo's
``RemoveInjectedAntiAffinityRule``), so a ReplicaSet carrying it is still recognised as the Rollout's template, and
``kubectl rollouts undo`` does not copy it back into the Rollout.

Pure: templates are plain dicts, copied, never modified in place.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from rollouts.core.hashing import POD_TEMPLATE_HASH_LABEL, without_injected_anti_affinity
from rollouts.core.spec import AntiAffinity

__all__ = ["HOSTNAME_TOPOLOGY", "inject_anti_affinity", "injected_term", "without_injected_anti_affinity"]

HOSTNAME_TOPOLOGY = "kubernetes.io/hostname"


def injected_term(*, stable_hash: str, namespace: str) -> dict[str, Any]:
    """The pod affinity term against the stable version's pods (Argo's ``CreateInjectedAntiAffinityRule``)."""
    return {
        "labelSelector": {
            "matchExpressions": [{"key": POD_TEMPLATE_HASH_LABEL, "operator": "In", "values": [stable_hash]}]
        },
        "namespaces": [namespace],
        "topologyKey": HOSTNAME_TOPOLOGY,
    }


def inject_anti_affinity(
    template: Mapping[str, Any], anti_affinity: AntiAffinity | None, *, stable_hash: str, new_hash: str, namespace: str
) -> dict[str, Any]:
    """``template`` with the injected term appended, or an unchanged copy (no strategy, no other stable version)."""
    out = copy.deepcopy(dict(template))
    if anti_affinity is None or not stable_hash or stable_hash == new_hash:
        return out
    spec = out.setdefault("spec", {})
    affinity = spec.get("affinity") or {}
    spec["affinity"] = affinity
    pod_anti = affinity.get("podAntiAffinity") or {}
    affinity["podAntiAffinity"] = pod_anti
    term = injected_term(stable_hash=stable_hash, namespace=namespace)
    if anti_affinity.weight is not None:
        key, entry = (
            "preferredDuringSchedulingIgnoredDuringExecution",
            {"weight": anti_affinity.weight, "podAffinityTerm": term},
        )
    else:
        key, entry = "requiredDuringSchedulingIgnoredDuringExecution", term
    pod_anti[key] = [*(pod_anti.get(key) or []), entry]
    return out
