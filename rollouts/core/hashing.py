"""Pod-template hashes: the identity of a version, and so the name of its ReplicaSet.

Why it matters: the planner is level-based and restart-safe only because the ReplicaSet of a template has a name
derived from the template itself (``<rollout>-<hash>``). A controller that crashes after creating it finds it again
on the next reconcile instead of creating a duplicate. The hash must therefore be stable across processes and Python
versions. Which function computes it is part of the API mode (``ApiMode.pod_template_hash``, resolved by
:func:`template_hash`, the one way the controller computes the hash a template should have):

- ``rollouts`` (our own group): :func:`pod_template_hash`, FNV-1a (32 bit) over a canonical JSON of the template
  (sorted keys, no whitespace) followed by the collision count, as a decimal encoded with Kubernetes'
  ``rand.SafeEncodeString`` alphabet. It is kept as it is so that existing ReplicaSets keep their names.
- ``argo`` (drop-in mode): :func:`argo_pod_template_hash`, Argo Rollouts' own ``ComputePodTemplateHash``: FNV-1a over
  Go's ``encoding/json`` of the template decoded into ``corev1.PodTemplateSpec`` (:mod:`rollouts.core.gojson`, from
  a table generated from the Go types), so a ReplicaSet we create has the name Argo's controller would give it.

Template equality (adoption of an existing ReplicaSet, whichever hash named it) ignores the hash label, which the
ReplicaSet carries and the Rollout's template does not.

The steps hash (``status.currentStepHash``) is *recorded* by whichever controller ran the update, and an edited plan
restarts from step 0. So that a Rollout taken over from Argo's controller mid-update continues from its step, it is
exactly Argo's in both modes: FNV-1a over Go's ``encoding/json`` of the typed ``[]CanaryStep``, by the same encoder.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rollouts.core.gojson import go_json, root_shape
from workflows.api import ApiMode
from workflows.model.hashing import fnv32a

__all__ = [
    "POD_TEMPLATE_HASH_LABEL",
    "argo_pod_template_hash",
    "container_images",
    "go_steps_json",
    "pod_template_hash",
    "safe_encode",
    "steps_hash",
    "strip_hash_label",
    "template_hash",
    "templates_equal",
    "without_injected_anti_affinity",
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


def argo_pod_template_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """Argo Rollouts' ``ComputePodTemplateHash`` (v1.10.1): FNV-1a over Go's JSON of ``template`` decoded into
    ``corev1.PodTemplateSpec``, then, when ``status.collisionCount`` is set (0 included), the count as a uint32
    little-endian and four zero bytes. The template is hashed as given: the hash label is not removed (Argo's
    Rollout templates do not carry it)."""
    data = go_json(template, root_shape("PodTemplateSpec")).encode()
    if collision_count is not None:
        data += (collision_count % (1 << 32)).to_bytes(4, "little") + bytes(4)
    return safe_encode(str(fnv32a(data)))


_HASHES: dict[str, Callable[[Mapping[str, Any], int | None], str]] = {
    "rollouts": lambda template, collision_count: pod_template_hash(template, collision_count=collision_count or 0),
    "argo": argo_pod_template_hash,
}


def template_hash(mode: ApiMode, template: Mapping[str, Any], *, collision_count: int | None) -> str:
    """The pod-template hash ``mode`` names ReplicaSets with (``ApiMode.pod_template_hash``): the one way the
    controller computes the hash a Rollout's template should have."""
    return _HASHES[mode.pod_template_hash](template, collision_count)


def steps_hash(steps: object) -> str:
    """Hash of the canary steps (``status.currentStepHash``), as Argo computes it; an edited plan restarts at 0."""
    return safe_encode(str(fnv32a(go_steps_json(steps).encode())))


def go_steps_json(steps: object) -> str:
    """What Go's ``json.Marshal`` writes for ``steps`` decoded into Argo's ``[]CanaryStep`` (``null`` for none)."""
    listed = [step for step in steps if isinstance(step, Mapping)] if isinstance(steps, list | tuple) else None
    return go_json(listed, root_shape("CanarySteps"))


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


def container_images(template: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """(name, image) of every container and init container: what the API server's defaulting never changes, so two
    templates with different images cannot be equal once stored (a cheap test before an expensive comparison)."""
    spec = template.get("spec") or {}
    return tuple(
        (str(c.get("name")), str(c.get("image")))
        for key in ("initContainers", "containers")
        for c in spec.get(key) or ()
        if isinstance(c, Mapping)
    )


def templates_equal(
    left: Mapping[str, Any],
    right: Mapping[str, Any],
    *,
    ephemeral_labels: Iterable[str] = (),
    ephemeral_annotations: Iterable[str] = (),
) -> bool:
    """Equal pod templates up to the hash label and the injected anti-affinity term: how an existing ReplicaSet is
    recognised and adopted for a template.

    ``ephemeral_labels``/``ephemeral_annotations``: keys a controller put on ``left`` (a ReplicaSet's template) for
    the role its pods have (canary/stable/active/preview metadata); they are not part of the user's template.
    """
    live = strip_hash_label(without_injected_anti_affinity(left))
    metadata = live.get("metadata")
    if isinstance(metadata, dict):
        for key, names in (("labels", ephemeral_labels), ("annotations", ephemeral_annotations)):
            values = metadata.get(key)
            if isinstance(values, dict):
                for name in names:
                    values.pop(name, None)
                if not values:
                    metadata.pop(key)
        if not metadata:
            live.pop("metadata")
    return live == strip_hash_label(without_injected_anti_affinity(right))


def _is_injected(term: Any) -> bool:
    if not isinstance(term, Mapping):
        return False
    selector = term.get("labelSelector") or {}
    expressions = selector.get("matchExpressions") if isinstance(selector, Mapping) else None
    return any(isinstance(e, Mapping) and e.get("key") == POD_TEMPLATE_HASH_LABEL for e in expressions or [])


def without_injected_anti_affinity(template: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``template`` without the injected terms (any term selecting on the pod-template hash), emptied maps
    removed as Argo's ``RemoveInjectedAntiAffinityRule`` removes them."""
    out = copy.deepcopy(dict(template))
    spec = out.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("affinity"), dict):
        return out
    affinity = spec["affinity"]
    pod_anti = affinity.get("podAntiAffinity")
    if not isinstance(pod_anti, dict):
        return out
    preferred = [
        t for t in pod_anti.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        if not (isinstance(t, Mapping) and _is_injected(t.get("podAffinityTerm")))
    ]  # fmt: skip
    required = [t for t in pod_anti.get("requiredDuringSchedulingIgnoredDuringExecution") or [] if not _is_injected(t)]
    for key, kept in (
        ("preferredDuringSchedulingIgnoredDuringExecution", preferred),
        ("requiredDuringSchedulingIgnoredDuringExecution", required),
    ):
        if kept:
            pod_anti[key] = kept
        else:
            pod_anti.pop(key, None)
    if not pod_anti:
        affinity.pop("podAntiAffinity")
    if not affinity:
        spec.pop("affinity")
    return out
