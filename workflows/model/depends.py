"""The ``depends`` algebra, parsed once and compiled to a closure over the run's node-phase array.

Grammar (Argo's "enhanced depends logic")::

    expr   := or
    or     := and ("||" and)*
    and    := unary ("&&" unary)*
    unary  := "!" unary | "(" expr ")" | ref
    ref    := TASK ("." RESULT)?
    RESULT := Succeeded | Failed | Errored | Skipped | Omitted | Daemoned | AnySucceeded | AllFailed

A bare ``TASK`` means ``TASK.Succeeded || TASK.Skipped || TASK.Daemoned``, widened with ``TASK.Failed`` /
``TASK.Errored`` when that task has ``continueOn.failed`` / ``continueOn.error`` (that is how continueOn lets
dependents proceed). ``dependencies: [A, B]`` is ``A && B``. ``AnySucceeded``/``AllFailed`` describe the children of a
``withItems``/``withParam`` group and are false for plain tasks, as in Argo.

The parse yields a tiny tree; :meth:`DependsExpr.bind` maps task names to integer node ids and returns a closure that
reads ``state.phase[id]`` -- evaluating it is a handful of list lookups, no dictionaries and no strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from workflows.errors import DependsSyntaxError
from workflows.model.phases import (
    P_ERROR,
    P_FAILED,
    P_OMITTED,
    P_SKIPPED,
    P_SUCCEEDED,
)

RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed")
_RESULT_PHASE = {
    "Succeeded": P_SUCCEEDED,
    "Failed": P_FAILED,
    "Errored": P_ERROR,
    "Skipped": P_SKIPPED,
    "Omitted": P_OMITTED,
}
_TOKEN = re.compile(r"\s*(?:(?P<op>&&|\|\||!|\(|\))|(?P<ref>[A-Za-z0-9_][A-Za-z0-9_-]*(?:\.[A-Za-z]+)?))")


class PhaseState(Protocol):
    """What a compiled expression reads: the per-node phase codes and the group flags of the run."""

    phase: list[int]
    any_succeeded: bytearray
    all_failed: bytearray


Predicate = Callable[[PhaseState], bool]


@dataclass(frozen=True, slots=True)
class Ref:
    task: str
    result: str | None  # None: the bare-name meaning, widened by continueOn


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


Node = Ref | Not | And | Or


@dataclass(frozen=True, slots=True)
class DependsExpr:
    """A parsed ``depends`` expression; immutable, shareable between runs and DAG instances."""

    source: str
    tasks: tuple[str, ...]  # distinct task names, in first-mention order
    # The parse tree; None for a ``dependencies:`` list, which is fully described by ``conjunction`` (a manifest or
    # DagBuilder graph has one per task, so not building Ref/And objects for each is a measurable part of a compile).
    parsed: Node | None = field(default=None, compare=False)
    # Derived from the tree once, not per bind (an expression is bound once per DAG instance). Left as None they are
    # computed here; ``from_dependencies`` knows them without walking.
    failure_handled: frozenset[str] | None = field(default=None, repr=False, compare=False)
    conjunction: tuple[str, ...] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.parsed is None and self.conjunction is None:
            raise ValueError("a DependsExpr needs a parse tree or a conjunction")
        if self.failure_handled is None:
            handled = frozenset(
                ref.task
                for ref in _walk(self.tree)
                if isinstance(ref, Ref) and ref.result in ("Failed", "Errored", "AllFailed")
            )
            object.__setattr__(self, "failure_handled", handled)
            object.__setattr__(self, "conjunction", _bare_conjunction(self.tree))

    @property
    def tree(self) -> Node:
        """The expression as a tree (``A && B`` for a dependencies list, built on demand)."""
        if self.parsed is not None:
            return self.parsed
        assert self.conjunction is not None
        refs = tuple(Ref(name, None) for name in self.conjunction)
        return refs[0] if len(refs) == 1 else And(refs)

    def handles_failure_of(self, task: str) -> bool:
        """True when the expression names an explicit non-success result of ``task`` (``B.Failed``, ...).

        Such a failure is part of the author's plan, so it does not trigger failFast (see docs/workflows.md).
        """
        return self.failure_handled is not None and task in self.failure_handled

    def bind(self, ids: Mapping[str, int], *, continue_on: Mapping[str, tuple[bool, bool]]) -> Predicate:
        """Return a closure evaluating this expression for one DAG instance (task name -> node id)."""
        if self.conjunction is not None:
            return _bind_conjunction(self.conjunction, ids, continue_on)
        return _bind(self.tree, ids, continue_on)


def _bare_conjunction(tree: Node) -> tuple[str, ...] | None:
    """``A && B && C`` of bare names (every ``dependencies:`` list): the task names, else None."""
    if isinstance(tree, Ref):
        return (tree.task,) if tree.result is None else None
    if isinstance(tree, And):  # ``(A && B) && C`` too: && is associative
        names: list[str] = []
        for operand in tree.operands:
            inner = _bare_conjunction(operand)
            if inner is None:
                return None
            names.extend(inner)
        return tuple(names)
    return None


# What a bare name accepts, by (continueOn.failed, continueOn.error): shared, not rebuilt per reference.
_BARE_ACCEPTS = {
    (False, False): frozenset({P_SUCCEEDED, P_SKIPPED}),
    (True, False): frozenset({P_SUCCEEDED, P_SKIPPED, P_FAILED}),
    (False, True): frozenset({P_SUCCEEDED, P_SKIPPED, P_ERROR}),
    (True, True): frozenset({P_SUCCEEDED, P_SKIPPED, P_FAILED, P_ERROR}),
}
_NO_CONTINUE = (False, False)


def _bind_conjunction(
    names: tuple[str, ...], ids: Mapping[str, int], continue_on: Mapping[str, tuple[bool, bool]]
) -> Predicate:
    """One closure for the whole conjunction (instead of one per reference and one per ``&&``): the common case.

    Same meaning as :func:`_bind` on the tree: every named task's phase is in what its bare name accepts.
    """
    checks = tuple((ids[name], _BARE_ACCEPTS[continue_on.get(name, _NO_CONTINUE)]) for name in names)
    if len(checks) == 1:
        ((a, accept_a),) = checks
        return lambda s: s.phase[a] in accept_a
    if len(checks) == 2:  # the layered-DAG shape, worth its own closure
        (a, accept_a), (b, accept_b) = checks
        return lambda s: s.phase[a] in accept_a and s.phase[b] in accept_b
    return lambda s: all(s.phase[index] in accept for index, accept in checks)


def _walk(node: Node) -> list[Node]:
    if isinstance(node, Ref):
        return [node]
    if isinstance(node, Not):
        return [node, *_walk(node.operand)]
    out: list[Node] = [node]
    for operand in node.operands:
        out.extend(_walk(operand))
    return out


def _bind(node: Node, ids: Mapping[str, int], continue_on: Mapping[str, tuple[bool, bool]]) -> Predicate:
    if isinstance(node, Ref):
        index = ids[node.task]
        if node.result is None:
            accepted = _BARE_ACCEPTS[continue_on.get(node.task, _NO_CONTINUE)]
            return lambda s: s.phase[index] in accepted
        if node.result == "AnySucceeded":
            return lambda s: bool(s.any_succeeded[index])
        if node.result == "AllFailed":
            return lambda s: bool(s.all_failed[index])
        if node.result == "Daemoned":
            return lambda s: False  # daemon containers are not supported: never daemoned
        wanted = _RESULT_PHASE[node.result]
        return lambda s: s.phase[index] == wanted
    if isinstance(node, Not):
        inner = _bind(node.operand, ids, continue_on)
        return lambda s: not inner(s)
    parts = tuple(_bind(operand, ids, continue_on) for operand in node.operands)
    if isinstance(node, And):
        if len(parts) == 2:
            a, b = parts
            return lambda s: a(s) and b(s)
        return lambda s: all(p(s) for p in parts)
    if len(parts) == 2:
        a, b = parts
        return lambda s: a(s) or b(s)
    return lambda s: any(p(s) for p in parts)


class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path
        self.tokens: list[tuple[str, str]] = []
        position = 0
        end = len(text.rstrip())
        while position < end:
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise self.fail(f"unexpected character {text[position:].strip()[:1]!r} at offset {position}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.tokens.append(("end", ""))
        self.index = 0

    def fail(self, message: str) -> DependsSyntaxError:
        return DependsSyntaxError.at(self.path, f"{message} in depends {self.text!r}")

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.index]

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        if len(self.tokens) == 1:
            raise self.fail("empty expression")
        node = self.parse_or()
        if self.peek()[0] != "end":
            raise self.fail(f"unexpected {self.peek()[1]!r}")
        return node

    def parse_or(self) -> Node:
        operands = [self.parse_and()]
        while self.peek() == ("op", "||"):
            self.take()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> Node:
        operands = [self.parse_unary()]
        while self.peek() == ("op", "&&"):
            self.take()
            operands.append(self.parse_unary())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_unary(self) -> Node:
        kind, text = self.take()
        if (kind, text) == ("op", "!"):
            return Not(self.parse_unary())
        if (kind, text) == ("op", "("):
            inner = self.parse_or()
            if self.take() != ("op", ")"):
                raise self.fail("missing ')'")
            return inner
        if kind == "ref":
            task, _, result = text.partition(".")
            if result and result not in RESULTS:
                raise self.fail(f"unknown result {result!r} (use one of {', '.join(RESULTS)})")
            return Ref(task, result or None)
        raise self.fail(f"expected a task name but found {text or 'end of expression'!r}")


def parse_depends(
    text: str, *, path: str = "depends", known_tasks: Sequence[str] | frozenset[str] | set[str] | None = None
) -> DependsExpr:
    """Parse ``text``; with ``known_tasks``, unknown task names are errors carrying ``path``."""
    tree = _Parser(text, path).parse()
    names: list[str] = []
    for node in _walk(tree):
        if isinstance(node, Ref) and node.task not in names:
            names.append(node.task)
    if known_tasks is not None:
        known = set(known_tasks)
        for name in names:
            if name not in known:
                raise DependsSyntaxError.at(path, f"depends names unknown task {name!r}")
    return DependsExpr(source=text, tasks=tuple(names), parsed=tree)


def from_dependencies(names: Sequence[str], *, path: str = "dependencies") -> DependsExpr:
    """``dependencies: [A, B]`` is exactly the bare-name conjunction ``A && B``."""
    if not names:
        raise DependsSyntaxError.at(path, "empty dependencies list")
    conjunction = tuple(names)
    distinct = tuple(dict.fromkeys(conjunction)) if len(set(conjunction)) != len(conjunction) else conjunction
    return DependsExpr(
        source=" && ".join(conjunction),
        tasks=distinct,
        failure_handled=frozenset(),  # bare names only
        conjunction=conjunction,
    )
