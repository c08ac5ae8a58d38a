"""The routers' writer: read the routed objects, build the desired ones with the pure builders, write on difference.

The only module of ``rollouts.routers`` that talks to the API server. Each write is a guarded update (the body
carries the ``resourceVersion`` it was built from), so an edit that lands between our read and our write is never
overwritten blindly: the API server answers 409 and we rebuild from the fresh object. Because desired objects are
built *from* the current ones, fields and annotations other tools own are kept, and a hand edit of a field we own is
put back on the next call.

Errors the user must fix (missing CRD, missing VirtualService/Ingress/HTTPRoute, a route that does not name the
Services) are raised as ``InvalidSpecError``; the kopf shell reports them as InvalidSpec.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from kubernetes import client

from rollouts.act import TrafficRouter
from rollouts.core.errors import InvalidSpecError
from rollouts.routers import gateway, istio, nginx
from rollouts.routers.base import (
    ROUTING_PATH,
    GatewaySpec,
    IstioSpec,
    ManagedRoute,
    NginxSpec,
    RoutingSpec,
    Traffic,
    VirtualServiceRef,
    parse_managed_route,
    parse_routing,
)
from workflows.api import API_VERSION

__all__ = ["GatewayRouter", "IstioRouter", "NginxRouter", "RefusedRouter", "Routers", "recorded_traffic", "router_for"]

logger = logging.getLogger(__name__)

ISTIO_GROUP, ISTIO_VERSION = "networking.istio.io", "v1"
GATEWAY_GROUP, GATEWAY_VERSION = "gateway.networking.k8s.io", "v1"
_ATTEMPTS = 4  # guarded updates retried after a 409 (someone else wrote in between)

Body = dict[str, Any]


def _owner(rollout: Mapping[str, Any]) -> Body:
    meta = rollout["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": "Rollout",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _traffic(rollout: Mapping[str, Any], *, weight: int, canary_hash: str, stable_hash: str) -> Traffic:
    aborted = bool((rollout.get("status") or {}).get("abort"))
    return Traffic(weight=weight, canary_hash=canary_hash, stable_hash=stable_hash, aborted=aborted)


def recorded_traffic(rollout: Mapping[str, Any]) -> Traffic | None:
    """The traffic the planner last recorded (``status.canary.weights``), to re-assert on every reconcile.

    The planner emits ``SetTrafficWeight`` only when the weight changes; re-applying the recorded weight is what puts
    a hand-edited VirtualService/Ingress/HTTPRoute back between changes (a no-op write-wise when nothing drifted).
    """
    weights = ((rollout.get("status") or {}).get("canary") or {}).get("weights")
    if not isinstance(weights, Mapping):
        return None
    canary, stable = weights.get("canary") or {}, weights.get("stable") or {}
    if not isinstance(canary.get("weight"), int) or not stable.get("podTemplateHash"):
        return None
    return _traffic(
        rollout,
        weight=int(canary["weight"]),
        canary_hash=str(canary.get("podTemplateHash") or stable["podTemplateHash"]),
        stable_hash=str(stable["podTemplateHash"]),
    )


def _differs(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """Whether writing ``desired`` would change anything we manage (spec, labels, annotations, owners)."""
    if current is None:
        return True
    if current.get("spec") != desired.get("spec"):
        return True
    now, want = current.get("metadata") or {}, desired.get("metadata") or {}
    return any((now.get(k) or None) != (want.get(k) or None) for k in ("annotations", "labels", "ownerReferences"))


def _for_update(body: Mapping[str, Any]) -> Body:
    """The body to PUT: without status and managedFields (absent managedFields means "keep" to the API server)."""
    out = dict(body)
    out.pop("status", None)
    out["metadata"] = {k: v for k, v in (body.get("metadata") or {}).items() if k != "managedFields"}
    return out


def _missing(error: client.ApiException) -> str:
    """'object' when the named object is missing, 'type' when the API server does not know the resource at all."""
    try:
        details = json.loads(error.body or "{}").get("details") or {}
    except ValueError:
        details = {}
    return "object" if details.get("name") else "type"


class _Writer:
    """Guarded read-build-write loops over plain dict bodies; counts writes (no change, no write)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.networking = client.NetworkingV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.writes = 0

    # -- Ingress -------------------------------------------------------------------------------------------------
    def read_ingress(self, namespace: str, name: str) -> Body | None:
        try:
            response: Any = self.networking.read_namespaced_ingress(name, namespace, _preload_content=False)
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise
        body: Body = json.loads(response.data)
        return body

    def converge_ingress(self, namespace: str, name: str, build: Callable[[Body | None], Body | None]) -> None:
        for _ in range(_ATTEMPTS):
            current = self.read_ingress(namespace, name)
            desired = build(current)
            if desired is None or not _differs(current, desired):
                return
            try:
                body: Any = _for_update(desired)  # a plain dict: the client serialises it as it is
                if current is None:
                    self.networking.create_namespaced_ingress(namespace, body)
                else:
                    self.networking.replace_namespaced_ingress(name, namespace, body)
                self.writes += 1
            except client.ApiException as error:
                if error.status == 409:
                    continue  # written (or created) in between: rebuild from the fresh object
                if error.status == 422:
                    raise InvalidSpecError.at(
                        ROUTING_PATH, f"Ingress {namespace}/{name} rejected: {error.body}"
                    ) from None
                raise
            return
        raise InvalidSpecError.at(ROUTING_PATH, f"Ingress {namespace}/{name} kept changing while we updated it")

    def delete_ingress(self, namespace: str, name: str) -> None:
        try:
            self.networking.delete_namespaced_ingress(name, namespace)
            self.writes += 1
        except client.ApiException as error:
            if error.status != 404:
                raise

    # -- custom objects ------------------------------------------------------------------------------------------
    def read_custom(
        self, *, group: str, version: str, plural: str, kind: str, namespace: str, name: str, path: str
    ) -> Body:
        try:
            body: Any = self.custom.get_namespaced_custom_object(group, version, namespace, plural, name)
        except client.ApiException as error:
            if error.status != 404:
                raise
            if _missing(error) == "type":
                raise InvalidSpecError.at(
                    path, f"the {kind} CRD ({plural}.{group}/{version}) is not installed in this cluster"
                ) from None
            raise InvalidSpecError.at(path, f"{kind} {namespace}/{name} not found") from None
        return dict(body)

    def converge_custom(
        self, *, group: str, version: str, plural: str, kind: str, namespace: str, name: str, path: str,
        build: Callable[[Body], Body],
    ) -> None:  # fmt: skip
        for _ in range(_ATTEMPTS):
            current = self.read_custom(
                group=group, version=version, plural=plural, kind=kind, namespace=namespace, name=name, path=path
            )
            desired = build(current)
            if not _differs(current, desired):
                return
            try:
                self.custom.replace_namespaced_custom_object(
                    group, version, namespace, plural, name, _for_update(desired)
                )
                self.writes += 1
            except client.ApiException as error:
                if error.status == 409:
                    continue
                if error.status == 422:
                    raise InvalidSpecError.at(path, f"{kind} {namespace}/{name} rejected: {error.body}") from None
                raise
            return
        raise InvalidSpecError.at(path, f"{kind} {namespace}/{name} kept changing while we updated it")


class NginxRouter:
    """One canary Ingress per stable Ingress; deleted when the update is over."""

    def __init__(self, writer: _Writer, routing: RoutingSpec, spec: NginxSpec) -> None:
        self.writer, self.routing, self.spec = writer, routing, spec

    def _converge(self, rollout: Mapping[str, Any], change: Callable[[nginx.NginxState], nginx.NginxState]) -> None:
        namespace = self.routing.namespace
        for stable_name in self.spec.stable_ingresses:
            stable = self.writer.read_ingress(namespace, stable_name)
            if stable is None:
                raise InvalidSpecError.at(
                    f"{ROUTING_PATH}.nginx.stableIngress", f"Ingress {namespace}/{stable_name} not found"
                )

            def build(current: Body | None, stable: Body = stable) -> Body | None:
                state = change(
                    nginx.current_state(
                        current, prefix=self.spec.annotation_prefix, max_traffic_weight=self.routing.max_traffic_weight
                    )
                )
                if current is None and state.weight == 0 and state.header is None:
                    return None  # nothing to express: no canary Ingress needed yet
                return nginx.desired_canary_ingress(
                    stable=stable, current=current, routing=self.routing, nginx=self.spec, state=state,
                    owner=_owner(rollout),
                )  # fmt: skip

            canary_name = nginx.canary_ingress_name(self.routing.rollout, stable_name)
            self.writer.converge_ingress(namespace, canary_name, build)

    def apply(self, rollout: Mapping[str, Any], traffic: Traffic, *, relabel: bool = True) -> None:
        if traffic.finished:
            for stable_name in self.spec.stable_ingresses:
                name = nginx.canary_ingress_name(self.routing.rollout, stable_name)
                if self.writer.read_ingress(self.routing.namespace, name) is not None:
                    self.writer.delete_ingress(self.routing.namespace, name)
            return
        self._converge(rollout, lambda state: replace(state, weight=traffic.weight))

    def route(self, rollout: Mapping[str, Any], route: ManagedRoute) -> None:
        header = nginx.header_for(route)
        self._converge(rollout, lambda state: replace(state, header=header))


class IstioRouter:
    """Weights on VirtualServices, hashes on the DestinationRule's subsets, managed routes as named HTTP routes."""

    def __init__(self, writer: _Writer, routing: RoutingSpec, spec: IstioSpec) -> None:
        self.writer, self.routing, self.spec = writer, routing, spec

    def _virtual_service(self, ref: VirtualServiceRef, build: Callable[[Body], Body]) -> None:
        self.writer.converge_custom(
            group=ISTIO_GROUP, version=ISTIO_VERSION, plural="virtualservices", kind="VirtualService",
            namespace=ref.namespace or self.routing.namespace, name=ref.name, path=ref.path, build=build,
        )  # fmt: skip

    def apply(self, rollout: Mapping[str, Any], traffic: Traffic, *, relabel: bool = True) -> None:
        rule = self.spec.destination_rule
        if rule is not None and relabel:
            # Subsets first: the weight that follows must reach pods of the hashes it is meant for.
            self.writer.converge_custom(
                group=ISTIO_GROUP, version=ISTIO_VERSION, plural="destinationrules", kind="DestinationRule",
                namespace=rule.namespace or self.routing.namespace, name=rule.name,
                path=f"{ROUTING_PATH}.istio.destinationRule",
                build=lambda current: istio.desired_destination_rule(
                    current, rule=rule, canary_hash=traffic.canary_hash, stable_hash=traffic.stable_hash
                ),
            )  # fmt: skip
        for ref in self.spec.virtual_services:

            def build(current: Body, ref: VirtualServiceRef = ref) -> Body:
                body = istio.weighted_virtual_service(
                    current, ref=ref, routing=self.routing, rule=rule, weight=traffic.weight
                )
                return istio.without_managed_routes(body, routing=self.routing) if traffic.finished else body

            self._virtual_service(ref, build)

    def route(self, rollout: Mapping[str, Any], route: ManagedRoute) -> None:
        for ref in self.spec.virtual_services:

            def build(current: Body, ref: VirtualServiceRef = ref) -> Body:
                return istio.with_managed_route(
                    current, ref=ref, routing=self.routing, rule=self.spec.destination_rule, route=route
                )

            self._virtual_service(ref, build)


class GatewayRouter:
    """Weights on HTTPRoute backendRefs; header routes as named rules on routes with ``useHeaderRoutes``."""

    def __init__(self, writer: _Writer, routing: RoutingSpec, spec: GatewaySpec) -> None:
        self.writer, self.routing, self.spec = writer, routing, spec

    def _http_route(self, name: str, build: Callable[[Body], Body]) -> None:
        self.writer.converge_custom(
            group=GATEWAY_GROUP, version=GATEWAY_VERSION, plural="httproutes", kind="HTTPRoute",
            namespace=self.spec.namespace or self.routing.namespace, name=name,
            path=f"{ROUTING_PATH}.gatewayAPI", build=build,
        )  # fmt: skip

    def apply(self, rollout: Mapping[str, Any], traffic: Traffic, *, relabel: bool = True) -> None:
        def build(current: Body) -> Body:
            body = gateway.weighted_http_route(current, routing=self.routing, weight=traffic.weight)
            return gateway.without_managed_routes(body, routing=self.routing) if traffic.finished else body

        for ref in self.spec.http_routes:
            self._http_route(ref.name, build)

    def route(self, rollout: Mapping[str, Any], route: ManagedRoute) -> None:
        targets = [ref for ref in self.spec.http_routes if ref.use_header_routes]
        if not targets:
            raise InvalidSpecError.at(
                f"{ROUTING_PATH}.gatewayAPI.useHeaderRoutes", "set useHeaderRoutes to use setHeaderRoute"
            )
        for ref in targets:
            self._http_route(
                ref.name, lambda current: gateway.with_managed_route(current, routing=self.routing, route=route)
            )


_Router = NginxRouter | IstioRouter | GatewayRouter


class Routers:
    """Every router a Rollout configures (Argo allows several at once, e.g. nginx and Istio) as one ``TrafficRouter``.

    Weights go to each router in turn; the first error stops (the act layer re-plans on the next reconcile).
    """

    def __init__(self, api: client.ApiClient, routing: RoutingSpec) -> None:
        self.routing = routing
        self.writer = _Writer(api)
        self.routers: list[_Router] = []
        if routing.nginx is not None:
            self.routers.append(NginxRouter(self.writer, routing, routing.nginx))
        if routing.istio is not None:
            self.routers.append(IstioRouter(self.writer, routing, routing.istio))
        if routing.gateway is not None:
            self.routers.append(GatewayRouter(self.writer, routing, routing.gateway))

    @property
    def writes(self) -> int:
        """API writes so far (create/replace/delete): a call that changes nothing writes nothing."""
        return self.writer.writes

    def set_weight(self, rollout: Mapping[str, Any], *, weight: int, canary_hash: str, stable_hash: str) -> None:
        traffic = _traffic(rollout, weight=weight, canary_hash=canary_hash, stable_hash=stable_hash)
        self._apply(rollout, traffic, relabel=True)

    def reassert(self, rollout: Mapping[str, Any]) -> None:
        """Put the recorded traffic (``status.canary.weights``) back on objects that drifted; no write otherwise.

        DestinationRule subsets are left on the hashes they have unless the update is finished: the recorded canary
        hash names the *newest* ReplicaSet, which may not be the one the recorded weight was sent to.
        """
        traffic = recorded_traffic(rollout)
        if traffic is not None:
            self._apply(rollout, traffic, relabel=traffic.finished)

    def _apply(self, rollout: Mapping[str, Any], traffic: Traffic, *, relabel: bool) -> None:
        logger.debug("traffic for %s: %s", self.routing.rollout, traffic)
        for router in self.routers:
            router.apply(rollout, traffic, relabel=relabel)

    def set_managed_route(self, rollout: Mapping[str, Any], *, kind: str, name: str, route: Mapping[str, Any]) -> None:
        managed = parse_managed_route(kind=kind, name=name, route=route, declared=self.routing.managed_routes)
        for router in self.routers:
            router.route(rollout, managed)


class RefusedRouter:
    """A Rollout whose routing spec cannot be used: every call reports why (InvalidSpec), nothing is written."""

    def __init__(self, error: InvalidSpecError) -> None:
        self.error = error

    def set_weight(self, rollout: Mapping[str, Any], *, weight: int, canary_hash: str, stable_hash: str) -> None:
        raise self.error

    def set_managed_route(self, rollout: Mapping[str, Any], *, kind: str, name: str, route: Mapping[str, Any]) -> None:
        raise self.error

    def reassert(self, rollout: Mapping[str, Any]) -> None:
        raise self.error


def router_for(rollout: Mapping[str, Any], api: client.ApiClient) -> Routers | RefusedRouter | None:
    """The ``TrafficRouter`` for ``rollout``'s ``trafficRouting``, or ``None`` when it routes by replicas only.

    Never raises: a routing spec the routers cannot use gives a router whose calls raise ``InvalidSpecError`` with the
    field path, so the problem surfaces as InvalidSpec exactly when traffic would move.
    """
    try:
        routing = parse_routing(rollout)
    except InvalidSpecError as error:
        return RefusedRouter(error)
    if routing is None or routing.empty:
        return None
    return Routers(api, routing)


def _check_protocol(router: Routers, refused: RefusedRouter) -> tuple[TrafficRouter, TrafficRouter]:
    return router, refused  # mypy proves both satisfy the act layer's seam
