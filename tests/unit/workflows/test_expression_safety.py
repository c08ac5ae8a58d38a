"""Hostile expressions and data: only a value or our own error types ever come out, and everything is bounded.

Both dialects face user text: conditions are written by template authors, and a ``when`` is rendered from task
outputs that anything may have produced. Neither may run Python, recurse without bound, backtrack exponentially,
build huge numbers or loop without a budget.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflows.errors import ExpressionError, ExpressionEvaluationError, ExpressionSyntaxError
from workflows.model.expr import (
    MAX_DEPTH,
    MAX_SOURCE_LENGTH,
    MAX_STEPS,
    MAX_WHEN_LENGTH,
    compile_condition,
    compile_when,
    evaluate_when,
)

_EXPR_TOKENS = [
    "result", "result[0]", "result.x", "result.__class__", "().__class__", "__import__('os')", "len(result)",
    "isNaN(result)", "default(result, 0)", "asInt(result)", "asFloat(result)", "isNil(result)", "isInf(result)",
    "1", "0", "-1", "1.5", "1e308", "9", "nil", "true", "false", "'s'", '"s"', "[1, 2]",
    "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "**", "^", "&&", "||", "!", "and", "or", "not",
    "in", "not in", "??", "?.", "?", ":", "(", ")", "[", "]", ".", ",", "contains", "lambda", "import", "{", "}",
    "\\", "'", '"', "`", "#", ";", "\n",
    # added with the merged evaluator: regexes, ranges, slices, predicates and builtins
    "matches", "'(a+)+$'", "'('", "..", "0..999999", "[1:]", "[:", "all(", "any(result, # > 0)", "filter(", "#",
    "#index", ".x", "{# > 0}", "map(result, #)", "sum(result)", "max(", "fromJSON(", "string(result)", "split(",
    "lower(", "'{\"a\": [1]}'", "get(result, 0)", "count(result, true)",
]  # fmt: skip
_WHEN_TOKENS = [
    "heads", "tails", "1", "0", "-1", "1.5", ".5", "0x1F", "1e5", "true", "false", "nil", "'s'", '"s"', "'", '"',
    "==", "!=", "<", "<=", ">", ">=", "=~", "!~", "+", "-", "*", "/", "%", "**", "&", "|", "^", "<<", ">>", "~",
    "&&", "||", "!", "?", ":", "??", ",", "in", "IN", "(", ")", "[", "]", "[a b]", "and", "or", "not", "contains",
    "len(", "a.b", "__class__", "__import__('os')", "'(a+)+$'", "'('", "\\", "us-east-1", "http://x", "#", "@",
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
        value = condition.evaluate({"result": result})
    except ExpressionEvaluationError:
        return
    assert isinstance(value, bool)


def _run_when(text: str) -> None:
    try:
        value = evaluate_when(text)
    except (ExpressionSyntaxError, ExpressionEvaluationError):
        return
    assert isinstance(value, bool)


@_FUZZ
@given(source=st.text(max_size=200), result=_JSON)
def test_random_text_only_compiles_or_fails_with_our_errors(source: str, result: object) -> None:
    _run(source, result)


@_FUZZ
@given(tokens=st.lists(st.sampled_from(_EXPR_TOKENS), max_size=40), result=_JSON)
def test_token_soup_only_yields_bools_or_our_errors(tokens: list[str], result: object) -> None:
    _run(" ".join(tokens), result)


@_FUZZ
@given(text=st.text(max_size=200))
def test_random_when_text_only_decides_or_fails_with_our_errors(text: str) -> None:
    _run_when(text)


@_FUZZ
@given(tokens=st.lists(st.sampled_from(_WHEN_TOKENS), max_size=40), glue=st.sampled_from([" ", ""]))
def test_when_token_soup_only_yields_bools_or_our_errors(tokens: list[str], glue: str) -> None:
    _run_when(glue.join(tokens))


@_FUZZ
@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_printed_as_go_does_read_back_exactly(value: float) -> None:
    text = compile_condition("string(result)").value({"result": value})
    assert isinstance(text, str)
    assert float(text) == value
    assert "e" not in text or text.split("e")[1][0] in "+-"  # Go always signs the exponent


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
        "map(result, #.__class__)",
        "string(result).__len__",
        "get(result, '__class__')",
        "fromJSON('{\"__class__\": 1}').__class__ == 1",
    ],
)
def test_python_escape_attempts_never_reach_python(source: str) -> None:
    for result in ({}, [], "s", 1, None):
        try:
            compile_condition(source).value({"result": result})
        except ExpressionError:
            continue


@pytest.mark.parametrize(
    "text",
    [
        "__class__ == __class__",
        "__import__('os') == 1",
        "[__class__] == '__class__'",
        "eval(1)",
        "a.__class__ == 1",
    ],
)
def test_when_dunders_are_only_strings_or_errors(text: str) -> None:
    try:
        value = compile_when(text).value()
    except ExpressionError:
        return
    assert isinstance(value, (bool, str))


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
        "all(" * 3000,
        "len(0..999999) > 0",
        " + ".join(["(0..999999)"] * 200) + " == []",
        "all(0..999999, all(0..999999, true))",
        "count(0..999999, # % 2 == 0) > 0",
        "sum(0..999999) > 0 && sum(0..999999) > 0",
        "fromJSON('" + "[" * 2000 + "')",
        "result matches '" + "(a*)*" * 300 + "$'",
        "result matches '" + "a{1000}" * 20 + "'",
    ],
)
def test_bounds_stop_pathological_inputs_quickly(source: str) -> None:
    outcome: object
    try:
        outcome = compile_condition(source).value({"result": [1]})
    except (ExpressionSyntaxError, ExpressionEvaluationError) as error:
        outcome = error
    assert outcome is not None


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "text",
    [
        "(" * 10_000 + "1" + ")" * 10_000,
        "! " * 5000 + "true",
        "- " * 5000 + "1",
        " + ".join(["1"] * 1000),
        " || ".join(["a == b"] * 2000),
        "x in (" + ", ".join(str(n) for n in range(5000)) + ")",
        "9" * 400 + " > 1",
        "0x" + "F" * 400 + " > 1",
        "9 ** 9 ** 9 ** 9 > 1",
        "'" + "a" * (MAX_WHEN_LENGTH + 1) + "'",
        "'" + "a" * 200_000 + "' =~ '(a|aa)+$'",
        "[" * 3000,
        "\\" * 3001,
    ],
)
def test_when_bounds_stop_pathological_inputs_quickly(text: str) -> None:
    outcome: object
    try:
        outcome = compile_when(text).value()
    except (ExpressionSyntaxError, ExpressionEvaluationError) as error:
        outcome = error
    assert outcome is not None


@pytest.mark.timeout(30)
def test_catastrophic_backtracking_patterns_stay_linear_with_re2() -> None:
    # With a backtracking engine each of these takes exponential time in the length of the text.
    hostile = "a" * 100_000 + "!"
    assert compile_condition("result matches '(a+)+$'").evaluate({"result": hostile}) is False
    assert compile_condition("result matches '^(a|aa)+$'").evaluate({"result": hostile}) is False
    assert compile_condition("result matches '(x+x+)+y'").evaluate({"result": "x" * 100_000}) is False
    assert evaluate_when("'" + "a" * 100_000 + "!' =~ '^(a|a?)+$'") is False
    assert evaluate_when("'" + "a" * 100_000 + "' !~ '(a*)*b'") is True


def test_loops_are_budgeted() -> None:
    with pytest.raises(ExpressionEvaluationError, match=f"more than {MAX_STEPS:,} loop steps"):
        compile_condition("all(0..999999, all(0..999999, true))").evaluate({"result": None})
    with pytest.raises(ExpressionEvaluationError, match="loop steps"):
        compile_condition("len(0..2000000) > 0").evaluate({"result": None})
    # Membership in a range never walks it.
    assert compile_condition("result in 0..999999").evaluate({"result": 999_999}) is True


def test_huge_numbers_are_refused_or_infinite_never_big_integers() -> None:
    assert compile_condition("9**9**9").value({"result": None}) == math.inf
    assert compile_when("9 ** 999").value() == math.inf  # govaluate is left-associative: (9**9)**9 is finite
    with pytest.raises(ExpressionSyntaxError, match="does not fit in 64 bits"):
        compile_condition("result > 99999999999999999999999")
    with pytest.raises(ExpressionEvaluationError, match="integer overflow"):
        compile_condition("9223372036854775807 * 2 > 0").evaluate({"result": None})
    with pytest.raises(ExpressionSyntaxError, match="cannot read number"):
        evaluate_when("9" * 400 + " > 1")
    with pytest.raises(ExpressionEvaluationError, match="64-bit integer"):
        evaluate_when("1e300 | 1 > 0".replace("1e300", "9" * 300))


def test_depth_limit_is_a_syntax_error_with_the_limit_named() -> None:
    with pytest.raises(ExpressionSyntaxError, match=f"more than {MAX_DEPTH} levels"):
        compile_condition("(" * (MAX_DEPTH + 5) + "1" + ")" * (MAX_DEPTH + 5))
    with pytest.raises(ExpressionSyntaxError, match=f"more than {MAX_DEPTH} levels"):
        compile_when("(" * (MAX_DEPTH + 5) + "1" + ")" * (MAX_DEPTH + 5))


def test_reasonable_nesting_is_accepted() -> None:
    depth = MAX_DEPTH // 4
    assert compile_condition("(" * depth + "result > 1" + ")" * depth).evaluate({"result": 2}) is True
    assert evaluate_when("(" * depth + "2 > 1" + ")" * depth) is True
    assert evaluate_when("x in (" + ", ".join(f"v{n}" for n in range(1000)) + ", x)") is True  # long lists are flat


def test_deeply_nested_data_compared_is_an_evaluation_error() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ExpressionEvaluationError):
        compile_condition("result == result").evaluate({"result": deep})
    with pytest.raises(ExpressionEvaluationError):
        compile_condition("fromJSON(result) == nil").evaluate({"result": "[" * 100_000 + "]" * 100_000})
