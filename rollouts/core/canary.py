"""The canary strategy: replica-weighted (no router) or traffic-weighted (through the ``SetTrafficWeight`` seam).

Three situations, decided in this order (a flat ladder, one reason each):

1. **No update in flight** — the desired template *is* the stable one (first deploy, completed update, or a rollback
   to the stable template, which skips the steps): bring it to ``replicas``, retire everything else.
2. **Aborted** — ``status.abort`` (``kubectl rollouts abort``, a failed analysis, or the progress deadline with
   ``progressDeadlineAbort``): all capacity goes back to stable, traffic first, the canary scales down after.
3. **Stepping** — execute ``steps[currentStepIndex]``; at most one step completes per reconcile; when the last one
   has, promote (the new version becomes stable).

Rule for traffic: the weight sent to the canary never exceeds what its available pods can serve (canary pods are
scaled first, the weight follows), and the stable keeps enough pods for the rest.
"""

from __future__ import annotations

from analysis.assess import AnalysisPhase
from rollouts.core.actions import SetManagedRoute, SetTrafficWeight
from rollouts.core.context import CANARY_PAUSE, INCONCLUSIVE_PAUSE, Context
from rollouts.core.observed import AnalysisKind, ReplicaSetView
from rollouts.core.pingpong import with_roles
from rollouts.core.replicas import (
    ReplicaCounts,
    basic_canary_targets,
    ceil_share,
    dynamic_stable_target,
    fence_posts,
    lowest_servable_canary_weight,
    old_replica_set_targets,
    routed_canary_target,
    servable_weight,
    with_min_pods,
)
from rollouts.core.spec import CanaryStep, CanaryStrategy, StepKind

__all__ = ["plan_canary"]


def _max_weight(ctx: Context) -> int:
    """The total a weight counts in: ``trafficRouting.maxTrafficWeight``, else 100 (Argo's ``MaxTrafficWeight``)."""
    canary = ctx.spec.canary
    return canary.max_weight if canary is not None else 100


def _counts(rs: ReplicaSetView | None) -> ReplicaCounts:
    return (
        ReplicaCounts(spec=rs.replicas, available=rs.available)
        if rs is not None
        else ReplicaCounts(spec=0, available=0)
    )


def plan_canary(ctx: Context, strategy: CanaryStrategy) -> None:
    # With pingPong the ping and pong Services play stable and canary, in the roles the recorded status gives them
    # (the routers get the same roles); the promotion below flips them, recorded by the planner's status.
    strategy = with_roles(strategy, ctx.observed.status)
    if ctx.stable_rs is None and ctx.new_rs is None and not ctx.older:
        # The very first revision: create its ReplicaSet now; it becomes stable on the next pass, once observed (as
        # Argo does, so the Events read RolloutNotCompleted, ScalingReplicaSet, RolloutCompleted "Initial deploy").
        ctx.ensure_new(ctx.replicas, strategy.stable_metadata)
        ctx.point(strategy.stable_service, ctx.new_hash)
        ctx.point(strategy.canary_service, ctx.new_hash)
        ctx.step_index = len(strategy.steps) if strategy.steps else None  # a first deploy runs no steps
        ctx.progress_message = "updated replicas are still becoming available"
        return
    if ctx.stable_rs is None:
        ctx.reason("no stable ReplicaSet: this version becomes stable without steps")
        ctx.stable_hash = ctx.new_hash
    if ctx.new_hash == ctx.stable_hash:
        _settled(ctx, strategy)
    elif ctx.abort:
        _aborted(ctx, strategy)
    else:
        _stepping(ctx, strategy)
    if strategy.routed and not ctx.traffic_declared:
        _declare_traffic(ctx)


# --------------------------------------------------------------------------------------------------------------
# 1. settled: the desired template is the stable one


def _settled(ctx: Context, strategy: CanaryStrategy) -> None:
    n = ctx.replicas
    ctx.step_index = len(strategy.steps) if strategy.steps else None
    ctx.abort = False
    ctx.aborted_at = None
    ctx.promote_full = False
    ctx.pauses.clear()
    ctx.controller_pause = False
    surge, max_unavailable = fence_posts(strategy.max_surge, strategy.max_unavailable, n)
    new = _counts(ctx.new_rs)
    if strategy.routed:
        ctx.ensure_new(n, strategy.stable_metadata)
        ctx.point(strategy.stable_service, ctx.new_hash)
        if ctx.canary_weight != 0:
            _lower_weight(ctx, 0, stable_available=new.available, canary_hash=ctx.new_hash)
        if ctx.canary_weight == 0:
            ctx.point(strategy.canary_service, ctx.new_hash)
        ctx.scale_down_older_after(
            [rs for rs in ctx.older if not _serving(ctx, strategy, rs)],
            strategy.scale_down_delay_seconds,
            strategy.scale_down_delay_revision_limit,
            "old version, after scaleDownDelaySeconds",
        )
        pending = ctx.canary_weight != 0 or any(rs.replicas > 0 and rs.scale_down_deadline is None for rs in ctx.older)
    else:
        room = n + surge - (new.spec + ctx.older_spec())
        target = n if new.spec >= n else new.spec + max(0, min(room, n - new.spec))
        ctx.ensure_new(target, strategy.stable_metadata)
        ctx.point(strategy.stable_service, ctx.new_hash)
        ctx.point(strategy.canary_service, ctx.new_hash)
        _retire_older(ctx, max_unavailable)
        pending = any(rs.replicas > 0 or rs.pods > 0 for rs in ctx.older)
    if new.spec == n and new.available >= n and not pending:
        ctx.complete = True
    elif new.available < n:
        ctx.progress_message = "updated replicas are still becoming available"
    else:
        ctx.progress_message = "old replicas are pending termination"


def _serving(ctx: Context, strategy: CanaryStrategy, rs: ReplicaSetView) -> bool:
    """Whether ``rs`` still receives traffic (through a Service after this plan) and so must not be scaled down."""
    if ctx.service_hash(strategy.stable_service) == rs.pod_hash:
        return True
    return ctx.canary_weight > 0 and ctx.service_hash(strategy.canary_service) == rs.pod_hash


def _retire_older(ctx: Context, max_unavailable: int) -> None:
    """Scale older ReplicaSets down as far as availability allows (oldest first)."""
    if not ctx.older:
        return
    total_available = sum(rs.available for rs in ctx.observed.replica_sets)
    targets = old_replica_set_targets(
        replicas=ctx.replicas,
        max_unavailable=max_unavailable,
        total_available=total_available,
        old=[_counts(rs) for rs in ctx.older],
    )
    for rs, target in zip(ctx.older, targets, strict=True):
        if target < rs.replicas:
            ctx.scale(rs, target, "older version")


# --------------------------------------------------------------------------------------------------------------
# 2. aborted


def _aborted(ctx: Context, strategy: CanaryStrategy) -> None:
    n = ctx.replicas
    ctx.step_index = 0 if strategy.steps else None
    ctx.enter_aborted()
    surge, max_unavailable = fence_posts(strategy.max_surge, strategy.max_unavailable, n)
    stable = _counts(ctx.stable_rs)
    if strategy.routed:
        ctx.keep_up(ctx.stable_rs, n, "stable takes all traffic back")
        ctx.point(strategy.stable_service, ctx.stable_hash)
        # The weight may still go to an older canary (a newer template arrived before the abort): it comes down
        # from there, and that ReplicaSet keeps its pods until it does.
        _lower_weight(ctx, 0, stable_available=stable.available, canary_hash=_weight_hash(ctx, strategy))
        if ctx.canary_weight == 0:
            ctx.point(strategy.canary_service, ctx.stable_hash)
            if ctx.new_rs is not None:
                delay = strategy.abort_scale_down_delay_seconds
                ctx.scale_down_after(ctx.new_rs, delay if delay > 0 else None, "aborted canary")
        for rs in ctx.older:
            if not _serving(ctx, strategy, rs):
                ctx.scale_down_after(rs, 0, "older version")
        ctx.set_metadata(ctx.stable_rs, strategy.stable_metadata)
        return
    new_target, stable_target = basic_canary_targets(
        replicas=n,
        weight=0,
        new=_counts(ctx.new_rs),
        stable=stable,
        older_spec=ctx.older_spec(),
        max_surge=surge,
        max_unavailable=max_unavailable,
        max_weight=_max_weight(ctx),
    )
    ctx.scale(ctx.new_rs, new_target, "aborted canary")
    _scale_stable(ctx, stable_target)
    ctx.point(strategy.stable_service, ctx.stable_hash)
    ctx.point(strategy.canary_service, ctx.stable_hash)
    _retire_older(ctx, max_unavailable)
    ctx.set_metadata(ctx.stable_rs, strategy.stable_metadata)


def _scale_stable(ctx: Context, target: int) -> None:
    if ctx.stable_rs is not None and ctx.stable_rs.scale_down_deadline is not None:
        ctx.keep_up(ctx.stable_rs, target, "stable")
    else:
        ctx.scale(ctx.stable_rs, target, "stable")


# --------------------------------------------------------------------------------------------------------------
# 3. stepping


def _set_weight(ctx: Context, weight: int, *, canary_hash: str) -> None:
    ctx.reason(f"set canary traffic weight {ctx.canary_weight} -> {weight}")
    ctx.canary_weight = weight
    _declare_traffic(ctx, canary_hash=canary_hash)


def _declare_traffic(ctx: Context, *, canary_hash: str | None = None) -> None:
    """The routing state as decided (weight, the hashes it goes to, whether the update is over) as an action.

    Emitted when the weight moves (``canary_hash``: where the moved weight goes; a weight coming down keeps naming
    the pods it leaves, since routers relabel subsets before they change weights), and once per plan otherwise, so
    the routers put back what drifted. A restatement at weight 0 names the newest version (nothing goes there yet,
    so subsets may be relabelled); with traffic on the canary it names the hash the weight was sent to, until that
    weight has come down. A restatement is left out while the pods it would name cannot serve their share (a first
    deploy whose pods are still starting): routing by hash then would send traffic to pods that are not there, and
    nothing has been routed by hash yet anyway.
    """
    weight = ctx.canary_weight
    restating = canary_hash is None
    if canary_hash is None:
        canary_hash = ctx.traffic_hash if weight > 0 and ctx.traffic_hash else ctx.new_hash
    total = _max_weight(ctx)
    if restating and not (
        _hash_serves(ctx, ctx.stable_hash, total - weight) and _hash_serves(ctx, canary_hash, weight)
    ):
        ctx.reason("routing not declared yet: the pods it would name cannot serve their share")
        return
    finished = weight == 0 and (ctx.new_hash == ctx.stable_hash or ctx.abort)
    ctx.actions.append(
        SetTrafficWeight(weight=weight, canary_hash=canary_hash, stable_hash=ctx.stable_hash, finished=finished)
    )
    ctx.traffic_hash = canary_hash
    ctx.traffic_declared = True


def _hash_serves(ctx: Context, pod_hash: str, weight: int) -> bool:
    available = sum(rs.available for rs in ctx.observed.replica_sets if rs.pod_hash == pod_hash)
    return servable_weight(replicas=ctx.replicas, available=available, wanted=weight, max_weight=_max_weight(ctx))


def _weight_hash(ctx: Context, strategy: CanaryStrategy) -> str:
    """The pods the canary weight goes to now: where it was last sent, else where the canary Service points."""
    if ctx.canary_weight > 0 and ctx.traffic_hash:
        return ctx.traffic_hash
    return ctx.service_hash(strategy.canary_service) or ctx.new_hash


def _lower_weight(ctx: Context, target: int, *, stable_available: int, canary_hash: str) -> None:
    """Move the canary weight down towards ``target`` as far as the stable's available pods can take the rest."""
    feasible = lowest_servable_canary_weight(
        replicas=ctx.replicas, stable_available=stable_available, target=target, max_weight=_max_weight(ctx)
    )
    if feasible < ctx.canary_weight:
        _set_weight(ctx, feasible, canary_hash=canary_hash)


def _desired_weight(strategy: CanaryStrategy, index: int) -> int:
    """The last ``setWeight`` at or before ``index``; ``maxTrafficWeight`` (100) once every step is done; 0 before."""
    if index >= len(strategy.steps):
        return strategy.max_weight
    for step in reversed(strategy.steps[: index + 1]):
        if step.kind is StepKind.SET_WEIGHT and step.weight is not None:
            return step.weight
    return 0


def _canary_scale(strategy: CanaryStrategy, index: int) -> CanaryStep | None:
    """The ``setCanaryScale`` in force at ``index`` (routed canaries only; ``matchTrafficWeight`` ends it)."""
    if not strategy.routed or index >= len(strategy.steps):
        return None
    for step in reversed(strategy.steps[: index + 1]):
        if step.kind is StepKind.SET_CANARY_SCALE:
            return None if step.match_traffic_weight else step
    return None


def _routed_replicas_and_weight(ctx: Context, strategy: CanaryStrategy, index: int, weight: int) -> bool:
    """Scale the canary for ``weight`` (or setCanaryScale), then move traffic once its pods can serve it.

    Returns whether the step's target is reached as observed (weight recorded and canary pods available).
    """
    n = ctx.replicas
    total = strategy.max_weight
    min_pods = strategy.min_pods_per_replica_set
    new = _counts(ctx.new_rs)
    stable = _counts(ctx.stable_rs)
    scale = _canary_scale(strategy, index)
    new_target = routed_canary_target(
        replicas=n,
        weight=weight,
        scale_weight=scale.scale_weight if scale is not None else None,
        scale_replicas=scale.scale_replicas if scale is not None else None,
        max_weight=total,
        min_pods=min_pods,
    )
    previous = ctx.service_hash(strategy.canary_service)
    if previous == ctx.new_hash and scale is None:
        # Pods still serving the weight already sent stay until the weight has come down (an explicit
        # setCanaryScale is the user's size, whatever the weight).
        still = with_min_pods(ceil_share(n, ctx.canary_weight, total), min_pods=min_pods, replicas=n)
        new_target = max(new_target, still)
    ctx.ensure_new(new_target, strategy.canary_metadata)
    switching = previous not in {None, ctx.new_hash}  # the canary Service still selects an older canary
    lowest = 0 if switching else min(weight, ctx.canary_weight)
    stable_target = n
    if strategy.dynamic_stable_scale:
        # The stable shrinks only after traffic has left it, and grows back before traffic returns to it.
        stable_target = dynamic_stable_target(replicas=n, canary_weight=lowest, max_weight=total, min_pods=min_pods)
    ctx.keep_up(ctx.stable_rs, stable_target, "stable")
    ctx.point(strategy.stable_service, ctx.stable_hash)
    if switching and ctx.canary_weight > 0:
        _lower_weight(ctx, 0, stable_available=stable.available, canary_hash=previous or ctx.new_hash)
    if ctx.canary_weight == 0:
        ctx.point(strategy.canary_service, ctx.new_hash)
    for rs in ctx.older:
        if not _serving(ctx, strategy, rs):
            ctx.scale_down_after(rs, 0, "older version")
    # An explicit setCanaryScale decouples the canary's size from its weight (Argo sends the weight to however
    # many pods the user asked for): the weight then waits for those pods only.
    canary_ready = (
        new.available >= new_target
        if scale is not None
        else servable_weight(replicas=n, available=new.available, wanted=weight, max_weight=total)
    )
    servable = canary_ready and servable_weight(
        replicas=n, available=stable.available, wanted=total - weight, max_weight=total
    )
    pointed = not strategy.canary_service or ctx.service_hash(strategy.canary_service) == ctx.new_hash
    if weight < ctx.canary_weight and pointed:
        _lower_weight(ctx, weight, stable_available=stable.available, canary_hash=ctx.new_hash)
    elif weight > ctx.canary_weight and servable and pointed:
        _set_weight(ctx, weight, canary_hash=ctx.new_hash)
    if weight != ctx.canary_weight:
        ctx.progress_message = f"waiting for pods to serve canary weight {weight}"
    return (
        _weight_verified(ctx, weight)
        and ctx.new_rs is not None
        and ctx.new_rs.replicas == new_target
        and new.available >= new_target
    )


def _weight_verified(ctx: Context, weight: int) -> bool:
    """The routed objects carry ``weight`` (read back, as Argo's VerifyWeight); unread: what was last sent."""
    actual = ctx.observed.traffic_weights
    if actual:
        return all(value == weight for value in actual)
    return ctx.observed.status.canary_weight == weight


def _basic_replicas(ctx: Context, strategy: CanaryStrategy, weight: int) -> bool:
    """Replica-weighted canary: move the counts one budget-limited stride; whether the weight is reached.

    Reached as Argo's ``AtDesiredReplicaCountsForCanary`` decides it: the stride has nothing left to move (the
    targets are the current counts), the canary's pods are all available, the stable's pods all exist (available
    or not: a crash-looping stable does not hold a step), and no older version has available pods.
    """
    n = ctx.replicas
    new = _counts(ctx.new_rs)
    stable = _counts(ctx.stable_rs)
    surge, max_unavailable = fence_posts(strategy.max_surge, strategy.max_unavailable, n)
    new_target, stable_target = basic_canary_targets(
        replicas=n,
        weight=weight,
        new=new,
        stable=stable,
        older_spec=ctx.older_spec(),
        max_surge=surge,
        max_unavailable=max_unavailable,
        max_weight=_max_weight(ctx),
    )
    ctx.ensure_new(new_target, strategy.canary_metadata)
    _scale_stable(ctx, stable_target)
    ctx.point(strategy.stable_service, ctx.stable_hash)
    if ctx.new_rs is not None:
        ctx.point(strategy.canary_service, ctx.new_hash)
    _retire_older(ctx, max_unavailable)
    # As Argo's AtDesiredReplicaCountsForCanary: nothing left to move, the canary's pods available, the stable's only
    # created (a stable that never became available, e.g. a broken first version, must not hold a good update).
    stable_pods = ctx.stable_rs.pods if ctx.stable_rs is not None else 0
    return (
        ctx.new_rs is not None
        and new.spec == new_target
        and new.available == new_target
        and stable.spec == stable_target
        and stable_pods == stable_target
        and all(rs.available == 0 for rs in ctx.older)
    )


def _stepping(ctx: Context, strategy: CanaryStrategy) -> None:
    steps = strategy.steps
    index = min(ctx.step_index or 0, len(steps))
    if ctx.full_promotion and index < len(steps):
        ctx.reason("promoteFull: skip the remaining steps")
        index = len(steps)
        ctx.pauses.clear()
        ctx.controller_pause = False
    ctx.step_index = index if steps else None
    background = strategy.analysis
    checks: list[tuple[AnalysisKind, int | None]] = [(AnalysisKind.STEP, index)] if index < len(steps) else []
    if background is not None:
        checks.append((AnalysisKind.BACKGROUND, None))
    failed = ctx.failed_run(checks) if not ctx.full_promotion else None
    if failed is not None:
        ctx.abort_for_failed_run(failed)
        _aborted(ctx, strategy)
        return

    weight = _desired_weight(strategy, index)
    if strategy.routed:
        at_target = _routed_replicas_and_weight(ctx, strategy, index, weight)
    else:
        at_target = _basic_replicas(ctx, strategy, weight)
    ctx.set_metadata(ctx.stable_rs, strategy.stable_metadata)

    _background(ctx, strategy, index)

    if index < len(steps) and steps[index].kind is StepKind.ANALYSIS:
        ctx.keep_run(AnalysisKind.STEP, index)  # a pause below holds the step; its analysis goes on
    if ctx.spec.paused:
        ctx.reason("spec.paused: holding at the current step")
        return
    others = sorted(set(ctx.pauses) - {CANARY_PAUSE})
    if others:
        ctx.reason("paused: " + ", ".join(others))
        return

    if index < len(steps):
        if _step_done(ctx, strategy, steps[index], index, at_target=at_target):
            ctx.step_index = index + 1
            ctx.controller_pause = False
            ctx.reason(f"step {index} ({steps[index].kind.value}) completed")
            ctx.event(
                "RolloutStepCompleted", f"Rollout step {index + 1}/{len(steps)} completed ({steps[index].kind.value})"
            )
        else:
            ctx.progress_message = ctx.progress_message or f"waiting for step {index} ({steps[index].kind.value})"
        return

    # Every step is done (or skipped): promote once the new version carries everything.
    if at_target:
        ctx.stable_hash = ctx.new_hash
        ctx.point(strategy.stable_service, ctx.new_hash)
        ctx.reason(f"promote {ctx.rs_name(ctx.new_hash)} to stable")
    else:
        ctx.progress_message = ctx.progress_message or "waiting for the new version to take over"


def _background(ctx: Context, strategy: CanaryStrategy, index: int) -> None:
    """Background analysis runs from ``startingStep`` until promotion; inconclusive pauses, a promote restarts it."""
    background = strategy.analysis
    if background is None or index < (background.starting_step or 0):
        return
    if ctx.full_promotion:  # as Argo: a full promotion runs no analysis (a started one is superseded with the update)
        ctx.reason("promoteFull: no background analysis")
        return
    phase = ctx.ensure_run(AnalysisKind.BACKGROUND, background)
    if phase is AnalysisPhase.INCONCLUSIVE:
        if ctx.pause_released():
            ctx.reason("inconclusive background analysis released: start a fresh run")
            ctx.supersede_runs_of(AnalysisKind.BACKGROUND)
        else:
            ctx.pause(INCONCLUSIVE_PAUSE)


def _pause_step(ctx: Context, step: CanaryStep) -> bool:
    """Whether the pause step is over: its duration elapsed, or the pause was released (promote)."""
    if ctx.pause_released():
        ctx.resume(CANARY_PAUSE)
        return True
    started = ctx.pauses.get(CANARY_PAUSE)
    if started is None:
        ctx.pause(CANARY_PAUSE)
        started = ctx.now
    if step.pause_duration is not None:
        end = started + step.pause_duration
        if ctx.now >= end:
            ctx.resume(CANARY_PAUSE)
            ctx.reason("timed pause elapsed")
            return True
        ctx.timer(end)
    return False


def _step_done(ctx: Context, strategy: CanaryStrategy, step: CanaryStep, index: int, *, at_target: bool) -> bool:
    if step.kind is StepKind.SET_WEIGHT:
        return at_target
    if step.kind is StepKind.PAUSE:
        return _pause_step(ctx, step)
    if step.kind is StepKind.SET_CANARY_SCALE:
        return at_target or not strategy.routed
    if step.kind is StepKind.ANALYSIS:
        assert step.analysis is not None
        return ctx.analysis_passed(AnalysisKind.STEP, step.analysis, index)
    assert step.route is not None
    ctx.actions.append(SetManagedRoute(route=step.route))
    return True
