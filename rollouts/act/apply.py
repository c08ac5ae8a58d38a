"""Apply one :class:`rollouts.core.actions.Plan`: ReplicaSets, Services, AnalysisRuns, pods, traffic, status.

Runs on a worker thread (every call blocks). Events are not posted here: they are returned, and the kopf shell posts
them on its loop, so the act layer stays a plain function of (kube, rollout, plan). Every write goes through
:class:`workflows.runtime.kube.Kube`; a missing object is a value there, so "already gone" needs no special case.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from analysis.errors import AnalysisError
from analysis.spec import merge_templates, parse_template_manifest
from rollouts.core.actions import (
    Action,
    AdoptReplicaSet,
    AnnotateReplicaSet,
    CreateAnalysisRun,
    CreateReplicaSet,
    DeleteAnalysisRun,
    DeleteReplicaSet,
    EmitEvent,
    MarkAnalysisRunSuperseded,
    Plan,
    ReleaseService,
    RestartPod,
    ScaleReplicaSet,
    ScaleWorkload,
    SetManagedRoute,
    SetPodMetadata,
    SetServiceSelector,
    SetTrafficWeight,
    TerminateAnalysisRun,
)
from rollouts.core.errors import InvalidSpecError
from rollouts.core.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.core.routing import ROUTING_PATH, ManagedRoute
from workflows.api import ApiMode, owner_reference
from workflows.errors import FieldIssue
from workflows.runtime.crds import SchemaCheck
from workflows.runtime.informer import Reads
from workflows.runtime.kube import (
    DEPLOYMENTS,
    PODS,
    REPLICA_SETS,
    SERVICES,
    ApiError,
    ConflictError,
    InvalidError,
    Kube,
)

__all__ = ["TrafficRouter", "apply_plan", "write_status_patch"]


class TrafficRouter(Protocol):
    """The seam for traffic routers (nginx, Istio, Gateway API, ALB): converge to the declared state, write on diff."""

    def set_weight(self, traffic: SetTrafficWeight) -> None: ...

    def set_managed_route(self, route: ManagedRoute) -> None: ...


class _Applier:
    def __init__(
        self,
        kube: Kube,
        rollout: Mapping[str, Any],
        router: TrafficRouter | None,
        mode: ApiMode,
        schema: SchemaCheck | None = None,
        *,
        reads: Reads | None = None,
    ) -> None:
        self.kube = kube
        self.reads: Reads = reads if reads is not None else kube
        self.mode = mode
        self.schema = schema
        self.rollout = rollout
        self.namespace: str = rollout["metadata"]["namespace"]
        self.owner = owner_reference(rollout, kind="Rollout")
        self.router = router
        self.events: list[EmitEvent] = []

    def _instance_label(self) -> dict[str, str]:
        """A Rollout of one controller instance (``--instance-id``) passes its label on to the runs it creates, so
        that instance's AnalysisRun controller picks them up (as Argo does)."""
        instance = (self.rollout["metadata"].get("labels") or {}).get(self.mode.instance_id_label)
        return {self.mode.instance_id_label: str(instance)} if instance else {}

    # -- ReplicaSets ---------------------------------------------------------------------------------------------
    def adopt_replica_set(self, action: AdoptReplicaSet) -> None:
        current = self.kube.get(REPLICA_SETS, action.name, self.namespace)
        if current is None:
            return
        owners = list(current["metadata"].get("ownerReferences") or [])
        if any(owner.get("controller") for owner in owners):
            return  # someone adopted it meanwhile: the next plan sees who
        patch = {
            "metadata": {
                "resourceVersion": current["metadata"]["resourceVersion"],
                "ownerReferences": [*owners, self.owner],
            }
        }
        try:
            self.kube.patch(REPLICA_SETS, action.name, patch, self.namespace)
        except ConflictError:
            return  # changed in between: the next reconcile looks again

    def create_replica_set(self, action: CreateReplicaSet) -> None:
        spec = self.rollout.get("spec") or {}
        template = json.loads(json.dumps(action.template))
        meta = template.setdefault("metadata", {})
        labels = {**(meta.get("labels") or {}), **action.pod_metadata.labels, POD_TEMPLATE_HASH_LABEL: action.pod_hash}
        meta["labels"] = labels
        if action.pod_metadata.annotations:
            meta["annotations"] = {**(meta.get("annotations") or {}), **action.pod_metadata.annotations}
        match_labels = {
            **((spec.get("selector") or {}).get("matchLabels") or {}),
            POD_TEMPLATE_HASH_LABEL: action.pod_hash,
        }
        annotations = dict(action.annotations)
        if not action.pod_metadata.empty:
            annotations[self.mode.ephemeral_metadata_annotation] = json.dumps(
                {"labels": dict(action.pod_metadata.labels), "annotations": dict(action.pod_metadata.annotations)},
                sort_keys=True,
            )
        body = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": action.name,
                "namespace": self.namespace,
                "labels": {k: v for k, v in labels.items() if k not in action.pod_metadata.labels}
                | {POD_TEMPLATE_HASH_LABEL: action.pod_hash},
                "annotations": annotations,
                "ownerReferences": [self.owner],
            },
            "spec": {
                "replicas": action.replicas,
                "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                "selector": {"matchLabels": match_labels},
                "template": template,
            },
        }
        try:
            self.kube.create(REPLICA_SETS, body, self.namespace)
        except ConflictError:  # exists (created before a restart): the next plan adopts it
            pass
        except ApiError as error:
            if error.status not in (400, 422):
                raise
            # The API server refuses the pod template itself (an unparsable quantity, an invalid field): retrying
            # cannot help, the Rollout is invalid as written.
            raise InvalidSpecError.at("spec.template", f"the API server refuses it: {error.message}") from None

    def scale(self, action: ScaleReplicaSet) -> None:
        self.kube.patch(REPLICA_SETS, action.name, {"spec": {"replicas": action.replicas}}, self.namespace)

    def annotate(self, action: AnnotateReplicaSet) -> None:
        patch = {"metadata": {"annotations": dict(action.annotations)}}
        self.kube.patch(REPLICA_SETS, action.name, patch, self.namespace)

    def set_pod_metadata(self, action: SetPodMetadata) -> None:
        labels: dict[str, str | None] = dict.fromkeys(action.previous.labels)
        labels.update(action.metadata.labels)
        annotations: dict[str, str | None] = dict.fromkeys(action.previous.annotations)
        annotations.update(action.metadata.annotations)
        record = json.dumps(
            {"labels": dict(action.metadata.labels), "annotations": dict(action.metadata.annotations)}, sort_keys=True
        )
        pod_meta = {"labels": labels, "annotations": annotations}
        rs_patch = {
            "metadata": {"annotations": {self.mode.ephemeral_metadata_annotation: record}},
            "spec": {"template": {"metadata": pod_meta}},
        }
        rs = self.kube.patch(REPLICA_SETS, action.name, rs_patch, self.namespace)
        pod_hash = ((rs or {}).get("metadata", {}).get("labels") or {}).get(POD_TEMPLATE_HASH_LABEL)
        if not pod_hash:
            return
        pods = self.kube.list(PODS, self.namespace, label_selector=f"{POD_TEMPLATE_HASH_LABEL}={pod_hash}")
        for pod in pods.items:
            self.kube.patch(PODS, pod["metadata"]["name"], {"metadata": pod_meta}, self.namespace)

    def delete_replica_set(self, action: DeleteReplicaSet) -> None:
        self.kube.delete(REPLICA_SETS, action.name, self.namespace, propagation="Background")

    # -- Services ------------------------------------------------------------------------------------------------
    def set_selector(self, action: SetServiceSelector) -> None:
        patch = {
            "metadata": {"annotations": {self.mode.managed_by_annotation: self.rollout["metadata"]["name"]}},
            "spec": {"selector": {POD_TEMPLATE_HASH_LABEL: action.pod_hash}},
        }
        if self.kube.patch(SERVICES, action.service, patch, self.namespace) is None:
            raise InvalidSpecError.at("spec.strategy", f"Service {self.namespace}/{action.service} not found")

    # -- AnalysisRuns --------------------------------------------------------------------------------------------
    def _template(self, name: str, cluster_scope: bool) -> Mapping[str, Any]:
        resource = self.mode.cluster_analysis_templates if cluster_scope else self.mode.analysis_templates
        body = self.reads.get(resource, name, None if cluster_scope else self.namespace)
        if body is None:
            raise InvalidSpecError.at("analysis.templates", f"{resource.kind} {name!r} not found")
        return body

    def create_analysis_run(self, action: CreateAnalysisRun) -> None:
        bodies = [self._template(name, cluster) for name, cluster in action.templates]
        if self.schema is not None:  # our schema, where the served CRDs did not apply it (drop-in mode)
            refused = [
                FieldIssue("analysis.templates", f"{body.get('kind')} {body['metadata']['name']!r}: {issue}")
                for body in bodies
                for issue in self.schema.issues(body)
            ]
            if refused:
                raise InvalidSpecError(refused)
        try:  # the same rules the AnalysisRun controller will apply, checked before anything is created
            merge_templates([parse_template_manifest(body) for body in bodies])
        except AnalysisError as error:
            raise InvalidSpecError.at("analysis.templates", str(error)) from None
        given = dict(action.args)
        args: list[dict[str, Any]] = []
        seen: set[str] = set()
        metrics: list[Any] = []
        dry_run: list[Any] = list(action.dry_run)
        retention: list[Any] = list(action.measurement_retention)
        for body in bodies:
            spec = body.get("spec") or {}
            metrics.extend(spec.get("metrics") or [])
            dry_run.extend(spec.get("dryRun") or [])
            retention.extend(spec.get("measurementRetention") or [])
            for arg in spec.get("args") or []:
                if arg["name"] in seen:
                    continue
                seen.add(arg["name"])
                value = given.get(arg["name"])
                args.append({"name": arg["name"], "value": value} if value is not None else dict(arg))
        for name, value in action.args:
            if name not in seen and value is not None:
                args.append({"name": name, "value": value})
        spec_out: dict[str, Any] = {"metrics": metrics, "args": args}
        if dry_run:
            spec_out["dryRun"] = dry_run
        if retention:
            spec_out["measurementRetention"] = retention
        body_out = {
            "apiVersion": self.mode.api_version,
            "kind": "AnalysisRun",
            "metadata": {
                "name": action.name,
                "namespace": self.namespace,
                "labels": {**action.labels, **self._instance_label()},
                "annotations": dict(action.annotations),
                "ownerReferences": [self.owner],
            },
            "spec": spec_out,
        }
        try:
            self.kube.create(self.mode.analysis_runs, body_out, self.namespace)
        except InvalidError as error:
            raise InvalidSpecError.at("analysis", f"AnalysisRun {action.name} rejected: {error.message}") from None
        except ConflictError:
            pass  # created before a restart

    def terminate_run(self, action: TerminateAnalysisRun) -> None:
        self.kube.patch(self.mode.analysis_runs, action.name, {"spec": {"terminate": True}}, self.namespace)

    def delete_run(self, action: DeleteAnalysisRun) -> None:
        self.kube.delete(self.mode.analysis_runs, action.name, self.namespace)

    def supersede_run(self, action: MarkAnalysisRunSuperseded) -> None:
        patch = {"metadata": {"labels": {self.mode.superseded_label: "true"}}}
        self.kube.patch(self.mode.analysis_runs, action.name, patch, self.namespace)

    def scale_workload(self, action: ScaleWorkload) -> None:
        patch = {"spec": {"replicas": action.replicas}}
        if self.kube.patch(DEPLOYMENTS, action.name, patch, self.namespace, subresource="scale") is None:
            raise InvalidSpecError.at("spec.workloadRef.name", f"Deployment {self.namespace}/{action.name} not found")

    # -- pods and traffic ----------------------------------------------------------------------------------------
    def restart_pod(self, action: RestartPod) -> None:
        self.kube.evict(action.name, self.namespace)  # refused by a PodDisruptionBudget: the next reconcile tries again

    def _router(self) -> TrafficRouter:
        if self.router is None:
            raise InvalidSpecError.at(ROUTING_PATH, "no traffic router is available for this Rollout")
        return self.router

    def apply(self, action: Action) -> None:
        match action:
            case AdoptReplicaSet():
                self.adopt_replica_set(action)
            case CreateReplicaSet():
                self.create_replica_set(action)
            case ScaleReplicaSet():
                self.scale(action)
            case AnnotateReplicaSet():
                self.annotate(action)
            case SetPodMetadata():
                self.set_pod_metadata(action)
            case DeleteReplicaSet():
                self.delete_replica_set(action)
            case SetServiceSelector():
                self.set_selector(action)
            case ReleaseService():
                patch = {
                    "metadata": {"annotations": {self.mode.managed_by_annotation: None}},
                    "spec": {"selector": {POD_TEMPLATE_HASH_LABEL: None}},
                }
                self.kube.patch(SERVICES, action.service, patch, self.namespace)  # gone already: nothing to release
            case CreateAnalysisRun():
                self.create_analysis_run(action)
            case TerminateAnalysisRun():
                self.terminate_run(action)
            case DeleteAnalysisRun():
                self.delete_run(action)
            case MarkAnalysisRunSuperseded():
                self.supersede_run(action)
            case RestartPod():
                self.restart_pod(action)
            case ScaleWorkload():
                self.scale_workload(action)
            case SetTrafficWeight():
                self._router().set_weight(action)
            case SetManagedRoute():
                self._router().set_managed_route(action.route)
            case EmitEvent():
                self.events.append(action)


def apply_plan(
    kube: Kube,
    rollout: Mapping[str, Any],
    plan: Plan,
    *,
    router: TrafficRouter | None = None,
    mode: ApiMode,
    schema: SchemaCheck | None = None,
    write_status: bool = True,
    reads: Reads | None = None,
) -> Sequence[EmitEvent]:
    """Apply ``plan.actions`` in order, then merge-patch ``plan.status``; returns the events to post.

    ``schema`` checks the AnalysisTemplates a run is made from against our CRD schema (drop-in mode) first; the
    templates are read from ``reads`` (the informer cache; default ``kube``). Every write goes to ``kube``."""
    applier = _Applier(kube, rollout, router, mode, schema, reads=reads)
    for action in plan.actions:
        applier.apply(action)
    if write_status and plan.status:
        write_status_patch(kube, rollout, dict(plan.status), mode=mode)
    return applier.events


def write_status_patch(
    kube: Kube, rollout: Mapping[str, Any], status: Mapping[str, Any], *, mode: ApiMode
) -> str | None:
    """Merge-patch the status, guarded by the resourceVersion the plan was made from.

    Operator commands (``abort``, ``promoteFull``, cleared ``pauseConditions``) live in the same status; a blind write
    could erase one that arrived after we read the Rollout. With the resourceVersion the API server answers 409
    (:class:`~workflows.runtime.kube.ConflictError`) instead, and the next reconcile plans again with the command
    in view. Returns the resourceVersion the write produced (None when the Rollout is gone).
    """
    meta = rollout["metadata"]
    body = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": dict(status)}
    written = kube.patch(mode.rollouts, meta["name"], body, meta["namespace"], subresource="status")
    return str((written or {}).get("metadata", {}).get("resourceVersion") or "") or None
