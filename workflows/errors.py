"""Errors as data, for the whole product: the field-issue type every parser reports with, and the engine's hierarchy.

:class:`FieldIssue` is the one shape of "this field is wrong, and here is the fix" (``spec.templates[2].dag.tasks[0]
.depends: unknown task 'b'``). Parsers collect every issue they find in an :class:`Issues` collector and raise once,
so a user reads all of a manifest's problems in one ``kubectl apply`` instead of one per attempt.
:class:`IssuesError` is the base of every exception that carries issues: the engine's :class:`SpecError` here, the
analysis package's and the Rollout core's specialise it for their own hierarchies. The controllers turn any of them
into status (``phase: Error`` / an ``InvalidSpec`` condition) and a Warning Event with the paths in the message.

Errors are data: a cycle names its members, an unsupported field names its path, never only a sentence.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Self

__all__ = [
    "CycleError",
    "DependsSyntaxError",
    "DurationError",
    "ExpressionError",
    "ExpressionEvaluationError",
    "ExpressionSyntaxError",
    "FieldIssue",
    "HostNotAllowedError",
    "Issues",
    "IssuesError",
    "RequestError",
    "RequestTimeoutError",
    "RunNotFoundError",
    "SpecError",
    "SubstitutionError",
    "UnreachableError",
    "UnsupportedFieldError",
    "WorkflowError",
    "explained_first",
]


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One problem in an object: where it is (``spec.metrics[1].provider.datadog``) and what to do about it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def under(self, prefix: str) -> FieldIssue:
        """The same issue seen from an enclosing object (``spec`` + ``args[0]`` -> ``spec.args[0]``)."""
        if not prefix:
            return self
        return FieldIssue(f"{prefix}.{self.path}" if self.path else prefix, self.message)


def _related(a: str, b: str) -> bool:
    """The same field, or one inside the other (``spec.x`` and ``spec.x.y``, ``spec.x[0]``); not ``spec.xy``."""
    short, long = sorted((a, b), key=len)
    return long == short or (bool(short) and long.startswith(short) and long[len(short)] in ".[")


def explained_first(first: Iterable[FieldIssue], then: Iterable[FieldIssue]) -> tuple[FieldIssue, ...]:
    """Every issue of ``first``, then each of ``then`` about a field none of the issues kept so far is about (the
    same field, one inside it or one containing it).

    ``first`` are the precise words (a schema's: ``spec.x.interval: should match '^...$'``); the dropped ones are
    their consequences as a later reader saw them (a parser's ``spec.x: cannot read interval``). Used wherever schema
    issues and a parser's issues about one object are reported together (``kubectl rollouts lint``, the controller
    in drop-in mode), so both say the same.
    """
    kept = list(first)
    for issue in then:
        if not any(_related(issue.path, other.path) for other in kept):
            kept.append(issue)
    return tuple(kept)


class IssuesError(Exception):
    """Base of every error that carries :class:`FieldIssue` s (all of them, not only the first)."""

    def __init__(self, issues: Iterable[FieldIssue]) -> None:
        self.issues: tuple[FieldIssue, ...] = tuple(issues)
        super().__init__("; ".join(str(issue) for issue in self.issues) or "invalid")

    @classmethod
    def at(cls, path: str, message: str) -> Self:
        """One issue: ``raise SpecError.at("spec.entrypoint", "unknown template 'x'")``."""
        return cls([FieldIssue(path, message)])

    @property
    def path(self) -> str:
        """The first issue's path (where a caller reports a single place)."""
        return self.issues[0].path if self.issues else ""

    @property
    def message(self) -> str:
        """The first issue's message, without its path."""
        return self.issues[0].message if self.issues else str(self)


class Issues:
    """Collects issues while a parser walks an object; :meth:`raise_if_any` raises them together.

    ``with issues.collecting():`` turns an :class:`IssuesError` raised by a nested parser into collected issues, so a
    parser can call helpers that raise without stopping at the first problem. The error raised at the end is the most
    specific one that fits: the collected error itself when it is the only problem, its class when every problem came
    from errors of one class (``UnsupportedFieldError``), else the caller's ``error``.
    """

    __slots__ = ("_caught", "_plain", "items")

    def __init__(self) -> None:
        self.items: list[FieldIssue] = []
        self._caught: list[IssuesError] = []
        self._plain = False

    def add(self, path: str, message: str) -> None:
        self.items.append(FieldIssue(path, message))
        self._plain = True

    def extend(self, issues: Iterable[FieldIssue], *, prefix: str = "") -> None:
        before = len(self.items)
        self.items.extend(issue.under(prefix) for issue in issues)
        self._plain = self._plain or len(self.items) > before

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @contextmanager
    def collecting(self, *, prefix: str = "") -> Iterator[None]:
        try:
            yield
        except IssuesError as error:
            self.items.extend(issue.under(prefix) for issue in error.issues)
            if prefix:
                self._plain = True
            else:
                self._caught.append(error)

    def raise_if_any(self, error: type[IssuesError]) -> None:
        if not self.items:
            return
        if not self._plain and len(self._caught) == 1 and isinstance(self._caught[0], error):
            raise self._caught[0]
        kinds = {type(caught) for caught in self._caught}
        if not self._plain and len(kinds) == 1:
            kind = kinds.pop()
            if issubclass(kind, error) and kind.__init__ is IssuesError.__init__:
                raise kind(self.items)
        raise error(self.items)


class WorkflowError(Exception):
    """Base class for everything the engine raises on purpose."""


class SpecError(IssuesError, WorkflowError):
    """A manifest (or a programmatic DAG) is invalid; raised before anything runs, with every issue found."""


class UnsupportedFieldError(SpecError):
    """A field Argo knows but this engine deliberately does not implement: refused, never half-applied."""


class DependsSyntaxError(SpecError):
    """A ``depends`` expression does not parse or names an unknown task/result."""


class SubstitutionError(SpecError):
    """A ``{{...}}`` reference is malformed or names something that is not in scope."""


class CycleError(SpecError):
    """The tasks of a DAG (or templates calling each other) form a cycle; ``cycle`` lists it, first == last."""

    def __init__(self, path: str, cycle: tuple[str, ...]) -> None:
        super().__init__([FieldIssue(path, f"dependency cycle: {' -> '.join(cycle)}")])
        self.cycle = cycle


class DurationError(WorkflowError, ValueError):
    """A duration string is not one Argo accepts (``30s``, ``5m``, ``1m30s``, ``300``)."""


class ExpressionError(WorkflowError):
    """Base of expression errors: syntax errors are validation errors, evaluation errors a failed node/measurement."""


class ExpressionSyntaxError(ExpressionError):
    """The expression cannot be compiled: bad syntax, an unknown name or function, or over a safety bound."""

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
    """The expression compiled but could not be applied to these values (e.g. ``result[0] > 1`` on a string)."""


class RequestError(WorkflowError):
    """An outbound HTTP request (an ``http`` step, a web or Prometheus measurement) got no usable answer.

    ``reason`` is one line (``Connection refused``, ``response body is larger than 8 MiB``), never a header value.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RequestTimeoutError(RequestError):
    """The whole request (connect, send, headers and body) did not finish within its deadline."""


class UnreachableError(RequestError):
    """No connection could be made (refused, unknown host, TLS handshake failed)."""


class HostNotAllowedError(RequestError):
    """The request's host (or a redirect's) is outside the operator's allow-list (``--web-metric-allowed-hosts``)."""


class RunNotFoundError(WorkflowError):
    """An operation named a run the executor does not know (finished and forgotten, or never submitted)."""


def _line_and_column(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset``, so a message points where an editor would."""
    before = source[:offset]
    line = before.count("\n") + 1
    column = offset - (before.rfind("\n") + 1) + 1
    return line, column
