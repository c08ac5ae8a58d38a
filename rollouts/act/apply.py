"""Apply one :class:`rollouts.core.actions.Plan`: ReplicaSets, Services, AnalysisRuns, pods, traffic, status.

Runs on a worker thread (every call blocks). Events are not posted here: they are returned, and the kopf shell posts
them on its loop, so the act layer stays a plain function of (api, rollout, plan).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from kubernetes import client

from analysis.errors import AnalysisError
from analysis.spec import merge_templates, parse_template_manifest
from rollouts.core.actions import (
    Action,
    AnnotateReplicaSet,
    CreateAnalysisRun,
    CreateReplicaSet,
    DeleteAnalysisRun,
    DeleteReplicaSet,
    EmitEvent,
    MarkAnalysisRunSuperseded,
    Plan,
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
from rollouts.core.observed import (
    ANALYSIS_KIND_LABEL,
    EPHEMERAL_METADATA_ANNOTATION,
    ROLLOUT_LABEL,
    STEP_INDEX_LABEL,
    SUPERSEDED_LABEL,
)
from workflows.api import GROUP, VERSION

__all__ = ["TrafficRouter", "apply_plan", "write_status_patch"]


class TrafficRouter(Protocol):
    """The seam for traffic routers (nginx, Istio, Gateway API): build the desired object purely, write on diff."""

    def set_weight(self, rollout: Mapping[str, Any], *, weight: int, canary_hash: str, stable_hash: str) -> None: ...

    def set_managed_route(
        self, rollout: Mapping[str, Any], *, kind: str, name: str, route: Mapping[str, Any]
    ) -> None: ...


def _owner(rollout: Mapping[str, Any]) -> dict[str, Any]:
    meta = rollout["metadata"]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _ignore(error: client.ApiException, *statuses: int) -> None:
    if error.status not in statuses:
        raise error


class _Applier:
    def __init__(self, api: client.ApiClient, rollout: Mapping[str, Any], router: TrafficRouter | None) -> None:
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.rollout = rollout
        self.namespace: str = rollout["metadata"]["namespace"]
        self.router = router
        self.events: list[EmitEvent] = []

    # -- ReplicaSets ---------------------------------------------------------------------------------------------
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
            annotations[EPHEMERAL_METADATA_ANNOTATION] = json.dumps(
                {"labels": dict(action.pod_metadata.labels), "annotations": dict(action.pod_metadata.annotations)},
                sort_keys=True,
            )
        body: Any = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": action.name,
                "namespace": self.namespace,
                "labels": {k: v for k, v in labels.items() if k not in action.pod_metadata.labels}
                | {POD_TEMPLATE_HASH_LABEL: action.pod_hash},
                "annotations": annotations,
                "ownerReferences": [_owner(self.rollout)],
            },
            "spec": {
                "replicas": action.replicas,
                "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                "selector": {"matchLabels": match_labels},
                "template": template,
            },
        }
        try:
            self.apps.create_namespaced_replica_set(self.namespace, body)
        except client.ApiException as error:
            _ignore(error, 409)  # exists (created before a restart): the next plan adopts and scales it

    def scale(self, action: ScaleReplicaSet) -> None:
        self.apps.patch_namespaced_replica_set(action.name, self.namespace, {"spec": {"replicas": action.replicas}})

    def annotate(self, action: AnnotateReplicaSet) -> None:
        patch = {"metadata": {"annotations": dict(action.annotations)}}
        self.apps.patch_namespaced_replica_set(action.name, self.namespace, patch)

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
            "metadata": {"annotations": {EPHEMERAL_METADATA_ANNOTATION: record}},
            "spec": {"template": {"metadata": pod_meta}},
        }
        rs: Any = self.apps.patch_namespaced_replica_set(action.name, self.namespace, rs_patch)
        pod_hash = (rs.metadata.labels or {}).get(POD_TEMPLATE_HASH_LABEL)
        if not pod_hash:
            return
        response: Any = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"{POD_TEMPLATE_HASH_LABEL}={pod_hash}", _preload_content=False
        )
        for pod in json.loads(response.data).get("items") or []:
            try:
                self.core.patch_namespaced_pod(pod["metadata"]["name"], self.namespace, {"metadata": pod_meta})
            except client.ApiException as error:
                _ignore(error, 404)

    def delete_replica_set(self, action: DeleteReplicaSet) -> None:
        try:
            self.apps.delete_namespaced_replica_set(action.name, self.namespace, propagation_policy="Background")
        except client.ApiException as error:
            _ignore(error, 404)

    # -- Services ------------------------------------------------------------------------------------------------
    def set_selector(self, action: SetServiceSelector) -> None:
        patch = {"spec": {"selector": {POD_TEMPLATE_HASH_LABEL: action.pod_hash}}}
        try:
            self.core.patch_namespaced_service(action.service, self.namespace, patch)
        except client.ApiException as error:
            if error.status == 404:
                raise InvalidSpecError.at(
                    "spec.strategy", f"Service {self.namespace}/{action.service} not found"
                ) from None
            raise

    # -- AnalysisRuns --------------------------------------------------------------------------------------------
    def _template(self, name: str, cluster_scope: bool) -> Mapping[str, Any]:
        try:
            body: Any
            if cluster_scope:
                body = self.custom.get_cluster_custom_object(GROUP, VERSION, "clusteranalysistemplates", name)
            else:
                body = self.custom.get_namespaced_custom_object(
                    GROUP, VERSION, self.namespace, "analysistemplates", name
                )
        except client.ApiException as error:
            if error.status == 404:
                kind = "ClusterAnalysisTemplate" if cluster_scope else "AnalysisTemplate"
                raise InvalidSpecError.at("analysis.templates", f"{kind} {name!r} not found") from None
            raise
        return dict(body)

    def create_analysis_run(self, action: CreateAnalysisRun) -> None:
        bodies = [self._template(name, cluster) for name, cluster in action.templates]
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
        labels = {
            **action.labels,
            ROLLOUT_LABEL: self.rollout["metadata"]["name"],
            ANALYSIS_KIND_LABEL: str(action.kind),
            POD_TEMPLATE_HASH_LABEL: action.pod_hash,
        }
        if action.step_index is not None:
            labels[STEP_INDEX_LABEL] = str(action.step_index)
        spec_out: dict[str, Any] = {"metrics": metrics, "args": args}
        if dry_run:
            spec_out["dryRun"] = dry_run
        if retention:
            spec_out["measurementRetention"] = retention
        body_out = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "AnalysisRun",
            "metadata": {
                "name": action.name,
                "namespace": self.namespace,
                "labels": labels,
                "annotations": dict(action.annotations),
                "ownerReferences": [_owner(self.rollout)],
            },
            "spec": spec_out,
        }
        try:
            self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, "analysisruns", body_out)
        except client.ApiException as error:
            if error.status == 422:
                raise InvalidSpecError.at("analysis", f"AnalysisRun {action.name} rejected: {error.body}") from None
            _ignore(error, 409)

    def terminate_run(self, action: TerminateAnalysisRun) -> None:
        try:
            self.custom.patch_namespaced_custom_object(
                GROUP, VERSION, self.namespace, "analysisruns", action.name, {"spec": {"terminate": True}}
            )
        except client.ApiException as error:
            _ignore(error, 404)

    def delete_run(self, action: DeleteAnalysisRun) -> None:
        try:
            self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, "analysisruns", action.name)
        except client.ApiException as error:
            _ignore(error, 404)

    def supersede_run(self, action: MarkAnalysisRunSuperseded) -> None:
        patch = {"metadata": {"labels": {SUPERSEDED_LABEL: "true"}}}
        try:
            self.custom.patch_namespaced_custom_object(
                GROUP, VERSION, self.namespace, "analysisruns", action.name, patch
            )
        except client.ApiException as error:
            _ignore(error, 404)

    def scale_workload(self, action: ScaleWorkload) -> None:
        try:
            self.apps.patch_namespaced_deployment_scale(
                action.name, self.namespace, {"spec": {"replicas": action.replicas}}
            )
        except client.ApiException as error:
            if error.status == 404:
                raise InvalidSpecError.at(
                    "spec.workloadRef.name", f"Deployment {self.namespace}/{action.name} not found"
                ) from None
            raise

    # -- pods and traffic ----------------------------------------------------------------------------------------
    def restart_pod(self, action: RestartPod) -> None:
        body: Any = {"metadata": {"name": action.name, "namespace": self.namespace}}
        try:
            self.core.create_namespaced_pod_eviction(action.name, self.namespace, body)
        except client.ApiException as error:
            _ignore(error, 404, 429)  # 429: a PodDisruptionBudget says not now; the next reconcile tries again

    def set_weight(self, action: SetTrafficWeight) -> None:
        if self.router is None:
            raise InvalidSpecError.at(
                "spec.strategy.canary.trafficRouting", "no traffic router is available for this Rollout"
            )
        self.router.set_weight(
            self.rollout, weight=action.weight, canary_hash=action.canary_hash, stable_hash=action.stable_hash
        )

    def set_route(self, action: SetManagedRoute) -> None:
        if self.router is None:
            raise InvalidSpecError.at(
                "spec.strategy.canary.trafficRouting", "no traffic router is available for this Rollout"
            )
        self.router.set_managed_route(self.rollout, kind=action.kind, name=action.name, route=action.route)

    def apply(self, action: Action) -> None:
        match action:
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
                self.set_weight(action)
            case SetManagedRoute():
                self.set_route(action)
            case EmitEvent():
                self.events.append(action)


def apply_plan(
    api: client.ApiClient,
    rollout: Mapping[str, Any],
    plan: Plan,
    *,
    router: TrafficRouter | None = None,
    write_status: bool = True,
) -> Sequence[EmitEvent]:
    """Apply ``plan.actions`` in order, then merge-patch ``plan.status``; returns the events to post."""
    applier = _Applier(api, rollout, router)
    for action in plan.actions:
        applier.apply(action)
    if write_status and plan.status:
        write_status_patch(api, rollout, dict(plan.status))
    return applier.events


def write_status_patch(api: client.ApiClient, rollout: Mapping[str, Any], status: Mapping[str, Any]) -> None:
    """Merge-patch the status, guarded by the resourceVersion the plan was made from.

    Operator commands (``abort``, ``promoteFull``, cleared ``pauseConditions``) live in the same status; a blind write
    could erase one that arrived after we read the Rollout. With the resourceVersion the API server answers 409
    instead, and the next reconcile plans again with the command in view.
    """
    meta = rollout["metadata"]
    body = {"metadata": {"resourceVersion": meta["resourceVersion"]}, "status": dict(status)}
    client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
        GROUP, VERSION, meta["namespace"], "rollouts", meta["name"], body
    )
