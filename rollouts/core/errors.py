"""Errors of the Rollout decision core, as data.

The planner never raises for bad user input: the kopf shell must not crash-loop on a spec the API server accepted.
:func:`rollouts.core.spec.parse_rollout` raises :class:`InvalidSpecError` carrying *every* problem with its field
path (as :class:`~workflows.errors.FieldIssue` s, the product's one shape of a field problem), and
:func:`rollouts.core.planner.plan_invalid` turns it into status (``InvalidSpec`` condition, ``Degraded``). The same
error reports what only shows when a plan is applied and the user must fix: a Service, routing object, CRD or
AnalysisTemplate the spec names that does not exist, or a routed object that cannot express the spec.
"""

from __future__ import annotations

from workflows.errors import IssuesError

__all__ = ["InvalidSpecError", "RolloutCoreError"]


class RolloutCoreError(Exception):
    """Base of every error raised on purpose by :mod:`rollouts.core` and the layers around it."""


class InvalidSpecError(IssuesError, RolloutCoreError):
    """The Rollout cannot be carried out as written; ``issues`` lists every problem found, not only the first."""
