"""Observe: read everything one Rollout reconcile needs from the API into the planner's plain values. Never writes.

Reads: every object the spec names (:mod:`rollouts.core.references`: Services, templates, routed objects; the
planner refuses a Rollout naming a missing one), the ReplicaSets the Rollout controls (by ownerReference) and the
orphans whose template is the Rollout's (marked for adoption: the planner plans it, the act layer does it, as a
Deployment adopts), the AnalysisRuns it controls (by ownerReference), the Services its strategy names, its pods (only
when a restart is requested), the weights its traffic routers express now (so the planner verifies a step's weight, as
Argo's VerifyWeight does) and, for ``workloadRef``, the referenced Deployment's template. The conversions themselves
are the pure ``*_from`` helpers of :mod:`rollouts.core.observed`.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from rollouts.core.hashing import POD_TEMPLATE_HASH_LABEL, container_images, template_hash, templates_equal
from rollouts.core.observed import (
    Observed,
    analysis_run_view_from,
    pod_view_from,
    replica_set_view_from,
    service_view_from,
    status_from,
)
from rollouts.core.references import ReferenceKind, reference_issues, references
from rollouts.core.spec import RolloutSpec
from rollouts.routers import Routers
from rollouts.routers.apply import VIRTUAL_SERVICES
from workflows.api import ApiMode
from workflows.runtime.informer import Cache, Reads, selector_matches
from workflows.runtime.kube import (
    DEPLOYMENTS,
    HTTP_ROUTES,
    INGRESSES,
    PODS,
    REPLICA_SETS,
    SERVICES,
    ApiError,
    Kube,
    Listing,
    Resource,
)

#: The informer indexes observe reads through (rollouts.controller.rollouts.rollout_cache makes them): objects by
#: their controller's uid, and objects without a controller by namespace.
OWNER_INDEX, ORPHAN_INDEX = "owner", "orphan"

__all__ = ["ROUTED_KINDS", "StoredTemplates", "observe", "observe_references", "read_workload"]

#: The resource each routed reference kind is read as (at the version the cluster serves: see ``Routers.lookup``).
ROUTED_KINDS = {
    ReferenceKind.INGRESS: INGRESSES,
    ReferenceKind.VIRTUAL_SERVICE: VIRTUAL_SERVICES,
    ReferenceKind.HTTP_ROUTE: HTTP_ROUTES,
}

logger = logging.getLogger(__name__)


def _selector_string(match_labels: Mapping[str, Any]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(match_labels.items()))


def read_workload(kube: Reads, namespace: str, ref: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The Deployment named by ``spec.workloadRef`` (None when absent or of an unsupported kind)."""
    if ref.get("kind") != "Deployment":
        return None
    return kube.get(DEPLOYMENTS, str(ref.get("name", "")), namespace)


class StoredTemplates:
    """Pod templates as the API server stores them in a ReplicaSet, defaults filled in: a dry-run create per
    (namespace, Rollout, template hash), remembered (a stored form changes only with the API server's version).

    One per controller process (the reconciler holds it), shared by its reconcile threads: a lock guards the
    bounded LRU map, and the request itself runs outside it.
    """

    def __init__(self, limit: int = 1024) -> None:
        self._limit = limit
        self._entries: OrderedDict[tuple[str, str, str], Mapping[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, kube: Kube, namespace: str, spec: RolloutSpec, template_hash: str) -> Mapping[str, Any] | None:
        """``spec.template`` as stored; None when the server refuses it (the create later will say why)."""
        key = (namespace, spec.name, template_hash)
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                return cached
        body = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"generateName": f"{spec.name}-", "namespace": namespace},
            "spec": {"replicas": 0, "selector": dict(spec.selector), "template": dict(spec.template)},
        }
        try:
            created = kube.create(REPLICA_SETS, body, namespace, dry_run=True)
        except ApiError as exc:
            logger.debug("dry-run of %s/%s's pod template refused: %s", namespace, spec.name, exc)
            return None
        template = (created.get("spec") or {}).get("template")
        if not isinstance(template, Mapping):
            return None
        with self._lock:
            self._entries[key] = template
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)
        return template


def observe_references(
    reads: Reads, namespace: str, spec: RolloutSpec, *, mode: ApiMode, router: Routers | None = None
) -> dict[tuple[ReferenceKind, str, str], Mapping[str, Any]]:
    """Every object the spec names (:func:`rollouts.core.references.references`) that the caches hold, by key; the
    planner judges what is missing. Routed kinds are read through ``router``, at the version the cluster serves (a
    CRD not installed is an InvalidSpec naming the field)."""
    found: dict[tuple[ReferenceKind, str, str], Mapping[str, Any]] = {}
    for reference in references(spec, namespace):
        if reference.key in found:
            continue
        body: Mapping[str, Any] | None = None
        match reference.kind:
            case ReferenceKind.SERVICE:
                body = reads.get(SERVICES, reference.name, reference.namespace)
            case ReferenceKind.ANALYSIS_TEMPLATE:
                body = reads.get(mode.analysis_templates, reference.name, reference.namespace)
            case ReferenceKind.CLUSTER_ANALYSIS_TEMPLATE:
                body = reads.get(mode.cluster_analysis_templates, reference.name, None)
            case _ if router is not None:
                body = router.lookup(
                    ROUTED_KINDS[reference.kind], namespace=reference.namespace, name=reference.name,
                    path=reference.path,
                )  # fmt: skip
        if body is not None:
            found[reference.key] = body
    return found


def _service_names(spec: RolloutSpec) -> set[str]:
    names: set[str | None] = set()
    if spec.canary is not None:
        names |= {spec.canary.canary_service, spec.canary.stable_service}
        if spec.canary.ping_pong is not None:
            names |= {spec.canary.ping_pong.ping_service, spec.canary.ping_pong.pong_service}
    if spec.blue_green is not None:
        names |= {spec.blue_green.active_service, spec.blue_green.preview_service}
    return {name for name in names if name}


def _candidates(reads: Reads, resource: Resource, namespace: str, uid: str, *, label_selector: str) -> Listing:
    """``reads.list`` of ``resource`` in ``namespace`` by ``label_selector``; from an informer cache, only the objects
    ``uid`` controls and the namespace's orphans are looked at (the owner and orphan indexes), not every object of the
    namespace: a reconcile's cost must not grow with the number of Rollouts beside it."""
    if isinstance(reads, Cache):
        owned = reads.by_index(resource, OWNER_INDEX, uid)
        orphans = reads.by_index(resource, ORPHAN_INDEX, namespace)
        if owned is not None and orphans is not None:
            items = [
                body
                for body in sorted((*owned, *orphans), key=lambda body: str(body["metadata"].get("name")))
                if selector_matches(label_selector, body["metadata"].get("labels") or {})
            ]  # by name, as the API server lists them
            return Listing(items=items, resource_version="")
    return reads.list(resource, namespace, label_selector=label_selector)


def _controlled_by(body: Mapping[str, Any], uid: str) -> bool:
    owners = body["metadata"].get("ownerReferences") or []
    return any(owner.get("controller") and owner.get("uid") == uid for owner in owners)


def observe(
    kube: Kube,
    rollout: Mapping[str, Any],
    spec: RolloutSpec,
    *,
    mode: ApiMode,
    router: Routers | None = None,
    managed_services: Collection[str] = (),
    stored_templates: StoredTemplates | None = None,
    reads: Reads | None = None,
) -> Observed:
    """One consistent-enough read of the Rollout's world, in ``mode``'s names: from ``reads`` (the informer cache;
    default the API server, each list a request); ``kube`` only for the rare dry-run of a template and restart pods."""
    reads = reads if reads is not None else kube
    meta = rollout["metadata"]
    namespace, uid = meta["namespace"], meta["uid"]
    match_labels = spec.selector.get("matchLabels") or {}
    listed = _candidates(reads, REPLICA_SETS, namespace, uid, label_selector=_selector_string(match_labels))
    status = status_from(rollout.get("status"))
    # No ReplicaSet named for the template's own hash, but some exist: one of them may hold the same template under
    # another controller's hash (Argo's, after a take-over); compare with the template as the server stores it.
    stored: Mapping[str, Any] | None = None
    if listed.items and spec.template:
        wanted = template_hash(mode, spec.template, collision_count=status.collision_count)
        images = container_images(spec.template)
        if (
            stored_templates is not None
            and not any(rs["metadata"].get("name") == f"{spec.name}-{wanted}" for rs in listed.items)
            # only a ReplicaSet running the same images can hold the same template: an update needs no dry-run
            and any(container_images((rs.get("spec") or {}).get("template") or {}) == images for rs in listed.items)
        ):
            stored = stored_templates.get(kube, namespace, spec, wanted)
    templates = [template for template in (spec.template, stored) if template]
    views = []
    for rs in listed.items:
        owners = rs["metadata"].get("ownerReferences") or []
        controller = next((o for o in owners if o.get("controller")), None)
        if controller is not None and controller.get("uid") == uid:
            views.append(replica_set_view_from(rs, mode=mode))
        elif controller is None and any(
            templates_equal(rs["spec"].get("template") or {}, template) for template in templates
        ):
            views.append(replace(replica_set_view_from(rs, mode=mode), orphan=True))
    # Runs a Rollout controller made carry the kind label; ours are the ones this Rollout controls (also those Argo's
    # controller made before a take-over).
    runs = [
        r
        for r in _candidates(reads, mode.analysis_runs, namespace, uid, label_selector=mode.analysis_kind_label).items
        if _controlled_by(r, uid)
    ]
    services: dict[str, Mapping[str, Any]] = {}
    for name in sorted(_service_names(spec)):
        body = reads.get(SERVICES, name, namespace)
        if body is not None:
            services[name] = body
    referenced = observe_references(reads, namespace, spec, mode=mode, router=router)
    # The weights are read back only when every routed object is there: a missing one is the planner's InvalidSpec
    # (with every other missing reference), not the first router's error.
    complete = not reference_issues(spec, namespace, referenced)
    pods: list[Any] = []
    if spec.restart_at is not None:
        hashes = [view.pod_hash for view in views if view.pod_hash]
        if hashes:
            selector = f"{POD_TEMPLATE_HASH_LABEL} in ({','.join(hashes)})"
            pods = kube.list(PODS, namespace, label_selector=selector).items
    return Observed(
        replica_sets=tuple(views),
        analysis_runs=tuple(v for v in (analysis_run_view_from(r, mode=mode) for r in runs) if v),
        services={n: service_view_from(body) for n, body in services.items()},
        pods=tuple(v for v in (pod_view_from(p) for p in pods) if v),
        status=status,
        traffic_weights=router.weights() if router is not None and complete else (),
        mode=mode,
        stored_template=stored,
        released_services=tuple(sorted(set(managed_services) - _service_names(spec))),
        referenced=referenced,
    )
