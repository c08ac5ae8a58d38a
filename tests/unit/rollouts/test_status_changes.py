"""The status patch a reconcile sends: only what would change, so a settled Rollout writes nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rollouts.controller.rollouts import _merge, _status_changes

_leaf = st.one_of(st.integers(0, 3), st.sampled_from(["a", "b"]))
_keys = st.sampled_from(["phase", "canary", "weights", "x"])
_value = st.recursive(
    _leaf, lambda inner: st.dictionaries(_keys, st.one_of(st.none(), inner), max_size=3), max_leaves=8
)
_status = st.dictionaries(_keys, _value, max_size=4)
_desired = st.dictionaries(_keys, st.one_of(st.none(), _value), max_size=4)


def test_removing_what_is_not_there_is_no_change() -> None:
    current = {"phase": "Healthy", "canary": {}}
    desired = {"phase": "Healthy", "canary": {"weights": None, "stablePingPong": None}, "abort": None}
    assert _status_changes(current, desired) == {}


def test_a_nested_removal_or_value_is_a_change() -> None:
    current: dict[str, Any] = {"canary": {"weights": {"canary": 50}, "other": 1}}
    assert _status_changes(current, {"canary": {"weights": None}}) == {"canary": {"weights": None}}
    assert _status_changes(current, {"canary": {"other": 2}}) == {"canary": {"other": 2}}
    assert _status_changes(current, {"canary": None}) == {"canary": None}


@given(_status, _desired)
def test_the_changes_leave_the_status_as_the_whole_desired_patch_would(
    current: dict[str, Any], desired: dict[str, Any]
) -> None:
    changes = _status_changes(current, desired)
    assert _merge(current, changes) == _merge(current, desired)
    assert (changes == {}) == (_merge(current, desired) == current)  # nothing sent exactly when nothing would change
