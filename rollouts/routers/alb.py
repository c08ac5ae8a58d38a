"""AWS ALB Ingress: the split is an *action annotation* on the user's Ingress, read by the AWS load balancer controller.

The Ingress has a path whose backend is the action Service (``rootService``, else the stable Service) with port name
``use-annotation``; the load balancer controller then takes that path's behaviour from the annotation
``<prefix>/actions.<actionService>``: a ``forward`` action over two target groups, the canary Service with weight
``w`` and the stable Service with ``W - w``. A ``setHeaderRoute`` step adds ``<prefix>/actions.<route>`` (everything
to the canary) with ``<prefix>/conditions.<route>`` (the header values) and a ``use-annotation`` path to ``<route>``
at the front of the rule that routes to the action Service. The annotation values are written as Argo Rollouts
writes them (Go's ``encoding/json`` of its ALB types: fixed key order, no spaces), so tools reading them see the same
bytes.

``rollouts.argoproj.io/managed-alb-annotations`` records, per Rollout, the annotation keys it manages (several
Rollouts may share one Ingress; each keeps the others' entries).

Pure: every builder returns the Ingress as it should be, starting from the one the cluster shows; nothing else of
the Ingress changes. Nothing here talks to AWS: whether the load balancer applied the weights (Argo's
``--aws-verify-target-group``) is not checked; :func:`ingress_weight` reads the annotation back.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rollouts.core.errors import InvalidSpecError
from rollouts.core.gojson import go_string
from rollouts.core.routing import AlbSpec, ManagedRoute, MatchKind, RouteKind, RoutingSpec

__all__ = [
    "MANAGED_ANNOTATIONS",
    "USE_ANNOTATION",
    "action_key",
    "condition_key",
    "forward_action",
    "header_conditions",
    "ingress_weight",
    "managed_annotations",
    "weighted_ingress",
    "with_header_route",
    "without_managed_routes",
]

#: Per Rollout, the annotation keys it manages on this Ingress (Argo's annotation, shared with other Rollouts).
MANAGED_ANNOTATIONS = "rollouts.argoproj.io/managed-alb-annotations"
#: The port name that tells the AWS load balancer controller to take a path's behaviour from the action annotation.
USE_ANNOTATION = "use-annotation"

Body = dict[str, Any]


def action_key(alb: AlbSpec, name: str) -> str:
    return f"{alb.annotation_prefix}/actions.{name}"


def condition_key(alb: AlbSpec, name: str) -> str:
    return f"{alb.annotation_prefix}/conditions.{name}"


def _json_object(fields: Iterable[tuple[str, str]]) -> str:
    """A JSON object from (key, already-encoded value) pairs, in the order given, as Go writes a struct."""
    return "{" + ",".join(f"{go_string(key)}:{value}" for key, value in fields) + "}"


def forward_action(target_groups: Sequence[tuple[str, int]], *, port: int, stickiness_seconds: int | None) -> str:
    """The ``forward`` action over ``(service, weight)`` target groups, byte for byte as Argo writes it."""
    groups = [
        _json_object(
            (("ServiceName", go_string(service)), ("ServicePort", go_string(str(port))), ("Weight", str(weight)))
        )
        for service, weight in target_groups
    ]
    forward = [("TargetGroups", "[" + ",".join(groups) + "]")]
    if stickiness_seconds is not None:
        sticky = _json_object((("Enabled", "true"), ("DurationSeconds", str(stickiness_seconds))))
        forward.append(("TargetGroupStickinessConfig", sticky))
    return _json_object((("Type", go_string("forward")), ("ForwardConfig", _json_object(forward))))


def header_conditions(route: ManagedRoute, *, path: str) -> str:
    """The ``conditions`` annotation of a header route: one ``http-header`` condition per header name, its values in
    the order of the matches (ALB matches exact values only; anything else is refused when the spec is parsed)."""
    values: dict[str, list[str]] = {}
    for header in route.headers:
        if header.value.kind is not MatchKind.EXACT:
            raise InvalidSpecError.at(path, "SetHeaderRoute match value invalid. ALB supports 'exact' value only")
        values.setdefault(header.name, []).append(header.value.value)
    conditions = [
        _json_object(
            (
                ("field", go_string("http-header")),
                (
                    "httpHeaderConfig",
                    _json_object(
                        (
                            ("httpHeaderName", go_string(name)),
                            ("values", "[" + ",".join(go_string(v) for v in header_values) + "]"),
                        )
                    ),
                ),
            )
        )
        for name, header_values in values.items()
    ]
    return "[" + ",".join(conditions) + "]"


def _managed_map(annotations: Mapping[str, str], *, path: str) -> dict[str, list[str]]:
    raw = annotations.get(MANAGED_ANNOTATIONS, "")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidSpecError.at(path, f"the Ingress annotation {MANAGED_ANNOTATIONS} is not a JSON object: {raw!r}")
    return {str(k): [str(key) for key in v] if isinstance(v, list) else [] for k, v in parsed.items()}


def managed_annotations(
    annotations: Mapping[str, str], *, rollout: str, add: bool, keys: Sequence[str], path: str
) -> str:
    """The managed-annotations value with ``keys`` added to (or removed from) ``rollout``'s entry; other Rollouts'
    entries are kept. Written as Go writes the map: keys sorted, no spaces."""
    managed = _managed_map(annotations, path=path)
    mine = list(managed.get(rollout, []))
    for key in keys:
        if add and key not in mine:
            mine.append(key)
        elif not add:
            mine = [k for k in mine if k != key]
    managed[rollout] = mine
    return _json_object((name, "[" + ",".join(go_string(k) for k in managed[name]) + "]") for name in sorted(managed))


def _paths(rule: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((rule.get("http") or {}).get("paths") or [])


def _backend_service(path: Mapping[str, Any]) -> str:
    return str(((path.get("backend") or {}).get("service") or {}).get("name") or "")


def _has_service(ingress: Mapping[str, Any], service: str) -> bool:
    rules = (ingress.get("spec") or {}).get("rules") or []
    return any(_backend_service(path) == service for rule in rules for path in _paths(rule))


def _require_action_service(ingress: Mapping[str, Any], alb: AlbSpec, *, path: str) -> None:
    if not _has_service(ingress, alb.action_service):
        raise InvalidSpecError.at(path, f"ingress does not have service `{alb.action_service}` in rules")


def _annotations(body: Mapping[str, Any]) -> dict[str, str]:
    return dict((body.get("metadata") or {}).get("annotations") or {})


def _with_annotations(current: Mapping[str, Any], annotations: Mapping[str, str]) -> Body:
    body: Body = copy.deepcopy(dict(current))
    body.setdefault("metadata", {})["annotations"] = dict(annotations)
    return body


def weighted_ingress(current: Mapping[str, Any], *, routing: RoutingSpec, alb: AlbSpec, weight: int, path: str) -> Body:
    """``current`` with the action annotation sending ``weight`` to the canary and ``W - weight`` to the stable.

    ``weight`` counts in units of ``maxTrafficWeight`` (100 without it), as the planner's does; ALB weights are
    relative, so the canary's share is ``weight / W``. Raises InvalidSpec (at ``path``) when no path of the Ingress
    has the action Service as its backend: the load balancer would never read the annotation.
    """
    _require_action_service(current, alb, path=path)
    total = routing.max_traffic_weight or 100
    key = action_key(alb, alb.action_service)
    annotations = _annotations(current)
    annotations[key] = forward_action(
        [(routing.canary_service, weight), (routing.stable_service, total - weight)],
        port=alb.service_port,
        stickiness_seconds=alb.stickiness_seconds,
    )
    annotations[MANAGED_ANNOTATIONS] = managed_annotations(
        annotations, rollout=routing.rollout, add=True, keys=[key], path=path
    )
    return _with_annotations(current, annotations)


def _route_path(name: str) -> dict[str, Any]:
    return {
        "path": "/*",
        "pathType": "ImplementationSpecific",
        "backend": {"service": {"name": name, "port": {"name": USE_ANNOTATION}}},
    }


def _is_route_path(path: Mapping[str, Any], name: str) -> bool:
    service = (path.get("backend") or {}).get("service") or {}
    return service.get("name") == name and (service.get("port") or {}).get("name") == USE_ANNOTATION


def _ordered(paths: list[dict[str, Any]], managed_routes: Sequence[str]) -> list[dict[str, Any]]:
    """Managed routes' paths first, in ``managedRoutes`` order (the load balancer evaluates paths in order); the
    others after them, as they were."""
    rank = {name: index for index, name in enumerate(managed_routes)}
    return sorted(paths, key=lambda p: rank.get(_backend_service(p), len(rank)))


def _set_rules(body: Body, rules: list[Any]) -> None:
    body.setdefault("spec", {})["rules"] = rules


def _without_route_paths(body: Body, names: Sequence[str]) -> None:
    rules = copy.deepcopy(list((body.get("spec") or {}).get("rules") or []))
    for rule in rules:
        if not rule.get("http"):
            continue
        rule["http"]["paths"] = [p for p in _paths(rule) if not any(_is_route_path(p, name) for name in names)]
    if rules:
        _set_rules(body, rules)


def with_header_route(
    current: Mapping[str, Any], *, routing: RoutingSpec, alb: AlbSpec, route: ManagedRoute, path: str
) -> Body:
    """``current`` with the header route ``route`` (a route without matches removes it).

    Adds the action (everything to the canary), its conditions and a ``use-annotation`` path named after the route
    at the front of each rule that routes to the action Service; the rules' managed-route paths are kept in
    ``managedRoutes`` order.
    """
    if route.kind is not RouteKind.HEADER:
        raise InvalidSpecError.at(path, f"ALB cannot express {route.kind.value} (only setHeaderRoute)")
    keys = [action_key(alb, route.name), condition_key(alb, route.name)]
    annotations = _annotations(current)
    body: Body
    if route.removes:
        for key in keys:
            annotations.pop(key, None)
        annotations[MANAGED_ANNOTATIONS] = managed_annotations(
            annotations, rollout=routing.rollout, add=False, keys=keys, path=path
        )
        body = _with_annotations(current, annotations)
        _without_route_paths(body, [route.name])
        return body
    _require_action_service(current, alb, path=path)
    annotations[keys[0]] = forward_action(
        [(routing.canary_service, 100)], port=alb.service_port, stickiness_seconds=alb.stickiness_seconds
    )
    annotations[keys[1]] = header_conditions(route, path=path)
    annotations[MANAGED_ANNOTATIONS] = managed_annotations(
        annotations, rollout=routing.rollout, add=True, keys=keys, path=path
    )
    body = _with_annotations(current, annotations)
    rules = copy.deepcopy(list((body.get("spec") or {}).get("rules") or []))
    present = _has_service(body, route.name)
    for rule in rules:
        paths = _paths(rule)
        if not any(_backend_service(p) == alb.action_service for p in paths):
            continue
        if not present:
            paths.insert(0, _route_path(route.name))
        rule["http"]["paths"] = _ordered(paths, routing.managed_routes)
    _set_rules(body, rules)
    return body


def without_managed_routes(current: Mapping[str, Any], *, routing: RoutingSpec, alb: AlbSpec, path: str) -> Body:
    """``current`` without the annotations and paths of every route in ``managedRoutes`` (the update is over)."""
    if not routing.managed_routes:
        return copy.deepcopy(dict(current))
    annotations = _annotations(current)
    keys = [key for name in routing.managed_routes for key in (action_key(alb, name), condition_key(alb, name))]
    for key in keys:
        annotations.pop(key, None)
    annotations[MANAGED_ANNOTATIONS] = managed_annotations(
        annotations, rollout=routing.rollout, add=False, keys=keys, path=path
    )
    body = _with_annotations(current, annotations)
    _without_route_paths(body, routing.managed_routes)
    return body


def ingress_weight(current: Mapping[str, Any], *, routing: RoutingSpec, alb: AlbSpec) -> int:
    """The canary weight the action annotation expresses, in ``maxTrafficWeight`` units (no annotation: 0).

    Weights written against another total are converted, rounded up so a later write is never skipped.
    """
    raw = _annotations(current).get(action_key(alb, alb.action_service))
    if not raw:
        return 0
    try:
        action = json.loads(raw)
    except ValueError:
        return 0
    groups = ((action.get("ForwardConfig") or {}).get("TargetGroups") or []) if isinstance(action, dict) else []
    canary = written = 0
    for group in groups:
        if not isinstance(group, dict):
            continue
        weight = group.get("Weight")
        weight = weight if isinstance(weight, int) and not isinstance(weight, bool) else 0
        written += weight
        if group.get("ServiceName") == routing.canary_service:
            canary += weight
    total = routing.max_traffic_weight or 100
    if written in {0, total}:
        return canary
    return -(-canary * total // written)
