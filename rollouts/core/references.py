"""The objects a Rollout names, and whether the observed world holds them: Argo's references check, as pure data.

Argo Rollouts checks a Rollout's references on every reconcile, the first deploy included
(``ValidateRolloutReferencedResources``), so a typo in a Service, Ingress, VirtualService, HTTPRoute or
AnalysisTemplate name is an ``InvalidSpec`` at once, not a surprise in the middle of the first release. Here:

- :func:`references` lists every object the spec names, each with the field path that names it. The observer
  (``rollouts.controller.observe``) looks each one up in the informer caches and hands the planner what it found
  (``Observed.referenced``); the Rollout controller's listeners use the same list to reconcile a Rollout when an
  object it names appears, changes or goes away (level-triggered: creating the missing Service clears the condition).
- :func:`reference_issues` compares the two and returns every problem with its path; the planner refuses a Rollout
  with any (``InvalidSpec`` condition, ``Degraded``, a Warning Event) before it creates or scales anything.

What is checked, as Argo does, whether or not an update is running: every Service the strategy names (canary/stable,
ping/pong, active/preview); every (Cluster)AnalysisTemplate of every step, the background analysis and blue-green
pre/post-promotion analysis; the nginx stable Ingress(es) and ALB Ingress(es), each of which must route to the stable
Service (ALB: ``rootService`` when set); each Istio VirtualService and the HTTP routes it is told to split; each
Gateway API HTTPRoute. Messages are Argo's (``Invalid value: "x": service "x" not found``); paths name the exact
field (``spec.strategy.canary.steps[1].analysis.templates[0].templateName``, where Argo names the list).

Never does I/O: the bodies it reads are the ones the observer found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rollouts.core.routing import ROUTING_PATH, RoutingSpec, VirtualServiceRef
from rollouts.core.spec import RolloutSpec, analysis_refs
from workflows.errors import FieldIssue

__all__ = ["Reference", "ReferenceKind", "Referenced", "reference_issues", "references"]


class ReferenceKind(StrEnum):
    """A kind of object a Rollout names; the value is how Argo's listers spell it in a not-found message."""

    SERVICE = "service"
    ANALYSIS_TEMPLATE = "AnalysisTemplate"
    CLUSTER_ANALYSIS_TEMPLATE = "ClusterAnalysisTemplate"
    INGRESS = "ingress.networking.k8s.io"
    VIRTUAL_SERVICE = "virtualservices.networking.istio.io"
    HTTP_ROUTE = "httproutes.gateway.networking.k8s.io"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reference:
    """One object the spec names: its kind, namespace ("" for a cluster-scoped one), name, and the naming field."""

    kind: ReferenceKind
    namespace: str
    name: str
    path: str

    @property
    def key(self) -> tuple[ReferenceKind, str, str]:
        return (self.kind, self.namespace, self.name)


#: What the observer found for each referenced object, by :attr:`Reference.key`: its body (absent: not found).
Referenced = Mapping[tuple[ReferenceKind, str, str], Mapping[str, Any]]


def _services(spec: RolloutSpec, namespace: str) -> list[Reference]:
    named: list[tuple[str | None, str]] = []
    if spec.blue_green is not None:
        blue_green = spec.blue_green
        named += [(blue_green.active_service, "activeService"), (blue_green.preview_service, "previewService")]
        base = "spec.strategy.blueGreen"
    elif spec.canary is not None:
        canary = spec.canary
        named += [(canary.stable_service, "stableService"), (canary.canary_service, "canaryService")]
        if canary.ping_pong is not None:
            named += [
                (canary.ping_pong.ping_service, "pingPong.pingService"),
                (canary.ping_pong.pong_service, "pingPong.pongService"),
            ]
        base = "spec.strategy.canary"
    return [
        Reference(kind=ReferenceKind.SERVICE, namespace=namespace, name=name, path=f"{base}.{field}")
        for name, field in named
        if name
    ]


def _templates(spec: RolloutSpec, namespace: str) -> list[Reference]:
    out = []
    for ref in analysis_refs(spec):
        for index, (name, cluster) in enumerate(ref.templates):
            out.append(
                Reference(
                    kind=ReferenceKind.CLUSTER_ANALYSIS_TEMPLATE if cluster else ReferenceKind.ANALYSIS_TEMPLATE,
                    namespace="" if cluster else namespace,
                    name=name,
                    path=f"{ref.path}.templates[{index}].templateName",
                )
            )
    return out


def _routed(routing: RoutingSpec, namespace: str) -> list[Reference]:
    out = []
    if routing.nginx is not None:
        many = len(routing.nginx.stable_ingresses) > 1
        for index, name in enumerate(routing.nginx.stable_ingresses):
            path = f"{ROUTING_PATH}.nginx." + (f"stableIngresses[{index}]" if many else "stableIngress")
            out.append(Reference(kind=ReferenceKind.INGRESS, namespace=namespace, name=name, path=path))
    if routing.alb is not None:
        for index, name in enumerate(routing.alb.ingresses):
            path = routing.alb.ingress_path(index)
            out.append(Reference(kind=ReferenceKind.INGRESS, namespace=namespace, name=name, path=path))
    if routing.istio is not None:
        out += [
            Reference(
                kind=ReferenceKind.VIRTUAL_SERVICE,
                namespace=vs.namespace or namespace,
                name=vs.name,
                path=f"{vs.path}.name",
            )
            for vs in routing.istio.virtual_services
        ]
    if routing.gateway is not None:
        gateway_namespace = routing.gateway.namespace or namespace
        out += [
            Reference(kind=ReferenceKind.HTTP_ROUTE, namespace=gateway_namespace, name=route.name, path=route.path)
            for route in routing.gateway.http_routes
        ]
    return out


def references(spec: RolloutSpec, namespace: str) -> tuple[Reference, ...]:
    """Every object ``spec`` (a Rollout in ``namespace``) names, in the order Argo checks them."""
    routed: list[Reference] = []
    if spec.canary is not None and spec.canary.traffic_routing is not None:
        routed = _routed(spec.canary.traffic_routing, namespace)
    return (*_services(spec, namespace), *_templates(spec, namespace), *routed)


def _invalid(value: str, message: str) -> str:
    """Argo's ``field.Invalid`` text after the path: ``Invalid value: "x": <message>``."""
    return f'Invalid value: "{value}": {message}'


def _backends(ingress: Mapping[str, Any]) -> set[str]:
    """The Service names an Ingress's rules route to."""
    names = set()
    for rule in (ingress.get("spec") or {}).get("rules") or ():
        for path in ((rule or {}).get("http") or {}).get("paths") or ():
            service = ((path or {}).get("backend") or {}).get("service") or {}
            if service.get("name"):
                names.add(str(service["name"]))
    return names


def _route_issues(
    reference: Reference, vs: VirtualServiceRef, body: Mapping[str, Any], managed: Sequence[str]
) -> list[FieldIssue]:
    """Argo's ``ValidateHTTPRoutes``: every named HTTP route exists; unnamed, the VirtualService has exactly one
    HTTP route that is not a managed one. TLS/TCP selectors are checked by the Istio router when it reads weights."""
    http = (body.get("spec") or {}).get("http")
    if not isinstance(http, list):
        return []  # no HTTP routes (a TLS/TCP-only VirtualService): nothing named to find
    names = [str((route or {}).get("name") or "") for route in http]
    issues = []
    for index, name in enumerate(vs.routes):
        if name not in names:
            message = f"HTTP Route '{name}' is not found in the defined Virtual Service."
            issues.append(
                FieldIssue(
                    f"{vs.path}.routes[{index}]",
                    _invalid(vs.name, f"Istio VirtualService has invalid HTTP routes. Error: {message}"),
                )
            )
    unmanaged = [name for name in names if name not in managed]
    if not vs.routes and not vs.tls_routes and not vs.tcp_ports and len(unmanaged) > 1:
        message = (
            "spec.http[] should be set in VirtualService and it must have exactly one route when omitting "
            "spec.strategy.canary.trafficRouting.istio.virtualService.routes"
        )
        issues.append(
            FieldIssue(
                reference.path,
                _invalid(vs.name, f"Istio VirtualService has invalid HTTP routes. Error: {message}"),
            )
        )
    return issues


def reference_issues(spec: RolloutSpec, namespace: str, found: Referenced) -> list[FieldIssue]:
    """Every problem with the objects ``spec`` names, given what was ``found``; empty when all is well."""
    issues: list[FieldIssue] = []
    routing = spec.canary.traffic_routing if spec.canary is not None else None
    for reference in references(spec, namespace):
        body = found.get(reference.key)
        if body is None:
            if reference.kind in (ReferenceKind.ANALYSIS_TEMPLATE, ReferenceKind.CLUSTER_ANALYSIS_TEMPLATE):
                message = f"{reference.kind.value} '{reference.name}' not found"
            else:
                message = f'{reference.kind.value} "{reference.name}" not found'
            issues.append(FieldIssue(reference.path, _invalid(reference.name, message)))
            continue
        if reference.kind is ReferenceKind.INGRESS and routing is not None:
            alb_path = routing.alb is not None and reference.path.startswith(f"{ROUTING_PATH}.alb")
            service = routing.alb.action_service if alb_path and routing.alb is not None else routing.stable_service
            if service and service not in _backends(body):
                message = f"ingress `{reference.name}` has no rules using service {service} backend"
                issues.append(FieldIssue(reference.path, _invalid(reference.name, message)))
        if reference.kind is ReferenceKind.VIRTUAL_SERVICE and routing is not None and routing.istio is not None:
            vs = next(v for v in routing.istio.virtual_services if f"{v.path}.name" == reference.path)
            issues += _route_issues(reference, vs, body, routing.managed_routes)
    return issues
