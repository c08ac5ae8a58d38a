"""The Events a plan posts on its Rollout, in Argo Rollouts' vocabulary and order.

People (and Argo's e2e suite, and alerting built on ``kubectl get events``) read a release from its Events, so they
say what Argo's controller says, with the same reasons and messages. They are derived here, in one place, from what
the plan does and how the status moves, never emitted ad hoc:

1. ``RolloutUpdated`` + ``NewReplicaSetCreated`` for a new revision's ReplicaSet (``RolloutUpdated`` alone when an
   older ReplicaSet comes back as the newest revision: a rollback);
2. ``RolloutNotCompleted`` when the ``Completed`` condition turns (or starts) False;
3. one Event per action, in the plan's order: ``ScalingReplicaSet`` for every scale (a creation with pods counts as a
   scale up from 0), ``SwitchService`` for every selector switch, and the step Events the strategies record
   (``RolloutStepCompleted``, ...);
4. ``RolloutPaused`` / ``RolloutResumed`` when the pause conditions appear / go (not when an abort cleared them);
5. ``RolloutAborted`` (Warning) when the ``Progressing`` condition turns to ``RolloutAborted``;
6. ``RolloutCompleted`` when the stable ReplicaSet becomes the current one.

Pure: a function of the observation, the plan's actions and the new status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rollouts.core.actions import (
    Action,
    AnnotateReplicaSet,
    CreateReplicaSet,
    EmitEvent,
    EventType,
    ScaleReplicaSet,
    SetServiceSelector,
)
from rollouts.core.observed import Observed

__all__ = ["plan_events"]


def _event(reason: str, message: str, *, warning: bool = False) -> EmitEvent:
    return EmitEvent(type=EventType.WARNING if warning else EventType.NORMAL, reason=reason, message=message)


def _condition(conditions: Sequence[Mapping[str, Any]] | None, kind: str) -> Mapping[str, Any] | None:
    return next((c for c in conditions or () if c.get("type") == kind), None)


def plan_events(
    observed: Observed,
    actions: Sequence[Action],
    status: Mapping[str, Any],
    *,
    revision: int,
    completed_because: str,
) -> list[EmitEvent]:
    """Every Event of one plan, in order. ``actions`` may hold the strategies' own :class:`EmitEvent` entries (kept in
    place); ``revision`` is the new ReplicaSet's; ``completed_because`` ends the ``RolloutCompleted`` message."""
    previous = observed.status
    sets = {rs.name: rs for rs in observed.replica_sets}
    events: list[EmitEvent] = []
    for action in actions:
        if isinstance(action, CreateReplicaSet):
            events.append(_event("RolloutUpdated", f"Rollout updated to revision {action.revision}"))
            events.append(
                _event("NewReplicaSetCreated", f"Created ReplicaSet {action.name} (revision {action.revision})")
            )
        elif isinstance(action, AnnotateReplicaSet) and observed.mode.revision_annotation in action.annotations:
            events.append(
                _event(
                    "RolloutUpdated",
                    f"Rollout updated to revision {action.annotations[observed.mode.revision_annotation]}",
                )
            )
    completed = _condition(status.get("conditions"), "Completed")
    was_completed = previous.condition("Completed")
    current = str(status.get("currentPodHash") or "")
    if completed is not None and completed.get("status") == "False" and (was_completed or {}).get("status") != "False":
        events.append(
            _event("RolloutNotCompleted", f"Rollout not completed, started update to revision {revision} ({current})")
        )
    for action in actions:
        match action:
            case CreateReplicaSet() if action.replicas > 0:
                events.append(_scaled(action.name, action.revision, 0, action.replicas))
            case ScaleReplicaSet():
                rs = sets.get(action.name)
                before = rs.replicas if rs is not None else 0
                if before != action.replicas:
                    events.append(_scaled(action.name, rs.revision if rs is not None else 0, before, action.replicas))
            case SetServiceSelector():
                view = observed.services.get(action.service)
                old = (view.pod_hash if view is not None else None) or ""
                events.append(
                    _event(
                        "SwitchService",
                        f"Switched selector for service '{action.service}' from '{old}' to '{action.pod_hash}'",
                    )
                )
            case EmitEvent():
                events.append(action)
    was_paused, paused = bool(previous.pause_conditions), bool(status.get("pauseConditions"))
    aborted = bool(status.get("abort"))
    if paused and not was_paused:
        first = (status.get("pauseConditions") or [{}])[0]
        events.append(_event("RolloutPaused", f"Rollout is paused ({first.get('reason', '')})"))
    elif was_paused and not paused and not aborted:
        events.append(_event("RolloutResumed", "Rollout is resumed"))
    progressing = _condition(status.get("conditions"), "Progressing") or {}
    was_progressing = previous.condition("Progressing") or {}
    if progressing.get("reason") == "RolloutAborted" and was_progressing.get("reason") != "RolloutAborted":
        events.append(_event("RolloutAborted", str(progressing.get("message") or "Rollout aborted"), warning=True))
    stable = str(status.get("stableRS") or "")
    if stable and stable == current and previous.stable_rs != stable:
        events.append(
            _event(
                "RolloutCompleted", f"Rollout completed update to revision {revision} ({current}): {completed_because}"
            )
        )
    return events


def _scaled(name: str, revision: int, before: int, after: int) -> EmitEvent:
    direction = "up" if after > before else "down"
    return _event(
        "ScalingReplicaSet", f"Scaled {direction} ReplicaSet {name} (revision {revision}) from {before} to {after}"
    )
