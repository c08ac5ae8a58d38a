"""Replica arithmetic: how many pods each ReplicaSet should have. Pure integer functions, no Rollout objects.

Why a module of its own: these are the numbers users reason about ("10 replicas, setWeight 25: how many canary
pods?") and the ones the safety properties are about (pods never above ``replicas + maxSurge`` because of a
scale-up, a scale-down never taking available capacity below ``replicas - maxUnavailable``). Every function is
small, has worked examples, and is table-tested.

Conventions: a weight counts in units of ``max_weight`` (``trafficRouting.maxTrafficWeight``, 100 by default: a
percentage), so with ``max_weight`` 1000 a weight of 5 is 0.5%; ``spec`` is a ReplicaSet's ``spec.replicas`` (what
we asked for), ``available`` its ``status.availableReplicas``. A ReplicaSet that is scaled down deletes its
not-available pods first (the ReplicaSet controller ranks unready pods first).

The replica-weighted canary (:func:`basic_canary_targets`, :func:`weighted_counts`) computes what Argo Rollouts'
``CalculateReplicaCountsForBasicCanary`` computes, case for case (its unit-test table is ours too): a drop-in
controller must leave a cluster in the same state. Argo's rule for availability is one-sided: while the canary
grows, the stable's requested pods count as available (its not-available pods are replaced only as fast as canary
pods become available); while the canary shrinks (an abort), the canary's do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ReplicaCounts",
    "basic_canary_targets",
    "ceil_percent",
    "ceil_share",
    "dynamic_stable_target",
    "fence_posts",
    "lowest_servable_canary_weight",
    "old_replica_set_targets",
    "preview_target",
    "resolve_int_or_percent",
    "routed_canary_target",
    "servable_weight",
    "weighted_counts",
    "with_min_pods",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplicaCounts:
    """What one ReplicaSet asks for (``spec``) and has available; the planner's view for arithmetic."""

    spec: int
    available: int


def ceil_percent(total: int, percent: int) -> int:
    """``ceil(total * percent / 100)`` in integers: ``ceil_percent(10, 25) == 3``, ``ceil_percent(10, 0) == 0``."""
    return ceil_share(total, percent, 100)


def ceil_share(total: int, weight: int, max_weight: int) -> int:
    """``ceil(total * weight / max_weight)`` in integers: the pods a weight needs (Argo's ``trafficWeightToReplicas``).

    ``(10, 25, 100) -> 3``; ``(10, 5, 1000) -> 1`` (0.5% of 10 pods still needs one); ``(10, 0, 1000) -> 0``.
    """
    return -((-total * weight) // max_weight)


def with_min_pods(count: int, *, min_pods: int | None, replicas: int) -> int:
    """``minPodsPerReplicaSet``: a ReplicaSet that has pods has at least ``min_pods`` (capped at ``replicas``).

    Argo's ``CheckMinPodsPerReplicaSet``: ``(1, 2, 10) -> 2``; ``(0, 2, 10) -> 0`` (an empty side stays empty);
    ``(1, 5, 3) -> 3``; ``(4, 2, 10) -> 4``; without ``min_pods`` the count is unchanged.
    """
    if count == 0 or min_pods is None:
        return count
    return max(count, min(min_pods, replicas))


def resolve_int_or_percent(value: int | str, total: int, *, round_up: bool) -> int:
    """An ``intstr`` (``3`` or ``"25%"``) resolved against ``total``, Kubernetes' way.

    Percentages round up for surge and down for unavailability: ``("25%", 10, up) -> 3``, ``("25%", 10, down) -> 2``,
    ``("25%", 1, up) -> 1``, ``("25%", 1, down) -> 0``, ``(2, 10, *) -> 2``. Plain digit strings (``"2"``) are counts.
    """
    if isinstance(value, int):
        return value
    if value.endswith("%"):
        percent = int(value[:-1])
        return ceil_percent(total, percent) if round_up else (total * percent) // 100
    return int(value)


def fence_posts(max_surge: int | str, max_unavailable: int | str, replicas: int) -> tuple[int, int]:
    """``(surge, unavailable)`` for ``replicas``: both zero would deadlock, so unavailable becomes 1 then.

    Unavailable never exceeds ``replicas``. Examples with 25%/25%: 10 -> (3, 2); 4 -> (1, 1); 1 -> (1, 0);
    with 0/0 (refused by the schema, still handled): 5 -> (0, 1); with 0/"100%": 3 -> (0, 3).
    """
    surge = resolve_int_or_percent(max_surge, replicas, round_up=True)
    unavailable = resolve_int_or_percent(max_unavailable, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def weighted_counts(replicas: int, weight: int, *, max_surge: int, max_weight: int = 100) -> tuple[int, int]:
    """``(canary, stable)`` pods closest to ``weight`` (of ``max_weight``): Argo's replica-weighted approximation.

    The canary count is ``floor`` or ``ceil`` of ``replicas * weight / max_weight`` and the two counts add up to
    ``replicas`` or, when ``max_surge`` allows one pod more, ``replicas + 1``: of the candidates, the one whose canary
    share ``canary / total`` is closest to the weight wins (the first listed on a tie: ceil before floor, ``replicas``
    before ``replicas + 1``). Rules that shape the candidates:

    - at weights strictly between 0 and ``max_weight`` neither side is left empty when there is room for two pods
      (a canary of 0 is only allowed for one replica without surge; a canary of ``replicas`` needs the surge pod);
    - when ``replicas * weight / max_weight`` ends in exactly .5 the floor is not a candidate (a tie rounds up).

    Examples: 10 @ 20, surge 1 -> (2, 8); 10 @ 25, surge 1 -> (3, 8) (3/11 is closer to 25% than 3/10 or 2/11);
    10 @ 25, surge 0 -> (3, 7); 10 @ 33, surge 1 -> (3, 7); 10 @ 1, surge 1 -> (1, 10); 10 @ 99, surge 0 -> (9, 1);
    3 @ 50, surge 0 -> (2, 1); 1 @ 49, surge 0 -> (0, 1); 1 @ 50, surge 0 -> (1, 0); 1 @ 5, surge 1 -> (1, 1);
    0 @ anything -> (0, 0). One corner has no candidate at all and keeps everything on the stable, as Argo does:
    2 @ 75, surge 0 -> (0, 2) (1.5 is a tie, so 1 is out, and 2 would empty the stable).
    """
    if replicas == 0:
        return 0, 0
    share = replicas * weight
    floor, ceil = share // max_weight, -(-share // max_weight)
    zero_allowed = weight in {0, max_weight} or (replicas == 1 and max_surge == 0)

    def tie(total: int) -> bool:  # total * weight / max_weight ends in exactly .5
        return (2 * total * weight) % (2 * max_weight) == max_weight

    candidates: list[tuple[int, int]] = []  # (canary, total)
    if ceil < replicas or zero_allowed:
        candidates.append((ceil, replicas))
    if not tie(replicas) and (floor != 0 or zero_allowed):
        candidates.append((floor, replicas))
    if max_surge > 0:
        candidates.append((ceil, replicas + 1))
        if not tie(replicas + 1) and (floor != 0 or zero_allowed):
            candidates.append((floor, replicas + 1))
    if not candidates:
        return 0, replicas
    best = candidates[0]
    for candidate in candidates[1:]:
        if _closer(candidate, best, weight, max_weight):
            best = candidate
    canary, total = best
    return canary, total - canary


def _closer(a: tuple[int, int], b: tuple[int, int], weight: int, max_weight: int) -> bool:
    """Whether canary share ``a`` (``(canary, total)``) is strictly closer to ``weight`` than ``b``, exactly:
    ``|ca·M/ta - w| < |cb·M/tb - w|`` multiplied out by ``ta·tb``."""
    (ca, ta), (cb, tb) = a, b
    return abs(ca * max_weight - weight * ta) * tb < abs(cb * max_weight - weight * tb) * ta


def basic_canary_targets(
    *,
    replicas: int,
    weight: int,
    new: ReplicaCounts | None,
    stable: ReplicaCounts | None,
    older_spec: int,
    max_surge: int,
    max_unavailable: int,
    max_weight: int = 100,
) -> tuple[int, int]:
    """``(new, stable)`` replica targets for one reconcile of a replica-weighted canary (no traffic router).

    Argo's ``CalculateReplicaCountsForBasicCanary``, step by step. ``new`` is None while there is no new ReplicaSet,
    ``stable`` None when there is no stable one apart from the new one; ``older_spec`` sums ``spec`` over every other
    ReplicaSet.

    1. Desired counts: :func:`weighted_counts`; without a stable, the new one wants ``replicas`` (no steps).
    2. Scale-up, stable first: the sum of ``spec`` over every ReplicaSet may grow up to ``replicas + max_surge``.
    3. While older ReplicaSets have replicas, nothing is scaled down here: they make room first.
    4. Scale-down, one side only, as far as ``replicas - max_unavailable`` allows. The canary *increasing* (its
       desired count at least its ``spec``) drains the stable, counting the stable's ``spec`` as if it were
       available and the canary's available pods as they are; *decreasing* (an abort, a lower weight) drains the
       canary the same way with the roles swapped. A side's ``spec`` below its available count counts as ``spec``.
    5. The other side gives back what exceeds ``replicas + max_surge``, but only as far as the available pods left
       on both sides stay at the floor; the drained side gives back the rest.

    The consequences users see: not-available stable pods are only removed as the canary's pods become available,
    so a canary that never becomes available stays at what the surge allows and the stable keeps its pods (the
    progress deadline reports it); a stable whose pods are all down can still be replaced by a canary that comes up.

    Examples (new 0/0, stable 10/10, no older):
    - 10 @ 10, surge 1, unavailable 1 -> (1, 9): one canary pod fits the surge; one stable pod may go.
    - 10 @ 30, surge 3, unavailable 0 -> (3, 10): canary grows into the surge; no stable pod may go yet.
    - 10 @ 30, surge 0, unavailable 5 -> (0, 7): no room to add; three stable pods may go first.
    - 1 @ 5, surge 1, unavailable 0 -> (1, 1).
    Stable 4/0 (crash-looping), surge 1, unavailable 0, weight 100: new 0/0 -> (1, 4); new 1/0 -> (1, 4) (stuck
    until the canary's pod is available); new 1/1 -> (1, 3); aborting with new 4/4, stable 1/1 -> (3, 1).
    """
    if stable is None:
        desired_new, desired_stable = replicas, 0
    else:
        desired_new, desired_stable = weighted_counts(replicas, weight, max_surge=max_surge, max_weight=max_weight)
    new_target = new.spec if new is not None else 0
    stable_target = stable.spec if stable is not None else 0
    ceiling = replicas + max_surge
    room = ceiling - (older_spec + new_target + stable_target)
    if stable is not None and room > 0 and stable_target < desired_stable:
        added = min(room, desired_stable - stable_target)
        stable_target += added
        room -= added
    if new is not None and room > 0 and new_target < desired_new:
        new_target = min(new_target + room, desired_new)
    if older_spec > 0:
        return new_target, stable_target  # older versions make room first
    floor = replicas - max_unavailable
    increasing = new is None or desired_new >= new.spec
    countable = _countable(new, as_spec=not increasing) + _countable(stable, as_spec=increasing)
    if countable <= floor:
        return new_target, stable_target
    surplus = countable - floor
    if not increasing:
        new_target = _drain(new, desired_new, surplus, new_target)
        new_target, stable_target = _within_surge(new, stable, new_target, stable_target, ceiling=ceiling, floor=floor)
    elif stable is not None:
        stable_target = _drain(stable, desired_stable, surplus, stable_target)
        stable_target, new_target = _within_surge(stable, new, stable_target, new_target, ceiling=ceiling, floor=floor)
    return new_target, stable_target


def _countable(counts: ReplicaCounts | None, *, as_spec: bool) -> int:
    """Pods a side counts for the availability floor (Argo's ``GetReplicasForScaleDown``): its ``spec`` when its
    availability is ignored (``as_spec``) or when it is already scaling down (``spec`` below available), else its
    available pods. ``(4/0, as_spec) -> 4``; ``(4/0) -> 0``; ``(3/5) -> 3``; ``(5/3) -> 3``."""
    if counts is None:
        return 0
    if as_spec or counts.spec < counts.available:
        return counts.spec
    return counts.available


def _drain(counts: ReplicaCounts | None, desired: int, surplus: int, target: int) -> int:
    """The drained side moves down towards ``desired`` by at most ``surplus`` (``calculateScaleDownReplicaCount``)."""
    if counts is not None and counts.spec > desired:
        return max(desired, counts.spec - surplus)
    return target


def _within_surge(
    drained: ReplicaCounts | None,
    other: ReplicaCounts | None,
    drained_target: int,
    other_target: int,
    *,
    ceiling: int,
    floor: int,
) -> tuple[int, int]:
    """Bring the two targets back under ``ceiling`` (Argo's ``adjustReplicaWithinLimits``): ``other`` gives back
    the excess, keeping back what the floor needs of its available pods; ``drained`` gives back whatever remains.

    Drained new 4/4 -> 3 with stable 1/1 -> 1, ceiling 5, floor 4: nothing over -> (3, 1). Drained stable 10/2 -> 2
    with new 10/8 -> 10, ceiling 11, floor 10: 1 over, new gives it back -> (2, 9).
    """
    if other is None:
        return drained_target, other_target
    over = max(0, other_target + drained_target - ceiling)
    other_target -= over
    available = min(drained.available, drained_target) if drained is not None else 0
    available += min(other.available, other_target)
    lost = max(0, other.available - other_target)
    other_target += min(lost, max(0, floor - available))
    drained_target -= max(0, other_target + drained_target - ceiling)
    return drained_target, other_target


def old_replica_set_targets(
    *, replicas: int, max_unavailable: int, total_available: int, old: Sequence[ReplicaCounts]
) -> list[int]:
    """Targets for ReplicaSets being retired (oldest first), keeping ``replicas - max_unavailable`` available.

    Unavailable pods are always free to remove; available ones only while the total stays at the minimum.
    Examples: replicas 10, unavailable 2, total available 12, old [5/5] -> [1]; old [5/2] with total 9 -> [1]
    (three broken pods go, one healthy pod may go); total 8 -> old [4/4] -> [4].
    """
    budget = max(0, total_available - (replicas - max_unavailable))
    targets: list[int] = []
    for counts in old:
        healthy = min(counts.available, counts.spec)
        cut = min(healthy, budget)
        budget -= cut
        targets.append(healthy - cut)
    return targets


def routed_canary_target(
    *,
    replicas: int,
    weight: int,
    scale_weight: int | None,
    scale_replicas: int | None,
    max_weight: int = 100,
    min_pods: int | None = None,
) -> int:
    """Canary pods when a traffic router splits traffic: enough for ``weight`` unless ``setCanaryScale`` says else.

    10 @ 25 -> 3; 10 @ 5 of 1000 -> 1; setCanaryScale weight 50 -> 5 whatever the traffic weight; setCanaryScale
    replicas 2 -> 2 (an explicit count, never raised by ``min_pods``); 10 @ 5 with min_pods 3 -> 3.
    """
    if scale_replicas is not None:
        return scale_replicas
    share = weight if scale_weight is None else scale_weight
    return with_min_pods(ceil_share(replicas, share, max_weight), min_pods=min_pods, replicas=replicas)


def servable_weight(*, replicas: int, available: int, wanted: int, max_weight: int = 100) -> bool:
    """Whether ``available`` pods can serve ``wanted`` (of ``max_weight``) of the traffic of a ``replicas``-sized app.

    A weight is servable when the pods it needs by :func:`ceil_share` are available: 10 replicas, 3 available ->
    25 yes (needs 3), 30 yes (3), 31 no (4); with max_weight 1000, 1 available -> 100 yes, 101 no. Weight 0 is
    always servable.
    """
    return wanted <= 0 or available >= ceil_share(replicas, wanted, max_weight)


def lowest_servable_canary_weight(*, replicas: int, stable_available: int, target: int, max_weight: int = 100) -> int:
    """The lowest canary weight, at least ``target``, whose rest (``max_weight - w``) the stable pods can serve.

    Moving the canary weight down only moves as far as the stable's available pods allow; this solves
    ``servable_weight(max_weight - w)`` for the smallest ``w`` directly (a scan over weights would take a million
    steps with ``maxTrafficWeight`` 1000000). 10 replicas, 7 stable available, target 0 -> 30; 10 available -> 0;
    with max_weight 1000 and 7 available -> 300; 0 replicas -> ``target``.
    """
    if replicas <= 0:
        return target
    # servable(max - w)  <=>  replicas * (max - w) <= available * max  <=>  w >= max - floor(available * max / replicas)
    return max(target, max_weight - (stable_available * max_weight) // replicas)


def dynamic_stable_target(
    *, replicas: int, canary_weight: int, max_weight: int = 100, min_pods: int | None = None
) -> int:
    """Stable pods under ``dynamicStableScale``: what the traffic still sent to stable needs (10 @ 30 -> 7;
    10 @ 995 of 1000 -> 1; with min_pods 2 -> 2)."""
    return with_min_pods(
        ceil_share(replicas, max_weight - canary_weight, max_weight), min_pods=min_pods, replicas=replicas
    )


def preview_target(*, replicas: int, preview_replica_count: int | None, scale_up: bool) -> int:
    """Blue-green preview pods: ``previewReplicaCount`` before promotion starts, ``replicas`` once it does.

    10 with previewReplicaCount 2 -> 2 (scale_up False) or 10 (True); without previewReplicaCount -> 10. Never more
    than ``replicas``.
    """
    if scale_up or preview_replica_count is None:
        return replicas
    return min(preview_replica_count, replicas)
