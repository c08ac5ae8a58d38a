"""The safe condition evaluator: ``successCondition`` / ``failureCondition`` as Argo users write them.

Argo hands conditions to expr-lang with ``result`` bound to what the provider returned. Users bring those strings
unchanged, so we accept the same subset -- ``result[0] >= 0.95``, ``len(result) > 0 && result[0] < 0.01``,
``result.status == 'ok'``, ``isNaN(result)``, ``default(result, 0) < 5``, ``asFloat(result) > 1`` -- and give the
same answers (``/`` is float division, ``**`` is float power, ``==`` across types is false, ``<`` across types is
an error, a missing map key is ``nil``).

What this module must never do: run user text as Python. There is no ``eval``/``exec``/``ast`` here and no
attribute lookup on values: ``result.__class__`` is a *map key* lookup (``nil`` when absent) or an evaluation
error, never a Python attribute. All work is bounded before evaluation starts: the source length, the tree depth
(so neither the parser nor the evaluator can exhaust the stack), int64 arithmetic (so ``9*9*...`` cannot build a
huge integer) and float-only power (so ``9**9**9`` is ``+Inf``, as in Go, not a big-integer computation). Each node
is evaluated at most once, so evaluation time is linear in the size of the condition and the result.

Compile once with :func:`compile_condition`; call :meth:`Condition.evaluate` per measurement.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from workflows.errors import ExpressionEvaluationError, ExpressionSyntaxError

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_SOURCE_LENGTH",
    "Condition",
    "compile_condition",
]

#: Longest condition accepted. Real conditions are one line; this leaves room for generous multi-line ones.
MAX_SOURCE_LENGTH = 4096
#: Deepest expression tree accepted (parentheses, operator chains and calls all count).
MAX_DEPTH = 64

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


# --------------------------------------------------------------------------------------------------------------
# Tokens


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


# Longest first, so "**" wins over "*" and "?." over "?".
_OPERATORS = (
    "**", "==", "!=", "<=", ">=", "&&", "||", "??", "?.",
    "<", ">", "+", "-", "*", "/", "%", "^", "!", "(", ")", "[", "]", ".", ",", "?", ":",
)  # fmt: skip
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*"
    r"|0[bB][01](?:_?[01])*"
    r"|0[oO][0-7](?:_?[0-7])*"
    r"|\d(?:_?\d)*(?:\.\d(?:_?\d)*)?(?:[eE][+-]?\d+)?",
    re.ASCII,
)
_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v"}  # fmt: skip
_MISTYPED = {
    "=": "use == to compare",
    "&": "use && (or 'and') for logical and",
    "|": "use || (or 'or') for logical or",
}


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    length = len(source)
    while position < length:
        char = source[position]
        if char in " \t\r\n":
            position += 1
            continue
        if char in "0123456789":
            match = _NUMBER.match(source, position)
            assert match is not None  # a digit always matches
            tokens.append(_Token(_Kind.NUMBER, match.group(), _number(match.group(), source, position), position))
            position = match.end()
            continue
        if char in "'\"`":
            text, value, position_after = _string(source, position)
            tokens.append(_Token(_Kind.STRING, text, value, position))
            position = position_after
            continue
        if char.isascii() and (char.isalpha() or char in "_$"):
            match = _NAME.match(source, position)
            assert match is not None
            tokens.append(_Token(_Kind.NAME, match.group(), None, position))
            position = match.end()
            continue
        for operator in _OPERATORS:
            if source.startswith(operator, position):
                tokens.append(_Token(_Kind.OPERATOR, operator, None, position))
                position += len(operator)
                break
        else:
            hint = _MISTYPED.get(char, "")
            raise ExpressionSyntaxError(f"unexpected character {char!r}", source=source, offset=position, hint=hint)
    tokens.append(_Token(_Kind.END, "", None, length))
    return tokens


def _number(text: str, source: str, offset: int) -> int | float:
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


def _string(source: str, start: int) -> tuple[str, str, int]:
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
    if isinstance(value, (list, tuple)):
        return "array"
    return "unsupported value"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_list(value: object) -> bool:
    return isinstance(value, (list, tuple))


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
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(_equal(left[key], right[key]) for key in left)
    return False


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


# --------------------------------------------------------------------------------------------------------------
# Nodes. Each knows its column (for messages) and its depth (checked at construction, so nothing deep is built).


class _Node:
    __slots__ = ("column", "depth")
    column: int
    depth: int

    def __init__(self, *, column: int, children: Sequence[_Node] = ()) -> None:
        self.column = column
        self.depth = 1 + max((child.depth for child in children), default=0)

    def evaluate(self, result: object) -> object:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


class _Literal(_Node):
    __slots__ = ("value",)

    def __init__(self, value: object, *, column: int) -> None:
        super().__init__(column=column)
        self.value = value

    def evaluate(self, result: object) -> object:
        return self.value


class _Result(_Node):
    __slots__ = ()

    def evaluate(self, result: object) -> object:
        return result


class _ArrayLiteral(_Node):
    __slots__ = ("items",)

    def __init__(self, items: list[_Node], *, column: int) -> None:
        super().__init__(column=column, children=items)
        self.items = items

    def evaluate(self, result: object) -> object:
        return [item.evaluate(result) for item in self.items]


class _Member(_Node):
    """``x.name`` / ``x?.name`` / ``x[key]``: a lookup in data, never a Python attribute."""

    __slots__ = ("key", "optional", "target")

    def __init__(self, target: _Node, key: _Node, *, optional: bool, column: int) -> None:
        super().__init__(column=column, children=(target, key))
        self.target = target
        self.key = key
        self.optional = optional

    def evaluate(self, result: object) -> object:
        container = self.target.evaluate(result)
        if container is None and self.optional:
            return None
        key = self.key.evaluate(result)
        if isinstance(container, Mapping):
            # Missing keys are nil, as in expr on a map: `default(result.x, 0)` and `isNil` rely on it.
            try:
                return container.get(key) if isinstance(key, (str, int, float, bool)) or key is None else None
            except TypeError:
                return None
        if isinstance(container, (list, tuple, str)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise ExpressionEvaluationError(
                    f"cannot index {_type_name(container)} with {_type_name(key)} {_short(key)} "
                    f"at column {self.column}; arrays take integer indexes like result[0]"
                )
            index = key + len(container) if key < 0 else key
            if not 0 <= index < len(container):
                raise ExpressionEvaluationError(
                    f"index {key} out of range for {_type_name(container)} of length {len(container)} "
                    f"at column {self.column}"
                )
            return container[index]
        raise ExpressionEvaluationError(
            f"cannot fetch {_short(key)} from {_type_name(container)} at column {self.column}"
            + ("; use ?. or default() when the value may be nil" if container is None else "")
        )


class _Unary(_Node):
    __slots__ = ("operand", "operator")

    def __init__(self, operator: str, operand: _Node, *, column: int) -> None:
        super().__init__(column=column, children=(operand,))
        self.operator = operator
        self.operand = operand

    def evaluate(self, result: object) -> object:
        value = self.operand.evaluate(result)
        if self.operator == "not":
            if not isinstance(value, bool):
                raise ExpressionEvaluationError(
                    f"'!' needs a bool, got {_type_name(value)} {_short(value)} at column {self.column}"
                )
            return not value
        if not _is_number(value):
            raise ExpressionEvaluationError(
                f"unary {self.operator!r} needs a number, got {_type_name(value)} at column {self.column}"
            )
        assert isinstance(value, (int, float))
        if self.operator == "-":
            return _checked_int(-value, self.column, "negation") if isinstance(value, int) else -value
        return value


class _Logical(_Node):
    __slots__ = ("left", "operator", "right")

    def __init__(self, operator: str, left: _Node, right: _Node, *, column: int) -> None:
        super().__init__(column=column, children=(left, right))
        self.operator = operator
        self.left = left
        self.right = right

    def evaluate(self, result: object) -> object:
        left = self._bool(self.left.evaluate(result), "left")
        if self.operator == "and" and not left:
            return False
        if self.operator == "or" and left:
            return True
        return self._bool(self.right.evaluate(result), "right")

    def _bool(self, value: object, side: str) -> bool:
        if not isinstance(value, bool):
            raise ExpressionEvaluationError(
                f"the {side} side of '{self.operator}' must be a bool, got {_type_name(value)} {_short(value)} "
                f"at column {self.column}"
            )
        return value


class _Coalesce(_Node):
    __slots__ = ("left", "right")

    def __init__(self, left: _Node, right: _Node, *, column: int) -> None:
        super().__init__(column=column, children=(left, right))
        self.left = left
        self.right = right

    def evaluate(self, result: object) -> object:
        value = self.left.evaluate(result)
        return self.right.evaluate(result) if value is None else value


class _Ternary(_Node):
    __slots__ = ("condition", "otherwise", "then")

    def __init__(self, condition: _Node, then: _Node, otherwise: _Node, *, column: int) -> None:
        super().__init__(column=column, children=(condition, then, otherwise))
        self.condition = condition
        self.then = then
        self.otherwise = otherwise

    def evaluate(self, result: object) -> object:
        test = self.condition.evaluate(result)
        if not isinstance(test, bool):
            raise ExpressionEvaluationError(f"'?:' needs a bool condition, got {_type_name(test)}")
        return self.then.evaluate(result) if test else self.otherwise.evaluate(result)


class _Binary(_Node):
    __slots__ = ("left", "operator", "right")

    def __init__(self, operator: str, left: _Node, right: _Node, *, column: int) -> None:
        super().__init__(column=column, children=(left, right))
        self.operator = operator
        self.left = left
        self.right = right

    def evaluate(self, result: object) -> object:
        left = self.left.evaluate(result)
        right = self.right.evaluate(result)
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
        if operator in ("contains", "startsWith", "endsWith"):
            if not (isinstance(left, str) and isinstance(right, str)):
                raise self._mismatch(left, right)
            if operator == "contains":
                return right in left
            return left.startswith(right) if operator == "startsWith" else left.endswith(right)
        return self._arithmetic(left, right)

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
        if isinstance(container, (list, tuple)):
            return any(_equal(item, element) for element in container)
        if isinstance(container, Mapping):
            return any(_equal(item, key) for key in container)
        hint = "; use 'contains' to look for a substring" if isinstance(container, str) else ""
        raise ExpressionEvaluationError(
            f"'{self.operator}' needs an array or a map on the right, got {_type_name(container)} "
            f"at column {self.column}{hint}"
        )

    def _arithmetic(self, left: object, right: object) -> object:
        operator = self.operator
        if operator == "+" and isinstance(left, str) and isinstance(right, str):
            return left + right
        if operator == "+" and _is_list(left) and _is_list(right):
            assert isinstance(left, (list, tuple))
            assert isinstance(right, (list, tuple))
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


# --------------------------------------------------------------------------------------------------------------
# Functions: the ones Argo puts in the environment plus expr's len. Arity is checked at compile time.


def _fn_len(value: object) -> object:
    if isinstance(value, (str, list, tuple, Mapping)):
        return len(value)
    raise ExpressionEvaluationError(f"len() needs a string, array or map, got {_type_name(value)}")


def _fn_is_nan(value: object) -> object:
    if not _is_number(value):
        raise ExpressionEvaluationError(f"isNaN() needs a number, got {_type_name(value)} {_short(value)}")
    assert isinstance(value, (int, float))
    return isinstance(value, float) and math.isnan(value)


def _fn_is_inf(value: object) -> object:
    if not _is_number(value):
        raise ExpressionEvaluationError(f"isInf() needs a number, got {_type_name(value)} {_short(value)}")
    assert isinstance(value, (int, float))
    return isinstance(value, float) and math.isinf(value)


def _fn_is_nil(value: object) -> object:
    return value is None


def _fn_default(value: object, fallback: object) -> object:
    return fallback if value is None else value


_GO_INT = re.compile(r"[+-]?\d+", re.ASCII)
_GO_FLOAT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_GO_FLOAT_SPECIAL = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)


def _fn_as_int(value: object) -> object:
    """Argo's asInt: numbers truncate toward zero; strings must be a base-10 integer (Go's ParseInt)."""
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
    """Argo's asFloat: numbers convert; strings parse like Go's ParseFloat (``NaN``/``Inf`` included)."""
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


#: Functions a condition may call, with their arity.
FUNCTIONS: Mapping[str, tuple[int, Callable[..., object]]] = {
    "len": (1, _fn_len),
    "isNaN": (1, _fn_is_nan),
    "isInf": (1, _fn_is_inf),
    "isNil": (1, _fn_is_nil),
    "default": (2, _fn_default),
    "asInt": (1, _fn_as_int),
    "asFloat": (1, _fn_as_float),
}


class _Call(_Node):
    __slots__ = ("arguments", "function", "name")

    def __init__(self, name: str, arguments: list[_Node], *, column: int) -> None:
        super().__init__(column=column, children=arguments)
        self.name = name
        self.function = FUNCTIONS[name][1]
        self.arguments = arguments

    def evaluate(self, result: object) -> object:
        values = [argument.evaluate(result) for argument in self.arguments]
        try:
            return self.function(*values)
        except ExpressionEvaluationError as error:
            raise ExpressionEvaluationError(f"{error} at column {self.column}") from None


def _short(value: object) -> str:
    """A value for a message, cut short: results can be large and must not flood status."""
    if isinstance(value, (list, tuple, Mapping)):
        return ""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --------------------------------------------------------------------------------------------------------------
# Parser: Pratt-style, precedences as in expr-lang.

_BINARY_PRECEDENCE = {
    "||": 10, "or": 10,
    "&&": 15, "and": 15,
    "==": 20, "!=": 20, "<": 20, ">": 20, "<=": 20, ">=": 20,
    "in": 20, "not": 20, "contains": 20, "startsWith": 20, "endsWith": 20, "matches": 20,
    "+": 30, "-": 30,
    "*": 60, "/": 60, "%": 60,
    "**": 100, "^": 100,
    "??": 500,
}  # fmt: skip
_RIGHT_ASSOCIATIVE = frozenset({"**", "^"})
_UNARY_PRECEDENCE = {"!": 50, "not": 50, "-": 90, "+": 90}
_CONSTANTS: Mapping[str, object] = {"true": True, "false": False, "nil": None}
_PYTHONISMS = {
    "None": "write nil",
    "null": "write nil",
    "True": "write true",
    "False": "write false",
    "elif": "conditions have no statements; use && and ||",
}
_KNOWN_NAMES = ("result", *_CONSTANTS, *FUNCTIONS)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0
        self.nesting = 0

    # -- helpers ------------------------------------------------------------------------------------------
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
            found = self.token.text or "the end of the condition"
            raise self.error(f"expected {text!r} but found {found!r}", hint=hint)
        return self.advance()

    def column(self, token: _Token) -> int:
        return token.offset - (self.source.rfind("\n", 0, token.offset) + 1) + 1

    def built(self, node: _Node, token: _Token) -> _Node:
        if node.depth > MAX_DEPTH:
            raise self.error(
                f"condition is nested too deeply (more than {MAX_DEPTH} levels)",
                token,
                hint="split it or simplify it",
            )
        return node

    # -- grammar ------------------------------------------------------------------------------------------
    def parse(self) -> _Node:
        if self.at_end():
            raise self.error("condition is empty", hint="write something like result[0] >= 0.95")
        node = self.expression()
        if not self.at_end():
            token = self.token
            hint = "join conditions with && or ||" if token.kind is not _Kind.OPERATOR else ""
            raise self.error(f"unexpected {token.text!r}", token, hint=hint)
        return node

    def expression(self) -> _Node:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise self.error(f"condition is nested too deeply (more than {MAX_DEPTH} levels)")
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
                self.expect("in", hint="'not' between values must be 'not in'")
                operator = "not in"
            if operator == "matches":
                raise self.error(
                    "'matches' is not supported",
                    token,
                    hint="regular expressions can be made arbitrarily slow; use contains, startsWith or endsWith",
                )
            next_minimum = precedence if operator in _RIGHT_ASSOCIATIVE else precedence + 1
            right = self.binary(next_minimum)
            column = self.column(token)
            node: _Node
            if operator in ("||", "or", "&&", "and"):
                node = _Logical("and" if operator in ("&&", "and") else "or", left, right, column=column)
            elif operator == "??":
                node = _Coalesce(left, right, column=column)
            else:
                node = _Binary(operator, left, right, column=column)
            left = self.built(node, token)

    def unary(self) -> _Node:
        token = self.token
        if token.kind in (_Kind.OPERATOR, _Kind.NAME) and token.text in _UNARY_PRECEDENCE:
            self.advance()
            self.nesting += 1
            if self.nesting > MAX_DEPTH:
                raise self.error(f"condition is nested too deeply (more than {MAX_DEPTH} levels)", token)
            operand = self.binary(_UNARY_PRECEDENCE[token.text])
            self.nesting -= 1
            operator = "not" if token.text in ("!", "not") else token.text
            return self.built(_Unary(operator, operand, column=self.column(token)), token)
        return self.postfix(self.primary())

    def postfix(self, node: _Node) -> _Node:
        while True:
            token = self.token
            if self.at(".") or self.at("?."):
                self.advance()
                name = self.token
                if name.kind is not _Kind.NAME:
                    raise self.error("expected a field name after '.'", hint="write result.field or result['key']")
                self.advance()
                key = _Literal(name.text, column=self.column(name))
                node = _Member(node, key, optional=token.text == "?.", column=self.column(token))
            elif self.at("["):
                self.advance()
                key_node = self.expression()
                self.expect("]")
                node = _Member(node, key_node, optional=False, column=self.column(token))
            else:
                return node
            node = self.built(node, token)

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
        if token.kind is _Kind.END:
            raise self.error("condition ends too early", token, hint="an operand is missing at the end")
        raise self.error(f"unexpected {token.text!r}", token)

    def name(self, token: _Token) -> _Node:
        column = self.column(token)
        text = token.text
        if self.at("("):
            if text not in FUNCTIONS:
                raise self.error(f"unknown function {text!r}", token, hint=_suggest(text, FUNCTIONS))
            opening = self.advance()
            arguments: list[_Node] = []
            while not self.at(")"):
                arguments.append(self.expression())
                if not self.at(")"):
                    self.expect(",", hint="separate arguments with commas")
            self.advance()
            arity = FUNCTIONS[text][0]
            if len(arguments) != arity:
                plural = "s" if arity != 1 else ""
                raise self.error(
                    f"{text}() takes {arity} argument{plural}, got {len(arguments)}",
                    opening,
                    hint="for example default(result, 0)" if text == "default" else f"for example {text}(result)",
                )
            return self.built(_Call(text, arguments, column=column), token)
        if text == "result":
            return _Result(column=column)
        if text in _CONSTANTS:
            return _Literal(_CONSTANTS[text], column=column)
        if text in FUNCTIONS:
            raise self.error(f"{text} is a function", token, hint=f"call it, as in {text}(result)")
        hint = _PYTHONISMS.get(text) or _suggest(text, _KNOWN_NAMES)
        raise self.error(f"unknown name {text!r}", token, hint=hint)


def _suggest(text: str, known: Sequence[str] | Mapping[str, object]) -> str:
    names = list(known)
    close = difflib.get_close_matches(text, names, n=1, cutoff=0.6)
    listing = ", ".join(names)
    return f"did you mean {close[0]!r}? known: {listing}" if close else f"known: {listing}"


# --------------------------------------------------------------------------------------------------------------
# Public face


@dataclass(frozen=True, slots=True, eq=False)
class Condition:
    """A compiled condition. Immutable and shareable; evaluation has no side effects."""

    source: str
    _root: _Node

    def value(self, result: object) -> object:
        """The condition's value for ``result`` (for tests and ``rollouts analysis`` diagnostics)."""
        try:
            return self._root.evaluate(result)
        except RecursionError:
            # Only reachable through a pathologically nested *result* compared with ==.
            raise ExpressionEvaluationError("the measured value is nested too deeply to compare") from None

    def evaluate(self, result: object) -> bool:
        """True/false for ``result``; anything but a bool is an evaluation error, as in Argo."""
        value = self.value(result)
        if not isinstance(value, bool):
            raise ExpressionEvaluationError(
                f"condition {self.source!r} must produce true or false, got {_type_name(value)} {_short(value)}"
            )
        return value


@lru_cache(maxsize=1024)
def compile_condition(source: str) -> Condition:
    """Compile a condition once; raises :class:`ExpressionSyntaxError` with the column and a hint.

    Cached by source text, because the same template's conditions are judged on every measurement.
    """
    if not isinstance(source, str):
        raise ExpressionSyntaxError("a condition must be a string", source="", offset=0)
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionSyntaxError(
            f"condition is longer than {MAX_SOURCE_LENGTH} characters",
            source=source[:MAX_SOURCE_LENGTH],
            offset=MAX_SOURCE_LENGTH,
            hint="move the computation into the query",
        )
    return Condition(source, _Parser(source).parse())
