"""Errors of the Rollout decision core, as data.

The planner never raises for bad user input: the kopf shell must not crash-loop on a spec the API server accepted.
:func:`rollouts.core.spec.parse_rollout` raises :class:`InvalidSpecError` carrying *every* problem with its field
path, and :func:`rollouts.core.planner.plan_invalid` turns it into status (``InvalidSpec`` condition, ``Degraded``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["InvalidSpecError", "RolloutCoreError", "SpecIssue"]


class RolloutCoreError(Exception):
    """Base of every error raised on purpose by :mod:`rollouts.core`."""


@dataclass(frozen=True, slots=True)
class SpecIssue:
    """One problem the schema could not see: where (``spec.strategy.canary.steps[2].pause.duration``) and the fix."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class InvalidSpecError(RolloutCoreError):
    """The Rollout cannot be planned; ``issues`` lists every problem found, not only the first."""

    def __init__(self, issues: tuple[SpecIssue, ...] | list[SpecIssue]) -> None:
        self.issues: tuple[SpecIssue, ...] = tuple(issues)
        super().__init__("; ".join(str(issue) for issue in self.issues) or "invalid spec")
