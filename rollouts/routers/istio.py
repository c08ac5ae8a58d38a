"""Istio: weights on the VirtualService's destinations, pod-template hashes on the DestinationRule's subsets.

Two ways to split, as in Argo:

- **host-level** — the route's destinations are the stable and canary Services (matched by host, short name or
  FQDN): stable gets ``total - weight``, canary ``weight`` (``total``: ``maxTrafficWeight``, else 100; Istio's
  weights are relative, so the canary's share is ``weight / total``);
- **subset-level** (``destinationRule``) — the destinations are the DestinationRule's stable and canary subsets, whose
  ``rollouts-pod-template-hash`` labels the router sets to the stable and canary hashes. The planner only ever names a
  hash as stable once its ReplicaSet is fully available, so a subset never selects pods that cannot take the traffic.

Managed routes (``setHeaderRoute``, ``setMirrorRoute``) are named HTTP routes placed *before* the user's routes, in
the order ``managedRoutes`` declares them (Istio takes the first matching route). A header route sends everything to
the canary destination; a mirror route splits like the primary route and mirrors ``percentage`` to the canary.

Pure: every function returns a new body built from the one the cluster shows; fields we do not manage are kept.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from rollouts.core.errors import InvalidSpecError
from rollouts.core.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.core.routing import (
    ROUTING_PATH,
    DestinationRuleRef,
    HeaderMatch,
    ManagedRoute,
    RouteKind,
    RoutingSpec,
    StringMatch,
    VirtualServiceRef,
)

__all__ = [
    "desired_destination_rule",
    "virtual_service_weights",
    "weighted_virtual_service",
    "with_managed_route",
    "without_managed_routes",
]

Classifier = Callable[[Mapping[str, Any]], str | None]  # "stable", "canary" or None for a routed destination


def _host_matches(host: str, service: str) -> bool:
    return bool(service) and (host == service or host.startswith(f"{service}."))


def _classifier(routing: RoutingSpec, rule: DestinationRuleRef | None) -> Classifier:
    def classify(destination: Mapping[str, Any]) -> str | None:
        if rule is not None:
            subset = destination.get("subset")
            if subset == rule.stable_subset:
                return "stable"
            if subset == rule.canary_subset:
                return "canary"
            return None
        host = str(destination.get("host") or "")
        if _host_matches(host, routing.stable_service):
            return "stable"
        if _host_matches(host, routing.canary_service):
            return "canary"
        return None

    return classify


def _tls_selected(route: Mapping[str, Any], port: int | None, sni_hosts: Sequence[str]) -> bool:
    for match in route.get("match") or []:
        if port is not None and match.get("port") != port:
            continue
        if sni_hosts and sorted(match.get("sniHosts") or []) != sorted(sni_hosts):
            continue
        return True
    return False


def _routed(spec: Mapping[str, Any], ref: VirtualServiceRef, managed: Sequence[str]) -> Iterator[tuple[str, Any]]:
    """The (field path, route) pairs ``ref`` selects in a VirtualService spec; InvalidSpecError when one is missing."""
    http = [r for r in spec.get("http") or [] if r.get("name") not in managed]
    if spec.get("http") is None and (ref.tls_routes or ref.tcp_ports):
        # A TLS/TCP-only VirtualService: the HTTP route names have nothing to select (Argo skips them too), and
        # the TLS/TCP selectors below are what gets split.
        pass
    elif ref.routes:
        by_name = {r.get("name"): r for r in http}
        for name in ref.routes:
            if name not in by_name:
                raise InvalidSpecError.at(
                    f"{ref.path}.routes", f"VirtualService {ref.name} has no HTTP route named {name!r}"
                )
            yield f"http[{name}]", by_name[name]
    elif not ref.tls_routes and not ref.tcp_ports:
        if len(http) != 1:
            raise InvalidSpecError.at(
                f"{ref.path}.routes", f"VirtualService {ref.name} has {len(http)} HTTP routes: name the ones to split"
            )
        yield "http[0]", http[0]
    for index, selector in enumerate(ref.tls_routes):
        found = [r for r in spec.get("tls") or [] if _tls_selected(r, selector.port, selector.sni_hosts)]
        if not found:
            raise InvalidSpecError.at(
                f"{ref.path}.tlsRoutes[{index}]", f"VirtualService {ref.name} has no such TLS route"
            )
        for route in found:
            yield f"tls[{index}]", route
    for index, port in enumerate(ref.tcp_ports):
        tcp = spec.get("tcp") or []
        found = [r for r in tcp if port is None or any(m.get("port") == port for m in r.get("match") or [])]
        if port is None and len(tcp) != 1:
            found = []
        if not found:
            raise InvalidSpecError.at(
                f"{ref.path}.tcpRoutes[{index}]", f"VirtualService {ref.name} has no such TCP route"
            )
        for route in found:
            yield f"tcp[{index}]", route


def _set_weights(
    route: dict[str, Any], classify: Classifier, *, weight: int, total: int, where: str, ref: VirtualServiceRef
) -> None:
    kinds = [classify(d.get("destination") or {}) for d in route.get("route") or []]
    if "stable" not in kinds or "canary" not in kinds:
        raise InvalidSpecError.at(
            f"{ref.path}",
            f"VirtualService {ref.name} {where} needs both a stable and a canary destination to split traffic",
        )
    for destination, kind in zip(route["route"], kinds, strict=True):
        if kind == "canary":
            destination["weight"] = weight
        elif kind == "stable":
            destination["weight"] = total - weight
        else:
            destination["weight"] = 0  # a third destination would make the weights miss the total; it gets nothing


def weighted_virtual_service(
    current: Mapping[str, Any],
    *,
    ref: VirtualServiceRef,
    routing: RoutingSpec,
    rule: DestinationRuleRef | None,
    weight: int,
) -> dict[str, Any]:
    """``current`` with ``weight`` on the canary and ``total - weight`` on the stable of every selected route.

    ``weight`` counts in units of ``maxTrafficWeight`` (100 without it), as the planner's does. Managed mirror routes
    split like the primary route, so they follow the weight too.
    """
    total = routing.max_traffic_weight or 100
    body = copy.deepcopy(dict(current))
    spec = body.setdefault("spec", {})
    classify = _classifier(routing, rule)
    for where, route in _routed(spec, ref, routing.managed_routes):
        _set_weights(route, classify, weight=weight, total=total, where=where, ref=ref)
    for route in spec.get("http") or []:
        if route.get("name") in routing.managed_routes and route.get("mirror") is not None:
            where = f"managed route {route.get('name')}"
            _set_weights(route, classify, weight=weight, total=total, where=where, ref=ref)
    return body


def virtual_service_weights(
    current: Mapping[str, Any], *, ref: VirtualServiceRef, routing: RoutingSpec, rule: DestinationRuleRef | None
) -> list[tuple[int, int]]:
    """(stable, canary) weights of each selected route, for checks and tests."""
    classify = _classifier(routing, rule)
    out = []
    for _, route in _routed(current.get("spec") or {}, ref, routing.managed_routes):
        stable = sum(
            int(d.get("weight") or 0) for d in route.get("route") or [] if classify(d["destination"]) == "stable"
        )
        canary = sum(
            int(d.get("weight") or 0) for d in route.get("route") or [] if classify(d["destination"]) == "canary"
        )
        out.append((stable, canary))
    return out


def _string_match(match: StringMatch) -> dict[str, str]:
    return {match.kind.value: match.value}


def _headers(headers: Sequence[HeaderMatch]) -> dict[str, dict[str, str]]:
    return {h.name: _string_match(h.value) for h in headers}


def _primary(spec: Mapping[str, Any], ref: VirtualServiceRef, routing: RoutingSpec) -> dict[str, Any]:
    for where, route in _routed(spec, ref, routing.managed_routes):
        if where.startswith("http"):
            return dict(route)
    raise InvalidSpecError.at(
        f"{ref.path}.routes", f"VirtualService {ref.name}: managed routes need an HTTP route to copy"
    )


def _managed_http_route(
    spec: Mapping[str, Any], *, ref: VirtualServiceRef, routing: RoutingSpec, rule: DestinationRuleRef | None,
    route: ManagedRoute,
) -> dict[str, Any]:  # fmt: skip
    primary = _primary(spec, ref, routing)
    classify = _classifier(routing, rule)
    destinations = [copy.deepcopy(d) for d in primary.get("route") or []]
    canary = next((d["destination"] for d in destinations if classify(d.get("destination") or {}) == "canary"), None)
    if canary is None:
        raise InvalidSpecError.at(
            f"{ref.path}", f"VirtualService {ref.name}: the primary route has no canary destination"
        )
    if route.kind is RouteKind.HEADER:
        return {
            "name": route.name,
            "match": [{"headers": _headers(route.headers)}],
            "route": [{"destination": copy.deepcopy(canary), "weight": 100}],
        }
    matches = []
    for alternative in route.mirror:
        match: dict[str, Any] = {}
        if alternative.method is not None:
            match["method"] = _string_match(alternative.method)
        if alternative.path is not None:
            match["uri"] = _string_match(alternative.path)
        if alternative.headers:
            match["headers"] = _headers(alternative.headers)
        matches.append(match)
    return {
        "name": route.name,
        "match": matches,
        "route": destinations,
        "mirror": copy.deepcopy(canary),
        "mirrorPercentage": {"value": float(route.percentage)},
    }


def _ordered(spec: dict[str, Any], managed: Mapping[str, dict[str, Any]], declared: Sequence[str]) -> None:
    """Managed routes first, in declaration order; then the user's routes as they were."""
    others = [r for r in spec.get("http") or [] if r.get("name") not in declared]
    spec["http"] = [managed[name] for name in declared if name in managed] + others


def with_managed_route(
    current: Mapping[str, Any],
    *,
    ref: VirtualServiceRef,
    routing: RoutingSpec,
    rule: DestinationRuleRef | None,
    route: ManagedRoute,
) -> dict[str, Any]:
    """``current`` with the managed route ``route.name`` set (or removed when the step gives no match)."""
    body = copy.deepcopy(dict(current))
    spec = body.setdefault("spec", {})
    managed = {r["name"]: r for r in spec.get("http") or [] if r.get("name") in routing.managed_routes}
    managed.pop(route.name, None)
    if not route.removes:
        managed[route.name] = _managed_http_route(spec, ref=ref, routing=routing, rule=rule, route=route)
    _ordered(spec, managed, routing.managed_routes)
    return body


def without_managed_routes(current: Mapping[str, Any], *, routing: RoutingSpec) -> dict[str, Any]:
    """``current`` without any of the routes ``managedRoutes`` declares (the update is over)."""
    body = copy.deepcopy(dict(current))
    spec = body.setdefault("spec", {})
    if "http" in spec:
        spec["http"] = [r for r in spec["http"] if r.get("name") not in routing.managed_routes]
    return body


def desired_destination_rule(
    current: Mapping[str, Any],
    *,
    rule: DestinationRuleRef,
    canary_hash: str,
    stable_hash: str,
    managed_by: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """``current`` with the canary/stable subsets selecting the pods of ``canary_hash``/``stable_hash``.

    ``managed_by`` (annotation key, Rollout name) marks the rule as ours, as Argo does, so that the labels we
    injected can be taken out again once no Rollout names the rule (:func:`released_destination_rule`).
    """
    body = copy.deepcopy(dict(current))
    if managed_by is not None:
        key, rollout = managed_by
        metadata = body.setdefault("metadata", {})
        metadata["annotations"] = {**(metadata.get("annotations") or {}), key: rollout}
    subsets = (body.get("spec") or {}).get("subsets") or []
    names = {s.get("name") for s in subsets}
    for wanted in (rule.canary_subset, rule.stable_subset):
        if wanted not in names:
            raise InvalidSpecError.at(
                f"{ROUTING_PATH}.istio.destinationRule", f"DestinationRule {rule.name} has no subset named {wanted!r}"
            )
    for subset in subsets:
        pod_hash = {rule.canary_subset: canary_hash, rule.stable_subset: stable_hash}.get(subset.get("name"))
        if pod_hash:
            subset["labels"] = {**(subset.get("labels") or {}), POD_TEMPLATE_HASH_LABEL: pod_hash}
    return body


def released_destination_rule(current: Mapping[str, Any], *, managed_by_annotation: str) -> dict[str, Any]:
    """``current`` without what a Rollout injected: the managed-by annotation and every subset's hash label."""
    body = copy.deepcopy(dict(current))
    metadata = body.setdefault("metadata", {})
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k != managed_by_annotation}
    metadata["annotations"] = annotations or None
    for subset in (body.get("spec") or {}).get("subsets") or []:
        labels = {k: v for k, v in (subset.get("labels") or {}).items() if k != POD_TEMPLATE_HASH_LABEL}
        if labels:
            subset["labels"] = labels
        else:
            subset.pop("labels", None)
    return body
