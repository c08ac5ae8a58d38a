"""The depends algebra: syntax errors, bare-name meaning, continueOn widening, and a property against a reference."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.errors import DependsSyntaxError
from workflows.model.depends import from_dependencies, parse_depends
from workflows.model.phases import P_ERROR, P_FAILED, P_OMITTED, P_SKIPPED, P_SUCCEEDED

PHASES = {"Succeeded": P_SUCCEEDED, "Failed": P_FAILED, "Errored": P_ERROR, "Skipped": P_SKIPPED, "Omitted": P_OMITTED}


@dataclass
class State:
    phase: list[int]
    any_succeeded: bytearray = field(default_factory=lambda: bytearray(8))
    all_failed: bytearray = field(default_factory=lambda: bytearray(8))


def evaluate(text: str, phases: dict[str, int], continue_on: dict[str, tuple[bool, bool]] | None = None) -> bool:
    names = sorted(phases)
    expr = parse_depends(text, known_tasks=names)
    ids = {name: i for i, name in enumerate(names)}
    predicate = expr.bind(ids, continue_on=continue_on or {})
    return predicate(State(phase=[phases[n] for n in names]))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A &&", "expected a task name"),
        ("A || || B", "expected a task name"),
        ("(A && B", r"missing '\)'"),
        ("A.Finished", "unknown result 'Finished'"),
        ("A B", "unexpected 'B'"),
        ("A & B", "unexpected character"),
        ("", "empty expression"),
        ("Z", "unknown task 'Z'"),
    ],
)
def test_bad_syntax_is_refused_with_the_field_path(text: str, message: str) -> None:
    with pytest.raises(DependsSyntaxError, match=message) as caught:
        parse_depends(text, path="spec.templates[0].dag.tasks[1].depends", known_tasks=["A", "B"])
    assert caught.value.path == "spec.templates[0].dag.tasks[1].depends"


@pytest.mark.parametrize(
    ("phase", "expected"),
    [(P_SUCCEEDED, True), (P_SKIPPED, True), (P_FAILED, False), (P_ERROR, False), (P_OMITTED, False)],
)
def test_bare_name_means_succeeded_or_skipped(phase: int, expected: bool) -> None:
    assert evaluate("A", {"A": phase}) is expected


def test_continue_on_widens_the_bare_name() -> None:
    assert evaluate("A", {"A": P_FAILED}, {"A": (True, False)}) is True
    assert evaluate("A", {"A": P_ERROR}, {"A": (True, False)}) is False
    assert evaluate("A", {"A": P_ERROR}, {"A": (False, True)}) is True
    # an explicit result is never widened
    assert evaluate("A.Succeeded", {"A": P_FAILED}, {"A": (True, True)}) is False


def test_dependencies_list_is_the_bare_conjunction() -> None:
    expr = from_dependencies(["A", "B"])
    predicate = expr.bind({"A": 0, "B": 1}, continue_on={})
    assert predicate(State(phase=[P_SUCCEEDED, P_SKIPPED])) is True
    assert predicate(State(phase=[P_SUCCEEDED, P_FAILED])) is False


def test_group_results_read_the_group_flags() -> None:
    expr = parse_depends("A.AnySucceeded && !B.AllFailed", known_tasks=["A", "B"])
    predicate = expr.bind({"A": 0, "B": 1}, continue_on={})
    state = State(phase=[P_FAILED, P_FAILED])
    state.any_succeeded[0] = 1
    assert predicate(state) is True
    state.all_failed[1] = 1
    assert predicate(state) is False


def test_failure_handling_is_detected_for_failfast() -> None:
    expr = parse_depends("A && (C.Succeeded || C.Failed)", known_tasks=["A", "C"])
    assert expr.handles_failure_of("C")
    assert not expr.handles_failure_of("A")


# -- property: the compiled closure agrees with an independent reference interpreter ------------------------------
TASKS = ["a", "b-1", "c_2"]
RESULT_NAMES = [*PHASES, None]


def refs() -> st.SearchStrategy[tuple[str, object]]:
    return st.tuples(st.sampled_from(TASKS), st.sampled_from(RESULT_NAMES)).map(
        lambda tr: (tr[0] if tr[1] is None else f"{tr[0]}.{tr[1]}", ("ref", tr[0], tr[1]))
    )


def extend(children: st.SearchStrategy[tuple[str, object]]) -> st.SearchStrategy[tuple[str, object]]:
    return st.one_of(
        children.map(lambda c: (f"!({c[0]})", ("not", c[1]))),
        children.map(lambda c: (f"({c[0]})", c[1])),
        st.tuples(children, children, st.sampled_from(["&&", "||"])).map(
            lambda t: (f"({t[0][0]}) {t[2]} ({t[1][0]})", (t[2], t[0][1], t[1][1]))
        ),
    )


def reference(tree: object, phases: dict[str, str], cont: dict[str, tuple[bool, bool]]) -> bool:
    kind = tree[0]  # type: ignore[index]
    if kind == "ref":
        _, task, result = tree  # type: ignore[misc]
        actual = phases[task]
        if result is None:
            failed_ok, error_ok = cont.get(task, (False, False))
            return (
                actual in ("Succeeded", "Skipped")
                or (failed_ok and actual == "Failed")
                or (error_ok and actual == "Errored")
            )
        return actual == result
    if kind == "not":
        return not reference(tree[1], phases, cont)  # type: ignore[index]
    left = reference(tree[1], phases, cont)  # type: ignore[index]
    right = reference(tree[2], phases, cont)  # type: ignore[index]
    return (left and right) if kind == "&&" else (left or right)


@settings(max_examples=300, deadline=None)
@given(
    expression=st.recursive(refs(), extend, max_leaves=8),
    assignment=st.fixed_dictionaries({t: st.sampled_from(list(PHASES)) for t in TASKS}),
    cont=st.dictionaries(st.sampled_from(TASKS), st.tuples(st.booleans(), st.booleans())),
)
def test_compiled_depends_matches_reference(
    expression: tuple[str, object], assignment: dict[str, str], cont: dict[str, tuple[bool, bool]]
) -> None:
    text, tree = expression
    got = evaluate(text, {t: PHASES[p] for t, p in assignment.items()}, cont)
    assert got == reference(tree, assignment, cont)


_PHASE_CODES = st.sampled_from([P_SUCCEEDED, P_FAILED, P_ERROR, P_SKIPPED, P_OMITTED])


@settings(max_examples=200, deadline=None)
@given(
    names=st.lists(st.sampled_from("ABCDEF"), min_size=1, max_size=6),
    phases=st.lists(_PHASE_CODES, min_size=6, max_size=6),
    continue_on=st.dictionaries(st.sampled_from("ABCDEF"), st.tuples(st.booleans(), st.booleans())),
    spelled_as_expression=st.booleans(),
)
def test_conjunction_fast_path_agrees_with_the_tree(
    names: list[str], phases: list[int], continue_on: dict[str, tuple[bool, bool]], spelled_as_expression: bool
) -> None:
    """``A && B`` / ``dependencies: [A, B]`` bind to one closure; it must mean exactly what the tree means."""
    from workflows.model.depends import _bind

    expr = parse_depends(" && ".join(names)) if spelled_as_expression else from_dependencies(names)
    assert expr.conjunction is not None
    ids = {name: index for index, name in enumerate("ABCDEF")}
    state = State(phase=phases)
    assert expr.bind(ids, continue_on=continue_on)(state) is _bind(expr.tree, ids, continue_on)(state)
    # and the tree itself against the definition
    accepted = {
        name: {P_SUCCEEDED, P_SKIPPED}
        | ({P_FAILED} if continue_on.get(name, (False, False))[0] else set())
        | ({P_ERROR} if continue_on.get(name, (False, False))[1] else set())
        for name in names
    }
    assert expr.bind(ids, continue_on=continue_on)(state) is all(phases[ids[n]] in accepted[n] for n in names)


def test_only_plain_conjunctions_take_the_fast_path() -> None:
    assert parse_depends("A && B.Failed", known_tasks=["A", "B"]).conjunction is None
    assert parse_depends("A || B", known_tasks=["A", "B"]).conjunction is None
    assert parse_depends("!A", known_tasks=["A"]).conjunction is None
    assert parse_depends("(A && B) && C", known_tasks=["A", "B", "C"]).conjunction == ("A", "B", "C")
    expr = parse_depends("A && (C.Succeeded || C.Failed)", known_tasks=["A", "C"])
    assert expr.failure_handled == frozenset({"C"})


def test_a_dependencies_list_builds_its_tree_on_demand() -> None:
    from workflows.model.depends import And, Ref

    listed = from_dependencies(["A", "B", "A"])
    assert listed.parsed is None
    assert listed.tasks == ("A", "B")
    assert listed.tree == And((Ref("A", None), Ref("B", None), Ref("A", None)))
    assert from_dependencies(["A", "B"]) == parse_depends("A && B", known_tasks=["A", "B"])
    assert from_dependencies(["A"]).tree == Ref("A", None)
