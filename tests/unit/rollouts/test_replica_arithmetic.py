"""Replica arithmetic: Argo's rounding and budgets, by table and by property."""

from __future__ import annotations

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


@pytest.mark.parametrize(
    ("replicas", "weight", "expected"),
    [
        (10, 25, (3, 8)),
        (10, 50, (5, 5)),
        (1, 5, (1, 1)),
        (4, 0, (0, 4)),
        (4, 100, (4, 0)),
        (3, 33, (1, 3)),
        (0, 50, (0, 0)),
    ],
)
def test_weighted_counts_round_both_sides_up(replicas: int, weight: int, expected: tuple[int, int]) -> None:
    assert weighted_counts(replicas, weight) == expected


def _rs(spec: int, available: int | None = None) -> ReplicaCounts:
    return ReplicaCounts(spec=spec, available=spec if available is None else available)


@pytest.mark.parametrize(
    ("replicas", "weight", "new", "stable", "surge", "unavailable", "expected"),
    [
        # Argo's worked examples (utils/replicaset/canary.go), with both sides rounded up.
        (10, 10, _rs(0), _rs(10), 1, 1, (1, 9)),
        (10, 30, _rs(0), _rs(10), 3, 0, (3, 10)),
        (10, 30, _rs(0), _rs(10), 0, 5, (0, 7)),
        (10, 5, _rs(0), _rs(10), 1, 1, (1, 10)),  # 0.5 and 9.5 both round up: one extra pod of surge
        (1, 5, _rs(0), _rs(1), 1, 0, (1, 1)),
        (1, 95, _rs(0), _rs(1), 1, 0, (1, 1)),
        # Canary pods not yet available: the stable may not shrink below the floor.
        (10, 30, _rs(3, 0), _rs(10), 3, 0, (3, 10)),
        (10, 30, _rs(3, 3), _rs(10), 3, 0, (3, 7)),
        # Aborting (weight 0): the stable grows back first, the canary shrinks as availability allows.
        (10, 0, _rs(5), _rs(5), 2, 2, (3, 7)),
        # No stable: the new version simply takes all replicas.
        (10, 20, _rs(0), None, 1, 1, (10, 0)),
    ],
)
def test_basic_canary_targets(
    *,
    replicas: int,
    weight: int,
    new: ReplicaCounts,
    stable: ReplicaCounts | None,
    surge: int,
    unavailable: int,
    expected: tuple[int, int],
) -> None:
    got = basic_canary_targets(
        replicas=replicas,
        weight=weight,
        new=new,
        stable=stable,
        older_spec=0,
        max_surge=surge,
        max_unavailable=unavailable,
    )
    assert got == expected


def test_older_replica_sets_make_room_before_new_or_stable_shrink() -> None:
    got = basic_canary_targets(
        replicas=10, weight=50, new=_rs(2), stable=_rs(8), older_spec=2, max_surge=2, max_unavailable=2
    )
    assert got == (2, 8)  # nothing may be added (12 already) and nothing of new/stable removed while older pods exist


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
    ceiling = replicas + surge + (1 if (replicas * weight) % 100 else 0)
    before = new.spec + stable.spec
    after = new_t + stable_t
    if after > before:  # something was added: only within the ceiling
        assert after <= ceiling
    # Scale-down removes unavailable pods first; the available pods left never drop below the floor
    # (or below what was available, when already under it).
    left = min(new.available, new_t) + min(stable.available, stable_t)
    assert left >= min(new.available + stable.available, replicas - unavailable)
    # Targets move towards the weighted counts, never past them.
    want_new, want_stable = weighted_counts(replicas, weight)
    assert min(new.spec, want_new) <= new_t <= max(new.spec, want_new)
    assert min(stable.spec, want_stable) <= stable_t <= max(stable.spec, want_stable)


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
