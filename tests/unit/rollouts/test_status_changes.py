"""The status patch a reconcile sends: only what would change, so a settled Rollout writes nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rollouts.core.statuspatch import merge_patch, patch_to, status_changes

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
    assert status_changes(current, desired) == {}


def test_a_nested_removal_or_value_is_a_change() -> None:
    current: dict[str, Any] = {"canary": {"weights": {"canary": 50}, "other": 1}}
    assert status_changes(current, {"canary": {"weights": None}}) == {"canary": {"weights": None}}
    assert status_changes(current, {"canary": {"other": 2}}) == {"canary": {"other": 2}}
    assert status_changes(current, {"canary": None}) == {"canary": None}


@given(_status, _desired)
def test_the_changes_leave_the_status_as_the_whole_desired_patch_would(
    current: dict[str, Any], desired: dict[str, Any]
) -> None:
    changes = status_changes(current, desired)
    assert merge_patch(current, changes) == merge_patch(current, desired)
    # nothing sent exactly when nothing would change
    assert (changes == {}) == (merge_patch(current, desired) == current)


@given(_status, _status, st.sets(_keys))
def test_the_patch_to_a_status_turns_the_old_one_into_it_and_states_the_keys_asked_for(
    old: dict[str, Any], new: dict[str, Any], keys: set[str]
) -> None:
    old, new = merge_patch({}, old), merge_patch({}, new)  # stored statuses hold no nulls
    patch = patch_to(old, new, keys=keys)
    assert merge_patch(old, patch) == new
    assert {key for key in keys if key in old or key in new} <= patch.keys()
    assert (status_changes(old, patch) == {}) == (old == new)
