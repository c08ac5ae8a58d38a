"""The planner's output: actions for the act layer, the desired status, and when to look again.

Every action is *declarative* (scale to N, point the Service at hash H, create run X if absent), so applying a plan
twice has the effect of applying it once, and a controller that crashes half-way re-plans from what it finds. The
act layer applies ``actions`` in order and stops at the first failure (order matters: a Service is switched only
after the pods it will select are up, a traffic weight is lowered before its Service moves), then writes ``status``.

``status`` is the full status the planner manages, in the Rollout's field names; a key with value ``None`` means
"remove this field" (send it as a JSON merge patch).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rollouts.core.observed import AnalysisKind
from rollouts.core.routing import ManagedRoute
from rollouts.core.spec import PodMetadata

__all__ = [
    "Action",
    "AdoptReplicaSet",
    "AnnotateReplicaSet",
    "CreateAnalysisRun",
    "CreateReplicaSet",
    "DeleteAnalysisRun",
    "DeleteReplicaSet",
    "EmitEvent",
    "EventType",
    "MarkAnalysisRunSuperseded",
    "Plan",
    "ReleaseService",
    "RestartPod",
    "ScaleReplicaSet",
    "ScaleWorkload",
    "SetManagedRoute",
    "SetPodMetadata",
    "SetServiceSelector",
    "SetTrafficWeight",
    "TerminateAnalysisRun",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateReplicaSet:
    """Create ``name`` (``<rollout>-<hash>``) if absent; its template carries the hash label and ``pod_metadata``.

    ``annotations`` include the revision. A ReplicaSet that already exists with this name is left as it is: the
    next plan adopts it.
    """

    name: str
    pod_hash: str
    template: Mapping[str, Any]
    replicas: int
    revision: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    pod_metadata: PodMetadata = field(default_factory=PodMetadata)


@dataclass(frozen=True, slots=True, kw_only=True)
class AdoptReplicaSet:
    """Make the Rollout the controller of an orphan ReplicaSet whose template is its own (as a Deployment adopts).

    Planned, not done while observing: observing never writes, and adoption happens in the plan's order, before the
    ReplicaSet is scaled.
    """

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleReplicaSet:
    name: str
    replicas: int
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AnnotateReplicaSet:
    """Set (or with ``None`` remove) annotations, e.g. the scale-down deadline or a bumped revision."""

    name: str
    annotations: Mapping[str, str | None]


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPodMetadata:
    """Make the ephemeral labels/annotations of a ReplicaSet's pods exactly ``metadata`` (template and live pods).

    ``previous`` lists what was applied before, so keys that are no longer wanted can be removed.
    """

    name: str
    metadata: PodMetadata
    previous: PodMetadata = field(default_factory=PodMetadata)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteReplicaSet:
    name: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetServiceSelector:
    """Pin ``service``'s selector to ``pod_hash`` (the ``rollouts-pod-template-hash`` key; other keys kept)."""

    service: str
    pod_hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseService:
    """The Rollout no longer names ``service``: take the hash key out of its selector and drop the managed-by
    annotation, so it selects every version again (Argo's service controller does the same)."""

    service: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateAnalysisRun:
    """Create the AnalysisRun ``name`` if absent, from ``templates`` ((name, clusterScope)) and resolved ``args``.

    ``labels`` carry the rollout name, kind, step index and pod hash so the observer can find it again.
    An arg with value ``None`` must come from the template's own default (else the run errors).
    """

    name: str
    kind: AnalysisKind
    pod_hash: str
    templates: tuple[tuple[str, bool], ...]
    args: tuple[tuple[str, str | None], ...]
    step_index: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    dry_run: tuple[Mapping[str, Any], ...] = ()
    measurement_retention: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TerminateAnalysisRun:
    """Set ``spec.terminate`` on a run that is no longer needed."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteAnalysisRun:
    """Delete a finished run beyond ``spec.analysis.successfulRunHistoryLimit``/``unsuccessfulRunHistoryLimit``."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkAnalysisRunSuperseded:
    """Label the run ``rollouts.dev/superseded=true``: its verdict was used (an abort); a retry runs it anew."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SetTrafficWeight:
    """The desired routing state, declared by every plan of a routed canary (the ``TrafficRouter`` seam).

    ``weight`` percent to the pods of ``canary_hash``, the rest to ``stable_hash``. The planner changes the weight
    only when the canary's available pods can serve it (and the stable's the rest); when the weight does not change
    it declares the current one again, so a hand-edited Ingress/VirtualService/HTTPRoute is put back (routers write
    only on difference). ``finished``: the update is over (promoted, or aborted with the weight back at 0) and the
    routers remove what they created for it (the nginx canary Ingress, managed routes).
    """

    weight: int
    canary_hash: str
    stable_hash: str
    finished: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SetManagedRoute:
    """The router seam for ``setHeaderRoute``/``setMirrorRoute`` steps (a route without matches removes it)."""

    route: ManagedRoute


@dataclass(frozen=True, slots=True, kw_only=True)
class ScaleWorkload:
    """Scale the ``workloadRef`` Deployment ``name`` to ``replicas`` (its ``scaleDown`` mode retiring it)."""

    name: str
    replicas: int
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartPod:
    """Evict one pod (``restartAt``); its ReplicaSet recreates it."""

    name: str
    pod_hash: str


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class EmitEvent:
    type: EventType
    reason: str
    message: str


Action = (
    AdoptReplicaSet
    | CreateReplicaSet
    | ScaleReplicaSet
    | AnnotateReplicaSet
    | SetPodMetadata
    | DeleteReplicaSet
    | SetServiceSelector
    | ReleaseService
    | CreateAnalysisRun
    | TerminateAnalysisRun
    | DeleteAnalysisRun
    | MarkAnalysisRunSuperseded
    | SetTrafficWeight
    | SetManagedRoute
    | RestartPod
    | ScaleWorkload
    | EmitEvent
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """One reconcile's decision. ``requeue_after`` (seconds) is the nearest timer (pause end, scale-down deadline,
    auto-promotion, progress deadline, restart pacing); ``None`` means "wait for a watch event".
    ``reasons`` are one-line explanations for logs, in decision order. ``settled`` (set by
    :func:`~rollouts.core.planner.plan_settled`): planning again on the status this plan writes, in the world it
    observed, would change nothing, so no reconcile is needed until something else changes or ``requeue_after``.
    """

    actions: tuple[Action, ...]
    status: Mapping[str, Any]
    requeue_after: float | None = None
    reasons: tuple[str, ...] = ()
    settled: bool = False

    def of_type(self, kind: type[Any]) -> list[Any]:
        """The actions of one type, in order (handy for the act layer's dispatch and for tests)."""
        return [action for action in self.actions if isinstance(action, kind)]
