"""A small, safe expression language for ``when`` clauses and HTTP ``successCondition``.

Argo evaluates these with Go expression libraries; users write a tiny subset of them: comparisons, ``&&``/``||``/``!``
(and ``and``/``or``/``not``), parentheses, string/number/bool literals, ``contains``/``in``, ``=~`` regex matches,
and variable paths such as ``response.statusCode`` or ``response.headers["Server"][0]``. This module parses that
subset into a tree of closures once, then evaluates it against an environment. It never calls ``eval``.

In ``when`` clauses a bare word that is not a known variable is a string (``{{tasks.a.outputs.result}} == heads``
becomes ``heads == heads`` after substitution, which Argo users expect to be true).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from workflows.errors import ExpressionError

Env = Mapping[str, Any]
Evaluator = Callable[[Env], Any]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.-])
      | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>&&|\|\||==|!=|<=|>=|=~|!~|[<>!()\[\].,-])
      | (?P<word>[A-Za-z_][\w-]*(?:\.[\w-]+)*|[\w][\w.:/-]*)
    )""",
    re.VERBOSE,
)
_WORD_OPS = {"and": "&&", "or": "||", "not": "!", "contains": "contains", "in": "in"}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    position = 0
    stripped_end = len(text.rstrip())
    while position < stripped_end:
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"unexpected character at {position} in {text!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "word" and value in _WORD_OPS:
            kind, value = "op", _WORD_OPS[value]
        tokens.append(_Tok(kind, value))
        position = match.end()
    tokens.append(_Tok("end", ""))
    return tokens


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _compare(op: str, left: Any, right: Any) -> bool:
    ln, rn = _number(left), _number(right)
    if ln is not None and rn is not None:
        a: Any = ln
        b: Any = rn
    elif isinstance(left, bool) or isinstance(right, bool):
        a, b = str(left).lower(), str(right).lower()
    else:
        a, b = left, right
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except TypeError as exc:
        raise ExpressionError(f"cannot compare {left!r} {op} {right!r}") from exc


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() not in ("", "false", "0")
    return bool(value)


class _Parser:
    def __init__(self, text: str, *, bare_words_are_strings: bool, names: frozenset[str] | None) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.bare_words_are_strings = bare_words_are_strings
        self.names = names

    def peek(self) -> _Tok:
        return self.tokens[self.index]

    def take(self) -> _Tok:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text or token.kind not in ("op",):
            raise ExpressionError(f"expected {text!r} but found {token.text or 'end'!r} in {self.text!r}")

    def parse(self) -> Evaluator:
        node = self.parse_or()
        if self.peek().kind != "end":
            raise ExpressionError(f"unexpected {self.peek().text!r} in {self.text!r}")
        return node

    def parse_or(self) -> Evaluator:
        left = self.parse_and()
        while self.peek().kind == "op" and self.peek().text == "||":
            self.take()
            right = self.parse_and()
            left = _or(left, right)
        return left

    def parse_and(self) -> Evaluator:
        left = self.parse_not()
        while self.peek().kind == "op" and self.peek().text == "&&":
            self.take()
            right = self.parse_not()
            left = _and(left, right)
        return left

    def parse_not(self) -> Evaluator:
        if self.peek().kind == "op" and self.peek().text == "!":
            self.take()
            inner = self.parse_not()
            return lambda env: not _truthy(inner(env))
        return self.parse_comparison()

    def parse_comparison(self) -> Evaluator:
        left = self.parse_postfix()
        token = self.peek()
        if token.kind != "op" or token.text not in ("==", "!=", "<", "<=", ">", ">=", "=~", "!~", "contains", "in"):
            return left
        op = self.take().text
        right = self.parse_postfix()
        if op in ("=~", "!~"):
            negate = op == "!~"

            def matches(env: Env) -> bool:
                try:
                    found = re.search(str(right(env)), str(left(env))) is not None
                except re.error as exc:
                    raise ExpressionError(f"bad regular expression in {self.text!r}: {exc}") from exc
                return found != negate

            return matches
        if op == "contains":
            return lambda env: _contains(left(env), right(env))
        if op == "in":
            return lambda env: _contains(right(env), left(env))
        return lambda env: _compare(op, left(env), right(env))

    def parse_postfix(self) -> Evaluator:
        node = self.parse_atom()
        while self.peek().kind == "op" and self.peek().text == "[":
            self.take()
            key = self.parse_or()
            self.expect("]")
            node = _subscript(node, key)
        return node

    def parse_atom(self) -> Evaluator:
        token = self.take()
        if token.kind == "num":
            value: Any = float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
            return lambda env: value
        if token.kind == "str":
            text = _unquote(token.text)
            return lambda env: text
        if token.kind == "op" and token.text == "(":
            inner = self.parse_or()
            self.expect(")")
            return inner
        if token.kind == "op" and token.text == "-":
            operand = self.parse_atom()

            def negative(env: Env) -> float:
                number = _number(operand(env))
                if number is None:
                    raise ExpressionError(f"cannot negate a non-number in {self.text!r}")
                return -number

            return negative
        if token.kind == "word":
            return self.word(token.text)
        raise ExpressionError(f"unexpected {token.text or 'end'!r} in {self.text!r}")

    def word(self, text: str) -> Evaluator:
        lowered = text.lower()
        if lowered in ("true", "false"):
            flag = lowered == "true"
            return lambda env: flag
        root = text.split(".", 1)[0]
        known = self.names is None or root in self.names
        if self.bare_words_are_strings and not known:
            return lambda env: text
        if not known:
            raise ExpressionError(f"unknown name {root!r} in {self.text!r}")
        path = text.split(".")

        def lookup(env: Env) -> Any:
            if path[0] not in env:
                if self.bare_words_are_strings:
                    return text
                raise ExpressionError(f"unknown name {path[0]!r} in {self.text!r}")
            value: Any = env[path[0]]
            for part in path[1:]:
                value = _index(value, part)
            return value

        return lookup


def _or(a: Evaluator, b: Evaluator) -> Evaluator:
    return lambda env: _truthy(a(env)) or _truthy(b(env))


def _and(a: Evaluator, b: Evaluator) -> Evaluator:
    return lambda env: _truthy(a(env)) and _truthy(b(env))


def _subscript(base: Evaluator, key: Evaluator) -> Evaluator:
    return lambda env: _index(base(env), key(env))


def _index(value: Any, key: Any) -> Any:
    try:
        if isinstance(value, list | tuple | str):
            number = _number(key)
            if number is None:
                raise ExpressionError(f"list index must be a number, not {key!r}")
            return value[int(number)]
        if isinstance(value, Mapping):
            return value[key]
    except (IndexError, KeyError) as exc:
        raise ExpressionError(f"no element {key!r}") from exc
    raise ExpressionError(f"cannot index {type(value).__name__} with {key!r}")


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return str(item) in container
    if isinstance(container, Mapping | list | tuple):
        return item in container
    raise ExpressionError(f"'contains' needs a string, list or map, not {type(container).__name__}")


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed expression: parse once at compile time, evaluate per node."""

    source: str
    evaluate: Evaluator

    def truth(self, env: Env) -> bool:
        """Evaluate and coerce to a boolean the way ``when`` clauses are judged."""
        return _truthy(self.evaluate(env))


def compile_expression(
    text: str, *, bare_words_are_strings: bool = False, names: frozenset[str] | None = None
) -> Expression:
    """Parse ``text``; ``names`` restricts which root variables may appear (others are errors or bare strings)."""
    if not text.strip():
        raise ExpressionError("empty expression")
    parser = _Parser(text, bare_words_are_strings=bare_words_are_strings, names=names)
    return Expression(source=text, evaluate=parser.parse())


def evaluate_when(text: str) -> bool:
    """Judge a rendered ``when`` clause: bare words are strings (``heads == heads`` is true).

    The one entry point the scheduler uses for ``when``; raises :class:`~workflows.errors.ExpressionError`.
    """
    return compile_expression(text, bare_words_are_strings=True).truth({})
