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

The steps hash (``status.currentStepHash``) is different: it is *recorded* by whichever controller ran the update, and
an edited plan restarts from step 0. So that a Rollout taken over from Argo's controller mid-update continues from its
step, it is exactly Argo's: FNV-1a over Go's ``encoding/json`` of the typed ``[]CanaryStep`` (fields in struct order,
``omitempty`` as Go applies it, map keys sorted, ``<>&`` escaped), reproduced by :func:`go_steps_json`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from workflows.model.hashing import fnv32a

__all__ = [
    "POD_TEMPLATE_HASH_LABEL",
    "go_steps_json",
    "pod_template_hash",
    "safe_encode",
    "steps_hash",
    "strip_hash_label",
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


def steps_hash(steps: object) -> str:
    """Hash of the canary steps (``status.currentStepHash``), as Argo computes it; an edited plan restarts at 0."""
    return safe_encode(str(fnv32a(go_steps_json(steps).encode())))


# -- Go's encoding/json of Argo's []CanaryStep ----------------------------------------------------------------------
# A shape is a scalar's zero value (emitted for a missing field without omitempty), a struct (fields in Go order, each
# with how encoding/json omits it), a list or a map of shapes, or OPAQUE (steps we refuse: encoded with sorted keys).
NIL, ZERO, NEVER = "nil", "zero", "never"  # omitted when absent (pointer) / when the zero value / never


@dataclass(frozen=True, slots=True)
class _Struct:
    fields: tuple[tuple[str, Any, str], ...]


@dataclass(frozen=True, slots=True)
class _List:
    item: Any


@dataclass(frozen=True, slots=True)
class _Map:
    value: Any


_OPAQUE = object()
_STRING_MATCH = _Struct((("exact", "", ZERO), ("prefix", "", ZERO), ("regex", "", ZERO)))
_ARGUMENT = _Struct((
    ("name", "", NEVER),
    ("value", "", ZERO),
    ("valueFrom", _Struct((
        ("podTemplateHashValue", None, NIL),
        ("fieldRef", _Struct((("fieldPath", "", NEVER),)), NIL),
    )), NIL),
))  # fmt: skip
_ANALYSIS = _Struct((
    ("templates", _List(_Struct((("templateName", "", NEVER), ("clusterScope", None, NIL)))), ZERO),
    ("args", _List(_ARGUMENT), ZERO),
    ("dryRun", _List(_Struct((("metricName", "", NEVER),))), ZERO),
    ("measurementRetention", _List(_Struct((("metricName", "", NEVER), ("limit", 0, NEVER)))), ZERO),
    ("analysisRunMetadata", _Struct((("labels", _Map(""), ZERO), ("annotations", _Map(""), ZERO))), NIL),
))  # fmt: skip
_STEP = _Struct((
    ("setWeight", None, NIL),
    ("pause", _Struct((("duration", None, NIL),)), NIL),
    ("experiment", _OPAQUE, NIL),
    ("analysis", _ANALYSIS, NIL),
    ("setCanaryScale", _Struct((
        ("weight", None, NIL), ("replicas", None, NIL), ("matchTrafficWeight", False, ZERO),
    )), NIL),
    ("setHeaderRoute", _Struct((
        ("name", "", ZERO),
        ("match", _List(_Struct((("headerName", "", NEVER), ("headerValue", _STRING_MATCH, NEVER)))), ZERO),
    )), NIL),
    ("setMirrorRoute", _Struct((
        ("name", "", NEVER),
        ("match", _List(_Struct((
            ("method", _STRING_MATCH, NIL), ("path", _STRING_MATCH, NIL), ("headers", _Map(_STRING_MATCH), ZERO),
        ))), ZERO),
        ("percentage", None, NIL),
    )), NIL),
    ("plugin", _OPAQUE, NIL),
))  # fmt: skip


_GO_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def _go_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    for raw, escaped in _GO_ESCAPES:
        encoded = encoded.replace(raw, escaped)
    return encoded


def _go_zero(value: object) -> bool:
    return value is None or value is False or value in (0, "") or (isinstance(value, list | dict) and not value)


def _go_json(value: object, shape: object) -> str:
    if shape is _OPAQUE or not isinstance(shape, _Struct | _List | _Map):
        if isinstance(value, Mapping):
            pairs = (f"{_go_string(str(k))}:{_go_json(value[k], _OPAQUE)}" for k in sorted(value))
            return "{" + ",".join(pairs) + "}"
        if isinstance(value, list):
            return "[" + ",".join(_go_json(item, _OPAQUE) for item in value) + "]"
        if isinstance(value, str):
            return _go_string(value)
        return json.dumps(value)
    if isinstance(shape, _List):
        listed = value if isinstance(value, list | tuple) else ()
        return "null" if value is None else "[" + ",".join(_go_json(item, shape.item) for item in listed) + "]"
    if isinstance(shape, _Map):
        items = value if isinstance(value, Mapping) else {}
        pairs = (f"{_go_string(str(k))}:{_go_json(items[k], shape.value)}" for k in sorted(items))
        return "{" + ",".join(pairs) + "}"
    given = value if isinstance(value, Mapping) else {}
    parts = []
    for name, field_shape, omit in shape.fields:
        present = name in given and given[name] is not None
        if omit == NIL and not present:
            continue
        if omit == ZERO and (not present or _go_zero(given[name])):
            continue
        if present:
            parts.append(f"{_go_string(name)}:{_go_json(given[name], field_shape)}")
        elif isinstance(field_shape, _Struct):
            parts.append(f"{_go_string(name)}:{_go_json({}, field_shape)}")
        else:
            parts.append(f"{_go_string(name)}:{json.dumps(field_shape)}")
    return "{" + ",".join(parts) + "}"


def go_steps_json(steps: object) -> str:
    """What Go's ``json.Marshal`` writes for ``steps`` decoded into Argo's ``[]CanaryStep`` (``null`` for none)."""
    if not isinstance(steps, list | tuple):
        return "null"
    return "[" + ",".join(_go_json(step, _STEP) for step in steps if isinstance(step, Mapping)) + "]"


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
