"""The analysis package's error hierarchy: every failure a caller must tell apart, as data.

Why a hierarchy and not ``ValueError`` everywhere: the AnalysisRun controller turns a spec problem into a run in
phase ``Error`` with a message, a condition problem found while measuring into one ``Error`` measurement, and a
secret that cannot be read into an ``Error`` measurement *without* the value. It can only do that if the kinds are
distinct types. Messages name the field (or the column in a condition) and say how to fix it.

Nothing here ever carries a secret value: constructors take names and keys, never contents.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AnalysisError",
    "DurationError",
    "ExpressionError",
    "ExpressionEvaluationError",
    "ExpressionSyntaxError",
    "FieldIssue",
    "SecretResolutionError",
    "SpecError",
]


class AnalysisError(Exception):
    """Base of every error raised on purpose by :mod:`analysis`."""


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One problem in a spec: where it is (``spec.metrics[1].provider.datadog``) and what to do about it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpecError(AnalysisError):
    """A template or run spec is invalid; carries *every* issue found, not only the first."""

    def __init__(self, issues: tuple[FieldIssue, ...] | list[FieldIssue]) -> None:
        self.issues: tuple[FieldIssue, ...] = tuple(issues)
        super().__init__("; ".join(str(issue) for issue in self.issues) or "invalid spec")


class DurationError(AnalysisError, ValueError):
    """A duration string is not one Argo accepts (``30s``, ``5m``, ``1m30s``, ``300``)."""


class ExpressionError(AnalysisError):
    """Base of condition errors: the caller maps syntax errors to validation, evaluation errors to Error."""


class ExpressionSyntaxError(ExpressionError):
    """The condition cannot be compiled: bad syntax, an unknown name or function, or over a safety bound."""

    def __init__(self, message: str, *, source: str, offset: int, hint: str = "") -> None:
        self.source = source
        self.offset = offset
        self.line, self.column = _line_and_column(source, offset)
        self.reason = message
        self.hint = hint
        where = f"line {self.line}, column {self.column}" if "\n" in source else f"column {self.column}"
        text = f"{message} at {where}"
        if hint:
            text += f" (hint: {hint})"
        super().__init__(text)


class ExpressionEvaluationError(ExpressionError):
    """The condition compiled but could not be applied to this result (e.g. ``result[0] > 1`` on a string)."""


class SecretResolutionError(AnalysisError):
    """A secret-backed arg could not be read; names the arg, Secret and key, never any value."""

    def __init__(self, *, arg: str, secret: str, key: str, reason: str) -> None:
        self.arg = arg
        self.secret = secret
        self.key = key
        super().__init__(f"args.{arg}: cannot read key {key!r} of Secret {secret!r}: {reason}")


def _line_and_column(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset``, so a message points where an editor would."""
    before = source[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return line, column
