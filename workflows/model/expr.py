"""The one expression evaluator of the product: expr-lang conditions and govaluate ``when`` clauses.

Why it exists. Argo reads three kinds of user text, with two different Go libraries, and users bring that text
unchanged, so each must be read in its own dialect and give Argo's answers:

* AnalysisTemplate ``successCondition`` / ``failureCondition``: **expr-lang**, with ``result`` bound to what the
  provider measured (Argo Rollouts) -- :func:`compile_condition`;
* the HTTP template's ``successCondition``: **expr-lang**, with ``request`` and ``response`` bound (Argo Workflows'
  agent) -- :func:`compile_condition` with ``names={"request", "response"}``;
* a DAG task's ``when``: **govaluate**, after ``{{...}}`` substitution, with every govaluate variable token turned
  into a string (Argo's ``shouldExecute``), so ``heads == heads`` compares two strings -- :func:`evaluate_when`.

The dialects disagree on purpose and we keep the disagreements: expr-lang has ints and floats that compare by value
(``200 == 200.0``), ``==`` across types is false, ``<`` across types is an error, and there are functions, ``and``/
``or``/``not``, ``contains`` and ``matches``; govaluate has only float64 numbers, strict ``==`` (a string never
equals a number), bare words that are strings, ``=~``/``!~`` for regular expressions, ``(a, b)`` arrays with ``in``,
and no word operators and no functions (Argo registers none). Each dialect has its own tokenizer and grammar table;
both build the same kind of tree, which owns positions, depth bounds, RE2 regular expressions, Go's number
formatting and the error messages.

Why not a library. CEL (``cel-python``, which tests the CRDs' rules) is another grammar and cannot read Argo's
conditions; PyPI has no port of govaluate, and its two expr-lang entries (``expr-lang`` 0.1.0 and
``enchanter-golem`` 0.1.0, a binding to the Go core) are single early releases that do not read govaluate either.

What this module must never do: run user text as Python. There is no ``eval``/``exec``/``ast`` here and no
attribute lookup on values: ``result.__class__`` is a *map key* lookup (``nil`` when absent) or an evaluation
error, never a Python attribute. All work is bounded before evaluation starts or while it runs: the source length,
the tree depth (so neither the parser nor the evaluator can exhaust the stack), int64 arithmetic (so ``9*9*...``
cannot build a huge integer), float-only power (``9**9**9`` is ``+Inf``, as in Go), regular expressions through
RE2 (linear time, patterns of bounded length), a step budget for what loops (predicates such as ``all``, ranges
``a..b``, array concatenation), so evaluation time is linear in the condition and its data, and a text budget for
what builds strings (``+``, ``replace``, ``join``, ``lower`` ...), charged *before* a string is built where its size
can be known first, so ``map(0..999, response.body + "x")`` or nested ``replace(.., "a", "aa")`` stop with an error
instead of filling memory.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final

import re2

from workflows.errors import ExpressionEvaluationError, ExpressionSyntaxError

__all__ = [
    "MAX_DEPTH",
    "MAX_PATTERN_LENGTH",
    "MAX_SOURCE_LENGTH",
    "MAX_STEPS",
    "MAX_TEXT",
    "MAX_WHEN_LENGTH",
    "Condition",
    "Dialect",
    "check_pattern",
    "compile_condition",
    "compile_when",
    "evaluate_when",
    "go_float",
    "search_pattern",
]

#: Longest condition accepted. Real conditions are one line; this leaves room for generous multi-line ones.
MAX_SOURCE_LENGTH = 4096
#: Longest ``when`` accepted. It is rendered text: a task's output (up to 256 KiB) may be substituted into it twice.
MAX_WHEN_LENGTH = 1 << 20
#: Deepest expression tree accepted (parentheses, operator chains and calls all count).
MAX_DEPTH = 64
#: Longest regular expression accepted (``matches``, ``=~``, ``!~``); RE2 also caps the compiled program's memory.
MAX_PATTERN_LENGTH = 4096
#: Most loop steps one evaluation may take: predicate iterations, range elements and concatenated array elements.
#: expr-lang has the same kind of budget (its memory budget of 1e6 for ranges).
MAX_STEPS = 1_000_000
#: Most characters one evaluation may build into new strings (concatenations, ``replace``, ``join``, ``lower`` ...):
#: room for a few copies of the largest response body a provider reads (8 MiB), far from exhausting memory.
MAX_TEXT = 32 * 1024 * 1024

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class Dialect(StrEnum):
    """Which library's semantics a compiled text follows."""

    EXPR = "expr-lang"
    GOVALUATE = "govaluate"


# --------------------------------------------------------------------------------------------------------------
# Tokens (one token type for both dialects; each dialect has its own tokenizer below)


class _Kind(StrEnum):
    NUMBER = "number"
    STRING = "string"
    NAME = "name"
    OPERATOR = "operator"
    END = "end of condition"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    value: object
    offset: int


# -- expr-lang ---------------------------------------------------------------------------------------------------

# Longest first, so "**" wins over "*", "?." over "?" and ".." over ".".
_OPERATORS = (
    "**", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "..",
    "<", ">", "+", "-", "*", "/", "%", "^", "!", "(", ")", "[", "]", "{", "}", ".", ",", "?", ":",
)  # fmt: skip
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*"
    r"|0[bB][01](?:_?[01])*"
    r"|0[oO][0-7](?:_?[0-7])*"
    r"|\d(?:_?\d)*(?:\.\d(?:_?\d)*)?(?:[eE][+-]?\d+)?"
    r"|\.\d(?:_?\d)*(?:[eE][+-]?\d+)?",
    re.ASCII,
)
_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_LET = re.compile(r"\s+[A-Za-z_$][A-Za-z0-9_$]*\s*=[^=]")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v"}  # fmt: skip
_MISTYPED = {
    "=": "use == to compare",
    "&": "use && (or 'and') for logical and",
    "|": "use || (or 'or') for logical or; the pipe operator is not supported",
    ";": "conditions are one expression; 'let' and ';' are not supported",
}
_DIGITS = frozenset("0123456789")
# A '.' starts a number (".5") only where a value may start, never right after one ("result.x", "1..3").
_VALUE_ENDS = frozenset({_Kind.NUMBER, _Kind.STRING, _Kind.NAME})


def _tokenize_expr(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    length = len(source)
    while position < length:
        char = source[position]
        if char in " \t\r\n":
            position += 1
            continue
        after_value = bool(tokens) and (tokens[-1].kind in _VALUE_ENDS or tokens[-1].text in (")", "]", "}"))
        if char in "0123456789" or (char == "." and not after_value and source[position + 1 : position + 2] in _DIGITS):
            match = _NUMBER.match(source, position)
            assert match is not None  # a digit (or '.' then a digit) always matches
            text = match.group()
            tokens.append(_Token(_Kind.NUMBER, text, _expr_number(text, source, position), position))
            position = match.end()
            continue
        if char in "'\"`":
            text, value, position_after = _expr_string(source, position)
            tokens.append(_Token(_Kind.STRING, text, value, position))
            position = position_after
            continue
        if char.isascii() and (char.isalpha() or char in "_$"):
            match = _NAME.match(source, position)
            assert match is not None
            if match.group() == "let" and _LET.match(source, match.end()):
                raise ExpressionSyntaxError(
                    "'let' variables are not supported",
                    source=source,
                    offset=position,
                    hint="write the expression inline",
                )
            tokens.append(_Token(_Kind.NAME, match.group(), None, position))
            position = match.end()
            continue
        if char == "#":
            match = _NAME.match(source, position + 1)
            text = "#" + (match.group() if match else "")
            tokens.append(_Token(_Kind.NAME, text, None, position))
            position += len(text)
            continue
        for operator in _OPERATORS:
            if source.startswith(operator, position):
                tokens.append(_Token(_Kind.OPERATOR, operator, None, position))
                position += len(operator)
                break
        else:
            if source.startswith(("=~", "!~"), position - (char == "~")):
                hint = "expr-lang writes regular expressions with matches: x matches 'pattern' (or not matches)"
            else:
                hint = _MISTYPED.get(char, "")
            raise ExpressionSyntaxError(f"unexpected character {char!r}", source=source, offset=position, hint=hint)
    tokens.append(_Token(_Kind.END, "", None, length))
    return tokens


def _expr_number(text: str, source: str, offset: int) -> int | float:
    digits = text.replace("_", "")
    if digits[:2].lower() in ("0x", "0b", "0o"):
        value: int | float = int(digits, 0)
    elif any(c in digits for c in ".eE"):
        value = float(digits)
        if math.isinf(value):
            raise ExpressionSyntaxError(f"number {text!r} is out of range", source=source, offset=offset)
    else:
        value = int(digits, 10)
    if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
        raise ExpressionSyntaxError(
            f"integer {text!r} does not fit in 64 bits", source=source, offset=offset, hint="write it as a float"
        )
    return value


def _expr_string(source: str, start: int) -> tuple[str, str, int]:
    quote = source[start]
    position = start + 1
    chars: list[str] = []
    while position < len(source):
        char = source[position]
        if char == quote:
            return source[start : position + 1], "".join(chars), position + 1
        if char == "\\" and quote != "`":
            escape = source[position + 1 : position + 2]
            if escape in _ESCAPES:
                chars.append(_ESCAPES[escape])
                position += 2
                continue
            width = {"x": 2, "u": 4, "U": 8}.get(escape)
            digits = source[position + 2 : position + 2 + width] if width else ""
            if width and len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                code = int(digits, 16)
                if code <= 0x10FFFF:
                    chars.append(chr(code))
                    position += 2 + width
                    continue
            raise ExpressionSyntaxError(
                f"invalid escape sequence \\{escape}",
                source=source,
                offset=position,
                hint="write a backslash as \\\\",
            )
        if char == "\n" and quote != "`":
            break
        chars.append(char)
        position += 1
    raise ExpressionSyntaxError(
        "unterminated string", source=source, offset=start, hint=f"close the string with {quote}"
    )


# -- govaluate ---------------------------------------------------------------------------------------------------

# govaluate reads a run of operator characters greedily up to whitespace, a letter, a digit, a bracket or a quote,
# then looks the whole run up: "&&!" is one unknown token, not "&&" then "!". These are the runs it knows.
_G_PREFIX = frozenset({"-", "!", "~"})
_G_SYMBOLS = frozenset({
    "+", "-", "*", "/", "%", "**", "&", "|", "^", ">>", "<<",  # modifiers
    "&&", "||",  # logical
    "==", "!=", ">", ">=", "<", "<=", "=~", "!~",  # comparators (and the word "in")
    "?", ":", "??",  # ternary
})  # fmt: skip
_G_MISTYPED = {
    "=": "use == to compare",
    "===": "use == to compare",
    "!==": "use != to compare",
    "<>": "use != to compare",
}
_G_WORD = re.compile(r"[^\W_](?:[\w.]|\\.)*")  # unicode.IsLetter, then letters, digits, '_' and '.'


def _tokenize_govaluate(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    length = len(source)
    while position < length:
        char = source[position]
        if char.isspace():
            position += 1
            continue
        start = position
        if char.isdecimal() or char == ".":
            position = _g_number(source, position, tokens)
            continue
        if char == ",":
            tokens.append(_Token(_Kind.OPERATOR, ",", None, start))
            position += 1
            continue
        if char == "[":
            # An escaped variable, "[name with spaces]": a variable, so (as in Argo) a string.
            text, position = _g_read_until(source, position + 1, "]", "unclosed parameter bracket", start)
            tokens.append(_Token(_Kind.NAME, source[start:position], text, start))
            continue
        if char.isalpha():
            match = _G_WORD.match(source, position)
            assert match is not None
            raw = match.group()
            word = re.sub(r"\\(.)", r"\1", raw)
            position = match.end()
            if word in ("in", "IN"):
                tokens.append(_Token(_Kind.OPERATOR, "in", None, start))
            else:
                tokens.append(_Token(_Kind.NAME, raw, word, start))
            continue
        if char in "'\"":
            text, position = _g_read_until(source, position + 1, "'\"", "unclosed string literal", start)
            tokens.append(_Token(_Kind.STRING, source[start:position], text, start))
            continue
        if char in "()":
            tokens.append(_Token(_Kind.OPERATOR, char, None, start))
            position += 1
            continue
        position = _g_symbol(source, start, tokens)
    tokens.append(_Token(_Kind.END, "", None, length))
    return tokens


def _g_symbol(source: str, start: int, tokens: list[_Token]) -> int:
    """A run of operator characters, looked up whole (govaluate's greedy symbol reading)."""
    position = start
    while position < len(source):
        char = source[position]
        if char.isspace() or char.isalnum() or char in "()[]'\"":
            break
        position += 1
    symbol = source[start:position]
    # A '-', '!' or '~' is a prefix where a value must start: first, or after an operator other than ')'.
    prefix_position = not tokens or (tokens[-1].kind is _Kind.OPERATOR and tokens[-1].text != ")")
    if (prefix_position and symbol in _G_PREFIX) or symbol in _G_SYMBOLS:
        tokens.append(_Token(_Kind.OPERATOR, symbol, None, start))
        return position
    hint = _G_MISTYPED.get(symbol) or (
        "put spaces between operators, as in a && !b" if len(symbol) > 1 and symbol[:2] in ("&&", "||", "==")
        else "quote values that contain special characters, as in '{{...}}' == 'a:b'"
    )  # fmt: skip
    raise ExpressionSyntaxError(f"invalid token {symbol!r}", source=source, offset=start, hint=hint)


def _g_number(source: str, position: int, tokens: list[_Token]) -> int:
    start = position
    if source.startswith("0x", position):
        end = position + 2
        while end < len(source) and source[end] in "0123456789abcdefABCDEF":
            end += 1
        digits = source[position + 2 : end]
        if not digits or int(digits, 16) > 2**64 - 1:
            raise ExpressionSyntaxError(
                f"cannot read hex number {source[start:end]!r}", source=source, offset=start, hint="e.g. 0x1F"
            )
        tokens.append(_Token(_Kind.NUMBER, source[start:end], float(int(digits, 16)), start))
        return end
    end = position
    while end < len(source) and (source[end].isdecimal() or source[end] == "."):
        end += 1
    text = source[start:end]
    try:
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        value = math.nan
    if math.isnan(value) or math.isinf(value):
        raise ExpressionSyntaxError(
            f"cannot read number {text!r}",
            source=source,
            offset=start,
            hint="quote values such as versions or dates: '1.2.3'",
        )
    tokens.append(_Token(_Kind.NUMBER, text, value, start))
    return end


def _g_read_until(source: str, position: int, stops: str, problem: str, start: int) -> tuple[str, int]:
    """govaluate's readUntilFalse: a backslash takes the next character literally; returns (text, after stop)."""
    chars: list[str] = []
    length = len(source)
    while position < length:
        char = source[position]
        if char == "\\" and position + 1 < length:
            chars.append(source[position + 1])
            position += 2
            continue
        if char in stops:
            return "".join(chars), position + 1
        chars.append(char)
        position += 1
    hint = "a string ends at the first quote of either kind; escape a quote inside it with \\"
    raise ExpressionSyntaxError(problem, source=source, offset=start, hint=hint if stops != "]" else "close it with ]")


# --------------------------------------------------------------------------------------------------------------
# Values: only data. Maps, lists, strings, numbers, booleans and nil, as a JSON decoder or Prometheus produce them.


def _type_name(value: object) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, (list, tuple, range)):
        return "array"
    return "unsupported value"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_list(value: object) -> bool:
    return isinstance(value, (list, tuple, range))


def _equal(left: object, right: object) -> bool:
    """expr's ``==``: numbers compare by value across int/float, bool never equals a number, other types differ."""
    if _is_number(left) and _is_number(right):
        return left == right
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, str) or isinstance(right, str):
        return isinstance(left, str) and isinstance(right, str) and left == right
    if _is_list(left) and _is_list(right):
        assert isinstance(left, (list, tuple, range))
        assert isinstance(right, (list, tuple, range))
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(_equal(left[key], right[key]) for key in left)
    return False


def _strict_equal(left: object, right: object) -> bool:
    """govaluate's ``==`` (Go's reflect.DeepEqual): same type and equal value; NaN equals nothing."""
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        assert isinstance(right, list)
        return len(left) == len(right) and all(_strict_equal(a, b) for a, b in zip(left, right, strict=True))
    return left == right


def _int64(value: int, what: str) -> int:
    """An int64 result of a function, or an evaluation error (Go would wrap around silently)."""
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ExpressionEvaluationError(f"integer overflow in {what}")
    return value


def _checked_int(value: int, column: int, what: str) -> int:
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ExpressionEvaluationError(f"integer overflow in {what} at column {column}")
    return value


def _go_pow(base: float, exponent: float) -> float:
    """``math.Pow`` semantics: overflow is ±Inf, a negative base with a fractional exponent is NaN."""
    if base < 0 and not exponent.is_integer() and math.isfinite(exponent):
        return math.nan
    try:
        return math.pow(base, exponent)
    except OverflowError:
        negative = base < 0 and exponent.is_integer() and int(exponent) % 2 == 1
        return -math.inf if negative else math.inf
    except ValueError:
        # math.pow(0, negative) -> +Inf in Go.
        return math.inf


def go_float(value: float) -> str:
    """Go's ``%v`` for a float64 (strconv's shortest ``g``): ``3``, ``0.5``, ``1e+06``, ``1.5e-07``, ``+Inf``.

    Used where Go turns a number into text: govaluate's ``"a" + 1`` and expr's ``string(x)``.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent += len("".join(map(str, digit_tuple))) - len(digits)
    point = len(digits) + exponent  # digits d1d2... means 0.d1d2... x 10^point
    sign = "-" if value < 0 else ""
    exp10 = point - 1
    if exp10 < -4 or exp10 >= 6:  # shortest formatting switches to %e outside [1e-4, 1e6)
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _go_text(value: object) -> str:
    """Go's ``%v`` for a value of ours (what ``fmt.Sprintf("%v", x)`` prints for the equivalent Go value)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, (list, tuple, range)):
        return "[" + " ".join(_go_text(item) for item in value) + "]"
    if isinstance(value, Mapping):
        pairs = sorted((_go_text(key), _go_text(item)) for key, item in value.items())
        return "map[" + " ".join(f"{key}:{item}" for key, item in pairs) + "]"
    return "?"


def _short(value: object) -> str:
    """A value for a message, cut short: results can be large and must not flood status."""
    if isinstance(value, (list, tuple, range, Mapping)):
        return ""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _g_short(value: object) -> str:
    """A govaluate value for a message: numbers as Go prints them (``3``, not ``3.0``), strings quoted."""
    if isinstance(value, float):
        return go_float(value)
    return _short(value)


def _g_type(value: object) -> str:
    return "number" if isinstance(value, float) else _type_name(value)


# --------------------------------------------------------------------------------------------------------------
# Regular expressions: RE2 only (linear time in the text, no backtracking), as Go's regexp is.

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # errors come back as exceptions with the message; RE2 must not write to stderr
_RE2_OPTIONS.max_mem = 2 << 20  # bounds one pattern's program and DFA cache (past it RE2 falls back to its NFA)


class _PatternError(ValueError):
    """A pattern RE2 refuses; the message says why (for a syntax or an evaluation error, by the caller)."""


@lru_cache(maxsize=128)  # patterns from data vary; at most 128 x max_mem stays alive
def _regex(pattern: str) -> Any:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise _PatternError(f"regular expression is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as error:
        reason = error.args[0] if error.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise _PatternError(f"invalid regular expression {_short(pattern)}: {reason}") from None


def search_pattern(pattern: str, text: str) -> bool:
    """Whether the user's regular expression ``pattern`` matches anywhere in ``text`` (Go's ``regexp.MatchString``).

    The one way the product runs a user's regular expression outside conditions too (metric-name rules): RE2, bounded,
    cached. Raises :class:`ValueError` with the reason when RE2 refuses the pattern.
    """
    return _regex(pattern).search(text) is not None


def check_pattern(pattern: str) -> None:
    """Raise :class:`ValueError` (with RE2's reason) when ``pattern`` is not a regular expression we would run."""
    _regex(pattern)


_PATTERN_HINT = "RE2 syntax (as Go's regexp): no backreferences or lookaround"


# --------------------------------------------------------------------------------------------------------------
# Nodes. Each knows its column (for messages) and its depth (checked at construction, so nothing deep is built).


_NO_ITEMS: Final[list[object]] = []
_NO_INDEXES: Final[list[int]] = []


class _Scope:
    """What one evaluation sees: the environment, the elements of enclosing predicates, and the step budget."""

    __slots__ = ("budget", "env", "indexes", "items", "text_budget")

    def __init__(self, env: Mapping[str, object]) -> None:
        self.env = env
        self.budget = MAX_STEPS
        self.text_budget = MAX_TEXT
        # The predicate stacks are made by the first predicate that runs: most conditions have none, and a scope
        # is made per evaluation.
        self.items: list[object] = _NO_ITEMS
        self.indexes: list[int] = _NO_INDEXES

    def spend(self, steps: int, column: int) -> None:
        self.budget -= steps
        if self.budget < 0:
            raise ExpressionEvaluationError(
                f"the condition does too much work (more than {MAX_STEPS:,} loop steps) at column {column}"
            )

    def build(self, characters: int, column: int) -> None:
        """Charge a string about to be built (or just built) to the text budget."""
        self.text_budget -= characters
        if self.text_budget < 0:
            raise ExpressionEvaluationError(
                f"the condition builds too much text (more than {MAX_TEXT:,} characters) at column {column}"
            )


class _Node:
    __slots__ = ("column", "depth")
    column: int
    depth: int

    def __init__(self, *, column: int, children: Sequence[_Node] = ()) -> None:
        self.column = column
        self.depth = 1 + max((child.depth for child in children), default=0)

    def evaluate(self, scope: _Scope) -> object:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


class _Literal(_Node):
    __slots__ = ("value",)

    def __init__(self, value: object, *, column: int) -> None:
        super().__init__(column=column)
        self.value = value

    def evaluate(self, scope: _Scope) -> object:
        return self.value


class _Name(_Node):
    """A declared environment name (``result``, ``response``): looked up in the environment, never in Python."""

    __slots__ = ("name",)

    def __init__(self, name: str, *, column: int) -> None:
        super().__init__(column=column)
        self.name = name

    def evaluate(self, scope: _Scope) -> object:
        try:
            return scope.env[self.name]
        except KeyError:
            raise ExpressionEvaluationError(f"{self.name!r} has no value at column {self.column}") from None


class _Item(_Node):
    """``#`` (the element a predicate is looking at) or ``#index`` (its position)."""

    __slots__ = ("index",)

    def __init__(self, *, index: bool, column: int) -> None:
        super().__init__(column=column)
        self.index = index

    def evaluate(self, scope: _Scope) -> object:
        return scope.indexes[-1] if self.index else scope.items[-1]


class _ArrayLiteral(_Node):
    __slots__ = ("items",)

    def __init__(self, items: list[_Node], *, column: int) -> None:
        super().__init__(column=column, children=items)
        self.items = items

    def evaluate(self, scope: _Scope) -> object:
        return [item.evaluate(scope) for item in self.items]


def _index(container: object, key: object, column: int) -> object:
    """``container[key]`` in expr: map keys (missing -> nil), array/string positions (negative from the end)."""
    if isinstance(container, Mapping):
        # Missing keys are nil, as in expr on a map: `default(result.x, 0)` and `isNil` rely on it.
        if not (isinstance(key, (str, int, float, bool)) or key is None):
            return None
        try:
            return container.get(key)
        except TypeError:
            return None
    if isinstance(container, (list, tuple, range, str)):
        if not isinstance(key, int) or isinstance(key, bool):
            raise ExpressionEvaluationError(
                f"cannot index {_type_name(container)} with {_type_name(key)} {_short(key)} "
                f"at column {column}; arrays take integer indexes like result[0]"
            )
        index = key + len(container) if key < 0 else key
        if not 0 <= index < len(container):
            raise ExpressionEvaluationError(
                f"index {key} out of range for {_type_name(container)} of length {len(container)} at column {column}"
            )
        return container[index]
    raise ExpressionEvaluationError(
        f"cannot fetch {_short(key)} from {_type_name(container)} at column {column}"
        + ("; use ?. or default() when the value may be nil" if container is None else "")
    )


class _Member(_Node):
    """``x.name`` / ``x?.name`` / ``x[key]``: a lookup in data, never a Python attribute."""

    __slots__ = ("key", "optional", "target")

    def __init__(self, target: _Node, key: _Node, *, optional: bool, column: int) -> None:
        super().__init__(column=column, children=(target, key))
        self.target = target
        self.key = key
        self.optional = optional

    def evaluate(self, scope: _Scope) -> object:
        container = self.target.evaluate(scope)
        if container is None and self.optional:
            return None
        return _index(container, self.key.evaluate(scope), self.column)


class _Slice(_Node):
    """``x[a:b]``: expr clamps the bounds to the array instead of failing, negative bounds count from the end."""

    __slots__ = ("high", "low", "target")

    def __init__(self, target: _Node, low: _Node | None, high: _Node | None, *, column: int) -> None:
        super().__init__(column=column, children=[n for n in (target, low, high) if n is not None])
        self.target = target
        self.low = low
        self.high = high

    def evaluate(self, scope: _Scope) -> object:
        container = self.target.evaluate(scope)
        if not isinstance(container, (list, tuple, range, str)):
            raise ExpressionEvaluationError(
                f"cannot slice {_type_name(container)} at column {self.column}; slices take arrays and strings"
            )
        length = len(container)
        bounds = []
        for node, default in ((self.low, 0), (self.high, length)):
            bound = default if node is None else node.evaluate(scope)
            if not isinstance(bound, int) or isinstance(bound, bool):
                raise ExpressionEvaluationError(
                    f"slice bounds must be integers, got {_type_name(bound)} at column {self.column}"
                )
            bound = bound + length if bound < 0 else bound
            bounds.append(min(max(bound, 0), length))
        low, high = bounds
        low = min(low, high)
        sliced = container[low:high]
        return list(sliced) if isinstance(sliced, range) else sliced


class _Unary(_Node):
    __slots__ = ("dialect", "operand", "operator")

    def __init__(self, operator: str, operand: _Node, *, dialect: Dialect, column: int) -> None:
        super().__init__(column=column, children=(operand,))
        self.operator = operator
        self.operand = operand
        self.dialect = dialect

    def evaluate(self, scope: _Scope) -> object:
        value = self.operand.evaluate(scope)
        if self.operator == "not":
            if not isinstance(value, bool):
                raise ExpressionEvaluationError(
                    f"'!' needs a bool, got {_type_name(value)} {_short(value)} at column {self.column}"
                )
            return not value
        if not _is_number(value):
            if self.dialect is Dialect.GOVALUATE:
                got = f"{_g_type(value)} {_g_short(value)}"
            else:
                got = f"{_type_name(value)} {_short(value)}"
            raise ExpressionEvaluationError(
                f"unary {self.operator!r} needs a number, got {got} at column {self.column}"
            )
        assert isinstance(value, (int, float))
        if self.operator == "~":  # govaluate: float64(^int64(x))
            return float(~_g_int64(value, "~", self.column))
        if self.operator == "-":
            return _checked_int(-value, self.column, "negation") if isinstance(value, int) else -value
        return value


class _Logical(_Node):
    """``&&``/``and`` and ``||``/``or`` in both dialects: bools only, the right side only when it decides."""

    __slots__ = ("left", "operator", "right", "symbol")

    def __init__(self, operator: str, left: _Node, right: _Node, *, symbol: str, column: int) -> None:
        super().__init__(column=column, children=(left, right))
        self.operator = operator
        self.symbol = symbol
        self.left = left
        self.right = right

    def evaluate(self, scope: _Scope) -> object:
        left = self._bool(self.left.evaluate(scope), "left")
        if self.operator == "and" and not left:
            return False
        if self.operator == "or" and left:
            return True
        return self._bool(self.right.evaluate(scope), "right")

    def _bool(self, value: object, side: str) -> bool:
        if not isinstance(value, bool):
            raise ExpressionEvaluationError(
                f"the {side} side of '{self.symbol}' must be a bool, got {_type_name(value)} {_short(value)} "
                f"at column {self.column}"
            )
        return value


class _Coalesce(_Node):
    """``a ?? b`` (both dialects) and govaluate's ``:``: the left value unless it is nil."""

    __slots__ = ("left", "right")

    def __init__(self, left: _Node, right: _Node, *, column: int) -> None:
        super().__init__(column=column, children=(left, right))
        self.left = left
        self.right = right

    def evaluate(self, scope: _Scope) -> object:
        value = self.left.evaluate(scope)
        return self.right.evaluate(scope) if value is None else value


class _Ternary(_Node):
    __slots__ = ("condition", "otherwise", "then")

    def __init__(self, condition: _Node, then: _Node, otherwise: _Node, *, column: int) -> None:
        super().__init__(column=column, children=(condition, then, otherwise))
        self.condition = condition
        self.then = then
        self.otherwise = otherwise

    def evaluate(self, scope: _Scope) -> object:
        test = self.condition.evaluate(scope)
        if not isinstance(test, bool):
            raise ExpressionEvaluationError(f"'?:' needs a bool condition, got {_type_name(test)}")
        return self.then.evaluate(scope) if test else self.otherwise.evaluate(scope)


class _GovaluateIf(_Node):
    """govaluate's ``?`` is a binary operator: ``c ? a`` is ``a`` when ``c`` is true, else nil (``:`` then picks)."""

    __slots__ = ("condition", "then")

    def __init__(self, condition: _Node, then: _Node, *, column: int) -> None:
        super().__init__(column=column, children=(condition, then))
        self.condition = condition
        self.then = then

    def evaluate(self, scope: _Scope) -> object:
        test = self.condition.evaluate(scope)
        if not isinstance(test, bool):
            raise ExpressionEvaluationError(
                f"'?' needs a bool on its left, got {_g_type(test)} {_g_short(test)} at column {self.column}"
            )
        return self.then.evaluate(scope) if test else None


class _RegexMatch(_Node):
    """expr's ``matches``, govaluate's ``=~`` / ``!~``: an unanchored RE2 search, as Go's ``MatchString``."""

    __slots__ = ("left", "negate", "right", "symbol")

    def __init__(self, left: _Node, right: _Node, *, symbol: str, negate: bool, column: int) -> None:
        super().__init__(column=column, children=(left, right))
        self.left = left
        self.right = right
        self.symbol = symbol
        self.negate = negate

    def evaluate(self, scope: _Scope) -> object:
        text = self.left.evaluate(scope)
        pattern = self.right.evaluate(scope)
        if not (isinstance(text, str) and isinstance(pattern, str)):
            raise ExpressionEvaluationError(
                f"'{self.symbol}' needs a string on each side, got {_type_name(text)} {_short(text)} and "
                f"{_type_name(pattern)} {_short(pattern)} at column {self.column}"
            )
        try:
            found = _regex(pattern).search(text) is not None
        except _PatternError as error:
            raise ExpressionEvaluationError(f"{error} at column {self.column} ({_PATTERN_HINT})") from None
        return found != self.negate


# -- expr-lang operators ------------------------------------------------------------------------------------------


class _Binary(_Node):
    __slots__ = ("left", "operator", "right")

    def __init__(self, operator: str, left: _Node, right: _Node, *, column: int) -> None:
        super().__init__(column=column, children=(left, right))
        self.operator = operator
        self.left = left
        self.right = right

    def evaluate(self, scope: _Scope) -> object:
        left = self.left.evaluate(scope)
        right = self.right.evaluate(scope)
        operator = self.operator
        if operator == "==":
            return _equal(left, right)
        if operator == "!=":
            return not _equal(left, right)
        if operator in ("<", "<=", ">", ">="):
            return self._order(left, right)
        if operator in ("in", "not in"):
            found = self._contains(container=right, item=left)
            return found if operator == "in" else not found
        if operator in ("contains", "startsWith", "endsWith", "not contains", "not startsWith", "not endsWith"):
            if not (isinstance(left, str) and isinstance(right, str)):
                raise self._mismatch(left, right)
            test = operator.removeprefix("not ")
            if test == "contains":
                found = right in left
            else:
                found = left.startswith(right) if test == "startsWith" else left.endswith(right)
            return found if test == operator else not found
        return self._arithmetic(left, right, scope)

    def _mismatch(self, left: object, right: object) -> ExpressionEvaluationError:
        return ExpressionEvaluationError(
            f"invalid operation: {_type_name(left)} {_short(left)} {self.operator} {_type_name(right)} "
            f"{_short(right)} at column {self.column}"
        )

    def _order(self, left: object, right: object) -> bool:
        both_numbers = _is_number(left) and _is_number(right)
        if not (both_numbers or (isinstance(left, str) and isinstance(right, str))):
            raise self._mismatch(left, right)
        assert isinstance(left, (int, float, str))
        assert isinstance(right, (int, float, str))
        if self.operator == "<":
            return left < right  # type: ignore[operator]
        if self.operator == "<=":
            return left <= right  # type: ignore[operator]
        if self.operator == ">":
            return left > right  # type: ignore[operator]
        return left >= right  # type: ignore[operator]

    def _contains(self, *, container: object, item: object) -> bool:
        if container is None:
            return False
        if isinstance(container, range):
            # A range is integers: answer without walking it (200..299 has a hundred, 0..999999 a million).
            if not isinstance(item, (int, float)) or isinstance(item, bool):
                return False
            return math.isfinite(item) and float(item).is_integer() and int(item) in container
        if isinstance(container, (list, tuple)):
            return any(_equal(item, element) for element in container)
        if isinstance(container, Mapping):
            if isinstance(item, str):
                return item in container  # the map's own lookup: response.headers ignores case
            return any(_equal(item, key) for key in container)
        hint = "; use 'contains' to look for a substring" if isinstance(container, str) else ""
        raise ExpressionEvaluationError(
            f"'{self.operator}' needs an array or a map on the right, got {_type_name(container)} "
            f"at column {self.column}{hint}"
        )

    def _arithmetic(self, left: object, right: object, scope: _Scope) -> object:
        operator = self.operator
        if operator == "+" and isinstance(left, str) and isinstance(right, str):
            scope.build(len(left) + len(right), self.column)
            return left + right
        if operator == "+" and _is_list(left) and _is_list(right):
            assert isinstance(left, (list, tuple, range))
            assert isinstance(right, (list, tuple, range))
            scope.spend(len(left) + len(right), self.column)
            return [*left, *right]
        if not (_is_number(left) and _is_number(right)):
            raise self._mismatch(left, right)
        assert isinstance(left, (int, float))
        assert isinstance(right, (int, float))
        both_ints = isinstance(left, int) and isinstance(right, int)
        if operator in ("**", "^"):
            return _go_pow(float(left), float(right))
        if operator == "/":
            if right == 0:
                # Go float division: ±Inf, or NaN for 0/0; expr's "/" always divides as floats.
                return math.nan if left == 0 or math.isnan(left) else math.copysign(math.inf, left)
            return float(left) / float(right)
        if operator == "%":
            if not both_ints:
                raise self._mismatch(left, right)
            assert isinstance(left, int)
            assert isinstance(right, int)
            if right == 0:
                raise ExpressionEvaluationError(f"integer divide by zero at column {self.column}")
            remainder = abs(left) % abs(right)  # Go truncates: the sign follows the dividend
            return -remainder if left < 0 else remainder
        if operator == "+":
            value = left + right
        elif operator == "-":
            value = left - right
        else:
            value = left * right
        if both_ints:
            assert isinstance(value, int)
            return _checked_int(value, self.column, f"'{operator}'")
        return value


class _Range(_Node):
    """``a..b``: the integers from a to b inclusive, kept lazy (``x in 200..299`` never builds a list)."""

    __slots__ = ("high", "low")

    def __init__(self, low: _Node, high: _Node, *, column: int) -> None:
        super().__init__(column=column, children=(low, high))
        self.low = low
        self.high = high

    def evaluate(self, scope: _Scope) -> object:
        low = self.low.evaluate(scope)
        high = self.high.evaluate(scope)
        if not all(isinstance(end, int) and not isinstance(end, bool) for end in (low, high)):
            raise ExpressionEvaluationError(
                f"invalid operation: {_type_name(low)} .. {_type_name(high)} at column {self.column}; "
                "ranges are between integers, as in 1..10"
            )
        assert isinstance(low, int)
        assert isinstance(high, int)
        values = range(low, high + 1)
        scope.spend(len(values), self.column)
        return values


# -- govaluate operators ------------------------------------------------------------------------------------------


class _GovaluateList(_Node):
    """govaluate's separator: ``a, b, c`` builds an array, each ',' appending to the array on its left."""

    __slots__ = ("items",)

    def __init__(self, items: list[_Node], *, column: int) -> None:
        super().__init__(column=column, children=items)
        self.items = items

    def append(self, item: _Node) -> _GovaluateList:
        self.items.append(item)
        self.depth = max(self.depth, 1 + item.depth)
        return self

    def evaluate(self, scope: _Scope) -> object:
        first = self.items[0].evaluate(scope)
        collected = list(first) if isinstance(first, list) else [first]
        collected.extend(item.evaluate(scope) for item in self.items[1:])
        return collected


_G_HYPHEN_HINT = " (hint: a value that contains '-' must be quoted, as in '{{...}}' == 'us-east-1')"


def _g_int64(value: float, operator: str, column: int) -> int:
    """Go's int64(float64) for the bitwise operators; values Go cannot convert portably are errors here."""
    if not math.isfinite(value) or not _INT64_MIN <= value < 2.0**63:
        raise ExpressionEvaluationError(f"'{operator}' cannot use {go_float(value)} as a 64-bit integer")
    return int(value)


class _GovaluateBinary(_Node):
    """govaluate's operators on its values: float64 numbers, strings, bools, nil and ``(a, b)`` arrays."""

    __slots__ = ("left", "operator", "right")

    def __init__(self, operator: str, left: _Node, right: _Node, *, column: int) -> None:
        super().__init__(column=column, children=(left, right))
        self.operator = operator
        self.left = left
        self.right = right

    def evaluate(self, scope: _Scope) -> object:
        left = self.left.evaluate(scope)
        right = self.right.evaluate(scope)
        operator = self.operator
        if operator == "==":
            return _strict_equal(left, right)
        if operator == "!=":
            return not _strict_equal(left, right)
        if operator == "in":
            if not isinstance(right, list):
                raise ExpressionEvaluationError(
                    f"'in' needs an array on the right, got {_g_type(right)} {_g_short(right)} at column "
                    f"{self.column} (hint: write x in ('a', 'b'); for one value use ==, for a substring =~)"
                )
            return any(_strict_equal(left, element) for element in right)
        if operator in ("<", "<=", ">", ">="):
            if not (
                (isinstance(left, float) and isinstance(right, float))
                or (isinstance(left, str) and isinstance(right, str))
            ):
                raise self._mismatch(left, right, "compares two numbers or two strings")
            assert isinstance(left, (float, str))
            assert isinstance(right, (float, str))
            if operator == "<":
                return left < right  # type: ignore[operator]
            if operator == "<=":
                return left <= right  # type: ignore[operator]
            if operator == ">":
                return left > right  # type: ignore[operator]
            return left >= right  # type: ignore[operator]
        if operator == "+" and (isinstance(left, str) or isinstance(right, str)):
            left_text, right_text = _go_text(left), _go_text(right)
            scope.build(len(left_text) + len(right_text), self.column)
            return left_text + right_text  # govaluate concatenates with %v
        if not (isinstance(left, float) and isinstance(right, float)):
            raise self._mismatch(left, right, "needs two numbers")
        return self._arithmetic(left, right)

    def _mismatch(self, left: object, right: object, needs: str) -> ExpressionEvaluationError:
        hint = _G_HYPHEN_HINT if self.operator == "-" and isinstance(left, str) and isinstance(right, str) else ""
        return ExpressionEvaluationError(
            f"'{self.operator}' {needs}, got {_g_type(left)} {_g_short(left)} and {_g_type(right)} "
            f"{_g_short(right)} at column {self.column}{hint}"
        )

    def _arithmetic(self, left: float, right: float) -> object:
        operator = self.operator
        if operator == "+":
            return left + right
        if operator == "-":
            return left - right
        if operator == "*":
            return left * right
        if operator == "/":
            if right == 0:
                return math.nan if left == 0 or math.isnan(left) else math.copysign(math.inf, left)
            return left / right
        if operator == "%":
            try:
                return math.fmod(left, right)  # Go's math.Mod: the sign follows the dividend
            except ValueError:
                return math.nan
        if operator == "**":
            return _go_pow(left, right)
        if operator in ("<<", ">>"):
            if not (math.isfinite(left) and 0 <= left < 2.0**64 and math.isfinite(right) and right >= 0):
                raise ExpressionEvaluationError(
                    f"'{operator}' needs non-negative integers, got {go_float(left)} and {go_float(right)} "
                    f"at column {self.column}"
                )
            shift = int(right)
            shifted = int(left) << shift if operator == "<<" else int(left) >> shift
            return float(shifted & (2**64 - 1)) if shift < 64 else 0.0
        a = _g_int64(left, operator, self.column)
        b = _g_int64(right, operator, self.column)
        if operator == "&":
            return float(a & b)
        if operator == "|":
            return float(a | b)
        return float(a ^ b)


# --------------------------------------------------------------------------------------------------------------
# expr-lang functions: Argo's own (isNaN, isInf, isNil, default, asInt, asFloat) and expr's builtins people use.
# Arity is checked at compile time; a wrong argument type is an evaluation error naming the function.


def _need(name: str, value: object, test: Callable[[object], bool], what: str) -> None:
    if not test(value):
        raise ExpressionEvaluationError(f"{name}() needs {what}, got {_type_name(value)} {_short(value)}")


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fn_len(value: object) -> object:
    if isinstance(value, (str, list, tuple, range, Mapping)):
        return len(value)
    raise ExpressionEvaluationError(f"len() needs a string, array or map, got {_type_name(value)}")


def _fn_is_nan(value: object) -> object:
    _need("isNaN", value, _is_number, "a number")
    return isinstance(value, float) and math.isnan(value)


def _fn_is_inf(value: object) -> object:
    _need("isInf", value, _is_number, "a number")
    return isinstance(value, float) and math.isinf(value)


def _fn_is_nil(value: object) -> object:
    return value is None


def _fn_default(value: object, fallback: object) -> object:
    return fallback if value is None else value


_GO_INT = re.compile(r"[+-]?\d+", re.ASCII)
_GO_FLOAT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_GO_FLOAT_SPECIAL = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)


def _fn_as_int(value: object) -> object:
    """Argo's asInt (expr's int): numbers truncate toward zero; strings must be a base-10 integer (ParseInt)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ExpressionEvaluationError(f"asInt() not supported on {_type_name(value)} {_short(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or not _INT64_MIN <= value < 2.0**63:
            raise ExpressionEvaluationError(f"asInt() cannot convert {value!r} to an integer")
        return int(value)
    if _GO_INT.fullmatch(value):
        parsed = int(value, 10)
        if _INT64_MIN <= parsed <= _INT64_MAX:
            return parsed
    raise ExpressionEvaluationError(f"asInt() cannot parse {_short(value)} as an integer")


def _fn_as_float(value: object) -> object:
    """Argo's asFloat (expr's float): numbers convert; strings parse like Go's ParseFloat (``NaN``/``Inf`` too)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ExpressionEvaluationError(f"asFloat() not supported on {_type_name(value)} {_short(value)}")
    if isinstance(value, (int, float)):
        return float(value)
    if _GO_FLOAT_SPECIAL.fullmatch(value):
        return float(value)
    if _GO_FLOAT.fullmatch(value):
        parsed = float(value)
        if not math.isinf(parsed):
            return parsed
    raise ExpressionEvaluationError(f"asFloat() cannot parse {_short(value)} as a number")


def _fn_string(value: object) -> object:
    return _go_text(value)


def _fn_type(value: object) -> object:
    return _type_name(value)


def _numbers(name: str, values: Sequence[object]) -> list[int | float]:
    flat: list[object] = []
    for value in values:
        flat.extend(value if isinstance(value, (list, tuple, range)) else [value])
    for value in flat:
        _need(name, value, _is_number, "numbers")
    return flat  # type: ignore[return-value]


def _fn_abs(value: object) -> object:
    _need("abs", value, _is_number, "a number")
    assert isinstance(value, (int, float))
    return _int64(abs(value), "abs()") if isinstance(value, int) else abs(value)


def _fn_ceil(value: object) -> object:
    _need("ceil", value, _is_number, "a number")
    assert isinstance(value, (int, float))
    return float(math.ceil(value)) if math.isfinite(value) else value


def _fn_floor(value: object) -> object:
    _need("floor", value, _is_number, "a number")
    assert isinstance(value, (int, float))
    return float(math.floor(value)) if math.isfinite(value) else value


def _fn_round(value: object) -> object:
    """Go's math.Round: halves away from zero (Python's round() goes to even)."""
    _need("round", value, _is_number, "a number")
    assert isinstance(value, (int, float))
    if not math.isfinite(value):
        return value
    return math.copysign(math.floor(abs(value) + 0.5), value)


def _fn_max(*values: object) -> object:
    numbers = _numbers("max", values)
    if not numbers:
        raise ExpressionEvaluationError("max() needs at least one number")
    best = numbers[0]
    for number in numbers[1:]:
        best = max(best, number)
    return best


def _fn_min(*values: object) -> object:
    numbers = _numbers("min", values)
    if not numbers:
        raise ExpressionEvaluationError("min() needs at least one number")
    best = numbers[0]
    for number in numbers[1:]:
        best = min(best, number)
    return best


def _fn_sum(values: object) -> object:
    _need("sum", values, _is_list, "an array")
    numbers = _numbers("sum", [values])
    integers = [number for number in numbers if isinstance(number, int)]
    if len(integers) == len(numbers):
        return _int64(sum(integers), "sum()")
    total = 0.0
    for number in numbers:  # in order, as Go adds float64s
        total += number
    return total


def _fn_mean(values: object) -> object:
    _need("mean", values, _is_list, "an array")
    numbers = _numbers("mean", [values])
    return sum(float(n) for n in numbers) / len(numbers) if numbers else 0.0


def _fn_median(values: object) -> object:
    _need("median", values, _is_list, "an array")
    numbers = sorted(float(n) for n in _numbers("median", [values]))
    if not numbers:
        return 0.0
    middle = len(numbers) // 2
    return numbers[middle] if len(numbers) % 2 else (numbers[middle - 1] + numbers[middle]) / 2


def _fn_first(values: object) -> object:
    _need("first", values, _is_list, "an array")
    assert isinstance(values, (list, tuple, range))
    return values[0] if values else None


def _fn_last(values: object) -> object:
    _need("last", values, _is_list, "an array")
    assert isinstance(values, (list, tuple, range))
    return values[-1] if values else None


def _fn_get(container: object, key: object) -> object:
    """expr's get(): like container[key], but nil instead of an error when the index or key is missing."""
    if isinstance(container, (list, tuple, range, str)):
        if not _is_int(key):
            return None
        assert isinstance(key, int)
        index = key + len(container) if key < 0 else key
        return container[index] if 0 <= index < len(container) else None
    if isinstance(container, Mapping):
        return _index(container, key, 0)
    return None


def _fn_keys(value: object) -> object:
    _need("keys", value, lambda v: isinstance(v, Mapping), "a map")
    assert isinstance(value, Mapping)
    return list(value.keys())


def _fn_values(value: object) -> object:
    _need("values", value, lambda v: isinstance(v, Mapping), "a map")
    assert isinstance(value, Mapping)
    return list(value.values())


def _text_function(name: str, method: Callable[[str], str]) -> Callable[[object], object]:
    def apply(value: object) -> object:
        _need(name, value, _is_str, "a string")
        assert isinstance(value, str)
        return method(value)

    return apply


def _fn_trim(value: object, chars: object = None) -> object:
    _need("trim", value, _is_str, "a string")
    assert isinstance(value, str)
    if chars is None:
        return value.strip()
    _need("trim", chars, _is_str, "a string of characters to trim")
    assert isinstance(chars, str)
    return value.strip(chars)


def _string_pair(name: str, value: object, other: object) -> tuple[str, str]:
    _need(name, value, _is_str, "strings")
    _need(name, other, _is_str, "strings")
    assert isinstance(value, str)
    assert isinstance(other, str)
    return value, other


def _fn_trim_prefix(value: object, prefix: object) -> object:
    text, prefix_text = _string_pair("trimPrefix", value, prefix)
    return text.removeprefix(prefix_text)


def _fn_trim_suffix(value: object, suffix: object) -> object:
    text, suffix_text = _string_pair("trimSuffix", value, suffix)
    return text.removesuffix(suffix_text)


def _fn_has_prefix(value: object, prefix: object) -> object:
    text, prefix_text = _string_pair("hasPrefix", value, prefix)
    return text.startswith(prefix_text)


def _fn_has_suffix(value: object, suffix: object) -> object:
    text, suffix_text = _string_pair("hasSuffix", value, suffix)
    return text.endswith(suffix_text)


def _fn_index_of(value: object, part: object) -> object:
    text, part_text = _string_pair("indexOf", value, part)
    return text.find(part_text)


def _fn_last_index_of(value: object, part: object) -> object:
    text, part_text = _string_pair("lastIndexOf", value, part)
    return text.rfind(part_text)


def _fn_replace(value: object, old: object, new: object) -> object:
    text, old_text = _string_pair("replace", value, old)
    _need("replace", new, _is_str, "strings")
    assert isinstance(new, str)
    if old_text == "":
        raise ExpressionEvaluationError("replace() needs a non-empty string to replace")
    return text.replace(old_text, new)


def _fn_split(value: object, separator: object, limit: object = -1) -> object:
    """Go's strings.SplitN: n < 0 all parts, n == 0 none, n > 0 at most n parts; "" splits into characters."""
    text, separator_text = _string_pair("split", value, separator)
    _need("split", limit, _is_int, "an integer count")
    assert isinstance(limit, int)
    if limit == 0:
        return []
    if separator_text == "":
        parts = list(text)
        if 0 < limit < len(parts):
            parts = [*parts[: limit - 1], "".join(parts[limit - 1 :])]
        return parts
    return text.split(separator_text, limit - 1 if limit > 0 else -1)


def _fn_join(values: object, separator: object = "") -> object:
    _need("join", values, _is_list, "an array of strings")
    _need("join", separator, _is_str, "a string separator")
    assert isinstance(values, (list, tuple, range))
    assert isinstance(separator, str)
    for value in values:
        _need("join", value, _is_str, "an array of strings")
    return separator.join(values)  # type: ignore[arg-type]


def _json_number(text: str) -> float:
    value = float(text)  # Go's json decodes every number into float64
    if math.isinf(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _fn_from_json(value: object) -> object:
    _need("fromJSON", value, _is_str, "a string")
    assert isinstance(value, str)
    try:
        return json.loads(value, parse_int=_json_number, parse_float=_json_number, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise ExpressionEvaluationError(f"fromJSON() cannot parse the text: {_short(str(error))}") from None


def _no_constant(text: str) -> object:
    raise ValueError(f"{text} is not JSON")


#: Functions a condition may call: name -> (fewest arguments, most arguments, implementation).
_FUNCTIONS: Final[Mapping[str, tuple[int, int, Callable[..., object]]]] = {
    # Argo's environment
    "isNaN": (1, 1, _fn_is_nan),
    "isInf": (1, 1, _fn_is_inf),
    "isNil": (1, 1, _fn_is_nil),
    "default": (2, 2, _fn_default),
    "asInt": (1, 1, _fn_as_int),
    "asFloat": (1, 1, _fn_as_float),
    # expr-lang builtins
    "len": (1, 1, _fn_len),
    "int": (1, 1, _fn_as_int),
    "float": (1, 1, _fn_as_float),
    "string": (1, 1, _fn_string),
    "type": (1, 1, _fn_type),
    "abs": (1, 1, _fn_abs),
    "ceil": (1, 1, _fn_ceil),
    "floor": (1, 1, _fn_floor),
    "round": (1, 1, _fn_round),
    "max": (1, 255, _fn_max),
    "min": (1, 255, _fn_min),
    "sum": (1, 1, _fn_sum),
    "mean": (1, 1, _fn_mean),
    "median": (1, 1, _fn_median),
    "first": (1, 1, _fn_first),
    "last": (1, 1, _fn_last),
    "get": (2, 2, _fn_get),
    "keys": (1, 1, _fn_keys),
    "values": (1, 1, _fn_values),
    "lower": (1, 1, _text_function("lower", str.lower)),
    "upper": (1, 1, _text_function("upper", str.upper)),
    "trim": (1, 2, _fn_trim),
    "trimPrefix": (2, 2, _fn_trim_prefix),
    "trimSuffix": (2, 2, _fn_trim_suffix),
    "hasPrefix": (2, 2, _fn_has_prefix),
    "hasSuffix": (2, 2, _fn_has_suffix),
    "indexOf": (2, 2, _fn_index_of),
    "lastIndexOf": (2, 2, _fn_last_index_of),
    "replace": (3, 3, _fn_replace),
    "split": (2, 3, _fn_split),
    "join": (1, 2, _fn_join),
    "fromJSON": (1, 1, _fn_from_json),
}
#: Builtins that take a predicate (``all(result, # < 0.05)``): each loops over an array under the step budget.
_PREDICATES: Final = frozenset({"all", "any", "none", "one", "filter", "map", "count"})
#: expr-lang builtins we refuse by name, with the reason.
_REFUSED_BUILTINS: Final[Mapping[str, str]] = {
    **dict.fromkeys(("now", "date", "duration"), "a condition must not depend on the clock"),
    **dict.fromkeys(("repeat",), "it can build arbitrarily large strings"),
    **dict.fromkeys(
        ("reduce", "sort", "sortBy", "groupBy", "find", "findIndex", "findLast", "findLastIndex", "take", "uniq",
         "concat", "flatten", "toPairs", "fromPairs", "toJSON", "toBase64", "fromBase64", "splitAfter"),
        "it is not supported here; the supported functions are listed in docs/analysis.md",
    ),
    **dict.fromkeys(
        ("bitand", "bitor", "bitxor", "bitnand", "bitnot", "bitshl", "bitshr", "bitushr"),
        "bitwise functions are not supported",
    ),
    **dict.fromkeys(("jsonpath", "sprig"), "it exists only in Argo's {{=...}} templates, not in conditions"),
}  # fmt: skip


class _Call(_Node):
    __slots__ = ("arguments", "function", "name")

    def __init__(self, name: str, arguments: list[_Node], *, column: int) -> None:
        super().__init__(column=column, children=arguments)
        self.name = name
        self.function = _FUNCTIONS[name][2]
        self.arguments = arguments

    def evaluate(self, scope: _Scope) -> object:
        values = [argument.evaluate(scope) for argument in self.arguments]
        cost = _text_cost(self.name, values)
        if cost:
            scope.build(cost, self.column)
        try:
            result = self.function(*values)
        except ExpressionEvaluationError as error:
            raise ExpressionEvaluationError(f"{error} at column {self.column}") from None
        if self.name in _TEXT_AFTER and isinstance(result, str):
            scope.build(len(result), self.column)
        return result


#: Functions whose new string is charged once built: each is at most a small multiple of its input's size.
_TEXT_AFTER: Final = frozenset({"lower", "upper", "trim", "trimPrefix", "trimSuffix", "string"})


def _text_cost(name: str, values: Sequence[object]) -> int:
    """Characters a call will build, known before it runs (0: nothing to charge first). ``replace`` and ``join`` can
    build far more than their inputs (``replace(s, "a", s)`` is quadratic), so they are charged before building;
    ``split`` and ``fromJSON`` build about their input's size in new objects."""
    if name == "replace" and len(values) == 3 and all(isinstance(value, str) for value in values):
        text, old, new = values
        assert isinstance(text, str)
        assert isinstance(old, str)
        assert isinstance(new, str)
        return len(text) + (text.count(old) * max(0, len(new) - len(old)) if old else 0)
    if name == "join" and values and isinstance(values[0], (list, tuple)):
        separator = values[1] if len(values) > 1 else ""
        items = values[0]
        if isinstance(separator, str) and all(isinstance(item, str) for item in items):
            return sum(len(item) for item in items) + len(separator) * max(0, len(items) - 1)
    if name in ("split", "fromJSON") and values and isinstance(values[0], str):
        return len(values[0])
    return 0


class _Predicate(_Node):
    """``all(array, predicate)`` and friends; ``#`` is the element, ``.name`` its field. Each step is budgeted."""

    __slots__ = ("array", "body", "name")

    def __init__(self, name: str, array: _Node, body: _Node, *, column: int) -> None:
        super().__init__(column=column, children=(array, body))
        self.name = name
        self.array = array
        self.body = body

    def evaluate(self, scope: _Scope) -> object:
        values = self.array.evaluate(scope)
        if not isinstance(values, (list, tuple, range)):
            raise ExpressionEvaluationError(
                f"{self.name}() needs an array, got {_type_name(values)} {_short(values)} at column {self.column}"
                + ("; use default(x, []) when the value may be nil" if values is None else "")
            )
        name = self.name
        scope.spend(len(values), self.column)
        results: list[object] = []
        matched = 0
        if scope.items is _NO_ITEMS:
            scope.items, scope.indexes = [], []
        scope.items.append(None)
        scope.indexes.append(0)
        try:
            for position, value in enumerate(values):
                scope.items[-1] = value
                scope.indexes[-1] = position
                outcome = self.body.evaluate(scope)
                if name == "map":
                    results.append(outcome)
                    continue
                if not isinstance(outcome, bool):
                    raise ExpressionEvaluationError(
                        f"the predicate of {name}() must give true or false, got {_type_name(outcome)} "
                        f"{_short(outcome)} at column {self.column}"
                    )
                if name == "all" and not outcome:
                    return False
                if name == "any" and outcome:
                    return True
                if name == "none" and outcome:
                    return False
                if outcome:
                    matched += 1
                    if name == "filter":
                        results.append(value)
                    if name == "one" and matched > 1:
                        return False
        finally:
            scope.items.pop()
            scope.indexes.pop()
        if name in ("all", "none"):
            return True
        if name == "any":
            return False
        if name == "one":
            return matched == 1
        if name == "count":
            return matched
        return results


# --------------------------------------------------------------------------------------------------------------
# Parsers: Pratt-style. Shared cursor, positions and bounds; each dialect has its own grammar table.


class _Parser:
    def __init__(self, source: str, tokens: list[_Token], *, what: str) -> None:
        self.source = source
        self.tokens = tokens
        self.index = 0
        self.nesting = 0
        self.what = what  # "condition" or "when": how messages name the text

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind is not _Kind.END:
            self.index += 1
        return token

    def at_end(self) -> bool:
        return self.tokens[self.index].kind is _Kind.END

    def at(self, text: str) -> bool:
        token = self.token
        return token.kind in (_Kind.OPERATOR, _Kind.NAME) and token.text == text

    def error(self, message: str, token: _Token | None = None, hint: str = "") -> ExpressionSyntaxError:
        where = token or self.token
        return ExpressionSyntaxError(message, source=self.source, offset=where.offset, hint=hint)

    def expect(self, text: str, hint: str = "") -> _Token:
        if not self.at(text):
            found = self.token.text or f"the end of the {self.what}"
            raise self.error(f"expected {text!r} but found {found!r}", hint=hint)
        return self.advance()

    def column(self, token: _Token) -> int:
        return token.offset - (self.source.rfind("\n", 0, token.offset) + 1) + 1

    def too_deep(self, token: _Token | None = None) -> ExpressionSyntaxError:
        return self.error(
            f"{self.what} is nested too deeply (more than {MAX_DEPTH} levels)", token, hint="split it or simplify it"
        )

    def enter(self, token: _Token | None = None) -> None:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise self.too_deep(token)

    def built(self, node: _Node, token: _Token) -> _Node:
        if node.depth > MAX_DEPTH:
            raise self.too_deep(token)
        return node


# -- expr-lang ---------------------------------------------------------------------------------------------------

_BINARY_PRECEDENCE = {
    "||": 10, "or": 10,
    "&&": 15, "and": 15,
    "==": 20, "!=": 20, "<": 20, ">": 20, "<=": 20, ">=": 20,
    "in": 20, "not": 20, "contains": 20, "startsWith": 20, "endsWith": 20, "matches": 20,
    "..": 25,
    "+": 30, "-": 30,
    "*": 60, "/": 60, "%": 60,
    "**": 100, "^": 100,
    "??": 500,
}  # fmt: skip
_RIGHT_ASSOCIATIVE = frozenset({"**", "^"})
_UNARY_PRECEDENCE = {"!": 50, "not": 50, "-": 90, "+": 90}
_NEGATABLE = frozenset({"in", "contains", "startsWith", "endsWith", "matches"})
_CONSTANTS: Mapping[str, object] = {"true": True, "false": False, "nil": None}
_PYTHONISMS = {
    "None": "write nil",
    "null": "write nil",
    "True": "write true",
    "False": "write false",
    "elif": "conditions have no statements; use && and ||",
    "$env": "'$env' is not supported; use the names directly",
}


class _ExprParser(_Parser):
    def __init__(self, source: str, names: frozenset[str]) -> None:
        super().__init__(source, _tokenize_expr(source), what="condition")
        self.names = names
        self.predicates = 0  # how many predicate bodies enclose the current token (# and .field are valid there)

    def parse(self) -> _Node:
        if self.at_end():
            example = "result[0] >= 0.95" if "result" in self.names else "response.statusCode == 200"
            raise self.error("condition is empty", hint=f"write something like {example}")
        node = self.expression()
        if not self.at_end():
            token = self.token
            hint = "join conditions with && or ||" if token.kind is not _Kind.OPERATOR else ""
            raise self.error(f"unexpected {token.text!r}", token, hint=hint)
        return node

    def expression(self) -> _Node:
        self.enter()
        start = self.token
        node = self.binary(0)
        if self.at("?"):
            self.advance()
            then = self.expression()
            self.expect(":", hint="a ternary is written cond ? a : b")
            otherwise = self.expression()
            node = self.built(_Ternary(node, then, otherwise, column=self.column(start)), start)
        self.nesting -= 1
        return node

    def binary(self, minimum: int) -> _Node:
        left = self.unary()
        while True:
            token = self.token
            if token.kind not in (_Kind.OPERATOR, _Kind.NAME) or token.text not in _BINARY_PRECEDENCE:
                return left
            precedence = _BINARY_PRECEDENCE[token.text]
            if precedence < minimum or (precedence == minimum and token.text not in _RIGHT_ASSOCIATIVE):
                return left
            self.advance()
            operator = token.text
            if operator == "not":
                follower = self.token
                if follower.kind is not _Kind.NAME or follower.text not in _NEGATABLE:
                    raise self.error(
                        f"expected 'in', 'contains', 'startsWith', 'endsWith' or 'matches' after 'not' but found "
                        f"{follower.text or 'the end of the condition'!r}",
                        hint="'not' between values must be 'not in' (or not contains/startsWith/endsWith/matches)",
                    )
                operator = "not " + self.advance().text
            next_minimum = precedence if operator in _RIGHT_ASSOCIATIVE else precedence + 1
            right_start = self.token
            right = self.binary(next_minimum)
            column = self.column(token)
            node: _Node
            if operator in ("||", "or", "&&", "and"):
                kind = "and" if operator in ("&&", "and") else "or"
                node = _Logical(kind, left, right, symbol=kind, column=column)
            elif operator == "??":
                node = _Coalesce(left, right, column=column)
            elif operator == "..":
                node = _Range(left, right, column=column)
            elif operator in ("matches", "not matches"):
                self.check_pattern(right, right_start)
                node = _RegexMatch(left, right, symbol="matches", negate=operator != "matches", column=column)
            else:
                node = _Binary(operator, left, right, column=column)
            left = self.built(node, token)

    def check_pattern(self, node: _Node, token: _Token) -> None:
        """A literal pattern is compiled now, so a bad one is a validation error rather than a failed measurement."""
        if isinstance(node, _Literal) and isinstance(node.value, str):
            try:
                _regex(node.value)
            except _PatternError as error:
                raise self.error(str(error), token, hint=_PATTERN_HINT) from None

    def unary(self) -> _Node:
        token = self.token
        if token.kind in (_Kind.OPERATOR, _Kind.NAME) and token.text in _UNARY_PRECEDENCE:
            self.advance()
            self.enter(token)
            operand = self.binary(_UNARY_PRECEDENCE[token.text])
            self.nesting -= 1
            operator = "not" if token.text in ("!", "not") else token.text
            node = _Unary(operator, operand, dialect=Dialect.EXPR, column=self.column(token))
            return self.built(node, token)
        return self.postfix(self.primary())

    def postfix(self, node: _Node) -> _Node:
        while True:
            token = self.token
            if self.at(".") or self.at("?."):
                self.advance()
                name = self.token
                if name.kind is not _Kind.NAME or name.text.startswith("#"):
                    raise self.error("expected a field name after '.'", hint="write result.field or result['key']")
                self.advance()
                key = _Literal(name.text, column=self.column(name))
                node = _Member(node, key, optional=token.text == "?.", column=self.column(token))
            elif self.at("["):
                self.advance()
                node = self.subscript(node, token)
            else:
                return node
            node = self.built(node, token)

    def subscript(self, node: _Node, opening: _Token) -> _Node:
        low = None if self.at(":") else self.expression()
        if self.at(":"):
            self.advance()
            high = None if self.at("]") else self.expression()
            self.expect("]", hint="a slice is written x[a:b]")
            return _Slice(node, low, high, column=self.column(opening))
        self.expect("]")
        assert low is not None
        return _Member(node, low, optional=False, column=self.column(opening))

    def primary(self) -> _Node:
        token = self.advance()
        column = self.column(token)
        if token.kind in (_Kind.NUMBER, _Kind.STRING):
            return _Literal(token.value, column=column)
        if token.kind is _Kind.NAME:
            return self.name(token)
        if token.kind is _Kind.OPERATOR and token.text == "(":
            if self.at(")"):
                raise self.error("empty parentheses", token, hint="put an expression inside ( )")
            node = self.expression()
            self.expect(")", hint="every ( needs a matching )")
            return node
        if token.kind is _Kind.OPERATOR and token.text == "[":
            items: list[_Node] = []
            while not self.at("]"):
                items.append(self.expression())
                if not self.at("]"):
                    self.expect(",", hint="separate array items with commas")
            self.advance()
            return self.built(_ArrayLiteral(items, column=column), token)
        if token.kind is _Kind.OPERATOR and token.text == "." and self.predicates and self.token.kind is _Kind.NAME:
            # Inside a predicate, ".name" is "#.name" (expr's shorthand for a field of the element).
            name = self.advance()
            element = _Item(index=False, column=column)
            return _Member(element, _Literal(name.text, column=self.column(name)), optional=False, column=column)
        if token.kind is _Kind.OPERATOR and token.text == "{":
            raise self.error(
                "map literals are not supported", token, hint="braces only wrap predicates, as in all(result, {# > 0})"
            )
        if token.kind is _Kind.END:
            raise self.error("condition ends too early", token, hint="an operand is missing at the end")
        raise self.error(f"unexpected {token.text!r}", token)

    def name(self, token: _Token) -> _Node:
        column = self.column(token)
        text = token.text
        if text.startswith("#"):
            if text not in ("#", "#index"):
                raise self.error(f"unknown name {text!r}", token, hint="inside a predicate use # or #index")
            if not self.predicates:
                raise self.error(
                    f"{text!r} is only valid inside a predicate", token, hint="as in all(result, # < 0.05)"
                )
            return _Item(index=text == "#index", column=column)
        if self.at("("):
            return self.call(token)
        if text in self.names:
            return _Name(text, column=column)
        if text in _CONSTANTS:
            return _Literal(_CONSTANTS[text], column=column)
        if text in _FUNCTIONS or text in _PREDICATES:
            example = f"{text}({self.example_name()})"
            raise self.error(f"{text} is a function", token, hint=f"call it, as in {example}")
        hint = _PYTHONISMS.get(text) or _suggest(text, (*sorted(self.names), *_CONSTANTS))
        raise self.error(f"unknown name {text!r}", token, hint=hint)

    def example_name(self) -> str:
        return "result" if "result" in self.names or not self.names else sorted(self.names)[-1]

    def call(self, token: _Token) -> _Node:
        text = token.text
        column = self.column(token)
        if text in _REFUSED_BUILTINS:
            raise self.error(f"{text}() is not supported", token, hint=_REFUSED_BUILTINS[text])
        if text not in _FUNCTIONS and text not in _PREDICATES:
            raise self.error(f"unknown function {text!r}", token, hint=_suggest(text, (*_FUNCTIONS, *_PREDICATES)))
        opening = self.advance()
        if text in _PREDICATES:
            array = self.expression()
            self.expect(",", hint=f"a predicate builtin is written {text}(array, # > 0)")
            self.predicates += 1
            if self.at("{"):
                self.advance()
                body = self.expression()
                self.expect("}", hint="a predicate in braces is written {# > 0}")
            else:
                body = self.expression()
            self.predicates -= 1
            self.expect(")", hint="every ( needs a matching )")
            return self.built(_Predicate(text, array, body, column=column), token)
        arguments: list[_Node] = []
        while not self.at(")"):
            arguments.append(self.expression())
            if not self.at(")"):
                self.expect(",", hint="separate arguments with commas")
        self.advance()
        fewest, most, _ = _FUNCTIONS[text]
        if not fewest <= len(arguments) <= most:
            wanted = str(fewest) if fewest == most else f"{fewest} to {most}"
            plural = "s" if most != 1 else ""
            example = f"default({self.example_name()}, 0)" if text == "default" else f"{text}({self.example_name()})"
            raise self.error(
                f"{text}() takes {wanted} argument{plural}, got {len(arguments)}",
                opening,
                hint=f"for example {example}",
            )
        return self.built(_Call(text, arguments, column=column), token)


def _suggest(text: str, known: Sequence[str]) -> str:
    names = list(dict.fromkeys(known))
    close = difflib.get_close_matches(text, names, n=1, cutoff=0.6)
    listing = ", ".join(names)
    return f"did you mean {close[0]!r}? known: {listing}" if close else f"known: {listing}"


# -- govaluate ---------------------------------------------------------------------------------------------------

# Lowest to highest, as govaluate's planner nests them: separator, ternary, ||, &&, comparators, bitwise, shifts,
# additive, multiplicative, exponent; prefix operators bind tightest (-2 ** 2 is 4). All are left-associative
# (govaluate mirrors its right-recursive plan), including '?' / ':' / '??', which share one level.
_G_PRECEDENCE = {
    ",": 1,
    "?": 2, ":": 2, "??": 2,
    "||": 3,
    "&&": 4,
    "==": 5, "!=": 5, "<": 5, "<=": 5, ">": 5, ">=": 5, "=~": 5, "!~": 5, "in": 5,
    "&": 6, "|": 6, "^": 6,
    "<<": 7, ">>": 7,
    "+": 8, "-": 8,
    "*": 9, "/": 9, "%": 9,
    "**": 10,
}  # fmt: skip
# Words Argo users reach for that govaluate does not have, and how to write them.
_G_WORD_HINTS = {
    "and": "govaluate has no 'and'; write &&",
    "or": "govaluate has no 'or'; write ||",
    "not": "govaluate has no 'not'; write ! (as in !(a == b)) or !=",
    "contains": "govaluate has no 'contains'; write a =~ 'part' (a regular expression)",
    "matches": "govaluate has no 'matches'; write a =~ 'pattern'",
    "startsWith": "govaluate has no 'startsWith'; write a =~ '^prefix'",
    "endsWith": "govaluate has no 'endsWith'; write a =~ 'suffix$'",
    "nil": "govaluate has no nil",
}


class _GovaluateParser(_Parser):
    def __init__(self, source: str) -> None:
        super().__init__(source, _tokenize_govaluate(source), what="when")

    def parse(self) -> _Node:
        if self.at_end():
            raise self.error("when is blank", hint="write a comparison such as {{tasks.a.outputs.result}} == done")
        node = self.binary(0)
        if not self.at_end():
            raise self.unexpected(self.index)
        return node

    def unexpected(self, position: int) -> ExpressionSyntaxError:
        """The token at ``position`` is out of place; the hint names what the author probably meant."""
        token = self.tokens[position]
        previous = self.tokens[position - 1] if position else None
        word = next(
            (t.value for t in (token, previous) if t is not None and t.kind is _Kind.NAME and t.value in _G_WORD_HINTS),
            None,
        )
        if isinstance(word, str):
            hint = _G_WORD_HINTS[word]
        elif token.text == "(" and previous is not None and previous.kind is _Kind.NAME:
            hint = "when has no functions (Argo evaluates it with govaluate, which has none here)"
        elif token.kind is _Kind.END:
            hint = "an operand is missing at the end"
        else:
            hint = "two values in a row: join comparisons with && or ||, or quote a value that contains spaces"
        found = token.text or "the end of the when"
        return self.error(f"unexpected {found!r}", token, hint=hint)

    def binary(self, minimum: int) -> _Node:
        self.enter()
        left = self.unary()
        while True:
            token = self.token
            if token.kind is not _Kind.OPERATOR or token.text not in _G_PRECEDENCE:
                break
            precedence = _G_PRECEDENCE[token.text]
            if precedence < minimum:
                break
            self.advance()
            right = self.binary(precedence + 1)
            left = self.built(self.operation(token, left, right), token)
        self.nesting -= 1
        return left

    def operation(self, token: _Token, left: _Node, right: _Node) -> _Node:
        operator = token.text
        column = self.column(token)
        if operator in ("&&", "||"):
            return _Logical("and" if operator == "&&" else "or", left, right, symbol=operator, column=column)
        if operator in ("=~", "!~"):
            if isinstance(right, _Literal) and isinstance(right.value, str):
                try:
                    _regex(right.value)
                except _PatternError as error:
                    raise self.error(str(error), token, hint=_PATTERN_HINT) from None
            return _RegexMatch(left, right, symbol=operator, negate=operator == "!~", column=column)
        if operator == "?":
            return _GovaluateIf(left, right, column=column)
        if operator in (":", "??"):
            return _Coalesce(left, right, column=column)
        if operator == ",":
            # A flat list, so "x in (a, b, c, ...)" is not a deep tree; same values as govaluate's nested appends.
            return (
                left.append(right) if isinstance(left, _GovaluateList) else _GovaluateList([left, right], column=column)
            )
        return _GovaluateBinary(operator, left, right, column=column)

    def unary(self) -> _Node:
        token = self.token
        if token.kind is _Kind.OPERATOR and token.text in _G_PREFIX:
            self.advance()
            operand = self.primary()  # govaluate applies a prefix to one value: -2 ** 2 is (-2) ** 2
            operator = "not" if token.text == "!" else token.text
            return self.built(_Unary(operator, operand, dialect=Dialect.GOVALUATE, column=self.column(token)), token)
        return self.primary()

    def primary(self) -> _Node:
        position = self.index
        token = self.advance()
        column = self.column(token)
        if token.kind in (_Kind.NUMBER, _Kind.STRING):
            return _Literal(token.value, column=column)
        if token.kind is _Kind.NAME:
            word = token.value
            assert isinstance(word, str)
            if word in ("true", "false"):
                return _Literal(word == "true", column=column)
            if not token.text.startswith("[") and "." in word:
                # govaluate reads a dotted word as a parameter accessor, which Argo does not turn into a string
                # and cannot evaluate (there are no parameters): an error in Argo too, so we refuse it up front.
                raise self.error(
                    f"{word!r} reads like a parameter accessor, which when cannot evaluate",
                    token,
                    hint=f"quote it: '{word}'",
                )
            if self.at("("):
                raise self.unexpected(self.index)
            return _Literal(word, column=column)  # Argo turns every govaluate variable into a string
        if token.kind is _Kind.OPERATOR and token.text == "(":
            if self.at(")"):
                raise self.error("empty parentheses", token, hint="put an expression inside ( )")
            node = self.binary(0)
            self.expect(")", hint="every ( needs a matching )")
            return node
        raise self.unexpected(position)


# --------------------------------------------------------------------------------------------------------------
# Public face

_NO_ENV: Mapping[str, object] = {}


@dataclass(frozen=True, slots=True, eq=False)
class Condition:
    """A compiled expression. Immutable and shareable; evaluation has no side effects."""

    source: str
    names: frozenset[str]
    dialect: Dialect
    _root: _Node

    def value(self, env: Mapping[str, object] = _NO_ENV) -> object:
        """The expression's value in ``env`` (for tests and diagnostics such as ``rollouts analysis``)."""
        try:
            return self._root.evaluate(_Scope(env))
        except RecursionError:
            # Only reachable through pathologically nested *data* (a result, a parsed body) compared with ==.
            raise ExpressionEvaluationError("the value is nested too deeply to compare") from None

    def evaluate(self, env: Mapping[str, object] = _NO_ENV) -> bool:
        """True/false in ``env``; anything but a bool is an evaluation error, as in Argo."""
        value = self.value(env)
        if not isinstance(value, bool):
            what = "when" if self.dialect is Dialect.GOVALUATE else "condition"
            shown = _g_short(value) if self.dialect is Dialect.GOVALUATE else _short(value)
            kind = _g_type(value) if self.dialect is Dialect.GOVALUATE else _type_name(value)
            raise ExpressionEvaluationError(f"{what} {self.source!r} must produce true or false, got {kind} {shown}")
        return value


def _check_source(source: object, limit: int, what: str, hint: str) -> str:
    if not isinstance(source, str):
        raise ExpressionSyntaxError(f"a {what} must be a string", source="", offset=0)
    if len(source) > limit:
        raise ExpressionSyntaxError(
            f"{what} is longer than {limit} characters", source=source[:limit], offset=limit, hint=hint
        )
    return source


@lru_cache(maxsize=1024)
def compile_condition(source: str, *, names: frozenset[str] = frozenset({"result"})) -> Condition:
    """Compile an expr-lang condition once; raises :class:`ExpressionSyntaxError` with the column and a hint.

    ``names`` are the environment's names (``result`` for analysis, ``request``/``response`` for HTTP steps); any
    other name is a compile error. Cached by (source, names), because the same conditions are judged over and over.
    """
    text = _check_source(source, MAX_SOURCE_LENGTH, "condition", "move the computation into the query")
    return Condition(text, names, Dialect.EXPR, _ExprParser(text, names).parse())


def compile_when(text: str) -> Condition:
    """Compile a rendered ``when`` in govaluate's dialect (bare words are strings).

    Cached by text up to :data:`MAX_SOURCE_LENGTH` characters (loops render the same short texts again and again);
    longer texts carry substituted outputs, are rarely repeated and would make the cache hold megabytes.
    """
    if isinstance(text, str) and len(text) <= MAX_SOURCE_LENGTH:
        return _compile_when_cached(text)
    return _compile_when(text)


def _compile_when(text: str) -> Condition:
    source = _check_source(text, MAX_WHEN_LENGTH, "when", "compare shorter values")
    return Condition(source, frozenset(), Dialect.GOVALUATE, _GovaluateParser(source).parse())


_compile_when_cached = lru_cache(maxsize=1024)(_compile_when)


def evaluate_when(text: str) -> bool:
    """Decide a task's rendered ``when`` as Argo's ``shouldExecute`` does: empty is true, else govaluate's answer.

    Raises :class:`ExpressionSyntaxError` for text govaluate cannot read and :class:`ExpressionEvaluationError`
    for a type error or a value that is not a bool; the engine turns either into an ``Error`` node.
    """
    if text == "":
        return True
    return compile_when(text).evaluate()
