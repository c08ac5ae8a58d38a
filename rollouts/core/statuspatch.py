"""JSON merge patches (RFC 7386) of a Rollout's status: how the API server applies the planner's status, what of it
would change anything, and the patch between two statuses. Pure; one definition for the controller, the planner's
settling and the simulator."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["merge_patch", "patch_to", "status_changes"]


def merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with the merge patch ``patch`` applied: maps merge, ``None`` removes a key, anything else
    (lists included) replaces."""
    if not isinstance(patch, Mapping):
        return patch
    merged = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def status_changes(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The part of the merge patch ``desired`` that would change ``current`` (``None`` removes a key).

    A key changes when the patch would leave its value different: ``{"canary": {"weights": None}}`` against a
    status whose ``canary`` has no ``weights`` is no change (writing it would be a no-op the API server does not even
    version, and a reconcile that took it for progress would ask for another at once, forever)."""
    changes: dict[str, Any] = {}
    for key, value in desired.items():
        if value is None:
            if key in current:
                changes[key] = None
        elif merge_patch(current.get(key), value) != current.get(key):
            changes[key] = value
    return changes


def patch_to(old: Mapping[str, Any], new: Mapping[str, Any], *, keys: Iterable[str] = ()) -> dict[str, Any]:
    """A merge patch that turns ``old`` into ``new`` (both without ``None`` values): every top-level key that differs,
    and each of ``keys``, with its whole new value (``None`` where ``new`` has no such key, nested keys ``new``
    dropped as ``None`` too), so the patch reads like a plan's status."""
    wanted = set(keys) | {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
    return {key: _restated(old.get(key), new.get(key)) for key in sorted(wanted) if key in new or key in old}


def _restated(old: Any, new: Any) -> Any:
    if not isinstance(new, Mapping) or not isinstance(old, Mapping):
        return new
    restated: dict[str, Any] = {key: None for key in old if key not in new}
    restated.update((key, _restated(old.get(key), value)) for key, value in new.items())
    return restated
