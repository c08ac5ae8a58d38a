"""What every traffic router shares: the Rollout's routing spec, the traffic state to reach, managed-route payloads.

Pure: no client, no clock. The builders in ``nginx``/``istio``/``gateway`` take these values plus the object as the
cluster shows it and return the object as it should be; ``rollouts.routers.apply`` is the only module that reads and
writes. Problems only the user can fix (a route that does not name the stable Service, an unknown managed route) are
raised as :class:`~rollouts.core.errors.InvalidSpecError` with the field path
(InvalidSpec condition + Warning event).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rollouts.core.errors import InvalidSpecError

__all__ = [
    "ROUTING_PATH",
    "HeaderMatch",
    "ManagedRoute",
    "MatchKind",
    "MirrorMatch",
    "RouteKind",
    "RoutingSpec",
    "StringMatch",
    "Traffic",
    "parse_managed_route",
    "parse_routing",
]

ROUTING_PATH = "spec.strategy.canary.trafficRouting"


@dataclass(frozen=True, slots=True, kw_only=True)
class Traffic:
    """One ``SetTrafficWeight``: ``weight`` percent to the pods of ``canary_hash``, the rest to ``stable_hash``.

    ``aborted`` is the Rollout's ``status.abort`` as the router saw it.
    """

    weight: int
    canary_hash: str
    stable_hash: str
    aborted: bool = False

    @property
    def finished(self) -> bool:
        """The update is over: everything goes to stable and nothing will be sent to a canary again.

        The planner says so with weight 0 and canary hash == stable hash (full promotion: the new version *is* the
        stable one) and, for an abort, with weight 0 while ``status.abort`` is set. Routers then remove what they
        created for the update (the nginx canary Ingress, managed routes).
        """
        return self.weight == 0 and (self.canary_hash == self.stable_hash or self.aborted)


class MatchKind(StrEnum):
    EXACT = "exact"
    PREFIX = "prefix"
    REGEX = "regex"


@dataclass(frozen=True, slots=True, kw_only=True)
class StringMatch:
    kind: MatchKind
    value: str

    def as_regex(self) -> str:
        """The same match as a regular expression (for data planes that only take a pattern); a regex is kept as given.

        Prefix and exact matches are anchored, so they hold whether the data plane searches or matches in full.
        """
        if self.kind is MatchKind.REGEX:
            return self.value
        if self.kind is MatchKind.PREFIX:
            return f"^{re.escape(self.value)}"
        return f"^{re.escape(self.value)}$"


@dataclass(frozen=True, slots=True, kw_only=True)
class HeaderMatch:
    name: str
    value: StringMatch


@dataclass(frozen=True, slots=True, kw_only=True)
class MirrorMatch:
    """One alternative of a ``setMirrorRoute`` match (the fields inside one entry must all hold)."""

    method: StringMatch | None = None
    path: StringMatch | None = None
    headers: tuple[HeaderMatch, ...] = ()


class RouteKind(StrEnum):
    HEADER = "setHeaderRoute"
    MIRROR = "setMirrorRoute"


@dataclass(frozen=True, slots=True, kw_only=True)
class ManagedRoute:
    """A ``setHeaderRoute``/``setMirrorRoute`` step. Without any match it *removes* the route ``name``.

    Header matches all have to hold (AND); mirror matches are alternatives (OR), each an AND of its fields.
    """

    kind: RouteKind
    name: str
    headers: tuple[HeaderMatch, ...] = ()
    mirror: tuple[MirrorMatch, ...] = ()
    percentage: int = 100

    @property
    def removes(self) -> bool:
        return not self.headers and not self.mirror


@dataclass(frozen=True, slots=True, kw_only=True)
class NginxSpec:
    stable_ingresses: tuple[str, ...]
    annotation_prefix: str = "nginx.ingress.kubernetes.io"
    additional_annotations: Mapping[str, str] | None = None
    canary_annotations: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsRouteSelector:
    port: int | None = None
    sni_hosts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class VirtualServiceRef:
    name: str
    namespace: str | None
    routes: tuple[str, ...] = ()
    tls_routes: tuple[TlsRouteSelector, ...] = ()
    tcp_ports: tuple[int | None, ...] = ()
    path: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DestinationRuleRef:
    name: str
    namespace: str | None
    canary_subset: str
    stable_subset: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IstioSpec:
    virtual_services: tuple[VirtualServiceRef, ...]
    destination_rule: DestinationRuleRef | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPRouteRef:
    name: str
    use_header_routes: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewaySpec:
    http_routes: tuple[HTTPRouteRef, ...]
    namespace: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingSpec:
    """``spec.strategy.canary.trafficRouting`` with the Services it routes between."""

    rollout: str
    namespace: str
    stable_service: str
    canary_service: str
    managed_routes: tuple[str, ...] = ()
    max_traffic_weight: int | None = None
    nginx: NginxSpec | None = None
    istio: IstioSpec | None = None
    gateway: GatewaySpec | None = None

    @property
    def empty(self) -> bool:
        return self.nginx is None and self.istio is None and self.gateway is None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, Sequence) and not isinstance(value, str) else ()


def _namespaced(name: str, default: str | None) -> tuple[str, str | None]:
    """Istio allows ``name.namespace`` for a VirtualService/DestinationRule in another namespace."""
    if "." in name:
        head, _, tail = name.partition(".")
        return head, tail
    return name, default


def _virtual_service(raw: Mapping[str, Any], path: str, namespace: str) -> VirtualServiceRef:
    name, ns = _namespaced(str(raw.get("name") or ""), namespace)
    if not name:
        raise InvalidSpecError.at(f"{path}.name", "a VirtualService name is required")
    tls = tuple(
        TlsRouteSelector(port=_map(t).get("port"), sni_hosts=_strings(_map(t).get("sniHosts")))
        for t in raw.get("tlsRoutes") or []
    )
    tcp = tuple(_map(t).get("port") for t in raw.get("tcpRoutes") or [])
    return VirtualServiceRef(
        name=name, namespace=ns, routes=_strings(raw.get("routes")), tls_routes=tls, tcp_ports=tcp, path=path
    )


def parse_routing(rollout: Mapping[str, Any]) -> RoutingSpec | None:
    """The routing spec of ``rollout``, or ``None`` without ``trafficRouting`` (a replica-weighted canary)."""
    meta = _map(rollout.get("metadata"))
    canary = _map(_map(_map(rollout.get("spec")).get("strategy")).get("canary"))
    routing = canary.get("trafficRouting")
    if not isinstance(routing, Mapping):
        return None
    namespace = str(meta.get("namespace") or "default")
    stable_service = str(canary.get("stableService") or "")
    canary_service = str(canary.get("canaryService") or "")
    nginx = gateway = None
    istio = None
    raw_nginx = routing.get("nginx")
    if isinstance(raw_nginx, Mapping):
        ingresses = _strings(raw_nginx.get("stableIngresses")) or _strings(
            [raw_nginx["stableIngress"]] if raw_nginx.get("stableIngress") else []
        )
        if not ingresses:
            raise InvalidSpecError.at(f"{ROUTING_PATH}.nginx.stableIngress", "name the stable Ingress")
        nginx = NginxSpec(
            stable_ingresses=ingresses,
            annotation_prefix=str(raw_nginx.get("annotationPrefix") or "nginx.ingress.kubernetes.io"),
            additional_annotations={
                str(k): str(v) for k, v in _map(raw_nginx.get("additionalIngressAnnotations")).items()
            },
            canary_annotations={str(k): str(v) for k, v in _map(raw_nginx.get("canaryIngressAnnotations")).items()},
        )
    raw_istio = routing.get("istio")
    if isinstance(raw_istio, Mapping):
        path = f"{ROUTING_PATH}.istio"
        services: list[VirtualServiceRef] = []
        if isinstance(raw_istio.get("virtualService"), Mapping):
            services.append(_virtual_service(raw_istio["virtualService"], f"{path}.virtualService", namespace))
        for index, raw in enumerate(raw_istio.get("virtualServices") or []):
            services.append(_virtual_service(_map(raw), f"{path}.virtualServices[{index}]", namespace))
        if not services:
            raise InvalidSpecError.at(f"{path}.virtualService", "name the VirtualService to route with")
        rule = None
        raw_rule = raw_istio.get("destinationRule")
        if isinstance(raw_rule, Mapping):
            name, ns = _namespaced(str(raw_rule.get("name") or ""), namespace)
            rule = DestinationRuleRef(
                name=name,
                namespace=ns,
                canary_subset=str(raw_rule.get("canarySubsetName") or ""),
                stable_subset=str(raw_rule.get("stableSubsetName") or ""),
            )
        istio = IstioSpec(virtual_services=tuple(services), destination_rule=rule)
    raw_gateway = routing.get("gatewayAPI")
    if not isinstance(raw_gateway, Mapping):  # the Argo plugin spelling carries the same fields
        raw_gateway = _map(routing.get("plugins")).get("argoproj-labs/gatewayAPI")
    if isinstance(raw_gateway, Mapping):
        default_headers = bool(raw_gateway.get("useHeaderRoutes", False))
        routes = [
            HTTPRouteRef(name=str(raw_gateway["httpRoute"]), use_header_routes=default_headers)
        ] if raw_gateway.get("httpRoute") else []  # fmt: skip
        routes += [
            HTTPRouteRef(
                name=str(_map(raw).get("name") or ""),
                use_header_routes=bool(_map(raw).get("useHeaderRoutes", default_headers)),
            )
            for raw in raw_gateway.get("httpRoutes") or []
        ]
        if not routes:
            raise InvalidSpecError.at(f"{ROUTING_PATH}.gatewayAPI.httpRoute", "name the HTTPRoute to route with")
        gateway = GatewaySpec(http_routes=tuple(routes), namespace=raw_gateway.get("namespace") or None)
    max_weight = routing.get("maxTrafficWeight")
    return RoutingSpec(
        rollout=str(meta.get("name") or ""),
        namespace=namespace,
        stable_service=stable_service,
        canary_service=canary_service,
        managed_routes=tuple(str(_map(r).get("name") or "") for r in routing.get("managedRoutes") or []),
        max_traffic_weight=int(max_weight) if isinstance(max_weight, int) and max_weight > 0 else None,
        nginx=nginx,
        istio=istio,
        gateway=gateway,
    )


def _string_match(raw: Any, path: str) -> StringMatch:
    given = [(kind, _map(raw).get(kind.value)) for kind in MatchKind]
    present = [(kind, value) for kind, value in given if value is not None]
    if len(present) != 1:
        raise InvalidSpecError.at(path, "a match needs exactly one of exact, prefix or regex")
    kind, value = present[0]
    return StringMatch(kind=kind, value=str(value))


def parse_managed_route(
    *, kind: str, name: str, route: Mapping[str, Any], declared: Sequence[str], step_path: str = "steps"
) -> ManagedRoute:
    """A ``setHeaderRoute``/``setMirrorRoute`` payload as values; the name must be declared in ``managedRoutes``.

    Declaring names up front is what lets a router find (and remove) its own routes among the user's, and fixes their
    precedence (the order of ``managedRoutes``).
    """
    try:
        route_kind = RouteKind(kind)
    except ValueError:
        raise InvalidSpecError.at(step_path, f"unknown managed route kind {kind!r}") from None
    path = f"{step_path}.{route_kind.value}"
    if not name:
        raise InvalidSpecError.at(f"{path}.name", "a managed route needs a name")
    if name not in declared:
        raise InvalidSpecError.at(
            f"{ROUTING_PATH}.managedRoutes", f"route {name!r} is used by a {route_kind.value} step but not declared"
        )
    matches = route.get("match") or []
    if route_kind is RouteKind.HEADER:
        headers = tuple(
            HeaderMatch(
                name=str(_map(m).get("headerName") or ""),
                value=_string_match(_map(m).get("headerValue"), f"{path}.match[{i}].headerValue"),
            )
            for i, m in enumerate(matches)
        )
        if any(not h.name for h in headers):
            raise InvalidSpecError.at(f"{path}.match", "every header match needs a headerName")
        return ManagedRoute(kind=route_kind, name=name, headers=headers)
    mirror: list[MirrorMatch] = []
    for i, raw in enumerate(matches):
        m = _map(raw)
        mirror.append(
            MirrorMatch(
                method=_string_match(m["method"], f"{path}.match[{i}].method") if m.get("method") else None,
                path=_string_match(m["path"], f"{path}.match[{i}].path") if m.get("path") else None,
                headers=tuple(
                    HeaderMatch(name=str(h), value=_string_match(v, f"{path}.match[{i}].headers.{h}"))
                    for h, v in _map(m.get("headers")).items()
                ),
            )
        )
    percentage = route.get("percentage")
    return ManagedRoute(
        kind=route_kind,
        name=name,
        mirror=tuple(mirror),
        percentage=int(percentage) if isinstance(percentage, int) else 100,
    )
