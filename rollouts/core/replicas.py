"""Replica arithmetic: how many pods each ReplicaSet should have. Pure integer functions, no Rollout objects.

Why a module of its own: these are the numbers users reason about ("10 replicas, setWeight 25: how many canary
pods?") and the ones the safety properties are about (capacity never below ``replicas - maxUnavailable``, pods never
above ``replicas + maxSurge``). Every function is small, has worked examples, and is table-tested.

Conventions: a weight counts in units of ``max_weight`` (``trafficRouting.maxTrafficWeight``, 100 by default: a
percentage), so with ``max_weight`` 1000 a weight of 5 is 0.5%; ``spec`` is a ReplicaSet's ``spec.replicas`` (what
we asked for), ``available`` its ``status.availableReplicas``. A ReplicaSet that is scaled down deletes its
not-available pods first (the ReplicaSet controller ranks unready pods first), which is what makes "count the
unavailable ones as free to remove" safe.
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

    @property
    def unavailable(self) -> int:
        """Pods asked for that are not available (free to remove without losing capacity)."""
        return max(0, self.spec - self.available)


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


def weighted_counts(replicas: int, weight: int) -> tuple[int, int]:
    """``(canary, stable)`` pods for a replica-based weight; both round up so neither side is empty at 1..99.

    10 @ 25 -> (3, 8) (one pod of extra surge); 10 @ 50 -> (5, 5); 1 @ 5 -> (1, 1); 4 @ 0 -> (0, 4); 4 @ 100 -> (4, 0).
    """
    return ceil_percent(replicas, weight), ceil_percent(replicas, 100 - weight)


def basic_canary_targets(
    *,
    replicas: int,
    weight: int,
    new: ReplicaCounts,
    stable: ReplicaCounts | None,
    older_spec: int,
    max_surge: int,
    max_unavailable: int,
) -> tuple[int, int]:
    """``(new, stable)`` replica targets for one reconcile of a replica-weighted canary (no traffic router).

    Moves towards :func:`weighted_counts` within two budgets: the sum of ``spec`` over every ReplicaSet stays at most
    ``replicas + max_surge`` (plus one when the weight does not divide ``replicas`` evenly, because both sides round
    up), and available capacity stays at least ``replicas - max_unavailable``. The stable is scaled up before the
    canary (capacity first); older ReplicaSets are scaled down before the new or stable one is. Without a stable
    ReplicaSet the new one simply goes to ``replicas``.

    Unlike Argo, availability is never traded for progress: not-available pods are always removable, but a canary
    whose pods never become available cannot push the stable below the floor (the progress deadline reports it).

    Examples (new 0/0, stable 10/10, no older):
    - 10 @ 10, surge 1, unavailable 1 -> (1, 9): one canary pod fits the surge; one stable pod may go.
    - 10 @ 30, surge 3, unavailable 0 -> (3, 10): canary grows into the surge; no stable pod may go yet.
    - 10 @ 30, surge 0, unavailable 5 -> (0, 7): no room to add; three stable pods may go first.
    - 1 @ 5, surge 1, unavailable 0 -> (1, 1).
    """
    if stable is None:
        return replicas, 0
    desired_new, desired_stable = weighted_counts(replicas, weight)
    extra = 1 if (replicas * weight) % 100 else 0
    room = replicas + max_surge + extra - (new.spec + stable.spec + older_spec)
    new_target, stable_target = new.spec, stable.spec
    if room > 0 and stable_target < desired_stable:
        added = min(room, desired_stable - stable_target)
        stable_target += added
        room -= added
    if room > 0 and new_target < desired_new:
        new_target += min(room, desired_new - new_target)
    if older_spec > 0:
        return new_target, stable_target  # older versions make room first
    # Scale-down: not-available pods are free to remove; available ones only down to the floor.
    budget = min(new.available, new.spec) + min(stable.available, stable.spec) - (replicas - max_unavailable)
    if new.spec > desired_new:
        new_target, budget = _shrink(new, desired_new, budget)
    if stable.spec > desired_stable:
        stable_target, budget = _shrink(stable, desired_stable, budget)
    return new_target, stable_target


def _shrink(counts: ReplicaCounts, desired: int, budget: int) -> tuple[int, int]:
    """Scale ``counts`` towards ``desired``: unavailable pods go for free, available ones spend ``budget``."""
    free = counts.unavailable
    cut = min(counts.spec - desired, free + max(0, budget))
    return counts.spec - cut, budget - max(0, cut - free)


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
