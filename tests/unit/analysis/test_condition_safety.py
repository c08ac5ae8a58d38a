"""Hostile conditions and results: only a bool or our own error types ever come out, and everything is bounded."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.expr import MAX_DEPTH, MAX_SOURCE_LENGTH, compile_condition
from workflows.errors import ExpressionError, ExpressionEvaluationError, ExpressionSyntaxError

_TOKENS = [
    "result", "result[0]", "result.x", "result.__class__", "().__class__", "__import__('os')", "len(result)",
    "isNaN(result)", "default(result, 0)", "asInt(result)", "asFloat(result)", "isNil(result)", "isInf(result)",
    "1", "0", "-1", "1.5", "1e308", "9", "nil", "true", "false", "'s'", '"s"', "[1, 2]",
    "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "**", "^", "&&", "||", "!", "and", "or", "not",
    "in", "not in", "??", "?.", "?", ":", "(", ")", "[", "]", ".", ",", "contains", "lambda", "import", "{", "}",
    "\\", "'", '"', "`", "#", ";", "\n",
]  # fmt: skip

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20,
)

_FUZZ = settings(max_examples=400, deadline=1000, suppress_health_check=[HealthCheck.too_slow])


def _run(source: str, result: object) -> None:
    try:
        condition = compile_condition(source)
    except ExpressionSyntaxError:
        return
    try:
        value = condition.evaluate(result)
    except ExpressionEvaluationError:
        return
    assert isinstance(value, bool)


@_FUZZ
@given(source=st.text(max_size=200), result=_JSON)
def test_random_text_only_compiles_or_fails_with_our_errors(source: str, result: object) -> None:
    _run(source, result)


@_FUZZ
@given(tokens=st.lists(st.sampled_from(_TOKENS), max_size=40), result=_JSON)
def test_token_soup_only_yields_bools_or_our_errors(tokens: list[str], result: object) -> None:
    _run(" ".join(tokens), result)


@pytest.mark.parametrize(
    "source",
    [
        "result.__class__",
        "().__class__",
        "result.__class__.__mro__[1].__subclasses__()",
        "__import__('os').system('true')",
        "eval('1')",
        "result.__dict__ == nil",
        "[].__class__",
        "'' .join([])",
        "lambda: 1",
    ],
)
def test_python_escape_attempts_never_reach_python(source: str) -> None:
    for result in ({}, [], "s", 1, None):
        try:
            compile_condition(source).value(result)
        except ExpressionError:
            continue


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "source",
    [
        "9**9**9**9**9 > 1",
        "(" * 10_000 + "1" + ")" * 10_000,
        "!" * 5000 + "true",
        "-" * 5000 + "1",
        " + ".join(["1"] * 1000),
        "result" + "[0]" * 2000,
        "1" * 5000,
        "'" + "a" * (MAX_SOURCE_LENGTH + 10) + "'",
        "f(" * 3000,
        "[" * 3000,
    ],
)
def test_bounds_stop_pathological_inputs_quickly(source: str) -> None:
    outcome: object
    try:
        outcome = compile_condition(source).value([1])
    except (ExpressionSyntaxError, ExpressionEvaluationError) as error:
        outcome = error
    assert outcome is not None


def test_huge_exponent_is_infinite_not_a_big_integer() -> None:
    assert compile_condition("9**9**9").value(None) == math.inf


def test_depth_limit_is_a_syntax_error_with_the_limit_named() -> None:
    with pytest.raises(ExpressionSyntaxError, match=f"more than {MAX_DEPTH} levels"):
        compile_condition("(" * (MAX_DEPTH + 5) + "1" + ")" * (MAX_DEPTH + 5))


def test_reasonable_nesting_is_accepted() -> None:
    depth = MAX_DEPTH // 4
    assert compile_condition("(" * depth + "result > 1" + ")" * depth).evaluate(2) is True


def test_deeply_nested_result_compared_is_an_evaluation_error() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ExpressionEvaluationError):
        compile_condition("result == result").evaluate(deep)
