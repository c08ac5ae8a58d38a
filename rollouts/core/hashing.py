"""Pod-template hashes: the identity of a version, and so the name of its ReplicaSet.

Why it matters: the planner is level-based and restart-safe only because the ReplicaSet of a template has a name
derived from the template itself (``<rollout>-<hash>``). A controller that crashes after creating it finds it again
on the next reconcile instead of creating a duplicate. The hash must therefore be stable across processes and Python
versions: it is FNV-1a (32 bit) over a canonical JSON of the template (sorted keys, no whitespace) followed by the
collision count, rendered as a decimal and then encoded with Kubernetes' ``rand.SafeEncodeString`` alphabet (no
vowels, no look-alike digits), like Deployments and Argo Rollouts do. The exact bytes differ from Kubernetes' (which
hashes a Go pretty-print), which is fine: the hash only has to be stable for *this* controller.

Template equality (adoption of an existing ReplicaSet) ignores the hash label, which the ReplicaSet carries and the
Rollout's template does not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from workflows.model.hashing import fnv32a

__all__ = [
    "POD_TEMPLATE_HASH_LABEL",
    "pod_template_hash",
    "safe_encode",
    "steps_hash",
    "strip_hash_label",
    "templates_equal",
]

POD_TEMPLATE_HASH_LABEL = "rollouts-pod-template-hash"
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def safe_encode(text: str) -> str:
    """Kubernetes' ``rand.SafeEncodeString``: each byte becomes ``alphabet[byte % 27]`` (``"0" -> "z"``)."""
    return "".join(_SAFE_ALPHABET[byte % len(_SAFE_ALPHABET)] for byte in text.encode())


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode()


def pod_template_hash(template: Mapping[str, Any], *, collision_count: int = 0) -> str:
    """The hash naming the ReplicaSet of ``template``; a new ``collision_count`` gives a new name for the same template.

    The hash label itself is ignored so that hashing a ReplicaSet's template gives the hash it is labelled with.
    """
    data = _canonical(strip_hash_label(template))
    if collision_count:
        data += str(collision_count).encode()
    return safe_encode(str(fnv32a(data)))


def steps_hash(steps: object) -> str:
    """Hash of the canary steps (``status.currentStepHash``): an edited plan restarts from step 0."""
    return safe_encode(str(fnv32a(_canonical(steps))))


def strip_hash_label(template: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``template`` without the pod-template-hash label (and without an emptied ``labels`` map)."""
    copied = json.loads(_canonical(template))
    assert isinstance(copied, dict)
    metadata = copied.get("metadata")
    if isinstance(metadata, dict):
        labels = metadata.get("labels")
        if isinstance(labels, dict):
            labels.pop(POD_TEMPLATE_HASH_LABEL, None)
            if not labels:
                metadata.pop("labels")
        if not metadata:
            copied.pop("metadata")
    return copied


def templates_equal(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    """Equal pod templates up to the hash label: how an existing ReplicaSet is adopted for a template."""
    return strip_hash_label(left) == strip_hash_label(right)
