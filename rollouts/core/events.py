"""The Events a plan posts on its Rollout, in Argo Rollouts' vocabulary and order.

People (and Argo's e2e suite, and alerting built on ``kubectl get events``) read a release from its Events, so they
say what Argo's controller says, with the same reasons and messages. They are derived here, in one place, from what
the plan does and how the status moves, never emitted ad hoc:

1. ``RolloutUpdated`` + ``NewReplicaSetCreated`` for a new revision's ReplicaSet (``RolloutUpdated`` alone when an
   older ReplicaSet comes back as the newest revision: a rollback);
2. ``RolloutNotCompleted`` when the ``Completed`` condition turns (or starts) False;
3. one Event per action, in the plan's order: ``ScalingReplicaSet`` for every scale (a creation with pods counts as a
   scale up from 0), ``SwitchService`` for every selector switch, and the step Events the strategies record
   (``RolloutStepCompleted``, ...); before the first step Event, ``AnalysisRun<Phase>`` (``AnalysisRunRunning``,
   ``AnalysisRunSuccessful``, Warning ``AnalysisRunFailed``/``AnalysisRunError``, ...) for each current run whose
   phase the status reports for the first time or differently (Argo's rule: a run that replaces another of its kind
   is reported once its phase moves). The notification triggers ``on-analysis-run-*`` follow these;
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
    analysis = _analysis_events(previous.raw, status)
    for action in actions:
        if analysis and isinstance(action, EmitEvent):
            events.extend(analysis)
            analysis = []
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
    events.extend(analysis)
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


#: (status section, field, Argo's ``rollout-type`` word) of each current run the status reports, in Argo's order.
_RUN_STATUSES = (
    ("blueGreen", "postPromotionAnalysisRunStatus", "PostPromotion"),
    ("blueGreen", "prePromotionAnalysisRunStatus", "PrePromotion"),
    ("canary", "currentStepAnalysisRunStatus", "Step"),
    ("canary", "currentBackgroundAnalysisRunStatus", "Background"),
)


def _analysis_events(previous: Mapping[str, Any], status: Mapping[str, Any]) -> list[EmitEvent]:
    """``AnalysisRun<Phase>`` for each current run that is new in the status (no run of its kind before) or whose
    phase changed; a run replacing another of its kind is reported when its phase moves (as Argo does)."""
    events: list[EmitEvent] = []
    for section, key, kind in _RUN_STATUSES:
        new = (status.get(section) or {}).get(key)
        if not isinstance(new, Mapping) or not new.get("name"):
            continue
        old = (previous.get(section) or {}).get(key)
        old = old if isinstance(old, Mapping) and old.get("name") else None
        phase = str(new.get("status") or "")
        # Argo reports a run once the analysis controller has given it a phase; a run we just created is "Pending"
        # in our status where Argo's is still empty, so neither is reported (drop-in: the same Event reasons).
        if phase in ("", "Pending"):
            continue
        if old is not None and (old.get("name") != new.get("name") or old.get("status") == phase):
            continue
        before = str(old.get("status") or "") if old is not None else "NoPreviousStatus"
        message = f"{kind} Analysis Run '{new['name']}' Status New: '{phase}' Previous: '{before}'"
        events.append(_event(f"AnalysisRun{phase}", message, warning=phase in ("Failed", "Error")))
    return events


def _scaled(name: str, revision: int, before: int, after: int) -> EmitEvent:
    direction = "up" if after > before else "down"
    return _event(
        "ScalingReplicaSet", f"Scaled {direction} ReplicaSet {name} (revision {revision}) from {before} to {after}"
    )
