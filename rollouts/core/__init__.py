"""The Rollout decision core: pure functions from (spec, observed cluster, now) to a plan of actions.

Nothing in this package performs I/O or reads a clock (``tests/unit/architecture/test_layering.py`` enforces it).
The controller's layers around it:

- observe (``rollouts.controller``): reads ReplicaSets, AnalysisRuns, Services and pods into :mod:`.observed` values;
- decide (here): :func:`parse_rollout` then :func:`plan` -> :class:`Plan` (actions + status + requeue_after);
- act (``rollouts.act``): applies :mod:`.actions` in order, then writes the status.

Where things live: the weight/replica arithmetic in :mod:`.replicas`; ReplicaSet naming in :mod:`.hashing`; the
canary ladder in :mod:`.canary`; blue-green in :mod:`.bluegreen`; shared bookkeeping (services, pauses, analysis
runs, scale-down deadlines) in :mod:`.context`; status and conditions in :mod:`.planner`; a pure in-memory cluster
to drive plans in tests and docs in :mod:`.simulate`.
"""

from __future__ import annotations

from rollouts.core.actions import (
    Action,
    AdoptReplicaSet,
    AnnotateReplicaSet,
    CreateAnalysisRun,
    CreateReplicaSet,
    DeleteAnalysisRun,
    DeleteReplicaSet,
    EmitEvent,
    EventType,
    MarkAnalysisRunSuperseded,
    Plan,
    ReleaseService,
    RestartPod,
    ScaleReplicaSet,
    SetManagedRoute,
    SetPodMetadata,
    SetServiceSelector,
    SetTrafficWeight,
    TerminateAnalysisRun,
)
from rollouts.core.errors import InvalidSpecError, RolloutCoreError
from rollouts.core.hashing import POD_TEMPLATE_HASH_LABEL, pod_template_hash, template_hash, templates_equal
from rollouts.core.observed import (
    AnalysisKind,
    AnalysisRunView,
    Observed,
    PodView,
    ReplicaSetView,
    RolloutStatus,
    ServiceView,
    analysis_run_view_from,
    pod_view_from,
    replica_set_view_from,
    service_view_from,
    status_from,
)
from rollouts.core.planner import Phase, plan, plan_invalid, plan_settled
from rollouts.core.spec import RolloutSpec, parse_rollout

__all__ = [
    "POD_TEMPLATE_HASH_LABEL",
    "Action",
    "AdoptReplicaSet",
    "AnalysisKind",
    "AnalysisRunView",
    "AnnotateReplicaSet",
    "CreateAnalysisRun",
    "CreateReplicaSet",
    "DeleteAnalysisRun",
    "DeleteReplicaSet",
    "EmitEvent",
    "EventType",
    "InvalidSpecError",
    "MarkAnalysisRunSuperseded",
    "Observed",
    "Phase",
    "Plan",
    "PodView",
    "ReleaseService",
    "ReplicaSetView",
    "RestartPod",
    "RolloutCoreError",
    "RolloutSpec",
    "RolloutStatus",
    "ScaleReplicaSet",
    "ServiceView",
    "SetManagedRoute",
    "SetPodMetadata",
    "SetServiceSelector",
    "SetTrafficWeight",
    "TerminateAnalysisRun",
    "analysis_run_view_from",
    "parse_rollout",
    "plan",
    "plan_invalid",
    "plan_settled",
    "pod_template_hash",
    "pod_view_from",
    "replica_set_view_from",
    "service_view_from",
    "status_from",
    "template_hash",
    "templates_equal",
]
