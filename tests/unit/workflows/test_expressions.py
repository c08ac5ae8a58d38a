"""One evaluator, two dialects: expr-lang conditions give expr-lang's answers, ``when`` gives govaluate's.

expr-lang reads AnalysisTemplate conditions (``result``) and the HTTP step's ``successCondition`` (``request``,
``response``); govaluate reads a task's rendered ``when``, where bare words are strings. Each dialect keeps its own
answers, and the cases where the two disagree are listed together at the end.
"""

from __future__ import annotations

import math

import pytest

from workflows.errors import ExpressionError, ExpressionEvaluationError, ExpressionSyntaxError
from workflows.model.expr import MAX_PATTERN_LENGTH, Dialect, compile_condition, compile_when, evaluate_when

NAN = math.nan
HTTP = frozenset({"request", "response"})


def judge(source: str, result: object) -> bool:
    return compile_condition(source).evaluate({"result": result})


# --------------------------------------------------------------------------------------------------------------
# expr-lang: AnalysisTemplate conditions


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
    assert judge(source, result) is expected


@pytest.mark.parametrize(
    ("source", "result", "expected"),
    [
        # matches: RE2, unanchored like Go's MatchString
        ("result matches '^v[0-9]+$'", "v12", True),
        ("result matches 'err'", "no error here", True),
        ("result matches '^ok$'", "ok\n", False),
        ("result not matches 'fail'", "passed", True),
        ("not (result matches 'fail')", "failed", False),
        ("result matches '(?i)^OK'", "ok!", True),
        ("result not contains 'x' && result not startsWith 'a' && result not endsWith 'z'", "bcd", True),
        # ranges and slices
        ("result in 200..299", 204, True),
        ("result in 200..299", 304, False),
        ("result in 200..299", 204.0, True),
        ("1..3 == [1, 2, 3]", None, True),
        ("len(5..1) == 0", None, True),
        ("result[1:] == [2, 3]", [1, 2, 3], True),
        ("result[:-1] == [1, 2]", [1, 2, 3], True),
        ("result[-10:10] == [1, 2, 3]", [1, 2, 3], True),  # bounds are clamped, as in expr
        ("result[:2] == 'ab'", "abc", True),
        (".5 + .5 == 1", None, True),
        # predicates over Prometheus vectors and JSON arrays
        ("all(result, # < 0.05)", [0.01, 0.02], True),
        ("all(result, {# < 0.05})", [0.01, 0.2], False),
        ("all(result, # < 0.05)", [], True),
        ("any(result, # > 0.5)", [0.1, 0.9], True),
        ("none(result, isNaN(#))", [0.1, 0.9], True),
        ("one(result, # > 0.5)", [0.1, 0.9], True),
        ("count(result, # > 0.5) == 2", [0.6, 0.9, 0.1], True),
        ("len(filter(result, .healthy)) == 1", [{"healthy": True}, {"healthy": False}], True),
        ("map(result, #.v) == [1, 2]", [{"v": 1}, {"v": 2}], True),
        ("all(result, #index < 2)", [5, 6], True),
        ("any(result, all(#, # > 0))", [[1, 2], [0]], True),  # '#' is the innermost element
        # numbers
        ("sum(result) == 6 && mean(result) == 2 && median(result) == 2", [1, 2, 3], True),
        ("max(result) == 3 && min(result) == 1", [1, 3, 2], True),
        ("max(1, 2.5, 2) == 2.5", None, True),
        ("abs(result) == 2", -2, True),
        ("ceil(1.2) == 2 && floor(1.8) == 1 && round(2.5) == 3 && round(-2.5) == -3", None, True),
        ("int('42') == 42 && float('1.5') == 1.5", None, True),
        ("mean([]) == 0", None, True),
        # strings, maps and JSON
        ("lower(result) == 'ok' && upper(result) == 'OK'", "Ok", True),
        ("trim(result) == 'x' && trim('__x__', '_') == 'x'", "  x ", True),
        ("trimPrefix(result, 'v') == '1.2' && trimSuffix(result, '.2') == 'v1'", "v1.2", True),
        ("hasPrefix(result, 'v') && hasSuffix(result, '2')", "v1.2", True),
        ("indexOf(result, 'b') == 1 && lastIndexOf(result, 'b') == 3", "abcb", True),
        ("split(result, ',') == ['a', 'b', 'c'] && split(result, ',', 2) == ['a', 'b,c']", "a,b,c", True),
        ("join(['a', 'b'], '-') == 'a-b' && replace(result, 'a', 'o') == 'oo'", "aa", True),
        ("string(result) == '1e+06' && string(1.5) == '1.5' && string(3) == '3'", 1e6, True),
        ("type(result) == 'map' && keys(result) == ['a'] && values(result) == [1]", {"a": 1}, True),
        ("first(result) == 1 && last(result) == 3 && first([]) == nil", [1, 2, 3], True),
        ("get(result, 5) == nil && get(result, -1) == 3", [1, 2, 3], True),
        ("fromJSON(result).status == 'UP'", '{"status": "UP", "n": 1}', True),
        ("fromJSON(result).n == 1", '{"status": "UP", "n": 1}', True),  # JSON numbers are float64, as in Go
    ],
)
def test_expr_builtins_and_operators_argo_users_write(source: str, result: object, expected: bool) -> None:
    assert judge(source, result) is expected


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
        ("result matches 'x'", 1, "'matches' needs a string on each side"),
        ("'x' matches result", "(", "invalid regular expression"),  # a pattern from data: checked when used
        ("all(result, # > 0)", None, "all() needs an array, got nil"),
        ("all(result, #)", [1], "the predicate of all() must give true or false"),
        ("result in 'a'..'b'", 1, "ranges are between integers"),
        ("fromJSON(result) == nil", "{not json", "fromJSON() cannot parse"),
        ("fromJSON(result) == nil", "NaN", "fromJSON() cannot parse"),
        ("sum(result) > 0", [1, "2"], "sum() needs numbers"),
        ("lower(result) == ''", 1, "lower() needs a string"),
        ("abs(-9223372036854775807 - 1) > 0", None, "integer overflow in abs()"),
    ],
)
def test_runtime_type_errors_are_evaluation_errors(source: str, result: object, fragment: str) -> None:
    condition = compile_condition(source)
    with pytest.raises(ExpressionEvaluationError) as raised:
        condition.evaluate({"result": result})
    assert fragment in str(raised.value)


def test_dunder_on_a_map_is_only_a_missing_key() -> None:
    assert judge("result.__class__ == nil", {}) is True
    assert judge("result.__class__ == 'x'", {"__class__": "x"}) is True


def test_value_exposes_non_boolean_results_for_diagnostics() -> None:
    assert compile_condition("result[0] * 2").value({"result": [1.5]}) == 3.0
    assert compile_condition("default(result, 'fallback')").value({"result": None}) == "fallback"


def test_compile_once_is_cached_by_source_and_names() -> None:
    assert compile_condition("result > 1") is compile_condition("result > 1")
    assert compile_condition("response.statusCode == 1", names=HTTP) is compile_condition(
        "response.statusCode == 1", names=HTTP
    )
    assert compile_condition("1 > 0", names=HTTP) is not compile_condition("1 > 0")


def test_a_declared_name_without_a_value_is_an_evaluation_error() -> None:
    with pytest.raises(ExpressionEvaluationError, match="'result' has no value"):
        compile_condition("result > 1").evaluate({})


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
        ("len > 1", "len is a function", 1, "len(result)"),
        ("default(result) > 1", "takes 2 arguments, got 1", 8, "default(result, 0)"),
        ("result & 1", "unexpected character '&'", 8, "&&"),
        ("result > 99999999999999999999", "does not fit in 64 bits", 10, "float"),
        ("result > 1e999", "out of range", 10, ""),
        ("result.", "expected a field name", 8, ""),
        ("'\\q'", "invalid escape", 2, ""),
        ("result @ 1", "unexpected character '@'", 8, ""),
        # Changed on purpose: `matches` used to be refused; it is RE2 now, so only a bad pattern is an error.
        ("result matches 'a('", "invalid regular expression", 16, "RE2"),
        ("result matches '(a)\\\\1'", "invalid regular expression", 16, "no backreferences"),
        ("result =~ 'a'", "unexpected character '='", 8, "matches"),
        ("repeat(result, 3) == ''", "repeat() is not supported", 1, "large strings"),
        ("now() > 0", "now() is not supported", 1, "clock"),
        ("result | len()", "unexpected character '|'", 8, "pipe"),
        ("let x = 1; x", "'let' variables are not supported", 1, "inline"),
        ("{a: 1}", "map literals are not supported", 1, "predicates"),
        ("# > 1", "'#' is only valid inside a predicate", 1, "all(result"),
        ("all(result)", "expected ','", 11, "all(array, # > 0)"),
        ("result not 1", "expected 'in', 'contains'", 12, "not in"),
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


def test_a_pattern_longer_than_the_bound_is_refused() -> None:
    with pytest.raises(ExpressionSyntaxError, match=f"longer than {MAX_PATTERN_LENGTH}"):
        compile_condition("result matches '" + "a" * (MAX_PATTERN_LENGTH + 1) + "'")
    with pytest.raises(ExpressionEvaluationError, match=f"longer than {MAX_PATTERN_LENGTH}"):
        compile_condition("'x' matches result").evaluate({"result": "a" * (MAX_PATTERN_LENGTH + 1)})


# --------------------------------------------------------------------------------------------------------------
# expr-lang: the HTTP step's successCondition (request and response, as Argo's agent binds them)


def _http_env(status: int = 201, body: str = "hello google") -> dict[str, object]:
    return {
        "request": {"method": "GET", "url": "http://svc/health", "body": "", "headers": {"Accept": ["*/*"]}},
        "response": {"statusCode": status, "body": body, "headers": {"Server": ["cloudflare"]}},
    }


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("response.statusCode == 201", True),
        ('response.body contains "google"', True),
        ('response.headers["Server"][0] == "cloudflare"', True),
        ("response.statusCode >= 200 && response.statusCode < 300", True),
        ("response.statusCode in 200..299", True),
        ("response.body matches '^hello\\\\s+goo+gle$'", True),
        ("request.method == 'GET' && request.url endsWith '/health'", True),
        ("response.headers.Missing == nil", True),
        ('response.statusCode == "201"', False),  # expr-lang: a string never equals a number
    ],
)
def test_http_success_condition_reads_request_and_response(source: str, expected: bool) -> None:
    assert compile_condition(source, names=HTTP).evaluate(_http_env()) is expected


def test_http_condition_names_are_checked_at_compile_time() -> None:
    with pytest.raises(ExpressionSyntaxError, match="unknown name 'resp'") as raised:
        compile_condition("resp.statusCode == 1", names=HTTP)
    assert "did you mean 'response'" in raised.value.hint
    with pytest.raises(ExpressionSyntaxError):
        compile_condition("response.statusCode ==", names=HTTP)
    with pytest.raises(ExpressionSyntaxError, match="unknown name 'result'"):
        compile_condition("result > 1", names=HTTP)


# --------------------------------------------------------------------------------------------------------------
# govaluate: a task's rendered `when`


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("heads == heads", True),
        ("tails == heads", False),
        ("5 > 10", False),
        ("10 > 5", True),
        ("1.10 == 1.1", True),
        ("'a b' == \"a b\"", True),
        ("!(1 == 2) && (true || false)", True),
        ("foo =~ '^f'", True),
        ("foo !~ '^f'", False),
        # govaluate semantics
        ("", True),  # Argo's shouldExecute: an empty when runs the task
        ("true", True),
        ("false", False),
        ("Succeeded == Succeeded", True),
        ("Failed != Succeeded", True),
        ("200 == 200.0", True),  # every number is a float64
        ("'200' == 200", False),  # == is strict: a string never equals a number
        ("true == 'true'", False),
        ("True == true", False),  # only lowercase true/false are bools; 'True' is a bare word
        ("'b' > 'a' && 'B' < 'a'", True),  # strings order byte-wise
        ("2 > 10", False),  # numbers order numerically
        ("x in (x, y)", True),
        ("z IN ('x', 'y')", False),
        ("3 in (1, 2, 3)", True),
        ("'3' in (1, 2, 3)", False),
        ("1 + 2 * 3 == 7", True),
        ("(1 + 2) * 3 == 9", True),
        ("7 / 2 == 3.5", True),
        ("7 % 2.5 == 2", True),  # math.Mod on floats
        ("-7 % 3 == -1", True),
        ("2 ** 10 == 1024", True),
        ("2 ** 3 ** 2 == 64", True),  # left-associative, unlike expr-lang
        ("-2 ** 2 == 4", True),  # a prefix binds to its value first, unlike expr-lang
        ("10 - 2 - 3 == 5", True),
        ("a + b == ab", True),
        ("v + 1 == v1", True),  # '+' concatenates when either side is a string
        ("1000000 + 'x' == '1e+06x'", True),  # with Go's %v for the number
        ("1 | 2 == 3 && 6 & 3 == 2 && 6 ^ 3 == 5", True),
        ("1 << 4 == 16 && 256 >> 4 == 16 && ~0 == -1", True),
        ("true ? yes : no", "yes"),
        ("false ? yes : no", "no"),
        ("'' ?? fallback", ""),
        ("0x1F == 31", True),
        ("[name with spaces] == 'name with spaces'", True),  # an escaped variable is a bare word too
        ("foo\\-bar == 'foo-bar'", True),  # a backslash escapes one character of a bare word
        ("'it\\'s' == 'it\\'s'", True),  # a quote inside a string is escaped with a backslash
        ("héllo == héllo", True),
        ("a == b || c == c", True),
        ("false && (1 > 'x')", False),  # && decides before the right side is looked at
        ("1 / 0 > 1000", True),
    ],
)
def test_when_clauses(text: str, expected: object) -> None:
    if isinstance(expected, bool):
        assert evaluate_when(text) is expected
    else:
        assert compile_when(text).value() == expected


@pytest.mark.parametrize(
    ("text", "error", "fragment", "hint"),
    [
        # Changed on purpose: the old evaluator accepted these; govaluate (and so Argo) does not.
        ("not false and 2 >= 2", ExpressionSyntaxError, "unexpected 'false'", "write !"),
        ("x in 'xyz'", ExpressionEvaluationError, "'in' needs an array on the right", "=~"),
        # words and functions govaluate does not have
        ("a == b and c == d", ExpressionSyntaxError, "unexpected 'and'", "write &&"),
        ("a == b or c == d", ExpressionSyntaxError, "unexpected 'or'", "write ||"),
        ("abc contains b", ExpressionSyntaxError, "unexpected 'contains'", "=~"),
        ("abc startsWith a", ExpressionSyntaxError, "unexpected 'startsWith'", "'^prefix'"),
        ("abc matches a", ExpressionSyntaxError, "unexpected 'matches'", "=~"),
        ("len(abc) > 1", ExpressionSyntaxError, "unexpected '('", "no functions"),
        # values that must be quoted
        ("us-east-1 == us-east-1", ExpressionEvaluationError, "'-' needs two numbers", "must be quoted"),
        ("v1.2 == v1.2", ExpressionSyntaxError, "parameter accessor", "quote it"),
        ("1.2.3 == 1.2.3", ExpressionSyntaxError, "cannot read number '1.2.3'", "quote"),
        ("http://x == y", ExpressionSyntaxError, "invalid token '://'", "quote"),
        ("hello world == hello world", ExpressionSyntaxError, "unexpected 'world'", "quote a value"),
        ("it's == its", ExpressionSyntaxError, "unclosed string literal", "either kind"),
        ("'x' == \"it's\"", ExpressionSyntaxError, "unclosed string literal", "either kind"),
        ("1e3 == 1000", ExpressionSyntaxError, "unexpected 'e3'", ""),
        # operators
        ("a = b", ExpressionSyntaxError, "invalid token '='", "use =="),
        ("a &&!b", ExpressionSyntaxError, "invalid token '&&!'", "spaces between operators"),
        ("'5' > 3", ExpressionEvaluationError, "'>' compares two numbers or two strings", ""),
        ("1 < 2 < 3", ExpressionEvaluationError, "'<' compares two numbers or two strings, got bool", ""),
        ("!yes", ExpressionEvaluationError, "'!' needs a bool", ""),
        ("-yes", ExpressionEvaluationError, "unary '-' needs a number, got string 'yes'", ""),
        ("yes && true", ExpressionEvaluationError, "the left side of '&&' must be a bool", ""),
        ("yes ? 1 : 2", ExpressionEvaluationError, "'?' needs a bool on its left", ""),
        ("a =~ '('", ExpressionSyntaxError, "invalid regular expression", "RE2"),
        ("a =~ b(", ExpressionSyntaxError, "unexpected '('", ""),
        ("( == )", ExpressionSyntaxError, "unexpected '=='", ""),
        ("()", ExpressionSyntaxError, "empty parentheses", ""),
        ("(a == a", ExpressionSyntaxError, "expected ')'", "matching )"),
        ("[unclosed", ExpressionSyntaxError, "unclosed parameter bracket", "]"),
        ("0x == 0", ExpressionSyntaxError, "cannot read hex number", ""),
        # results that are not a bool
        ("heads", ExpressionEvaluationError, "must produce true or false, got string 'heads'", ""),
        ("1 + 1", ExpressionEvaluationError, "got number 2", ""),
        ("(a, b)", ExpressionEvaluationError, "got array", ""),
        ("   ", ExpressionSyntaxError, "when is blank", ""),
    ],
)
def test_when_errors_say_what_govaluate_lacks_and_how_to_write_it(
    text: str, error: type[ExpressionError], fragment: str, hint: str
) -> None:
    with pytest.raises(error) as raised:
        evaluate_when(text)
    assert fragment in str(raised.value)
    assert hint in str(raised.value)


def test_when_syntax_errors_carry_the_position() -> None:
    with pytest.raises(ExpressionSyntaxError) as raised:
        evaluate_when("ok == ok and done")
    assert raised.value.column == 10
    assert raised.value.offset == 9


def test_when_is_compiled_once_per_rendered_text() -> None:
    assert compile_when("a == b") is compile_when("a == b")
    assert compile_when("a == b").dialect is Dialect.GOVALUATE
    assert compile_condition("result > 1").dialect is Dialect.EXPR


# --------------------------------------------------------------------------------------------------------------
# The two dialects side by side: the same text, each library's answer ("error" = an ExpressionError).

ERROR = "error"


@pytest.mark.parametrize(
    ("text", "expr_answer", "when_answer"),
    [
        ("heads == heads", ERROR, True),  # bare words: unknown names in expr, strings in govaluate
        ("'200' == 200", False, False),  # neither equates a string with a number
        ("200 == 200.0", True, True),  # both compare numbers by value
        ("2 ** 3 ** 2 == 512", True, False),  # expr: right-associative; govaluate: left (64)
        ("-2 ** 2 == 4", False, True),  # expr: -(2**2); govaluate: (-2)**2
        ("'a' + 1 == 'a1'", ERROR, True),  # govaluate concatenates a number into a string
        ("7 % 2.5 == 2", ERROR, True),  # expr's % is integer-only; govaluate's is math.Mod
        ("true and true", True, ERROR),  # word operators: expr only
        ("not false", True, ERROR),
        ("'abc' contains 'b'", True, ERROR),
        ("'abc' startsWith 'a'", True, ERROR),
        ("'abc' matches 'b'", True, ERROR),  # expr's regex operator...
        ("'abc' =~ 'b'", ERROR, True),  # ...and govaluate's
        ("'b' in ['a', 'b']", True, ERROR),  # [..] is an array in expr, a bare word ("'a', 'b'") in govaluate...
        ("'a' in ('a', 'b')", ERROR, True),  # ...and (..) is govaluate's array
        ("nil == nil", True, True),  # expr's nil; govaluate's bare word "nil" equals itself
        ("1e3 == 1000", True, ERROR),  # govaluate has no exponent notation
        ("0b101 == 5", True, ERROR),
        ("1 | 2 == 3", ERROR, True),  # bitwise operators: govaluate only
        ("len('abc') == 3", True, ERROR),  # functions: expr only
        ('"it\'s" == "it\'s"', True, ERROR),  # a govaluate string ends at either quote
        ("1 + 2 == 3 ? true : false", True, True),
    ],
)
def test_the_dialects_differ_where_their_libraries_do(text: str, expr_answer: object, when_answer: object) -> None:
    for evaluate, expected in (
        (lambda: compile_condition(text).evaluate({"result": None}), expr_answer),
        (lambda: evaluate_when(text), when_answer),
    ):
        if expected == ERROR:
            with pytest.raises(ExpressionError):
                evaluate()
        else:
            assert evaluate() is expected
