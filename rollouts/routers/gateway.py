"""Gateway API: weights on an HTTPRoute's backendRefs (built in, no plugin).

Every rule that sends traffic to the stable Service must also name the canary Service; the router sets the canary
``weight`` and the stable ``total - weight`` there (``total``: ``maxTrafficWeight``, else 100; backendRef weights
are relative), and leaves rules about other Services alone. ``setHeaderRoute`` on
a route with ``useHeaderRoutes`` adds a rule named after the managed route (rule names are part of the standard
channel), copying the split rule's matches with the step's headers ANDed in and sending everything to the canary.
Gateway API picks the most specific match, so the extra header match wins over the split rule.

Pure: functions return new bodies built from what the cluster shows.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from rollouts.core.errors import InvalidSpecError
from rollouts.core.routing import ROUTING_PATH, ManagedRoute, MatchKind, RouteKind, RoutingSpec

__all__ = ["http_route_weights", "weighted_http_route", "with_managed_route", "without_managed_routes"]


def _is_service(ref: Mapping[str, Any], name: str) -> bool:
    return bool(name) and ref.get("name") == name and ref.get("kind", "Service") == "Service" and not ref.get("group")


def _split_rules(spec: Mapping[str, Any], routing: RoutingSpec, route_name: str) -> list[dict[str, Any]]:
    rules = [
        r
        for r in spec.get("rules") or []
        if r.get("name") not in routing.managed_routes
        and any(_is_service(b, routing.stable_service) for b in r.get("backendRefs") or [])
    ]
    if not rules:
        raise InvalidSpecError.at(
            f"{ROUTING_PATH}.gatewayAPI",
            f"HTTPRoute {route_name} has no rule with a backendRef to the stable Service {routing.stable_service}",
        )
    for index, rule in enumerate(rules):
        if not any(_is_service(b, routing.canary_service) for b in rule.get("backendRefs") or []):
            raise InvalidSpecError.at(
                f"{ROUTING_PATH}.gatewayAPI",
                f"HTTPRoute {route_name}: the rule #{index} to {routing.stable_service} has no backendRef to the "
                f"canary Service {routing.canary_service}",
            )
    return rules


def weighted_http_route(current: Mapping[str, Any], *, routing: RoutingSpec, weight: int) -> dict[str, Any]:
    """``current`` with ``weight`` on the canary backendRefs and ``total - weight`` on the stable ones.

    ``weight`` counts in units of ``maxTrafficWeight`` (100 without it), as the planner's does.
    """
    total = routing.max_traffic_weight or 100
    if not routing.stable_service or not routing.canary_service:
        raise InvalidSpecError.at(
            "spec.strategy.canary", "the Gateway API router needs both stableService and canaryService"
        )
    body = copy.deepcopy(dict(current))
    name = str((body.get("metadata") or {}).get("name") or "")
    for rule in _split_rules(body.setdefault("spec", {}), routing, name):
        for ref in rule["backendRefs"]:
            if _is_service(ref, routing.canary_service):
                ref["weight"] = weight
            elif _is_service(ref, routing.stable_service):
                ref["weight"] = total - weight
    return body


def http_route_weights(current: Mapping[str, Any], *, routing: RoutingSpec) -> list[tuple[int, int]]:
    """(stable, canary) weights of every split rule, for checks and tests."""
    name = str((current.get("metadata") or {}).get("name") or "")
    out = []
    for rule in _split_rules(current.get("spec") or {}, routing, name):
        refs = rule["backendRefs"]
        stable = sum(int(r.get("weight", 1)) for r in refs if _is_service(r, routing.stable_service))
        canary = sum(int(r.get("weight", 1)) for r in refs if _is_service(r, routing.canary_service))
        out.append((stable, canary))
    return out


_HEADER_TYPES = {MatchKind.EXACT: "Exact", MatchKind.REGEX: "RegularExpression", MatchKind.PREFIX: "RegularExpression"}


def _header_rule(spec: Mapping[str, Any], routing: RoutingSpec, route: ManagedRoute, name: str) -> dict[str, Any]:
    split = _split_rules(spec, routing, name)[0]
    headers = [
        {
            "type": _HEADER_TYPES[h.value.kind],
            "name": h.name,
            "value": h.value.value if h.value.kind is MatchKind.EXACT else h.value.as_regex(),
        }
        for h in route.headers
    ]
    matches = []
    for match in split.get("matches") or [{}]:
        copied = copy.deepcopy(dict(match))
        copied["headers"] = [*(copied.get("headers") or []), *headers]
        matches.append(copied)
    canary = [copy.deepcopy(r) for r in split["backendRefs"] if _is_service(r, routing.canary_service)]
    for ref in canary:
        ref.pop("weight", None)
    rule: dict[str, Any] = {"name": route.name, "matches": matches, "backendRefs": canary}
    if split.get("filters"):
        rule["filters"] = copy.deepcopy(split["filters"])
    return rule


def with_managed_route(current: Mapping[str, Any], *, routing: RoutingSpec, route: ManagedRoute) -> dict[str, Any]:
    """``current`` with the header rule ``route.name`` set (or removed when the step gives no match)."""
    if route.kind is not RouteKind.HEADER:
        raise InvalidSpecError.at(f"{ROUTING_PATH}.gatewayAPI", "the Gateway API router supports setHeaderRoute only")
    body = copy.deepcopy(dict(current))
    spec = body.setdefault("spec", {})
    name = str((body.get("metadata") or {}).get("name") or "")
    managed = {r["name"]: r for r in spec.get("rules") or [] if r.get("name") in routing.managed_routes}
    managed.pop(route.name, None)
    if not route.removes:
        managed[route.name] = _header_rule(spec, routing, route, name)
    others = [r for r in spec.get("rules") or [] if r.get("name") not in routing.managed_routes]
    spec["rules"] = [managed[n] for n in routing.managed_routes if n in managed] + others
    return body


def without_managed_routes(current: Mapping[str, Any], *, routing: RoutingSpec) -> dict[str, Any]:
    """``current`` without the rules ``managedRoutes`` declares (the update is over)."""
    body = copy.deepcopy(dict(current))
    spec = body.setdefault("spec", {})
    if "rules" in spec:
        spec["rules"] = [r for r in spec["rules"] if r.get("name") not in routing.managed_routes]
    return body
