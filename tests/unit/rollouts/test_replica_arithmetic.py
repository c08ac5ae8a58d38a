"""Replica arithmetic: Argo's rounding and budgets, by table and by property."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.core.replicas import (
    ReplicaCounts,
    basic_canary_targets,
    ceil_percent,
    dynamic_stable_target,
    fence_posts,
    old_replica_set_targets,
    preview_target,
    resolve_int_or_percent,
    routed_canary_target,
    servable_weight,
    weighted_counts,
)


@pytest.mark.parametrize(
    ("value", "total", "up", "expected"),
    [
        ("25%", 10, True, 3),
        ("25%", 10, False, 2),
        ("25%", 1, True, 1),
        ("25%", 1, False, 0),
        ("0%", 7, True, 0),
        ("100%", 7, False, 7),
        (2, 10, True, 2),
        ("3", 10, False, 3),
    ],
)
def test_int_or_percent_rounds_surge_up_and_unavailable_down(
    value: int | str, total: int, up: bool, expected: int
) -> None:
    assert resolve_int_or_percent(value, total, round_up=up) == expected


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        ("25%", "25%", 10, (3, 2)),
        ("25%", "25%", 4, (1, 1)),
        ("25%", "25%", 1, (1, 0)),
        (0, 0, 5, (0, 1)),  # both zero would never move: unavailable becomes 1
        ("0%", "0%", 5, (0, 1)),
        (0, "100%", 3, (0, 3)),
        (1, 20, 3, (1, 3)),  # unavailable capped at replicas
        ("25%", "25%", 0, (0, 0)),
    ],
)
def test_fence_posts(surge: int | str, unavailable: int | str, replicas: int, expected: tuple[int, int]) -> None:
    assert fence_posts(surge, unavailable, replicas) == expected


# Argo's TestApproximateWeightedNewStableReplicaCounts (utils/replicaset/canary_test.go), every row:
# (replicas, weight, max surge) -> (canary, stable), max weight 100.
APPROXIMATIONS = [
    *[((0, w, s), (0, 0)) for s in (0, 1) for w in (0, 50, 100)],
    ((1, 0, 0), (0, 1)),
    ((1, 1, 0), (0, 1)),
    ((1, 49, 0), (0, 1)),
    ((1, 50, 0), (1, 0)),
    ((1, 99, 0), (1, 0)),
    ((1, 100, 0), (1, 0)),
    ((1, 0, 1), (0, 1)),
    ((1, 1, 1), (1, 1)),
    ((1, 49, 1), (1, 1)),
    ((1, 50, 1), (1, 1)),
    ((1, 99, 1), (1, 1)),
    ((1, 100, 1), (1, 0)),
    ((2, 0, 0), (0, 2)),
    ((2, 1, 0), (1, 1)),
    ((2, 50, 0), (1, 1)),
    ((2, 99, 0), (1, 1)),
    ((2, 100, 0), (2, 0)),
    ((2, 0, 1), (0, 2)),
    ((2, 1, 1), (1, 2)),
    ((2, 50, 1), (1, 1)),
    ((2, 99, 1), (2, 1)),
    ((2, 100, 1), (2, 0)),
    ((3, 10, 0), (1, 2)),
    ((3, 25, 0), (1, 2)),
    ((3, 33, 0), (1, 2)),
    ((3, 34, 0), (1, 2)),
    ((3, 49, 0), (1, 2)),
    ((3, 50, 0), (2, 1)),
    ((3, 10, 1), (1, 3)),
    ((3, 25, 1), (1, 3)),
    ((3, 33, 1), (1, 2)),
    ((3, 34, 1), (1, 2)),
    ((3, 49, 1), (2, 2)),
    ((3, 50, 1), (2, 2)),
    ((10, 0, 1), (0, 10)),
    ((10, 1, 0), (1, 9)),
    ((10, 14, 0), (1, 9)),
    ((10, 15, 0), (2, 8)),
    ((10, 16, 0), (2, 8)),
    ((10, 99, 0), (9, 1)),
    ((10, 100, 1), (10, 0)),
    ((10, 1, 1), (1, 10)),
    ((10, 18, 1), (2, 9)),
    ((10, 19, 1), (2, 9)),
    ((10, 20, 1), (2, 8)),
    ((10, 23, 1), (2, 8)),
    ((10, 24, 1), (3, 8)),
    ((10, 25, 1), (3, 8)),
    ((10, 99, 1), (10, 1)),
]


@pytest.mark.parametrize(("given_", "expected"), APPROXIMATIONS)
def test_weighted_counts_match_argos_approximation(given_: tuple[int, int, int], expected: tuple[int, int]) -> None:
    replicas, weight, surge = given_
    assert weighted_counts(replicas, weight, max_surge=surge) == expected


@pytest.mark.parametrize(
    ("replicas", "weight", "max_weight", "surge", "expected"),
    [
        (10, 25, 100, 0, (3, 7)),  # 2.5 is a tie: rounds up
        (10, 33, 100, 1, (3, 7)),  # 3/10 beats 4/10, 4/11 and 3/11
        (2, 75, 100, 0, (0, 2)),  # no candidate (1.5 ties, 2 would empty the stable): everything stays on stable
        (10, 5, 1000, 1, (1, 10)),  # 0.5% of 10: one canary pod, the stable keeps 10 within the surge
        (10, 250, 1000, 1, (3, 8)),  # the same as 25 of 100
    ],
)
def test_weighted_counts_corners(
    replicas: int, weight: int, max_weight: int, surge: int, expected: tuple[int, int]
) -> None:
    assert weighted_counts(replicas, weight, max_surge=surge, max_weight=max_weight) == expected


def _argo_float_approximation(replicas: int, weight: int, max_weight: int, surge: int) -> tuple[int, int]:
    """Argo's ``approximateWeightedCanaryStableReplicaCounts`` as Go computes it, in float64 (Go's ``math.Modf``
    is Python's ``math.modf`` with the parts swapped): the reference our exact integer version is checked against."""
    if replicas == 0:
        return 0, 0
    ratio = float(replicas * weight) / float(max_weight)
    ceil, floor = math.ceil(ratio), math.floor(ratio)

    def tie(total: int) -> bool:
        fraction, _ = math.modf(float(total) * (float(weight) / float(max_weight)))
        return fraction == 0.5

    zero_allowed = weight in {0, max_weight} or (replicas == 1 and surge == 0)
    options = []
    if ceil < replicas or zero_allowed:
        options.append((ceil, replicas))
    if not tie(replicas) and (floor != 0 or zero_allowed):
        options.append((floor, replicas))
    if surge > 0:
        options.append((ceil, replicas + 1))
        if not tie(replicas + 1) and (floor != 0 or zero_allowed):
            options.append((floor, replicas + 1))
    if not options:
        return 0, replicas

    def delta(option: tuple[int, int]) -> float:
        return abs(float(option[0] * max_weight) / float(option[1]) - float(weight))

    best = options[0]
    for option in options[1:]:
        if delta(option) < delta(best):
            best = option
    return best[0], best[1] - best[0]


@given(
    st.integers(0, 200),
    st.sampled_from([100, 1000, 10_000, 3, 7]).flatmap(lambda m: st.tuples(st.just(m), st.integers(0, m))),
    st.integers(0, 3),
)
def test_weighted_counts_equal_argos_float_computation(replicas: int, weighted: tuple[int, int], surge: int) -> None:
    """Our comparisons are exact (integers); Argo's are float64. They agree (a sweep of every weight for 0..120
    replicas at these maximum weights found no difference either)."""
    max_weight, weight = weighted
    assert weighted_counts(replicas, weight, max_surge=surge, max_weight=max_weight) == _argo_float_approximation(
        replicas, weight, max_weight, surge
    )


def _rs(spec: int, available: int | None = None) -> ReplicaCounts:
    return ReplicaCounts(spec=spec, available=spec if available is None else available)


# Argo's TestCalculateReplicaCountsForCanary, every row without trafficRouting (those are CalculateReplicaCountsFor-
# TrafficRoutedCanary's), plus TestCalculateReplicaCountsForNewDeployment / ...StableRSdEdgeCases and the worked
# examples of CalculateReplicaCountsForBasicCanary's comment. maxSurge / maxUnavailable as written in the Rollout;
# a promoteFull row has weight 100 (Argo's GetCanaryReplicasOrWeight ignores setWeight then).
# (name, replicas, weight, maxSurge, maxUnavailable, new, stable, older spec) -> (new, stable)
Case = tuple[str, int, int, int | str, int | str, ReplicaCounts | None, ReplicaCounts | None, int, tuple[int, int]]
ARGO_BASIC_CANARY: list[Case] = [
    ("do not add extra RSs in scaleDownCount when spec < available", 10, 100, 3, 0, _rs(6, 3), _rs(7, 8), 0, (6, 7)),
    ("use max surge int to scale up canary", 10, 20, 2, 0, _rs(0), _rs(10), 0, (2, 10)),
    ("use max surge percentage to scale up canary", 10, 20, "20%", 0, _rs(0), _rs(10), 0, (2, 10)),
    ("scale down extra stable replicas", 10, 20, "20%", 0, _rs(2), _rs(10), 0, (2, 8)),
    ("do not go past max surge", 10, 30, 2, 0, _rs(0), _rs(10), 0, (2, 10)),
    ("use max unavailable int to scale down stableRS", 10, 20, 0, 2, _rs(0), _rs(10), 0, (0, 8)),
    ("use max unavailable percentage to scale down stableRS", 10, 20, 0, "20%", _rs(0), _rs(10), 0, (0, 8)),
    ("do not go past max unavailable", 10, 30, 0, 2, _rs(0), _rs(10), 0, (0, 8)),
    ("use max surge and max unavailable", 10, 50, 2, 1, _rs(0), _rs(10), 0, (2, 9)),
    ("scale canaryRS to zero on setWeight of 0%", 10, 0, 1, 1, _rs(1), _rs(10), 0, (0, 10)),
    ("scale stable to zero on setWeight of 100%", 10, 100, 1, 1, _rs(10), _rs(1), 0, (10, 0)),
    ("do not scale canaryRS down to zero on non-zero weight", 1, 20, 1, 0, _rs(0), _rs(1), 0, (1, 1)),
    ("do not scale canaryRS down to zero on non-100 weight", 1, 90, 1, 0, _rs(0), _rs(1), 0, (1, 1)),
    ("scale canaryRS to zero on <50 weight without surge", 1, 49, 0, 1, _rs(0), _rs(1), 0, (0, 1)),
    ("scale stableRS down to zero on >=50 weight without surge", 1, 51, 0, 1, _rs(0), _rs(1), 0, (0, 0)),
    ("scale canaryRS to one on >=50 weight without surge and stable", 1, 51, 0, 1, _rs(0), _rs(0), 0, (1, 0)),
    ("scale up stable before canaryRS", 10, 30, 1, 0, _rs(0), _rs(1), 3, (1, 7)),
    ("scale down canaryRS and stable", 10, 30, 0, 3, _rs(4), _rs(8, 5), 0, (3, 7)),
    ("scale down stable and canary available", 10, 100, 1, 0, _rs(10, 8), _rs(10, 2), 0, (9, 2)),
    ("older RSs with replicas: no scale-down of canaryRS or stable", 10, 30, 0, 1, _rs(4, 2), _rs(8, 6), 3, (4, 8)),
    ("do not round past maxSurge with uneven setWeight divisor", 10, 5, 0, 1, _rs(0), _rs(10), 0, (0, 9)),
    ("do not round past maxSurge with uneven setWeight divisor (part 2)", 10, 5, 0, 1, _rs(0), _rs(9), 0, (1, 9)),
    ("use maxUnavailable of 1 when both percentages resolve to 0", 10, 10, "0%", "0%", _rs(0), _rs(10), 0, (0, 9)),
    ("ignore setCanaryScale without trafficRouting: use setWeight", 10, 20, "20%", 0, _rs(0), _rs(10), 0, (2, 10)),
    ("honor maxSurge during scale up when stableRS unavailable", 4, 100, 1, 0, _rs(0), _rs(4, 1), 0, (1, 4)),
    ("scale down to maxUnavailable without exceeding maxSurge", 3, 99, 0, 2, _rs(0), _rs(3), 0, (0, 1)),
    ("scale down to maxUnavailable without exceeding maxSurge (part 2)", 3, 99, 0, 2, _rs(0), _rs(1), 0, (2, 1)),
    ("honor maxUnavailable during scale down stableRS unavailable", 4, 100, 1, 0, _rs(1), _rs(4, 1), 0, (1, 3)),
    ("honor maxUnavailable when aborting or reducing weight part 1", 4, 0, 1, 0, _rs(4), _rs(0), 0, (4, 1)),
    ("honor maxUnavailable when aborting or reducing weight part 2", 4, 0, 1, 0, _rs(4), _rs(1, 0), 0, (4, 1)),
    ("honor maxUnavailable when aborting or reducing weight part 3", 4, 0, 1, 0, _rs(4), _rs(1), 0, (3, 1)),
    ("promote full does not consider weight", 4, 100, 4, 4, _rs(0), _rs(4), 0, (4, 0)),
    ("promote full still honors maxSurge/maxUnavailable", 4, 100, 3, 0, _rs(0), _rs(4), 0, (3, 4)),
    ("new deployment: the stable is the new RS", 10, 10, 0, 1, _rs(10, 0), None, 0, (10, 0)),
    ("stable RS edge cases: no stable (or the new one)", 10, 10, 0, 1, _rs(9), None, 0, (10, 0)),
    # The worked examples in CalculateReplicaCountsForBasicCanary's comment. One is stale there: it says 10 @ 5,
    # surge 1, unavailable 1 -> (1, 9), but the function (approximation (1, 10) since 1/11 beats 1/10) gives (1, 10).
    ("comment: 10 @ 10, unavailable 1, surge 1", 10, 10, 1, 1, _rs(0), _rs(10), 0, (1, 9)),
    ("comment: 10 @ 30, unavailable 0, surge 3", 10, 30, 3, 0, _rs(0), _rs(10), 0, (3, 10)),
    ("comment: 10 @ 30, unavailable 5, surge 0", 10, 30, 0, 5, _rs(0), _rs(10), 0, (0, 7)),
    ("comment: 10 @ 5, unavailable 1, surge 1", 10, 5, 1, 1, _rs(0), _rs(10), 0, (1, 10)),
    ("comment: 1 @ 5, unavailable 0, surge 1", 1, 5, 1, 0, _rs(0), _rs(1), 0, (1, 1)),
    ("comment: 1 @ 95, unavailable 0, surge 1", 1, 95, 1, 0, _rs(0), _rs(1), 0, (1, 1)),
]


@pytest.mark.parametrize(
    ("replicas", "weight", "surge", "unavailable", "new", "stable", "older", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in ARGO_BASIC_CANARY],
)
def test_basic_canary_targets_match_argo(
    *,
    replicas: int,
    weight: int,
    surge: int | str,
    unavailable: int | str,
    new: ReplicaCounts | None,
    stable: ReplicaCounts | None,
    older: int,
    expected: tuple[int, int],
) -> None:
    max_surge, max_unavailable = fence_posts(surge, unavailable, replicas)
    got = basic_canary_targets(
        replicas=replicas,
        weight=weight,
        new=new,
        stable=stable,
        older_spec=older,
        max_surge=max_surge,
        max_unavailable=max_unavailable,
    )
    assert got == expected


@pytest.mark.parametrize(
    ("replicas", "weight", "surge", "new", "stable", "expected"),
    [
        # Argo e2e TestRolloutBadToBadUpdate / BadToGoodUpdate, replicas 4, maxSurge 1, maxUnavailable 0, the stable's
        # 4 pods crash-looping: one canary pod within the surge, then nothing until it becomes available.
        (4, 100, 1, _rs(0), _rs(4, 0), (1, 4)),
        (4, 100, 1, _rs(1, 0), _rs(4, 0), (1, 4)),  # bad to bad: stays here
        (4, 100, 1, _rs(1, 1), _rs(4, 0), (1, 3)),  # bad to good: an available canary pod replaces a stable pod
        (4, 100, 1, _rs(1, 1), _rs(3, 0), (2, 3)),
        (4, 100, 1, _rs(2, 2), _rs(3, 0), (2, 2)),
        (4, 100, 1, _rs(4, 4), _rs(0, 0), (4, 0)),
        # Canary pods not yet available: the stable may not shrink below the floor.
        (10, 30, 3, _rs(3, 0), _rs(10), (3, 10)),
        (10, 30, 3, _rs(3, 3), _rs(10), (3, 7)),
    ],
)
def test_basic_canary_with_unavailable_pods(
    *, replicas: int, weight: int, surge: int, new: ReplicaCounts, stable: ReplicaCounts, expected: tuple[int, int]
) -> None:
    got = basic_canary_targets(
        replicas=replicas, weight=weight, new=new, stable=stable, older_spec=0, max_surge=surge, max_unavailable=0
    )
    assert got == expected


@st.composite
def canary_situations(draw: st.DrawFn) -> dict[str, object]:
    replicas = draw(st.integers(0, 30))
    surge, unavailable = fence_posts(
        draw(st.one_of(st.integers(0, 5), st.sampled_from(["0%", "10%", "25%", "50%", "100%"]))),
        draw(st.one_of(st.integers(0, 5), st.sampled_from(["0%", "10%", "25%", "50%", "100%"]))),
        replicas,
    )
    new_spec = draw(st.integers(0, replicas + surge))
    stable_spec = draw(st.integers(0, replicas + surge))
    return {
        "replicas": replicas,
        "weight": draw(st.integers(0, 100)),
        "new": _rs(new_spec, draw(st.integers(0, new_spec))),
        "stable": _rs(stable_spec, draw(st.integers(0, stable_spec))),
        "max_surge": surge,
        "max_unavailable": unavailable,
    }


@given(canary_situations())
def test_basic_canary_never_adds_beyond_surge_nor_removes_below_the_floor(case: dict[str, object]) -> None:
    new, stable = case["new"], case["stable"]
    assert isinstance(new, ReplicaCounts)
    assert isinstance(stable, ReplicaCounts)
    replicas, weight = int(str(case["replicas"])), int(str(case["weight"]))
    surge, unavailable = int(str(case["max_surge"])), int(str(case["max_unavailable"]))
    new_t, stable_t = basic_canary_targets(
        replicas=replicas,
        weight=weight,
        new=new,
        stable=stable,
        older_spec=0,
        max_surge=surge,
        max_unavailable=unavailable,
    )
    assert new_t >= 0
    assert stable_t >= 0
    # Scale-up stays within replicas + maxSurge, exactly: Argo's approximation only uses the extra pod of rounding
    # when the surge allows it (the previous "+1 when the weight does not divide evenly" is gone).
    ceiling = replicas + surge
    before = new.spec + stable.spec
    after = new_t + stable_t
    assert after <= max(before, ceiling)
    # Scale-down removes unavailable pods first; the available pods left never drop below the floor
    # (or below what was available, when already under it).
    left = min(new.available, new_t) + min(stable.available, stable_t)
    assert left >= min(new.available + stable.available, replicas - unavailable)
    # Changed invariant: our old property said each target moves towards its weighted count and never away from it.
    # Argo breaks that on purpose: the side that is not being drained gives back pods above replicas + maxSurge
    # even when that moves it away from its count (Argo's row "scale down stable and canary available": new
    # 10 -> 9 although it wants 10). What Argo keeps: no target passes its count, and a target moves away from it
    # only down, and only while the pods asked for together exceed replicas + maxSurge.
    want_new, want_stable = weighted_counts(replicas, weight, max_surge=surge)
    for spec, target, want in ((new.spec, new_t, want_new), (stable.spec, stable_t, want_stable)):
        assert target <= max(spec, want)
        if target < min(spec, want):
            assert before > ceiling


@pytest.mark.parametrize(
    ("replicas", "unavailable", "total", "old", "expected"),
    [
        (10, 2, 12, [_rs(5)], [1]),
        (10, 2, 9, [_rs(5, 2)], [1]),
        (10, 2, 8, [_rs(4)], [4]),
        (10, 2, 14, [_rs(3), _rs(3)], [0, 0]),
        (10, 2, 12, [_rs(3), _rs(3)], [0, 2]),
    ],
)
def test_old_replica_sets_retire_oldest_first_within_availability(
    replicas: int, unavailable: int, total: int, old: list[ReplicaCounts], expected: list[int]
) -> None:
    assert (
        old_replica_set_targets(replicas=replicas, max_unavailable=unavailable, total_available=total, old=old)
        == expected
    )


@pytest.mark.parametrize(
    ("available", "wanted", "ok"),
    [(3, 25, True), (3, 30, True), (3, 31, False), (0, 0, True), (0, 1, False), (10, 100, True)],
)
def test_a_weight_is_servable_only_by_enough_available_pods(available: int, wanted: int, ok: bool) -> None:
    assert servable_weight(replicas=10, available=available, wanted=wanted) is ok


def test_routed_canary_scale_overrides() -> None:
    assert routed_canary_target(replicas=10, weight=25, scale_weight=None, scale_replicas=None) == 3
    assert routed_canary_target(replicas=10, weight=25, scale_weight=50, scale_replicas=None) == 5
    assert routed_canary_target(replicas=10, weight=25, scale_weight=None, scale_replicas=2) == 2
    assert dynamic_stable_target(replicas=10, canary_weight=30) == 7
    assert ceil_percent(7, 50) == 4


@pytest.mark.parametrize(
    ("count", "scale_up", "expected"), [(2, False, 2), (2, True, 10), (None, False, 10), (20, False, 10), (0, False, 0)]
)
def test_preview_target(count: int | None, scale_up: bool, expected: int) -> None:
    assert preview_target(replicas=10, preview_replica_count=count, scale_up=scale_up) == expected
