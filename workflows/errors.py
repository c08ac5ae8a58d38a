"""The error hierarchy of the workflow engine.

Every error a user can cause carries the field path that caused it (``spec.templates[2].dag.tasks[0].depends``) so
the controller can put it in ``status.message`` and the CLI can print it verbatim. Errors are data: a cycle names its
members, an unsupported field names its path, never only a sentence.
"""

from __future__ import annotations


class WorkflowError(Exception):
    """Base class for everything this package raises on purpose."""


class SpecError(WorkflowError):
    """A manifest (or a programmatic DAG) is invalid; raised before anything runs."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


class UnsupportedFieldError(SpecError):
    """A field Argo knows but this engine deliberately does not implement: refused, never half-applied."""


class DependsSyntaxError(SpecError):
    """A ``depends`` expression does not parse or names an unknown task/result."""


class SubstitutionError(SpecError):
    """A ``{{...}}`` reference is malformed or names something that is not in scope."""


class CycleError(SpecError):
    """The tasks of a DAG (or templates calling each other) form a cycle; ``cycle`` lists it, first == last."""

    def __init__(self, path: str, cycle: tuple[str, ...]) -> None:
        super().__init__(path, f"dependency cycle: {' -> '.join(cycle)}")
        self.cycle = cycle


class ExpressionError(WorkflowError):
    """A ``when`` or ``successCondition`` expression is malformed or failed to evaluate."""


class RunNotFoundError(WorkflowError):
    """An operation named a run the executor does not know (finished and forgotten, or never submitted)."""
