"""``plan(spec, observed, now) -> Plan``: the Rollout controller's whole decision, as a pure function.

Level-based: everything is recomputed from the spec, the observed cluster and the Rollout's own status (where the
operator's commands and the planner's memory live). Nothing is remembered between calls, time is an argument, and
the plan is declarative, so a controller restart at any instant re-plans and continues: no duplicate ReplicaSet
(names derive from the template hash), no skipped or repeated step (one step completes per plan, recorded in status).
:func:`plan_settled` chains plans that only write status (a step completed, then the pause it leads to entered) so
one reconcile writes their outcome at once.

First, the references (:mod:`rollouts.core.references`): an object the spec names that the observer did not find
refuses the whole plan (``InvalidSpec``, a Warning Event), as Argo checks them on every reconcile. Then the ladder,
after :class:`~rollouts.core.context.Context` has identified the new/stable/older ReplicaSets and reset
the step state on a new template:

1. the strategy (:func:`~rollouts.core.canary.plan_canary` or :func:`~rollouts.core.bluegreen.plan_blue_green`);
2. ``restartAt``: recycle pods older than it, within the unavailability budget;
3. history: delete scaled-down ReplicaSets beyond ``revisionHistoryLimit``;
4. AnalysisRuns nobody needs any more are terminated;
5. status: phase, message, conditions (with the progress deadline), counters, selectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from analysis.assess import AnalysisPhase
from rollouts.core.actions import (
    DeleteAnalysisRun,
    DeleteReplicaSet,
    EmitEvent,
    EventType,
    Plan,
    ReleaseService,
    RestartPod,
    ScaleWorkload,
)
from rollouts.core.bluegreen import plan_blue_green
from rollouts.core.canary import plan_canary
from rollouts.core.context import ABORTED_PREFIX, Context
from rollouts.core.errors import InvalidSpecError
from rollouts.core.events import plan_events
from rollouts.core.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.core.observed import AnalysisKind, Observed, ReplicaSetView, status_from
from rollouts.core.pingpong import next_stable_side
from rollouts.core.references import reference_issues
from rollouts.core.replicas import fence_posts, resolve_int_or_percent
from rollouts.core.spec import RolloutSpec
from rollouts.core.statuspatch import merge_patch, patch_to
from workflows.model.times import format_time, parse_time

__all__ = ["SETTLE_ROUNDS", "Phase", "plan", "plan_invalid", "plan_settled", "selector_string"]


class Phase(StrEnum):
    """Argo's Rollout phases (``status.phase``)."""

    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    DEGRADED = "Degraded"


def plan(spec: RolloutSpec, observed: Observed, *, now: datetime) -> Plan:
    """Decide the next actions and the desired status for ``spec`` given ``observed`` at ``now`` (aware UTC)."""
    refused = _refuse_missing_references(spec, observed, now=now)
    if refused is not None:
        return refused
    ctx = Context(spec, observed, now)
    if spec.blue_green is not None:
        plan_blue_green(ctx, spec.blue_green)
    elif spec.canary is not None:
        plan_canary(ctx, spec.canary)
    _restart(ctx)
    _retire_workload(ctx)
    _cleanup_history(ctx)
    ctx.terminate_unneeded_runs()
    _cleanup_runs(ctx)
    return _finish(ctx)


#: At most this many plans are chained by :func:`plan_settled` (a step completes, the next one's pause is entered,
#: the rollout completes, it is Healthy): bounded, so a spec whose steps never touch the cluster still yields.
SETTLE_ROUNDS = 4


def _acts_on_cluster(decided: Plan) -> bool:
    return any(not isinstance(action, EmitEvent) for action in decided.actions)


def plan_settled(spec: RolloutSpec, observed: Observed, *, now: datetime, rounds: int = SETTLE_ROUNDS) -> Plan:
    """:func:`plan`, then :func:`plan` again on the status that plan writes, for as long as the plans only write
    status (and Events): what the next reconciles would decide in the same, unchanged world, folded into one plan
    and so into one status write. A plan that acts on the cluster (scales, creates, routes, deletes) ends the chain:
    what follows it waits to observe the effect. The Events of every plan in the chain are kept, in order; the
    status is the merge patch from the observed status to the last one; ``settled`` says the chain ended because
    nothing was left to do (no reconcile is needed right after this one). It states every key the chained
    plans stated, with its last value, as one plan's status does."""
    first = plan(spec, observed, now=now)
    start: dict[str, Any] = dict(observed.status.raw)
    status: dict[str, Any] = merge_patch(start, first.status)
    chained, last = [first], first
    settled, requeue = False, first.requeue_after
    while len(chained) < rounds and not _acts_on_cluster(last) and status != start:
        following = plan(spec, replace(observed, status=status_from(status)), now=now)
        after: dict[str, Any] = merge_patch(status, following.status)
        requeue = following.requeue_after  # the timer as the next reconcile would set it
        if after == status and not following.actions:
            settled = True
            break
        chained.append(following)
        status, last = after, following
    if len(chained) == 1 and not settled:
        return first
    return Plan(
        actions=tuple(action for decided in chained for action in decided.actions),
        status=patch_to(start, status, keys=(key for decided in chained for key in decided.status)),
        requeue_after=requeue,
        reasons=tuple(reason for decided in chained for reason in decided.reasons),
        settled=settled,
    )


def plan_invalid(error: InvalidSpecError, observed: Observed, *, now: datetime, generation: int) -> Plan:
    """The plan for a Rollout that cannot be parsed: no actions, ``InvalidSpec`` condition, phase ``Degraded``.

    Only the fields it owns are returned, so the rest of the status (and the cluster) stays as it is until the spec
    is fixed.
    """
    message = str(error)
    conditions = _Conditions(observed.status.conditions, now)
    conditions.set("InvalidSpec", "True", "InvalidSpec", message)
    return Plan(
        actions=(),
        status={
            "phase": Phase.DEGRADED,
            "message": f"InvalidSpec: {message}",
            "observedGeneration": str(generation),
            "conditions": conditions.result(),
        },
        reasons=(f"invalid spec: {message}",),
    )


def _refuse_missing_references(spec: RolloutSpec, observed: Observed, *, now: datetime) -> Plan | None:
    """An object the spec names is missing (or cannot serve it): :func:`plan_invalid` with a Warning Event the
    first time its message is seen, before anything is created or scaled, as Argo checks references on every
    reconcile. None when every reference holds (or references were not observed)."""
    if observed.referenced is None:
        return None
    issues = reference_issues(spec, spec.namespace, observed.referenced)
    if not issues:
        return None
    error = InvalidSpecError(issues)
    refused = plan_invalid(error, observed, now=now, generation=spec.generation)
    if observed.status.raw.get("message") == refused.status["message"]:
        return refused  # already reported: the Event was posted when the status first said so
    event = EmitEvent(type=EventType.WARNING, reason="InvalidSpec", message=str(error))
    return replace(refused, actions=(event,))


# --------------------------------------------------------------------------------------------------------------


def _max_unavailable(ctx: Context) -> int:
    """Argo's ``MaxUnavailable``: the canary's fence posts; ``blueGreen.maxUnavailable`` (default 25%, rounded down)
    resolved against ``replicas``; never more than ``replicas``. Only ``restartAt`` uses it for blue-green."""
    canary, blue_green = ctx.spec.canary, ctx.spec.blue_green
    if canary is not None:
        return fence_posts(canary.max_surge, canary.max_unavailable, ctx.replicas)[1]
    assert blue_green is not None
    return min(resolve_int_or_percent(blue_green.max_unavailable, ctx.replicas, round_up=False), ctx.replicas)


def _restart(ctx: Context) -> None:
    """``spec.restartAt``: evict pods created before it, oldest first, never more unavailable than allowed."""
    at = ctx.spec.restart_at
    if at is None:
        return
    if at > ctx.now:
        ctx.timer(at)
        return
    if ctx.restarted_at is not None and ctx.restarted_at >= at:
        return
    if ctx.abort or ctx.spec.paused:
        return
    stale = sorted(
        (pod for pod in ctx.observed.pods if pod.created_at < at and not pod.terminating),
        key=lambda pod: (pod.created_at, pod.name),
    )
    if not stale:
        ctx.restarted_at = at
        ctx.reason(f"restart at {format_time(at)} complete")
        ctx.event("RolloutRestarted", f"Every pod created before {format_time(at)} has been restarted")
        return
    # Counted from the pods themselves as well as from the ReplicaSets' status: right after an eviction the status
    # may still say "all available" while the replacement pod is starting (found under load on the real cluster:
    # a second pod was evicted before the first replacement was ready).
    by_status = sum(max(0, rs.replicas - rs.available) for rs in ctx.observed.replica_sets)
    by_status += sum(1 for pod in ctx.observed.pods if pod.terminating)
    serving = sum(1 for pod in ctx.observed.pods if pod.available and not pod.terminating)
    unavailable = max(by_status, sum(rs.replicas for rs in ctx.observed.replica_sets) - serving)
    budget = max(1, _max_unavailable(ctx)) - unavailable
    if budget <= 0:
        ctx.reason("restart waits for evicted pods to be replaced")
        return
    for pod in stale[:budget]:
        ctx.actions.append(RestartPod(name=pod.name, pod_hash=pod.pod_hash))
        ctx.reason(f"restart pod {pod.name}")


def _cleanup_history(ctx: Context) -> None:
    """Keep at most ``revisionHistoryLimit`` scaled-down old ReplicaSets (newest revisions kept)."""
    idle = [rs for rs in ctx.older if rs.replicas == 0 and rs.pods == 0]
    idle.sort(key=lambda rs: (rs.revision, rs.name), reverse=True)
    for rs in idle[ctx.spec.revision_history_limit :]:
        ctx.actions.append(DeleteReplicaSet(name=rs.name, reason="revisionHistoryLimit"))
        ctx.reason(f"delete {rs.name}: beyond revisionHistoryLimit {ctx.spec.revision_history_limit}")


def _cleanup_runs(ctx: Context) -> None:
    """Keep the newest finished AnalysisRuns nobody needs: N successful and N unsuccessful (Argo's defaults 5/5)."""
    finished = [run for run in ctx.observed.analysis_runs if run.phase.completed and run.name not in ctx.needed_runs]
    finished.sort(key=lambda run: (run.created_at is not None, run.created_at or ctx.now, run.name), reverse=True)
    successful = [run for run in finished if run.phase is AnalysisPhase.SUCCESSFUL]
    unsuccessful = [run for run in finished if run.phase is not AnalysisPhase.SUCCESSFUL]
    for run in [
        *successful[ctx.spec.successful_run_history_limit :],
        *unsuccessful[ctx.spec.unsuccessful_run_history_limit :],
    ]:
        ctx.actions.append(DeleteAnalysisRun(name=run.name))
        ctx.reason(f"delete AnalysisRun {run.name}: beyond the run history limit")


def selector_string(selector: Mapping[str, Any]) -> str:
    """A label selector in ``kubectl -l`` form, for ``status.selector`` (the scale subresource's HPA selector).

    ``{"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "t", "operator": "In", "values": ["a"]}]}`` ->
    ``"app=x,t in (a)"``.
    """
    parts = [f"{key}={value}" for key, value in sorted((selector.get("matchLabels") or {}).items())]
    for requirement in selector.get("matchExpressions") or ():
        key, operator = requirement.get("key"), requirement.get("operator")
        values = ",".join(sorted(str(v) for v in requirement.get("values") or ()))
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


class _Conditions:
    """Kubernetes-style conditions: ``lastTransitionTime`` moves only when ``status`` flips, ``lastUpdateTime`` when
    anything about the condition changes (or the caller says progress happened), so an unchanged world gives an
    unchanged status and no write (a status write would itself trigger another reconcile)."""

    def __init__(self, previous: tuple[Mapping[str, Any], ...], now: datetime) -> None:
        self.now = now
        self.previous = {str(c.get("type")): c for c in previous}
        self.items: dict[str, dict[str, Any]] = {
            kind: dict(c) for kind, c in self.previous.items() if kind != "InvalidSpec"
        }

    def set(self, kind: str, status: str, reason: str, message: str, *, updated: datetime | None = None) -> None:
        old = self.previous.get(kind)
        now = format_time(self.now)
        same = old is not None and (old.get("status"), old.get("reason"), old.get("message")) == (
            status,
            reason,
            message,
        )
        update_time = (
            format_time(updated) if updated is not None else (old.get("lastUpdateTime") if same and old else now)
        )
        transition = old.get("lastTransitionTime") if old is not None and old.get("status") == status else now
        self.items[kind] = {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastUpdateTime": update_time or now,
            "lastTransitionTime": transition or now,
        }

    def drop(self, kind: str) -> None:
        self.items.pop(kind, None)

    def result(self) -> list[dict[str, Any]]:
        return [self.items[kind] for kind in sorted(self.items)]


_PROGRESS_KEYS = ("currentPodHash", "currentStepIndex", "stableRS", "updatedReplicas", "availableReplicas")


def _progress(ctx: Context, conditions: _Conditions, memory: Mapping[str, Any]) -> bool:
    """Set ``Progressing``; whether the progress deadline is exceeded. Paused/settled rollouts never time out.

    Progress is any change of the step, the hashes or the replica counts since the recorded status; its time is
    the condition's ``lastUpdateTime``, so the deadline survives controller restarts.
    """
    spec, now = ctx.spec, ctx.now
    rs_label = f'ReplicaSet "{ctx.rs_name(ctx.new_hash)}"'
    if ctx.abort:
        conditions.set(
            "Progressing",
            "False",
            "RolloutAborted",
            ctx.message or f"Rollout aborted update to revision {ctx.revision}",
        )
        return False
    if ctx.complete:  # before paused, as Argo: pausing a finished rollout is no paused progress
        conditions.set("Progressing", "True", "NewReplicaSetAvailable", f"{rs_label} has successfully progressed.")
        return False
    if spec.paused or ctx.pauses:
        conditions.set("Progressing", "Unknown", "RolloutPaused", "Rollout is paused")
        return False
    previous = ctx.observed.status.raw
    progressed = any(previous.get(key) != memory[key] for key in _PROGRESS_KEYS)
    old = ctx.observed.status.condition("Progressing")
    reason = old.get("reason") if old is not None else None
    was_exceeded = reason == "ProgressDeadlineExceeded"
    last = parse_time(old.get("lastUpdateTime")) if old is not None else None
    if progressed or last is None or reason not in {"ReplicaSetUpdated", "ProgressDeadlineExceeded"}:
        last, was_exceeded = now, False
    deadline = last + timedelta(seconds=spec.progress_deadline_seconds)
    if was_exceeded or now >= deadline:
        conditions.set("Progressing", "False", "ProgressDeadlineExceeded", f"{rs_label} has timed out progressing.")
        return True
    conditions.set("Progressing", "True", "ReplicaSetUpdated", f"{rs_label} is progressing.", updated=last)
    ctx.timer(deadline)
    return False


def _phase(ctx: Context, *, exceeded: bool) -> tuple[str, str]:
    """Phase and message, in Argo's precedence: aborted/timed out, paused, healthy, progressing."""
    if ctx.abort:
        return Phase.DEGRADED, f"{ABORTED_PREFIX}{ctx.message or 'Rollout aborted'}"
    if exceeded:
        return (
            Phase.DEGRADED,
            f'ProgressDeadlineExceeded: ReplicaSet "{ctx.rs_name(ctx.new_hash)}" has timed out progressing.',
        )
    if ctx.spec.paused:
        return Phase.PAUSED, "manually paused"
    if ctx.pauses:
        return Phase.PAUSED, min(ctx.pauses.items(), key=lambda item: (item[1], item[0]))[0]
    if ctx.complete:
        return Phase.HEALTHY, ""
    return Phase.PROGRESSING, ctx.progress_message or "more replicas need to be updated"


def _health_conditions(ctx: Context, conditions: _Conditions, phase: str, available: int) -> None:
    spec = ctx.spec
    if spec.paused or ctx.pauses:
        conditions.set("Paused", "True", "RolloutPaused", "Rollout is paused")
    elif "Paused" in conditions.items:
        conditions.set("Paused", "False", "RolloutResumed", "Rollout is resumed")
    min_available = spec.replicas - _max_unavailable(ctx) if spec.canary is not None else spec.replicas
    if spec.blue_green is not None:
        active = ctx.service_hash(spec.blue_green.active_service)
        available = next((rs.available for rs in ctx.observed.replica_sets if rs.pod_hash == active), 0)
    if available >= min_available:
        conditions.set("Available", "True", "AvailableReason", "Rollout has minimum availability")
    else:
        conditions.set("Available", "False", "AvailableReason", "Rollout does not have minimum availability")
    if phase == Phase.HEALTHY:
        conditions.set("Healthy", "True", "RolloutHealthy", "Rollout is healthy")
    else:
        conditions.set("Healthy", "False", "RolloutHealthy", "Rollout is not healthy")
    # Argo's meaning: the update is done when the current version is the stable one (Healthy may come later).
    if ctx.stable_hash and ctx.stable_hash == ctx.new_hash:
        conditions.set("Completed", "True", "RolloutCompleted", "Rollout is completed")
    else:
        conditions.set("Completed", "False", "RolloutCompleted", "Rollout is not completed")


def _strategy_status(ctx: Context) -> dict[str, Any]:
    """``status.canary`` / ``status.blueGreen`` (the other one removed)."""
    canary = ctx.spec.canary
    if canary is not None:
        weights = None
        if canary.routed:
            weights = {
                "canary": {
                    "weight": ctx.canary_weight,
                    "podTemplateHash": ctx.traffic_hash or ctx.new_hash,
                    "serviceName": canary.canary_service or "",
                },
                "stable": {
                    "weight": canary.max_weight - ctx.canary_weight,
                    "podTemplateHash": ctx.stable_hash,
                    "serviceName": canary.stable_service or "",
                },
            }
        return {
            "canary": {
                "currentStepAnalysisRunStatus": ctx.run_status.get(AnalysisKind.STEP),
                "currentBackgroundAnalysisRunStatus": ctx.run_status.get(AnalysisKind.BACKGROUND),
                "weights": weights,
                "stablePingPong": (
                    next_stable_side(ctx.observed.status, stable_hash=ctx.stable_hash) if canary.ping_pong else None
                ),
            },
            "blueGreen": None,
        }
    blue_green = ctx.spec.blue_green
    assert blue_green is not None
    return {
        "blueGreen": {
            "activeSelector": ctx.service_hash(blue_green.active_service),
            "previewSelector": ctx.service_hash(blue_green.preview_service),
            "scaleUpPreviewCheckPoint": ctx.scale_up_preview or None,
            "prePromotionAnalysisRunStatus": ctx.run_status.get(AnalysisKind.PRE_PROMOTION),
            "postPromotionAnalysisRunStatus": ctx.run_status.get(AnalysisKind.POST_PROMOTION),
        },
        "canary": None,
    }


def _retire_workload(ctx: Context) -> None:
    """``workloadRef.scaleDown``: hand the Deployment's capacity over to the Rollout (Argo's three modes).

    - ``never``: the Deployment is left as it is (the user scales it).
    - ``onsuccess``: scaled to 0 once the Rollout is fully available on a stable version.
    - ``progressively``: scaled down as the Rollout's pods become available, to ``replicas - available``; it only
      ever goes down, so capacity moves from one to the other without a gap.
    """
    spec, observed = ctx.spec, ctx.observed
    current = observed.workload_replicas
    if spec.workload_name is None or not current or spec.workload_scale_down == "never":
        return
    available = sum(rs.available for rs in observed.replica_sets)
    if spec.workload_scale_down == "onsuccess":
        stable = next((rs for rs in observed.replica_sets if rs.pod_hash == ctx.stable_hash), None)
        if ctx.stable_hash == ctx.new_hash and stable is not None and stable.available >= spec.replicas:
            ctx.actions.append(ScaleWorkload(name=spec.workload_name, replicas=0, reason="Rollout is available"))
            ctx.reason(f"scaleDown onsuccess: Deployment {spec.workload_name} to 0")
        return
    target = max(0, spec.replicas - available)
    if target < current:
        ctx.actions.append(ScaleWorkload(name=spec.workload_name, replicas=target, reason=f"{available} available"))
        ctx.reason(f"scaleDown progressively: Deployment {spec.workload_name} {current} -> {target}")


def _finish(ctx: Context) -> Plan:
    spec, observed, now = ctx.spec, ctx.observed, ctx.now
    sets = observed.replica_sets
    for service in observed.released_services:
        ctx.actions.append(ReleaseService(service=service))
        ctx.reason(f"release Service {service}: the strategy no longer names it")
    counts = {
        "replicas": sum(rs.pods for rs in sets),
        "updatedReplicas": ctx.new_rs.pods if ctx.new_rs is not None else 0,
        "readyReplicas": sum(rs.ready for rs in sets),
        "availableReplicas": sum(rs.available for rs in sets),
        "HPAReplicas": sum(rs.pods for rs in sets),  # the scale subresource's replicas: what an HPA reads
    }
    selector = selector_string(spec.selector)
    active = _active_rs(ctx) if spec.blue_green is not None else None
    if active is not None:
        # Blue-green counts what the active Service serves (its preview must not make an HPA scale the whole
        # Rollout), and the selector (an HPA's pod selector) names the active hash, as in Argo.
        counts |= {"readyReplicas": active.ready, "availableReplicas": active.available, "HPAReplicas": active.pods}
        labels = {**(spec.selector.get("matchLabels") or {}), POD_TEMPLATE_HASH_LABEL: active.pod_hash}
        selector = selector_string({**spec.selector, "matchLabels": labels})
    memory: dict[str, Any] = {
        "currentPodHash": ctx.new_hash,
        "currentStepIndex": ctx.step_index if spec.canary is not None else None,  # Argo has none for blue-green
        "stableRS": ctx.stable_hash or None,
        **counts,
    }
    conditions = _Conditions(observed.status.conditions, now)
    exceeded = _progress(ctx, conditions, memory)
    abort_now = exceeded and spec.progress_deadline_abort and not ctx.abort
    if abort_now:
        # Recorded now, carried out by the next plan (requeued at once), like a user's abort.
        ctx.start_abort(
            f'ProgressDeadlineExceeded: ReplicaSet "{ctx.rs_name(ctx.new_hash)}" has timed out progressing.'
        )
        ctx.aborted_at = now
    phase, message = _phase(ctx, exceeded=exceeded)
    _health_conditions(ctx, conditions, phase, counts["availableReplicas"])
    status: dict[str, Any] = {
        "observedGeneration": str(spec.generation),  # a string, as in Argo's schema
        "phase": phase,
        "message": message,
        **memory,
        "currentStepHash": (ctx.steps_hash or None) if spec.canary is not None else None,
        "pauseConditions": [
            {"reason": reason, "startTime": format_time(start)}
            for reason, start in sorted(ctx.pauses.items(), key=lambda item: (item[1], item[0]))
        ]
        or None,
        "controllerPause": ctx.controller_pause or None,
        "abort": ctx.abort or None,
        "abortedAt": format_time(ctx.aborted_at) if ctx.abort and ctx.aborted_at is not None else None,
        "promoteFull": ctx.promote_full or None,
        "selector": selector,
        "restartedAt": format_time(ctx.restarted_at) if ctx.restarted_at is not None else None,
        "collisionCount": observed.status.collision_count,  # kept as recorded: Argo's hash tells 0 from absent
        # The workloadRef Deployment's generation this plan was made from (Argo's field; its clients wait for it).
        "workloadObservedGeneration": (
            str(observed.workload_generation) if observed.workload_generation is not None else None
        ),
        "conditions": conditions.result(),
        **_strategy_status(ctx),
    }
    waits = [max(0.0, (when - now).total_seconds()) for when in ctx.timers]
    requeue = 0.0 if abort_now else (min(waits) if waits else None)
    events = plan_events(
        observed, ctx.actions, status, revision=ctx.revision, completed_because=_completed_because(ctx)
    )
    actions = [action for action in ctx.actions if not isinstance(action, EmitEvent)] + events
    return Plan(actions=tuple(actions), status=status, requeue_after=requeue, reasons=tuple(ctx.reasons))


def _active_rs(ctx: Context) -> ReplicaSetView | None:
    assert ctx.spec.blue_green is not None
    active = ctx.service_hash(ctx.spec.blue_green.active_service)
    return next((rs for rs in ctx.observed.replica_sets if active and rs.pod_hash == active), None)


def _completed_because(ctx: Context) -> str:
    """How Argo ends its ``RolloutCompleted`` message."""
    if not ctx.observed.status.stable_rs:
        return "Initial deploy"
    if ctx.spec.canary is not None:
        return f"Completed all {len(ctx.spec.canary.steps)} canary steps"
    return "Completed blue-green update"
