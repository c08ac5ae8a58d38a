"""``spec.strategy.canary.trafficRouting`` and the managed-route steps as typed values, parsed once with the spec.

:func:`parse_routing` is called by :func:`rollouts.core.spec.parse_rollout`, so a routing spec that cannot work (no
stable Ingress named, an unknown plugin, a step using an undeclared managed route) is an ``InvalidSpec`` with its
field path the moment the Rollout is applied, not when traffic first moves. The routers (``rollouts.routers``) turn
these values and the planner's ``SetTrafficWeight``/``SetManagedRoute`` actions into Ingress, VirtualService,
DestinationRule and HTTPRoute changes.

Pure: no client, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rollouts.core.errors import InvalidSpecError
from workflows.errors import Issues

__all__ = [
    "ALB_MAX_TARGET_GROUP_WEIGHT",
    "ROUTING_PATH",
    "AlbSpec",
    "HeaderMatch",
    "ManagedRoute",
    "MatchKind",
    "MirrorMatch",
    "RouteKind",
    "RoutingSpec",
    "StringMatch",
    "check_managed_route",
    "parse_managed_route",
    "parse_routing",
]

ROUTING_PATH = "spec.strategy.canary.trafficRouting"


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


#: The largest weight an AWS target group in a forward action takes (the AWS load balancer controller's range 0-999).
ALB_MAX_TARGET_GROUP_WEIGHT = 999
#: Stickiness durations AWS accepts (TargetGroupStickinessConfig), in seconds: one second to seven days.
ALB_STICKINESS_SECONDS = (1, 604_800)


@dataclass(frozen=True, slots=True, kw_only=True)
class AlbSpec:
    """``trafficRouting.alb``: the Ingresses whose action annotation splits the traffic.

    ``ingress_field`` is the spelling used (``ingress`` or ``ingresses``), for error paths; ``action_service`` is
    ``rootService``, else the stable Service: the backend the action annotation is named after.
    """

    ingresses: tuple[str, ...]
    ingress_field: str
    service_port: int
    action_service: str
    annotation_prefix: str = "alb.ingress.kubernetes.io"
    stickiness_seconds: int | None = None  # set: stickiness enabled for that long

    def ingress_path(self, index: int) -> str:
        """The field path naming the ``index``-th Ingress."""
        base = f"{ROUTING_PATH}.alb.{self.ingress_field}"
        return f"{base}[{index}]" if self.ingress_field == "ingresses" else base


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
    # the field naming it (``...gatewayAPI.httpRoutes[1].name``), for error messages; not part of what the route
    # is (the two spellings of the router configure the same routes)
    path: str = field(default="", compare=False)


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
    alb: AlbSpec | None = None

    @property
    def empty(self) -> bool:
        return self.nginx is None and self.istio is None and self.gateway is None and self.alb is None


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


def _virtual_service(raw: Mapping[str, Any], path: str, namespace: str, issues: Issues) -> VirtualServiceRef | None:
    name, ns = _namespaced(str(raw.get("name") or ""), namespace)
    if not name:
        issues.add(f"{path}.name", "a VirtualService name is required")
        return None
    tls = tuple(
        TlsRouteSelector(port=_map(t).get("port"), sni_hosts=_strings(_map(t).get("sniHosts")))
        for t in raw.get("tlsRoutes") or []
    )
    tcp = tuple(_map(t).get("port") for t in raw.get("tcpRoutes") or [])
    return VirtualServiceRef(
        name=name, namespace=ns, routes=_strings(raw.get("routes")), tls_routes=tls, tcp_ports=tcp, path=path
    )


_GATEWAY_PLUGIN = "argoproj-labs/gatewayAPI"
_SUPPORTED = "supported: nginx, istio, alb, gatewayAPI (or the argoproj-labs/gatewayAPI plugin)"


def _nginx(raw: Mapping[str, Any], path: str, issues: Issues) -> NginxSpec | None:
    ingresses = _strings(raw.get("stableIngresses")) or _strings(
        [raw["stableIngress"]] if raw.get("stableIngress") else []
    )
    if not ingresses:
        issues.add(f"{path}.stableIngress", "name the stable Ingress")
        return None
    return NginxSpec(
        stable_ingresses=ingresses,
        annotation_prefix=str(raw.get("annotationPrefix") or "nginx.ingress.kubernetes.io"),
        additional_annotations={str(k): str(v) for k, v in _map(raw.get("additionalIngressAnnotations")).items()},
        canary_annotations={str(k): str(v) for k, v in _map(raw.get("canaryIngressAnnotations")).items()},
    )


def _alb_stickiness(raw: Any, path: str, issues: Issues) -> int | None:
    """The stickiness duration when ``stickinessConfig`` enables it (None: no stickiness)."""
    config = _map(raw)
    if not config.get("enabled"):
        return None
    low, high = ALB_STICKINESS_SECONDS
    duration = config.get("durationSeconds")
    if isinstance(duration, bool) or not isinstance(duration, int) or not low <= duration <= high:
        issues.add(
            f"{path}.durationSeconds",
            f"TargetGroupStickinessConfig's duration must be between {low} and {high} seconds (7 days)",
        )
        return None
    return duration


def _alb(raw: Mapping[str, Any], path: str, issues: Issues, *, stable_service: str) -> AlbSpec | None:
    """``alb`` as values. Both Services are required with it (the action forwards to them by name); the Rollout
    parser checks that, since Argo waives it for ping-pong."""
    before = len(issues.items)
    single = str(raw.get("ingress") or "")
    many = _strings(raw.get("ingresses"))
    if single and many:
        issues.add(path, "set ingress or ingresses, not both")
    elif not single and not many:
        issues.add(f"{path}.ingress", "name the Ingress (ingress, or ingresses for several)")
    port = raw.get("servicePort")
    if port is None:
        issues.add(f"{path}.servicePort", "servicePort is required: the Service port the ALB action forwards to")
    elif isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        issues.add(f"{path}.servicePort", "must be a port number (1-65535)")
    stickiness = _alb_stickiness(raw.get("stickinessConfig"), f"{path}.stickinessConfig", issues)
    if len(issues.items) != before:
        return None
    assert isinstance(port, int)
    return AlbSpec(
        ingresses=many or (single,),
        ingress_field="ingresses" if many else "ingress",
        service_port=port,
        action_service=str(raw.get("rootService") or "") or stable_service,
        annotation_prefix=str(raw.get("annotationPrefix") or "alb.ingress.kubernetes.io"),
        stickiness_seconds=stickiness,
    )


def _istio(raw: Mapping[str, Any], path: str, namespace: str, issues: Issues) -> IstioSpec | None:
    services: list[VirtualServiceRef | None] = []
    if isinstance(raw.get("virtualService"), Mapping):
        services.append(_virtual_service(raw["virtualService"], f"{path}.virtualService", namespace, issues))
    for index, item in enumerate(raw.get("virtualServices") or []):
        services.append(_virtual_service(_map(item), f"{path}.virtualServices[{index}]", namespace, issues))
    if not services:
        issues.add(f"{path}.virtualService", "name the VirtualService to route with")
    rule = None
    raw_rule = raw.get("destinationRule")
    if isinstance(raw_rule, Mapping):
        name, ns = _namespaced(str(raw_rule.get("name") or ""), namespace)
        rule = DestinationRuleRef(
            name=name,
            namespace=ns,
            canary_subset=str(raw_rule.get("canarySubsetName") or ""),
            stable_subset=str(raw_rule.get("stableSubsetName") or ""),
        )
    if not services or None in services:
        return None
    return IstioSpec(virtual_services=tuple(s for s in services if s is not None), destination_rule=rule)


def _gateway(raw: Mapping[str, Any], path: str, issues: Issues) -> GatewaySpec | None:
    default_headers = bool(raw.get("useHeaderRoutes", False))
    routes = (
        [HTTPRouteRef(name=str(raw["httpRoute"]), use_header_routes=default_headers, path=f"{path}.httpRoute")]
        if raw.get("httpRoute")
        else []
    )
    routes += [
        HTTPRouteRef(
            name=str(_map(item).get("name") or ""),
            use_header_routes=bool(_map(item).get("useHeaderRoutes", default_headers)),
            path=f"{path}.httpRoutes[{index}].name",
        )
        for index, item in enumerate(raw.get("httpRoutes") or [])
    ]
    if not routes:
        issues.add(f"{path}.httpRoute", "name the HTTPRoute to route with")
        return None
    return GatewaySpec(http_routes=tuple(routes), namespace=raw.get("namespace") or None)


def parse_routing(
    routing: Mapping[str, Any],
    *,
    rollout: str,
    namespace: str,
    stable_service: str,
    canary_service: str,
    issues: Issues,
    path: str = ROUTING_PATH,
) -> RoutingSpec | None:
    """``trafficRouting`` as values; every problem goes to ``issues`` (None when the routing cannot work)."""
    nginx = istio = gateway = alb = None
    if isinstance(routing.get("alb"), Mapping):
        alb = _alb(routing["alb"], f"{path}.alb", issues, stable_service=stable_service)
    if isinstance(routing.get("nginx"), Mapping):
        nginx = _nginx(routing["nginx"], f"{path}.nginx", issues)
    if isinstance(routing.get("istio"), Mapping):
        istio = _istio(routing["istio"], f"{path}.istio", namespace, issues)
    if isinstance(routing.get("gatewayAPI"), Mapping):
        gateway = _gateway(routing["gatewayAPI"], f"{path}.gatewayAPI", issues)
    for name, plugin in _map(routing.get("plugins")).items():
        if name != _GATEWAY_PLUGIN:
            issues.add(f"{path}.plugins.{name}", f"traffic router plugin not supported ({_SUPPORTED})")
        elif gateway is not None:
            issues.add(f"{path}.plugins.{name}", "gatewayAPI is already configured; use one of the two spellings")
        else:  # the Argo plugin spelling carries the same fields
            gateway = _gateway(_map(plugin), f"{path}.plugins.{name}", issues)
    known = {"nginx", "istio", "alb", "gatewayAPI", "plugins", "managedRoutes", "maxTrafficWeight"}
    for key in routing:
        if key not in known:
            issues.add(f"{path}.{key}", f"traffic router not supported ({_SUPPORTED})")
    if nginx is None and istio is None and gateway is None and alb is None:
        if not any(key in routing for key in ("nginx", "istio", "alb", "gatewayAPI", "plugins")):
            issues.add(path, f"names no traffic router ({_SUPPORTED})")
        return None
    max_weight = routing.get("maxTrafficWeight")
    if alb is not None and isinstance(max_weight, int) and max_weight > ALB_MAX_TARGET_GROUP_WEIGHT:
        issues.add(
            f"{path}.maxTrafficWeight",
            f"an ALB target group weight is at most {ALB_MAX_TARGET_GROUP_WEIGHT}: with alb, maxTrafficWeight must "
            f"not exceed {ALB_MAX_TARGET_GROUP_WEIGHT}",
        )
    return RoutingSpec(
        rollout=rollout,
        namespace=namespace,
        stable_service=stable_service,
        canary_service=canary_service,
        managed_routes=tuple(str(_map(r).get("name") or "") for r in routing.get("managedRoutes") or []),
        max_traffic_weight=int(max_weight) if isinstance(max_weight, int) and max_weight > 0 else None,
        nginx=nginx,
        istio=istio,
        gateway=gateway,
        alb=alb,
    )


def _string_match(raw: Any, path: str) -> StringMatch:
    given = [(kind, _map(raw).get(kind.value)) for kind in MatchKind]
    present = [(kind, value) for kind, value in given if value is not None]
    if len(present) != 1:
        raise InvalidSpecError.at(path, "a match needs exactly one of exact, prefix or regex")
    kind, value = present[0]
    return StringMatch(kind=kind, value=str(value))


def check_managed_route(route: ManagedRoute, routing: RoutingSpec, path: str, issues: Issues) -> None:
    """What the configured routers can express of a managed-route step, known before any traffic moves."""
    if route.kind is RouteKind.MIRROR and routing.istio is None:
        issues.add(path, "setMirrorRoute needs the Istio router (nginx, ALB and Gateway API cannot mirror)")
    if route.kind is RouteKind.HEADER and routing.alb is not None:
        for index, header in enumerate(route.headers):
            if header.value.kind is not MatchKind.EXACT:
                issues.add(
                    f"{path}.match[{index}]", "SetHeaderRoute match value invalid. ALB supports 'exact' value only"
                )
    if route.kind is RouteKind.HEADER and routing.nginx is not None and len(route.headers) > 1:
        issues.add(f"{path}.match", "nginx matches a canary on one header only: give setHeaderRoute a single match")
    if (
        route.kind is RouteKind.HEADER
        and routing.gateway is not None
        and not any(ref.use_header_routes for ref in routing.gateway.http_routes)
    ):
        issues.add(f"{ROUTING_PATH}.gatewayAPI.useHeaderRoutes", "set useHeaderRoutes to use setHeaderRoute")


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
