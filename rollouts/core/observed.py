"""What the observer read from the cluster, as plain frozen values: the planner's only view of the world.

The observe layer (``rollouts.controller``) lists the Rollout's ReplicaSets, AnalysisRuns, Services and pods and
converts each with the ``*_from`` helpers here, which are pure functions of the raw bodies so that the same
conversion is used by tests and the simulator. The Rollout's own ``status`` is part of the observation: it holds the
operator's commands (``abort``, ``promoteFull``, cleared ``pauseConditions``) and the planner's memory (current step,
stable hash, recorded traffic weight).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from analysis.assess import AnalysisPhase
from rollouts.core.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.core.references import Referenced
from rollouts.core.spec import PodMetadata
from workflows.api import ROLLOUTS_DEV, ApiMode
from workflows.model.times import parse_time

__all__ = [
    "AnalysisKind",
    "AnalysisRunView",
    "Observed",
    "PauseCondition",
    "PodView",
    "ReplicaSetView",
    "RolloutStatus",
    "ServiceView",
    "analysis_run_view_from",
    "pod_view_from",
    "replica_set_view_from",
    "service_view_from",
    "status_from",
]


class AnalysisKind(StrEnum):
    """Why an AnalysisRun exists; recorded in the mode's ``analysis_kind_label`` (Argo's ``rollout-type``)."""

    STEP = "Step"
    BACKGROUND = "Background"
    PRE_PROMOTION = "PrePromotion"
    POST_PROMOTION = "PostPromotion"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaSetView:
    """One ReplicaSet owned by the Rollout. ``replicas`` is ``spec.replicas``; ``pods`` is ``status.replicas``."""

    name: str
    pod_hash: str
    replicas: int
    available: int = 0
    ready: int = 0
    pods: int = 0
    template: Mapping[str, Any] = field(default_factory=dict)
    revision: int = 0
    scale_down_deadline: datetime | None = None
    pod_metadata: PodMetadata = field(default_factory=PodMetadata)  # ephemeral metadata currently applied
    created_at: datetime | None = None
    orphan: bool = False  # no controller owns it yet and its template is the Rollout's: this plan adopts it


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisRunView:
    """One AnalysisRun the Rollout controls (found by its controller ownerReference)."""

    name: str
    kind: AnalysisKind
    pod_hash: str
    phase: AnalysisPhase = AnalysisPhase.PENDING
    step_index: int | None = None
    message: str = ""
    superseded: bool = False  # its verdict was consumed by an abort; a retry starts a new run
    terminating: bool = False  # spec.terminate is set
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceView:
    name: str
    selector: Mapping[str, str] = field(default_factory=dict)

    @property
    def pod_hash(self) -> str | None:
        """The pod-template hash the Service is pinned to, if any."""
        return self.selector.get(POD_TEMPLATE_HASH_LABEL)


@dataclass(frozen=True, slots=True, kw_only=True)
class PodView:
    """A pod of one of the Rollout's ReplicaSets, for ``restartAt``."""

    name: str
    pod_hash: str
    created_at: datetime
    available: bool = True
    terminating: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PauseCondition:
    reason: str
    start_time: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutStatus:
    """The Rollout's current ``status``, parsed; ``raw`` keeps the dict for fields the planner passes through."""

    abort: bool = False
    aborted_at: datetime | None = None
    promote_full: bool = False
    controller_pause: bool = False
    pause_conditions: tuple[PauseCondition, ...] = ()
    current_pod_hash: str = ""
    current_step_hash: str = ""
    current_step_index: int | None = None
    stable_rs: str = ""
    collision_count: int | None = None  # absent and 0 differ for Argo's pod-template hash
    canary_weight: int = 0  # the weight last sent to the traffic router (status.canary.weights.canary.weight)
    canary_weight_hash: str = ""  # the pod-template hash that weight was sent to (...canary.podTemplateHash)
    stable_ping_pong: str = ""  # status.canary.stablePingPong: "ping" or "pong" (canary.pingPong only)
    scale_up_preview_check_point: bool = False
    restarted_at: datetime | None = None
    observed_generation: str = ""
    conditions: tuple[Mapping[str, Any], ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)

    def pause_condition(self, reason: str) -> PauseCondition | None:
        return next((c for c in self.pause_conditions if c.reason == reason), None)

    def condition(self, kind: str) -> Mapping[str, Any] | None:
        return next((c for c in self.conditions if c.get("type") == kind), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Observed:
    """Everything observed for one reconcile. ``services`` maps Service name to its view (missing: not found)."""

    replica_sets: tuple[ReplicaSetView, ...] = ()
    analysis_runs: tuple[AnalysisRunView, ...] = ()
    services: Mapping[str, ServiceView] = field(default_factory=dict)
    pods: tuple[PodView, ...] = ()
    status: RolloutStatus = field(default_factory=RolloutStatus)
    workload_replicas: int | None = None  # spec.replicas of the workloadRef Deployment (None: no workloadRef)
    workload_generation: int | None = None  # metadata.generation of that Deployment (status.workloadObservedGeneration)
    # The canary weight each routed object (Ingress, VirtualService route, HTTPRoute rule) expresses now, read back
    # from the cluster; empty when not routed or not read. The planner verifies a step's weight against it.
    traffic_weights: tuple[int, ...] = ()
    # The names the cluster speaks (our group's or Argo's): the labels and annotations the planner writes.
    mode: ApiMode = ROLLOUTS_DEV
    # The Rollout's pod template as the API server stores it in a ReplicaSet (its defaults filled in: imagePullPolicy,
    # terminationMessagePath, dnsPolicy, ...), read by a dry-run create when no ReplicaSet carries the template's own
    # hash; None when not needed or not readable. With it a ReplicaSet made by another controller for the same
    # template (Argo's, named by Argo's hash) is recognised, as Argo does by defaulting before comparing.
    stored_template: Mapping[str, Any] | None = None
    # Services annotated as managed by this Rollout that its strategy no longer names (e.g. after a switch from
    # blue-green to canary): they are released.
    released_services: tuple[str, ...] = ()
    # Every object the spec names (rollouts.core.references), as the caches hold it (absent: not found); the planner
    # refuses a Rollout naming a missing one. None: not observed (tests and the simulator that do not model them).
    referenced: Referenced | None = None


# ----------------------------------------------------------------------------------------------------------------
# Conversions from raw bodies (pure; used by the observer, the tests and the simulator)


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: object, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return default


def _ephemeral(text: object) -> PodMetadata:
    import json

    if not isinstance(text, str) or not text:
        return PodMetadata()
    try:
        data = json.loads(text)
    except ValueError:
        return PodMetadata()
    raw = _map(data)
    return PodMetadata(labels=dict(_map(raw.get("labels"))), annotations=dict(_map(raw.get("annotations"))))


def replica_set_view_from(body: Mapping[str, Any], *, mode: ApiMode) -> ReplicaSetView:
    metadata = _map(body.get("metadata"))
    labels = _map(metadata.get("labels"))
    annotations = _map(metadata.get("annotations"))
    spec = _map(body.get("spec"))
    status = _map(body.get("status"))
    # Counts the ReplicaSet controller reported before it saw the latest spec (a scale) describe pods it may be
    # deleting: a canary scaled to 0 by an abort and back to 1 by a retry still says 1 available until the controller
    # catches up. Nothing counts as available or ready until it has (a step never completes on stale counts).
    generation, observed = _int(metadata.get("generation")), _int(status.get("observedGeneration"))
    current = not generation or not status.get("observedGeneration") or observed >= generation
    return ReplicaSetView(
        name=str(metadata.get("name", "")),
        pod_hash=str(labels.get(POD_TEMPLATE_HASH_LABEL, "")),
        replicas=_int(spec.get("replicas"), 1),
        available=_int(status.get("availableReplicas")) if current else 0,
        ready=_int(status.get("readyReplicas")) if current else 0,
        pods=_int(status.get("replicas")),
        template=_map(spec.get("template")),
        revision=_int(annotations.get(mode.revision_annotation)),
        scale_down_deadline=parse_time(annotations.get(mode.scale_down_deadline_annotation)),
        pod_metadata=_ephemeral(annotations.get(mode.ephemeral_metadata_annotation)),
        created_at=parse_time(metadata.get("creationTimestamp")),
    )


def analysis_run_view_from(body: Mapping[str, Any], *, mode: ApiMode) -> AnalysisRunView | None:
    """None for a run without the mode's kind label (not created by a Rollout controller for a Rollout)."""
    metadata = _map(body.get("metadata"))
    labels = _map(metadata.get("labels"))
    try:
        kind = AnalysisKind(str(labels.get(mode.analysis_kind_label, "")))
    except ValueError:
        return None
    status = _map(body.get("status"))
    try:
        phase = AnalysisPhase(status.get("phase") or "Pending")
    except ValueError:
        phase = AnalysisPhase.ERROR
    step = labels.get(mode.step_index_label)
    return AnalysisRunView(
        name=str(metadata.get("name", "")),
        kind=kind,
        pod_hash=str(labels.get(POD_TEMPLATE_HASH_LABEL, "")),
        phase=phase,
        step_index=_int(step) if step is not None else None,
        message=str(status.get("message") or ""),
        superseded=labels.get(mode.superseded_label) == "true",
        terminating=bool(_map(body.get("spec")).get("terminate", False)),
        created_at=parse_time(metadata.get("creationTimestamp")),
    )


def service_view_from(body: Mapping[str, Any]) -> ServiceView:
    return ServiceView(
        name=str(_map(body.get("metadata")).get("name", "")),
        selector={str(k): str(v) for k, v in _map(_map(body.get("spec")).get("selector")).items()},
    )


def pod_view_from(body: Mapping[str, Any]) -> PodView | None:
    """None for a pod without a creation time or hash label (not one of ours)."""
    metadata = _map(body.get("metadata"))
    created = parse_time(metadata.get("creationTimestamp"))
    pod_hash = _map(metadata.get("labels")).get(POD_TEMPLATE_HASH_LABEL)
    if created is None or not pod_hash:
        return None
    conditions = _map(body.get("status")).get("conditions") or ()
    ready = any(_map(c).get("type") == "Ready" and _map(c).get("status") == "True" for c in conditions)
    return PodView(
        name=str(metadata.get("name", "")),
        pod_hash=str(pod_hash),
        created_at=created,
        available=ready,
        terminating=metadata.get("deletionTimestamp") is not None,
    )


def status_from(status: Mapping[str, Any] | None) -> RolloutStatus:
    raw = _map(status)
    pauses = tuple(
        PauseCondition(reason=str(_map(p).get("reason", "")), start_time=start)
        for p in raw.get("pauseConditions") or ()
        if (start := parse_time(_map(p).get("startTime"))) is not None
    )
    canary = _map(raw.get("canary"))
    blue_green = _map(raw.get("blueGreen"))
    step = raw.get("currentStepIndex")
    return RolloutStatus(
        abort=bool(raw.get("abort", False)),
        aborted_at=parse_time(raw.get("abortedAt")),
        promote_full=bool(raw.get("promoteFull", False)),
        controller_pause=bool(raw.get("controllerPause", False)),
        pause_conditions=pauses,
        current_pod_hash=str(raw.get("currentPodHash") or ""),
        current_step_hash=str(raw.get("currentStepHash") or ""),
        current_step_index=_int(step) if step is not None else None,
        stable_rs=str(raw.get("stableRS") or ""),
        collision_count=_int(raw.get("collisionCount")) if raw.get("collisionCount") is not None else None,
        canary_weight=_int(_map(_map(canary.get("weights")).get("canary")).get("weight")),
        canary_weight_hash=str(_map(_map(canary.get("weights")).get("canary")).get("podTemplateHash") or ""),
        stable_ping_pong=str(canary.get("stablePingPong") or ""),
        scale_up_preview_check_point=bool(blue_green.get("scaleUpPreviewCheckPoint", False)),
        restarted_at=parse_time(raw.get("restartedAt")),
        observed_generation=str(raw.get("observedGeneration") or ""),
        conditions=tuple(_map(c) for c in raw.get("conditions") or ()),
        raw=raw,
    )
