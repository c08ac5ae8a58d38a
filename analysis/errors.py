"""The analysis package's error hierarchy: every failure a caller must tell apart, as data.

Why a hierarchy and not ``ValueError`` everywhere: the AnalysisRun controller turns a spec problem into a run in
phase ``Error`` with a message, a condition problem found while measuring into one ``Error`` measurement, and a
secret that cannot be read into an ``Error`` measurement *without* the value. It can only do that if the kinds are
distinct types. Messages name the field (or the column in a condition) and say how to fix it.

The shapes shared with the rest of the product live at the bottom layer (:mod:`workflows.errors`): the
:class:`~workflows.errors.FieldIssue` every parser reports, the expression and duration errors.

Nothing here ever carries a secret value: constructors take names and keys, never contents.
"""

from __future__ import annotations

from workflows.errors import IssuesError

__all__ = ["AnalysisError", "SecretResolutionError", "SpecError"]


class AnalysisError(Exception):
    """Base of every error raised on purpose by :mod:`analysis`."""


class SpecError(IssuesError, AnalysisError):
    """A template or run spec is invalid; carries *every* issue found, not only the first."""


class SecretResolutionError(AnalysisError):
    """A secret-backed arg could not be read; names the arg, Secret and key, never any value."""

    def __init__(self, *, arg: str, secret: str, key: str, reason: str) -> None:
        self.arg = arg
        self.secret = secret
        self.key = key
        super().__init__(f"args.{arg}: cannot read key {key!r} of Secret {secret!r}: {reason}")
