"""The condition evaluator gives expr-lang's answers for the conditions Argo users write."""

from __future__ import annotations

import math

import pytest

from analysis.expr import compile_condition
from workflows.errors import ExpressionEvaluationError, ExpressionSyntaxError

NAN = math.nan


@pytest.mark.parametrize(
    ("source", "result", "expected"),
    [
        ("result[0] >= 0.95", [0.97], True),
        ("result[0] >= 0.95", [0.5], False),
        ("result >= 0.95", 0.96, True),
        ("len(result) > 0 && result[0] < 0.01", [0.001], True),
        ("len(result) > 0 && result[0] < 0.01", [], False),  # short-circuit: result[0] never evaluated
        ("len(result) == 0 || result[0] < 0.01", [], True),
        ("isNaN(result)", NAN, True),
        ("isNaN(result)", 1.0, False),
        ("isNaN(result[0])", [NAN], True),
        ("isInf(result)", math.inf, True),
        ("isNil(result)", None, True),
        ("isNil(result)", 0, False),
        ("default(result, 0) < 5", None, True),
        ("default(result, 10) < 5", 3, True),
        ("asInt(result) == 5", "5", True),
        ("asInt(result) == 5", 5.9, True),  # truncation toward zero, as Go's int64()
        ("asInt(result) == -5", -5.9, True),
        ("asFloat(result) > 1", "1.5", True),
        ("asFloat(result) > 1", 2, True),
        ("isNaN(asFloat(result))", "NaN", True),
        ("result == 'It worked!'", "It worked!", True),
        ('result == "It worked!"', "nope", False),
        ("result.status == 'ok'", {"status": "ok"}, True),
        ("result['status'] == 'ok'", {"status": "ok"}, True),
        ("result.missing == nil", {"status": "ok"}, True),  # a missing map key is nil
        ("result.a.b >= 2", {"a": {"b": 2}}, True),
        ("result.code in [200, 201]", {"code": 201}, True),
        ("result.code not in [200, 201]", {"code": 500}, True),
        ("'x' in result", {"x": 1}, True),
        ("result[-1] == 3", [1, 2, 3], True),
        ("not (result > 1) and true", 0, True),
        ("!(result > 1) || false", 0, True),
        ("result == 1.0", 1, True),  # int and float compare by value
        ("result == true", 1, False),  # but a bool never equals a number
        ("result == '1'", 1, False),  # == across types is false, not an error
        ("result == nil", None, True),
        ("result == [1, 2]", [1, 2], True),
        ("1 + 2 * 3 == 7", None, True),
        ("(1 + 2) * 3 == 9", None, True),
        ("7 / 2 == 3.5", None, True),  # "/" divides as floats
        ("-7 % 3 == -1", None, True),  # Go's remainder takes the dividend's sign
        ("2 ** 10 == 1024", None, True),
        ("2 ^ 3 == 8", None, True),
        ("-2 ** 2 == -4", None, True),
        ("2 ** 3 ** 2 == 512", None, True),  # right-associative
        ("9 ** 9 ** 9 > 1", None, True),  # +Inf, not a huge integer
        ("1 / 0 > 1e300", None, True),
        ("isNaN(0 / 0)", None, True),
        ("'ab' + 'c' == 'abc'", None, True),
        ("result contains 'err'", "a failure", False),
        ("result contains 'err'", "err: x", True),
        ("result startsWith 'ok'", "ok!", True),
        ("result endsWith '!'", "ok!", True),
        ("result ?? 3 == 3", None, True),
        ("result?.x == nil", None, True),
        ("result > 1 ? true : false", 2, True),
        ("0x10 == 16 && 1_000 == 1000", None, True),
        ("'a\\'b' == \"a'b\"", None, True),
        ("result\n  >= 0.5", 0.7, True),
        ("result.x.y == nil", {"x": {}}, True),
        ("len('héllo') == 5", None, True),
    ],
)
def test_condition_values(source: str, result: object, expected: bool) -> None:
    assert compile_condition(source).evaluate(result) is expected


@pytest.mark.parametrize(
    ("source", "result", "fragment"),
    [
        ("result[0] > 1", "abc", "invalid operation: string"),
        ("result > 1", "x", "invalid operation: string 'x' > int 1"),
        ("result.x", [1], "cannot index array with string 'x'"),
        ("result[3] > 0", [1], "index 3 out of range"),
        ("result.a.b > 0", {}, "cannot fetch 'b' from nil"),
        ("asInt(result) > 0", "1.5", "asInt() cannot parse '1.5'"),
        ("asInt(result) > 0", "abc", "asInt() cannot parse"),
        ("asFloat(result) > 0", "1e400", "asFloat() cannot parse"),
        ("asFloat(result) > 0", " 1", "asFloat() cannot parse"),
        ("asInt(result) > 0", True, "asInt() not supported on bool"),
        ("isNaN(result)", "x", "isNaN() needs a number"),
        ("len(result) > 0", 3, "len() needs a string, array or map"),
        ("result && true", 1, "the left side of 'and' must be a bool"),
        ("!result", 1, "'!' needs a bool"),
        ("result", 1.0, "must produce true or false, got float"),
        ("result % 2 == 0", 1.5, "invalid operation"),
        ("result % 0 == 0", 3, "integer divide by zero"),
        ("9223372036854775807 + result > 0", 1, "integer overflow"),
        ("'a' in result", "abc", "use 'contains'"),
        ("result.__class__ > 0", "s", "cannot index string with string '__class__'"),
    ],
)
def test_runtime_type_errors_are_evaluation_errors(source: str, result: object, fragment: str) -> None:
    condition = compile_condition(source)
    with pytest.raises(ExpressionEvaluationError) as raised:
        condition.evaluate(result)
    assert fragment in str(raised.value)


def test_dunder_on_a_map_is_only_a_missing_key() -> None:
    assert compile_condition("result.__class__ == nil").evaluate({}) is True
    assert compile_condition("result.__class__ == 'x'").evaluate({"__class__": "x"}) is True


def test_value_exposes_non_boolean_results_for_diagnostics() -> None:
    assert compile_condition("result[0] * 2").value([1.5]) == 3.0
    assert compile_condition("default(result, 'fallback')").value(None) == "fallback"


def test_compile_once_is_cached_by_source() -> None:
    assert compile_condition("result > 1") is compile_condition("result > 1")


@pytest.mark.parametrize(
    ("source", "fragment", "column", "hint"),
    [
        ("reslt > 1", "unknown name 'reslt'", 1, "did you mean 'result'"),
        ("result > 1 && lenn(result)", "unknown function 'lenn'", 15, "did you mean 'len'"),
        ("result = 1", "unexpected character '='", 8, "use == to compare"),
        ("result > None", "unknown name 'None'", 10, "write nil"),
        ("result == True", "unknown name 'True'", 11, "write true"),
        ("result[0] >", "condition ends too early", 12, "operand is missing"),
        ("(result > 1", "expected ')'", 12, "matching )"),
        ("result > 'abc", "unterminated string", 10, "close the string"),
        ("().__class__", "empty parentheses", 1, ""),
        ("result 1", "unexpected '1'", 8, "&& or ||"),
        ("", "condition is empty", 1, ""),
        ("result matches 'a.*'", "'matches' is not supported", 8, "contains"),
        ("len > 1", "len is a function", 1, "len(result)"),
        ("default(result) > 1", "takes 2 arguments, got 1", 8, "default(result, 0)"),
        ("result & 1", "unexpected character '&'", 8, "&&"),
        ("result > 99999999999999999999", "does not fit in 64 bits", 10, "float"),
        ("result > 1e999", "out of range", 10, ""),
        ("result.", "expected a field name", 8, ""),
        ("'\\q'", "invalid escape", 2, ""),
        ("result @ 1", "unexpected character '@'", 8, ""),
    ],
)
def test_syntax_errors_name_the_column_and_a_hint(source: str, fragment: str, column: int, hint: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as raised:
        compile_condition(source)
    error = raised.value
    assert fragment in str(error)
    assert error.column == column
    assert hint in error.hint


def test_multi_line_conditions_report_line_and_column() -> None:
    with pytest.raises(ExpressionSyntaxError) as raised:
        compile_condition("result > 1 &&\n  reslt < 2")
    assert (raised.value.line, raised.value.column) == (2, 3)
    assert "line 2, column 3" in str(raised.value)
