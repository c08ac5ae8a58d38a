"""nginx Ingress: a canary Ingress beside the user's stable Ingress, weighted by nginx's canary annotations.

For every stable Ingress the router owns ``<rollout>-<stableIngress>-canary``: the stable Ingress's class, TLS and
only the rules whose backend is the stable Service, rewritten to the canary Service, plus ``<prefix>/canary: "true"``
and ``<prefix>/canary-weight`` (and ``canary-weight-total`` with ``maxTrafficWeight``). nginx sends the weight to the
canary Ingress's backend and the rest to the stable one. Beyond Argo, a ``setHeaderRoute`` step becomes nginx's
``canary-by-header`` annotations (nginx evaluates header before weight, so matching requests always reach the canary).

Pure: :func:`desired_canary_ingress` returns the object as it should be, starting from the one the cluster shows, so
annotations and labels other tools add survive; the writer in ``rollouts.routers.apply`` compares and writes.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rollouts.core.errors import InvalidSpecError
from rollouts.core.routing import (
    ROUTING_PATH,
    HeaderMatch,
    ManagedRoute,
    MatchKind,
    NginxSpec,
    RouteKind,
    RoutingSpec,
    StringMatch,
)

__all__ = [
    "MANAGED_ANNOTATIONS",
    "NginxState",
    "canary_ingress_name",
    "current_state",
    "desired_canary_ingress",
    "header_for",
    "nginx_weight",
]

# The annotation on the canary Ingress listing the annotation keys we set, so a key dropped from the Rollout spec is
# removed again while keys other tools add are never touched.
MANAGED_ANNOTATIONS = "rollouts.dev/managed-annotations"
_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


@dataclass(frozen=True, slots=True, kw_only=True)
class NginxState:
    """What the canary Ingress expresses: the canary weight (maxTrafficWeight units), the header that forces it."""

    weight: int = 0
    header: HeaderMatch | None = None


def canary_ingress_name(rollout: str, stable_ingress: str) -> str:
    """``<rollout>-<stableIngress>-canary``, cut to the 253 characters an object name may have."""
    suffix = "-canary"
    return f"{rollout}-{stable_ingress}"[: 253 - len(suffix)] + suffix


def nginx_weight(weight: int, max_traffic_weight: int | None) -> tuple[int, int | None]:
    """(``canary-weight``, ``canary-weight-total``) for ``weight``.

    The seam's weight already counts in units of ``maxTrafficWeight`` (as Argo's ``setWeight`` does), so it is
    written as it is and the total is announced: ``(5, 1000) -> ("5", "1000")``, 0.5% of the traffic.
    """
    return weight, max_traffic_weight


def _key(prefix: str, name: str) -> str:
    return f"{prefix}/{name}"


def current_state(canary: Mapping[str, Any] | None, *, prefix: str, max_traffic_weight: int | None) -> NginxState:
    """Read back the weight and header route from a canary Ingress (absent: weight 0, no header route)."""
    if canary is None:
        return NginxState()
    annotations = (canary.get("metadata") or {}).get("annotations") or {}
    try:
        parts = int(annotations.get(_key(prefix, "canary-weight"), "0"))
    except ValueError:
        parts = 0
    total = max_traffic_weight or 100
    try:
        written_total = int(annotations.get(_key(prefix, "canary-weight-total"), "100"))
    except ValueError:
        written_total = 100
    # In our units; a total written by someone else is converted, rounded up so a later write is never skipped.
    weight = parts if written_total in {total, 0} else -(-parts * total // written_total)
    header = None
    name = annotations.get(_key(prefix, "canary-by-header"))
    if name:
        value = annotations.get(_key(prefix, "canary-by-header-value"))
        pattern = annotations.get(_key(prefix, "canary-by-header-pattern"))
        if value is not None:
            header = HeaderMatch(name=name, value=StringMatch(kind=MatchKind.EXACT, value=value))
        elif pattern is not None:
            header = HeaderMatch(name=name, value=StringMatch(kind=MatchKind.REGEX, value=pattern))
    return NginxState(weight=weight, header=header)


def header_for(route: ManagedRoute) -> HeaderMatch | None:
    """The single header nginx can match on for a ``setHeaderRoute`` (``None`` removes it)."""
    if route.kind is not RouteKind.HEADER:
        raise InvalidSpecError.at(
            f"{ROUTING_PATH}.nginx", f"nginx cannot express {route.kind.value} (only setHeaderRoute)"
        )
    if route.removes:
        return None
    if len(route.headers) != 1:
        raise InvalidSpecError.at(
            f"{ROUTING_PATH}.nginx", "nginx matches a canary on one header only: give setHeaderRoute a single match"
        )
    return route.headers[0]


def _canary_rules(stable: Mapping[str, Any], *, stable_service: str, canary_service: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for rule in (stable.get("spec") or {}).get("rules") or []:
        paths = []
        for path in (rule.get("http") or {}).get("paths") or []:
            service = ((path.get("backend") or {}).get("service")) or {}
            if service.get("name") != stable_service:
                continue
            rewritten = copy.deepcopy(dict(path))
            rewritten["backend"]["service"]["name"] = canary_service
            paths.append(rewritten)
        if paths:
            kept = {k: copy.deepcopy(v) for k, v in rule.items() if k != "http"}
            rules.append({**kept, "http": {"paths": paths}})
    return rules


def _header_annotations(prefix: str, header: HeaderMatch | None) -> dict[str, str]:
    if header is None:
        return {}
    out = {_key(prefix, "canary-by-header"): header.name}
    if header.value.kind is MatchKind.EXACT:
        out[_key(prefix, "canary-by-header-value")] = header.value.value
    else:
        out[_key(prefix, "canary-by-header-pattern")] = header.value.as_regex()
    return out


def desired_canary_ingress(
    *,
    stable: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    routing: RoutingSpec,
    nginx: NginxSpec,
    state: NginxState,
    owner: Mapping[str, Any],
) -> dict[str, Any]:
    """The canary Ingress for ``stable`` carrying ``state``, built on ``current`` (which may be ``None``).

    Raises :class:`~rollouts.core.errors.InvalidSpecError` when the stable Ingress has no path to the stable Service:
    nothing could be rewritten to the canary, and a canary Ingress without rules would silently route nothing.
    """
    stable_meta = stable.get("metadata") or {}
    stable_name = str(stable_meta.get("name") or "")
    if not routing.stable_service or not routing.canary_service:
        raise InvalidSpecError.at("spec.strategy.canary", "the nginx router needs both stableService and canaryService")
    rules = _canary_rules(stable, stable_service=routing.stable_service, canary_service=routing.canary_service)
    if not rules:
        raise InvalidSpecError.at(
            f"{ROUTING_PATH}.nginx.stableIngress",
            f"Ingress {stable_name} has no rule whose backend is the stable Service {routing.stable_service}",
        )
    prefix = nginx.annotation_prefix
    parts, total = nginx_weight(state.weight, routing.max_traffic_weight)
    ours: dict[str, str] = {_key(prefix, "canary"): "true", _key(prefix, "canary-weight"): str(parts)}
    if total is not None:
        ours[_key(prefix, "canary-weight-total")] = str(total)
    stable_annotations = stable_meta.get("annotations") or {}
    if _CLASS_ANNOTATION in stable_annotations:
        ours[_CLASS_ANNOTATION] = str(stable_annotations[_CLASS_ANNOTATION])
    ours.update({_key(prefix, k): v for k, v in (nginx.additional_annotations or {}).items()})
    ours.update(nginx.canary_annotations or {})
    ours.update(_header_annotations(prefix, state.header))

    body: dict[str, Any] = copy.deepcopy(dict(current)) if current is not None else {}
    body["apiVersion"] = "networking.k8s.io/v1"
    body["kind"] = "Ingress"
    meta = body.setdefault("metadata", {})
    meta["name"] = canary_ingress_name(routing.rollout, stable_name)
    meta["namespace"] = routing.namespace
    annotations = dict(meta.get("annotations") or {})
    for key in _previously_managed(annotations):
        annotations.pop(key, None)
    annotations.update(ours)
    annotations[MANAGED_ANNOTATIONS] = json.dumps(sorted(ours), separators=(",", ":"))
    meta["annotations"] = annotations
    refs = list(meta.get("ownerReferences") or [])
    ours_at = [i for i, ref in enumerate(refs) if ref.get("uid") == owner.get("uid")]
    if ours_at:
        refs[ours_at[0]] = dict(owner)
    else:
        refs.append(dict(owner))
    meta["ownerReferences"] = refs
    stable_spec = stable.get("spec") or {}
    spec: dict[str, Any] = {"rules": rules}
    if stable_spec.get("ingressClassName"):
        spec["ingressClassName"] = stable_spec["ingressClassName"]
    if stable_spec.get("tls"):
        spec["tls"] = copy.deepcopy(stable_spec["tls"])
    body["spec"] = spec
    body.pop("status", None)
    return body


def _previously_managed(annotations: Mapping[str, str]) -> Sequence[str]:
    try:
        keys = json.loads(annotations.get(MANAGED_ANNOTATIONS, "[]"))
    except ValueError:
        return []
    return [str(k) for k in keys] if isinstance(keys, list) else []
