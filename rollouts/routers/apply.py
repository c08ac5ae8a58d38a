"""The routers' I/O: read the routed objects, build the desired ones with the pure builders, write on difference.

The only module of ``rollouts.routers`` that talks to the API server (through :class:`workflows.runtime.kube.Kube`).
Every plan of a routed canary declares the whole desired routing state (one ``SetTrafficWeight``: the weight, the
hashes it goes to, whether the update is over), so this module never decides anything and never reads the Rollout's
status: it converges the objects to what the plan says, and a hand edit of a field we own is put back by the next
reconcile. Each write is a guarded update (the body carries the ``resourceVersion`` it was built from): an edit that
lands between our read and our write is never overwritten blindly; the API server answers 409 and we rebuild from the
fresh object. Because desired objects are built *from* the current ones, fields other tools own are kept. Reading the
weights back (:meth:`Routers.weights`) is how the planner verifies a step's weight, as Argo's ``VerifyWeight`` does.

Problems only the user can fix (missing CRD, missing VirtualService/Ingress/HTTPRoute, a route that does not name the
Services) are raised as :class:`~rollouts.core.errors.InvalidSpecError`; the kopf shell reports them as InvalidSpec.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from rollouts.core.actions import SetTrafficWeight
from rollouts.core.errors import InvalidSpecError
from rollouts.core.routing import (
    ROUTING_PATH,
    AlbSpec,
    GatewaySpec,
    IstioSpec,
    ManagedRoute,
    NginxSpec,
    RouteKind,
    RoutingSpec,
    VirtualServiceRef,
)
from rollouts.routers import alb, gateway, istio, nginx
from workflows.runtime.informer import Reads
from workflows.runtime.kube import HTTP_ROUTES, INGRESSES, ConflictError, InvalidError, Kube, NotServedError, Resource

__all__ = ["AlbRouter", "GatewayRouter", "IstioRouter", "NginxRouter", "Routers", "release_destination_rules"]

logger = logging.getLogger(__name__)

VIRTUAL_SERVICES = Resource("networking.istio.io", "v1", "virtualservices", "VirtualService")
DESTINATION_RULES = Resource("networking.istio.io", "v1", "destinationrules", "DestinationRule")
#: Older versions a cluster may serve instead (Argo Rollouts' e2e suite installs Istio CRDs up to v1beta1, and its
#: controller speaks v1alpha3): the objects are the same shape in each.
_OLDER_VERSIONS: dict[Resource, tuple[str, ...]] = {
    VIRTUAL_SERVICES: ("v1beta1", "v1alpha3"),
    DESTINATION_RULES: ("v1beta1", "v1alpha3"),
    HTTP_ROUTES: ("v1beta1",),
}
_ATTEMPTS = 4  # guarded updates retried after a 409 (someone else wrote in between)

Body = dict[str, Any]


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


class _Writer:
    """Guarded read-build-write loops over plain dict bodies; counts writes (no change, no write)."""

    def __init__(self, kube: Kube, reads: Reads | None = None) -> None:
        self.kube = kube
        self.reads: Reads = reads if reads is not None else kube  # the informer cache, when the controller has one
        self.writes = 0

    def served(self, resource: Resource) -> Resource:
        """``resource`` at the version this cluster serves (see :meth:`Kube.served`)."""
        return self.kube.served(resource, *_OLDER_VERSIONS.get(resource, ()))

    def read(
        self, resource: Resource, *, namespace: str, name: str, path: str, required: bool = True, fresh: bool = False
    ) -> Body | None:
        """The object (from the cache; ``fresh``: from the API server); a missing object (when ``required``) or an
        uninstalled CRD is the user's to fix."""
        try:
            body = (self.kube if fresh else self.reads).get(self.served(resource), name, namespace)
        except NotServedError:
            self.kube.forget(resource)
            raise InvalidSpecError.at(
                path,
                f"the {resource.kind} CRD ({resource.plural}.{resource.group}/{resource.version}) is not installed "
                "in this cluster",
            ) from None
        if body is None and required:
            raise InvalidSpecError.at(path, f"{resource.kind} {namespace}/{name} not found")
        return body

    def converge(
        self,
        resource: Resource,
        *,
        namespace: str,
        name: str,
        path: str,
        build: Callable[[Body | None], Body | None],
        may_create: bool = False,
    ) -> None:
        """Make the object what ``build(current)`` says (None: nothing to write), retrying on 409."""
        for attempt in range(_ATTEMPTS):
            # after a conflict the cache may not have seen the other write yet: ask the API server itself
            current = self.read(
                resource, namespace=namespace, name=name, path=path, required=not may_create, fresh=attempt > 0
            )
            desired = build(current)
            if desired is None or not _differs(current, desired):
                return
            try:
                if current is None:
                    self.kube.create(self.served(resource), _for_update(desired), namespace)
                elif self.kube.replace(self.served(resource), _for_update(desired)) is None:
                    continue  # deleted in between: build again from nothing
                self.writes += 1
            except ConflictError:
                continue  # written (or created) in between: rebuild from the fresh object
            except InvalidError as error:
                raise InvalidSpecError.at(
                    path, f"{resource.kind} {namespace}/{name} rejected: {error.message}"
                ) from None
            return
        raise InvalidSpecError.at(path, f"{resource.kind} {namespace}/{name} kept changing while we updated it")

    def delete(self, resource: Resource, *, namespace: str, name: str) -> None:
        if self.kube.delete(self.served(resource), name, namespace):
            self.writes += 1


class NginxRouter:
    """One canary Ingress per stable Ingress; deleted when the update is over."""

    def __init__(self, writer: _Writer, routing: RoutingSpec, spec: NginxSpec, owner: Mapping[str, Any]) -> None:
        self.writer, self.routing, self.spec, self.owner = writer, routing, spec, owner

    def _canary_name(self, stable_name: str) -> str:
        return nginx.canary_ingress_name(self.routing.rollout, stable_name)

    def _state(self, current: Body | None) -> nginx.NginxState:
        return nginx.current_state(
            current, prefix=self.spec.annotation_prefix, max_traffic_weight=self.routing.max_traffic_weight
        )

    def _converge(self, change: Callable[[nginx.NginxState], nginx.NginxState]) -> None:
        namespace = self.routing.namespace
        for stable_name in self.spec.stable_ingresses:
            stable = self.writer.read(
                INGRESSES, namespace=namespace, name=stable_name, path=f"{ROUTING_PATH}.nginx.stableIngress"
            )
            assert stable is not None

            def build(current: Body | None, stable: Body = stable) -> Body | None:
                state = change(self._state(current))
                if current is None and state.weight == 0 and state.header is None:
                    return None  # nothing to express: no canary Ingress needed yet
                return nginx.desired_canary_ingress(
                    stable=stable, current=current, routing=self.routing, nginx=self.spec, state=state,
                    owner=self.owner,
                )  # fmt: skip

            self.writer.converge(
                INGRESSES,
                namespace=namespace,
                name=self._canary_name(stable_name),
                path=f"{ROUTING_PATH}.nginx",
                build=build,
                may_create=True,
            )

    def apply(self, traffic: SetTrafficWeight) -> None:
        if traffic.finished:
            for stable_name in self.spec.stable_ingresses:
                self.writer.delete(INGRESSES, namespace=self.routing.namespace, name=self._canary_name(stable_name))
            return
        self._converge(lambda state: replace(state, weight=traffic.weight))

    def route(self, route: ManagedRoute) -> None:
        header = nginx.header_for(route)
        self._converge(lambda state: replace(state, header=header))

    def weights(self) -> list[int]:
        out: list[int] = []
        for stable_name in self.spec.stable_ingresses:
            canary = self.writer.reads.get(INGRESSES, self._canary_name(stable_name), self.routing.namespace)
            out.append(self._state(canary).weight)
        return out


class IstioRouter:
    """Weights on VirtualServices, hashes on the DestinationRule's subsets, managed routes as named HTTP routes."""

    def __init__(self, writer: _Writer, routing: RoutingSpec, spec: IstioSpec, managed_by_annotation: str) -> None:
        self.writer, self.routing, self.spec = writer, routing, spec
        self.managed_by = (managed_by_annotation, routing.rollout) if managed_by_annotation else None

    def _namespace(self, namespace: str | None) -> str:
        return namespace or self.routing.namespace

    def _virtual_service(self, ref: VirtualServiceRef, build: Callable[[Body], Body]) -> None:
        def converge(current: Body | None) -> Body | None:
            assert current is not None  # required: read() raised otherwise
            return build(current)

        self.writer.converge(
            VIRTUAL_SERVICES, namespace=self._namespace(ref.namespace), name=ref.name, path=ref.path, build=converge
        )

    def apply(self, traffic: SetTrafficWeight) -> None:
        rule = self.spec.destination_rule
        if rule is not None:
            # Subsets first: the weight that follows must reach pods of the hashes it is meant for.
            def relabel(current: Body | None) -> Body | None:
                assert current is not None
                return istio.desired_destination_rule(
                    current,
                    rule=rule,
                    canary_hash=traffic.canary_hash,
                    stable_hash=traffic.stable_hash,
                    managed_by=self.managed_by,
                )

            self.writer.converge(
                DESTINATION_RULES,
                namespace=self._namespace(rule.namespace),
                name=rule.name,
                path=f"{ROUTING_PATH}.istio.destinationRule",
                build=relabel,
            )
        for ref in self.spec.virtual_services:

            def build(current: Body, ref: VirtualServiceRef = ref) -> Body:
                body = istio.weighted_virtual_service(
                    current, ref=ref, routing=self.routing, rule=rule, weight=traffic.weight
                )
                return istio.without_managed_routes(body, routing=self.routing) if traffic.finished else body

            self._virtual_service(ref, build)

    def route(self, route: ManagedRoute) -> None:
        for ref in self.spec.virtual_services:

            def build(current: Body, ref: VirtualServiceRef = ref) -> Body:
                return istio.with_managed_route(
                    current, ref=ref, routing=self.routing, rule=self.spec.destination_rule, route=route
                )

            self._virtual_service(ref, build)

    def weights(self) -> list[int]:
        out: list[int] = []
        for ref in self.spec.virtual_services:
            body = self.writer.read(
                VIRTUAL_SERVICES, namespace=self._namespace(ref.namespace), name=ref.name, path=ref.path
            )
            assert body is not None
            weights = istio.virtual_service_weights(
                body, ref=ref, routing=self.routing, rule=self.spec.destination_rule
            )
            out.extend(canary for _, canary in weights)
        return out


class GatewayRouter:
    """Weights on HTTPRoute backendRefs; header routes as named rules on routes with ``useHeaderRoutes``."""

    def __init__(self, writer: _Writer, routing: RoutingSpec, spec: GatewaySpec) -> None:
        self.writer, self.routing, self.spec = writer, routing, spec

    def _http_route(self, name: str, build: Callable[[Body], Body]) -> None:
        def converge(current: Body | None) -> Body | None:
            assert current is not None
            return build(current)

        self.writer.converge(
            HTTP_ROUTES,
            namespace=self.spec.namespace or self.routing.namespace,
            name=name,
            path=f"{ROUTING_PATH}.gatewayAPI",
            build=converge,
        )

    def apply(self, traffic: SetTrafficWeight) -> None:
        def build(current: Body) -> Body:
            body = gateway.weighted_http_route(current, routing=self.routing, weight=traffic.weight)
            return gateway.without_managed_routes(body, routing=self.routing) if traffic.finished else body

        for ref in self.spec.http_routes:
            self._http_route(ref.name, build)

    def route(self, route: ManagedRoute) -> None:
        targets = [ref for ref in self.spec.http_routes if ref.use_header_routes]
        if not targets:
            raise InvalidSpecError.at(
                f"{ROUTING_PATH}.gatewayAPI.useHeaderRoutes", "set useHeaderRoutes to use setHeaderRoute"
            )
        for ref in targets:
            self._http_route(
                ref.name, lambda current: gateway.with_managed_route(current, routing=self.routing, route=route)
            )

    def weights(self) -> list[int]:
        out: list[int] = []
        for ref in self.spec.http_routes:
            body = self.writer.read(
                HTTP_ROUTES,
                namespace=self.spec.namespace or self.routing.namespace,
                name=ref.name,
                path=f"{ROUTING_PATH}.gatewayAPI",
            )
            assert body is not None
            out.extend(canary for _, canary in gateway.http_route_weights(body, routing=self.routing))
        return out


class AlbRouter:
    """The action annotation on each ALB Ingress; header routes as extra actions, conditions and paths on it.

    The Ingresses are the user's: never created or deleted, only their annotations (and, for header routes, the
    ``use-annotation`` paths named after the managed routes) are written. Nothing is asked of AWS.
    """

    def __init__(self, writer: _Writer, routing: RoutingSpec, spec: AlbSpec) -> None:
        self.writer, self.routing, self.spec = writer, routing, spec

    def _each(self, build: Callable[[Body, str], Body]) -> None:
        for index, name in enumerate(self.spec.ingresses):
            path = self.spec.ingress_path(index)

            def converge(current: Body | None, path: str = path) -> Body | None:
                assert current is not None  # required: read() raised otherwise
                return build(current, path)

            self.writer.converge(INGRESSES, namespace=self.routing.namespace, name=name, path=path, build=converge)

    def apply(self, traffic: SetTrafficWeight) -> None:
        def build(current: Body, path: str) -> Body:
            body = alb.weighted_ingress(
                current, routing=self.routing, alb=self.spec, weight=0 if traffic.finished else traffic.weight,
                path=path,
            )  # fmt: skip
            if traffic.finished:
                body = alb.without_managed_routes(body, routing=self.routing, alb=self.spec, path=path)
            return body

        self._each(build)

    def route(self, route: ManagedRoute) -> None:
        if route.kind is RouteKind.MIRROR:
            return  # as in Argo: ALB cannot mirror (the spec parser refuses a mirror step without Istio beside it)
        self._each(
            lambda current, path: alb.with_header_route(
                current, routing=self.routing, alb=self.spec, route=route, path=path
            )
        )

    def weights(self) -> list[int]:
        out: list[int] = []
        for index, name in enumerate(self.spec.ingresses):
            body = self.writer.read(
                INGRESSES, namespace=self.routing.namespace, name=name, path=self.spec.ingress_path(index)
            )
            assert body is not None
            out.append(alb.ingress_weight(body, routing=self.routing, alb=self.spec))
        return out


_Router = NginxRouter | IstioRouter | GatewayRouter | AlbRouter


class Routers:
    """Every router a Rollout configures (Argo allows several at once, e.g. nginx and Istio) as one traffic router.

    Weights go to each router in turn; the first error stops (the next reconcile plans again).
    """

    def __init__(
        self,
        kube: Kube,
        routing: RoutingSpec,
        *,
        owner: Mapping[str, Any],
        managed_by_annotation: str = "",
        reads: Reads | None = None,
    ) -> None:
        self.routing = routing
        self.writer = _Writer(kube, reads)
        self.routers: list[_Router] = []
        if routing.nginx is not None:
            self.routers.append(NginxRouter(self.writer, routing, routing.nginx, owner))
        if routing.istio is not None:
            self.routers.append(IstioRouter(self.writer, routing, routing.istio, managed_by_annotation))
        if routing.gateway is not None:
            self.routers.append(GatewayRouter(self.writer, routing, routing.gateway))
        if routing.alb is not None:
            self.routers.append(AlbRouter(self.writer, routing, routing.alb))

    def lookup(self, resource: Resource, *, namespace: str, name: str, path: str) -> Body | None:
        """A routed object the Rollout names, from the cache at the version the cluster serves (None: not found); a
        CRD that is not installed is an InvalidSpec at ``path``. For the references check (``observe``)."""
        return self.writer.read(resource, namespace=namespace, name=name, path=path, required=False)

    @property
    def writes(self) -> int:
        """API writes so far (create/replace/delete): a call that changes nothing writes nothing."""
        return self.writer.writes

    def set_weight(self, traffic: SetTrafficWeight) -> None:
        logger.debug("traffic for %s: %s", self.routing.rollout, traffic)
        for router in self.routers:
            router.apply(traffic)

    def set_managed_route(self, route: ManagedRoute) -> None:
        for router in self.routers:
            router.route(route)

    def weights(self) -> tuple[int, ...]:
        """The canary weight every routed object expresses now (one entry per route), read from the cluster."""
        return tuple(weight for router in self.routers for weight in router.weights())


def release_destination_rules(
    kube: Kube, *, namespace: str, rollout: str, keep: frozenset[tuple[str, str]], managed_by_annotation: str
) -> int:
    """Take our labels out of the DestinationRules ``rollout`` marked as managed but no longer names.

    Argo does the same when a Rollout drops (or renames) its ``destinationRule``: the subsets would otherwise keep
    selecting one pod-template hash for ever. ``keep`` holds the (namespace, name) pairs the spec still names.
    Called when the spec changed; a cluster without Istio's CRDs has nothing to release. Returns the writes made.
    """
    writer = _Writer(kube)
    resource = kube.serving(DESTINATION_RULES, *_OLDER_VERSIONS[DESTINATION_RULES])
    if resource is None:
        return 0  # no Istio here (discovery's answer is remembered for a minute): nothing can carry our labels
    try:
        rules = kube.list(resource, namespace).items
    except NotServedError:
        kube.forget(DESTINATION_RULES)
        return 0
    for rule in rules:
        meta = rule.get("metadata") or {}
        name = str(meta.get("name") or "")
        if (meta.get("annotations") or {}).get(managed_by_annotation) != rollout or (namespace, name) in keep:
            continue

        def release(current: Body | None) -> Body | None:
            if current is None:
                return None
            if (current.get("metadata", {}).get("annotations") or {}).get(managed_by_annotation) != rollout:
                return None  # taken over by another Rollout in between
            return istio.released_destination_rule(current, managed_by_annotation=managed_by_annotation)

        writer.converge(
            DESTINATION_RULES,
            namespace=namespace,
            name=name,
            path=f"{ROUTING_PATH}.istio.destinationRule",
            build=release,
            may_create=True,
        )
    return writer.writes
