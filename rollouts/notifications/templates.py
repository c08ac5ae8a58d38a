"""Go text/template bodies, as Argo's notification templates are written, rendered by Jinja2's sandbox.

Users bring templates written for Argo's notifications engine (Go's ``text/template`` plus a few sprig functions):
``Rollout {{.rollout.metadata.name}} aborted``, ``{{if .rollout.spec.strategy.canary}}Canary{{end}}``,
``{{range $i, $c := .rollout.spec.template.spec.containers}}{{$c.image}}{{end}}``. This module reads that dialect
with its own small parser and translates it into a Jinja2 template that :class:`jinja2.sandbox.SandboxedEnvironment`
renders. No user text ever becomes Jinja source: literal text, strings and numbers go into a table the generated
template indexes, and every field lookup, comparison and function is one of the helpers below, so the sandbox only
ever runs code this module wrote, over plain JSON values.

Supported, with Go's meaning (docs/notifications.md lists it for users):

* text and ``{{ }}`` actions, ``{{-``/``-}}`` whitespace trimming, ``{{/* comments */}}``;
* fields ``.a.b`` (on maps: a missing key or a null is *missing*, printed ``<no value>`` as Go prints it; a field of
  a string, number or list is an error), ``.``, ``$``, variables ``$x := pipeline`` and ``$x.a.b``,
  ``(pipeline).field``;
* ``if``/``else if``/``else``, ``range`` (lists, maps in key order, integers; ``$v :=`` and ``$i, $v :=``;
  ``else``; ``break``/``continue``), ``with``/``else``, ``end``;
* pipelines ``a | f b`` (the value is the last argument), string (``"..."`` with Go escapes, raw backquotes),
  number, ``true``/``false``/``nil`` literals;
* Go's functions ``and or not len index eq ne lt le gt ge print printf println html urlquery`` and sprig's
  ``upper lower title trim trimPrefix trimSuffix replace contains hasPrefix hasSuffix quote squote default empty
  coalesce toJson toPrettyJson toString join trunc b64enc``.

Refused with an error naming the ConfigMap key and the line: anything else (``define``/``template``/``block``,
assignment to a declared variable ``$x = ...``, method calls, char literals, unknown functions such as sprig's
``date`` or the engine's Slack mention helpers). Nothing is rendered approximately: what parses renders as Go would,
with two documented differences: ``printf "%d"`` prints a whole JSON number as an integer (Go's engine, holding JSON
numbers as float64, prints ``%!d(float64=3)``), and a field of an explicit ``null`` is missing (Go stops with a nil
pointer error).

Pure: no I/O, no clock (the time a template may show is passed in with the variables).
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote_plus

from jinja2 import StrictUndefined
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from rollouts.notifications.errors import ConfigError, RenderError
from workflows.model.expr import go_float

__all__ = ["FUNCTIONS", "GoTemplate", "compile_template", "go_text"]

#: Longest template body accepted (templates are a few lines; this bounds parsing and the generated source).
MAX_TEMPLATE_LENGTH = 64 * 1024
#: Longest rendered text kept; more is an error (a range over a huge list must not build megabytes).
MAX_OUTPUT_LENGTH = 256 * 1024
#: Deepest nesting of blocks and parentheses.
MAX_DEPTH = 32


class _Missing:
    """What Go's template engine calls an invalid value: a missing map key. Prints ``<no value>``, is false."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "<no value>"


MISSING: Final = _Missing()


class _FailedError(Exception):
    """A runtime error inside a helper; becomes a :class:`RenderError` naming the key."""


# -- Go's %v --------------------------------------------------------------------------------------------------------
def go_text(value: object) -> str:
    """What Go's template engine prints for a JSON value: ``<no value>`` for missing or null, ``true``/``false``,
    numbers as Go formats float64s, ``[a b]`` for lists and ``map[k:v]`` (keys sorted) for maps."""
    if value is MISSING or value is None:
        return "<no value>"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_float(float(value)) if abs(value) < 2**53 or isinstance(value, float) else str(value)
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{key}:{_inner(value[key])}" for key in sorted(value, key=str)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_inner(item) for item in value) + "]"
    raise _FailedError(f"cannot print a value of type {type(value).__name__}")


def _inner(value: object) -> str:
    return "<nil>" if value is None or value is MISSING else go_text(value)


def _go_type(value: object) -> str:
    if value is MISSING or value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    return type(value).__name__


# -- the helpers the generated Jinja code calls --------------------------------------------------------------------
def _field(value: object, name: str) -> object:
    if isinstance(value, Mapping):
        found = value.get(name, MISSING)
        return MISSING if found is None else found
    if value is MISSING or value is None:
        return MISSING
    raise _FailedError(f"can't evaluate field {name} in type {_go_type(value)}")


def _range_values(value: object) -> list[object]:
    return [item for _, item in _range_pairs(value)]


def _range_pairs(value: object) -> list[tuple[object, object]]:
    if value is MISSING or value is None:
        return []
    if isinstance(value, Mapping):
        return [(key, value[key]) for key in sorted(value, key=str)]
    if isinstance(value, list | tuple):
        return list(enumerate(value))
    if isinstance(value, int) and not isinstance(value, bool):
        if value > 10_000:
            raise _FailedError(f"range over {value} is too long")
        return [(i, i) for i in range(value)]
    raise _FailedError(f"range can't iterate over {go_text(value)}")


def _finalize(value: object) -> str:
    return go_text(value)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _basic(value: object, function: str) -> object:
    if value is MISSING or value is None:
        raise _FailedError(f"{function}: invalid type for comparison")
    if isinstance(value, str | bool) or _number(value):
        return value
    raise _FailedError(f"{function}: invalid type for comparison: {_go_type(value)}")


def _eq(first: object, *others: object) -> bool:
    if not others:
        raise _FailedError("eq: missing argument for comparison")
    left = _basic(first, "eq")
    for other in others:
        right = _basic(other, "eq")
        if _number(left) != _number(right) or (not _number(left) and type(left) is not type(right)):
            raise _FailedError(f"eq: incompatible types for comparison: {_go_type(left)} and {_go_type(right)}")
        if left == right:
            return True
    return False


def _ordered(name: str, test: Callable[[Any, Any], bool]) -> Callable[[object, object], bool]:
    def compare(left: object, right: object) -> bool:
        a, b = _basic(left, name), _basic(right, name)
        if isinstance(a, bool) or isinstance(b, bool):
            raise _FailedError(f"{name}: invalid type for comparison: bool")
        if _number(a) != _number(b):
            raise _FailedError(f"{name}: incompatible types for comparison: {_go_type(a)} and {_go_type(b)}")
        return test(a, b)

    return compare


def _len(value: object) -> int:
    if isinstance(value, str | Mapping | list | tuple):
        return len(value)
    raise _FailedError(f"len of type {_go_type(value)}")


def _index(value: object, *keys: object) -> object:
    for key in keys:
        if isinstance(value, Mapping):
            if not isinstance(key, str):
                raise _FailedError(f"index: map key must be a string, got {_go_type(key)}")
            found = value.get(key, MISSING)
            value = MISSING if found is None else found
        elif isinstance(value, list | tuple):
            if not _number(key) or not float(key).is_integer():  # type: ignore[arg-type]
                raise _FailedError(f"index: cannot index a list with {_go_type(key)}")
            position = int(key)  # type: ignore[call-overload]
            if not 0 <= position < len(value):
                raise _FailedError(f"index out of range: {position}")
            value = value[position]
        elif value is MISSING or value is None:
            raise _FailedError("index of untyped nil")
        else:
            raise _FailedError(f"can't index item of type {_go_type(value)}")
    return value


def _sprint(*values: object) -> str:
    """Go's fmt.Sprint: a space between two operands when neither is a string."""
    out: list[str] = []
    for position, value in enumerate(values):
        if position and not isinstance(value, str) and not isinstance(values[position - 1], str):
            out.append(" ")
        out.append(_inner(value))
    return "".join(out)


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?(.)", re.DOTALL)


def _printf(template: object, *values: object) -> str:
    """Go's fmt.Sprintf for the verbs templates use: ``%v %s %d %f %g %e %q %t %x %X %%`` with flags, width and
    precision. A missing or an extra argument is an error (Go prints ``%!v(MISSING)`` into the message)."""
    if not isinstance(template, str):
        raise _FailedError("printf: the format must be a string")
    out: list[str] = []
    position = 0
    used = 0
    for match in _VERB.finditer(template):
        out.append(template[position : match.start()])
        position = match.end()
        flags, width, precision, verb = match.groups()
        if verb == "%":
            out.append("%")
            continue
        if used >= len(values):
            raise _FailedError(f"printf: format {template!r} needs more than {len(values)} argument(s)")
        value = values[used]
        used += 1
        out.append(_format_one(value, flags, width, precision, verb))
    out.append(template[position:])
    if used != len(values):
        raise _FailedError(f"printf: format {template!r} uses {used} of {len(values)} argument(s)")
    return "".join(out)


def _format_one(value: object, flags: str, width: str | None, precision: str | None, verb: str) -> str:
    spec_flags = "".join(f for f in flags if f in "+ ")
    align = "<" if "-" in flags else ">"
    pad = "0" if "0" in flags and "-" not in flags else " "
    if verb in "vs":
        text = go_text(value) if value is not MISSING else "<nil>"
        if precision is not None:
            text = text[: int(precision)]
    elif verb == "q":
        text = json.dumps(value if isinstance(value, str) else go_text(value), ensure_ascii=False)
    elif verb == "t":
        if not isinstance(value, bool):
            raise _FailedError(f"printf: %t of {_go_type(value)}")
        text = go_text(value)
    elif verb in "dxX":
        if not _number(value) or not float(value).is_integer():  # type: ignore[arg-type]
            raise _FailedError(f"printf: %{verb} of {_go_type(value)} {go_text(value)}")
        number = int(value)  # type: ignore[call-overload]
        text = format(number, spec_flags + ("d" if verb == "d" else verb))
    elif verb in "fFeEgG":
        if not _number(value):
            raise _FailedError(f"printf: %{verb} of {_go_type(value)}")
        digits = precision if precision is not None else ("6" if verb in "fFeE" else "")
        text = format(float(value), f"{spec_flags}.{digits}{verb}" if digits else f"{spec_flags}{verb}")  # type: ignore[arg-type]
    else:
        raise _FailedError(f"printf: verb %{verb} is not supported")
    if width is not None and len(text) < int(width):
        fill = " " if align == "<" else pad
        text = text.ljust(int(width), fill) if align == "<" else text.rjust(int(width), fill)
    return text


def _string(name: str, value: object) -> str:
    if isinstance(value, str):
        return value
    raise _FailedError(f"{name}: expected a string, got {_go_type(value)}")


def _to_json(value: object, *, indent: int | None = None) -> str:
    def plain(item: object) -> object:
        return None if item is MISSING else item

    cleaned = json.loads(json.dumps(value, default=plain)) if value is not MISSING else None
    separators = (",", ": " if indent else ":")
    text = json.dumps(cleaned, indent=indent, sort_keys=True, ensure_ascii=False, separators=separators)
    # Go's encoding/json (sprig's toJson) sorts map keys and escapes <, > and & inside strings.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _empty(value: object) -> bool:
    return not value


def _default(fallback: object, *given: object) -> object:
    if not given:
        return fallback
    value = given[0]
    return fallback if _empty(value) else value


def _title(value: object) -> str:
    return re.sub(r"(?:^|(?<=\s))(\w)", lambda m: m.group(1).upper(), _string("title", value))


def _trunc(length: object, value: object) -> str:
    text = _string("trunc", value)
    if not _number(length):
        raise _FailedError("trunc: the length must be a number")
    n = int(length)  # type: ignore[call-overload]
    return text[:n] if n >= 0 else text[n:]


def _join(separator: object, values: object) -> str:
    if not isinstance(values, list | tuple):
        raise _FailedError(f"join: expected a list, got {_go_type(values)}")
    return _string("join", separator).join(_inner(v) if not isinstance(v, str) else v for v in values)


#: Every function a template may call: Go's built-ins and the sprig functions users put in Argo templates.
FUNCTIONS: Final[Mapping[str, Callable[..., object]]] = {
    "len": _len,
    "index": _index,
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _ordered("lt", lambda a, b: a < b),
    "le": _ordered("le", lambda a, b: a <= b),
    "gt": _ordered("gt", lambda a, b: a > b),
    "ge": _ordered("ge", lambda a, b: a >= b),
    "print": _sprint,
    "printf": _printf,
    "println": lambda *values: " ".join(_inner(v) for v in values) + "\n",
    "html": lambda *values: html.escape(_sprint(*values), quote=True).replace("&#x27;", "&#39;"),
    "urlquery": lambda *values: quote_plus(_sprint(*values)),
    "upper": lambda s: _string("upper", s).upper(),
    "lower": lambda s: _string("lower", s).lower(),
    "title": _title,
    "trim": lambda s: _string("trim", s).strip(),
    "trimPrefix": lambda prefix, s: _string("trimPrefix", s).removeprefix(_string("trimPrefix", prefix)),
    "trimSuffix": lambda suffix, s: _string("trimSuffix", s).removesuffix(_string("trimSuffix", suffix)),
    "replace": lambda old, new, s: _string("replace", s).replace(_string("replace", old), _string("replace", new)),
    "contains": lambda part, s: _string("contains", part) in _string("contains", s),
    "hasPrefix": lambda prefix, s: _string("hasPrefix", s).startswith(_string("hasPrefix", prefix)),
    "hasSuffix": lambda suffix, s: _string("hasSuffix", s).endswith(_string("hasSuffix", suffix)),
    "quote": lambda *values: " ".join(json.dumps(_inner(v) if not isinstance(v, str) else v) for v in values),
    "squote": lambda *values: " ".join("'" + (_inner(v) if not isinstance(v, str) else v) + "'" for v in values),
    "default": _default,
    "empty": _empty,
    "coalesce": lambda *values: next((v for v in values if not _empty(v)), None),
    "toJson": _to_json,
    "toPrettyJson": lambda value: _to_json(value, indent=2),
    "toString": lambda value: go_text(value) if not isinstance(value, str) else value,
    "join": _join,
    "trunc": _trunc,
    "b64enc": lambda s: base64.b64encode(_string("b64enc", s).encode()).decode(),
}
# and/or/not are translated to Jinja's own operators (short-circuit, and/or return an operand: as Go's do).
_OPERATORS: Final = frozenset({"and", "or", "not"})
_KEYWORDS: Final = frozenset({"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"})
_REFUSED_FUNCTIONS: Final[Mapping[str, str]] = {
    "slackUserByEmail": "Slack mentions by lookup are not supported; write <@USERID> in the text",
    "slackChannel": "Slack channel lookups are not supported; write <#CHANNELID> in the text",
    "slackUserGroup": "Slack user group lookups are not supported; write <!subteam^ID> in the text",
    "call": "calling functions held in data is not supported",
    "js": "js escaping is not supported",
}


# -- lexing ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # field, var, dot, ident, string, number, bool, nil, lparen, rparen, pipe, comma, declare, assign, char
    text: str
    spaced: bool  # whitespace came right before it (``$x .a`` is two operands, ``$x.a`` one)
    value: object = None


_NUMBER = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _go_string(text: str, start: int) -> tuple[str, int]:
    """A Go interpreted string literal starting at ``text[start] == '"'``: its value and the index after it."""
    out: list[str] = []
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == '"':
            return "".join(out), position + 1
        if char == "\n":
            break
        if char == "\\":
            escape = text[position + 1 : position + 2]
            if escape in _ESCAPES:
                out.append(_ESCAPES[escape])
                position += 2
                continue
            sizes = {"x": 2, "u": 4, "U": 8}
            if escape in sizes:
                digits = text[position + 2 : position + 2 + sizes[escape]]
                if len(digits) == sizes[escape] and all(c in "0123456789abcdefABCDEF" for c in digits):
                    out.append(chr(int(digits, 16)))
                    position += 2 + sizes[escape]
                    continue
            raise ValueError(f"unknown escape sequence \\{escape} in a string")
        out.append(char)
        position += 1
    raise ValueError("unterminated quoted string")


def _number_value(literal: str) -> int | float:
    text = literal.replace("_", "")
    try:
        return int(text, 0) if re.fullmatch(r"[+-]?(0[xX][0-9a-fA-F]+|\d+)", text) else float(text)
    except ValueError:
        raise ValueError(f"bad number syntax: {literal!r}") from None


def _lex(action: str) -> list[_Token]:  # noqa: PLR0915 -- one flat ladder, a branch per token kind
    tokens: list[_Token] = []
    position = 0
    spaced = True
    while position < len(action):
        char = action[position]
        if char in " \t\r\n":
            position += 1
            spaced = True
            continue
        rest = action[position:]
        if char == '"':
            value, position = _go_string(action, position)
            tokens.append(_Token("string", rest[: position - len(action) + len(rest)], spaced, value))
        elif char == "`":
            end = action.find("`", position + 1)
            if end < 0:
                raise ValueError("unterminated raw quoted string")
            tokens.append(_Token("string", action[position : end + 1], spaced, action[position + 1 : end]))
            position = end + 1
        elif char == "'":
            raise ValueError("character constants ('x') are not supported; use a string")
        elif rest.startswith(":="):
            tokens.append(_Token("declare", ":=", spaced))
            position += 2
        elif char in "()|,=":
            kind = {"(": "lparen", ")": "rparen", "|": "pipe", ",": "comma", "=": "assign"}[char]
            tokens.append(_Token(kind, char, spaced))
            position += 1
        elif char == "$":
            match = _IDENT.match(action, position + 1)
            name = match.group(0) if match else ""
            tokens.append(_Token("var", "$" + name, spaced, name))
            position += 1 + len(name)
        elif char == "." and (match := _IDENT.match(action, position + 1)) is not None:
            tokens.append(_Token("field", "." + match.group(0), spaced, match.group(0)))
            position = match.end()
        elif (match := _NUMBER.match(action, position)) is not None and (
            char.isdigit() or char in "+-" or (char == "." and match.end() > position + 1)
        ):
            tokens.append(_Token("number", match.group(0), spaced, _number_value(match.group(0))))
            position = match.end()
        elif char == ".":
            tokens.append(_Token("dot", ".", spaced))
            position += 1
        elif (match := _IDENT.match(action, position)) is not None:
            word = match.group(0)
            if word in {"true", "false"}:
                tokens.append(_Token("bool", word, spaced, word == "true"))
            elif word == "nil":
                tokens.append(_Token("nil", word, spaced))
            else:
                tokens.append(_Token("ident", word, spaced))
            position = match.end()
        else:
            raise ValueError(f"unexpected {char!r} in an action")
        spaced = False
    return tokens


@dataclass(frozen=True, slots=True)
class _Piece:
    """One piece of a template: literal text, or an action's tokens (with its line, for messages)."""

    text: str | None
    tokens: tuple[_Token, ...] = ()
    line: int = 0
    source: str = ""


def _split(source: str) -> Iterator[_Piece]:
    """Text and actions, with ``{{-``/``-}}`` trimming applied to the neighbouring text and comments dropped."""
    pieces: list[_Piece] = []
    position = 0
    trim_next = False
    while True:
        start = source.find("{{", position)
        text = source[position:] if start < 0 else source[position:start]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if start < 0:
            pieces.append(_Piece(text))
            break
        line = source.count("\n", 0, start) + 1
        inner = start + 2
        if source.startswith("-", inner) and source[inner + 1 : inner + 2] in (" ", "\t", "\r", "\n"):
            text = text.rstrip(" \t\r\n")
            inner += 2
        pieces.append(_Piece(text))
        body_start = inner
        while body_start < len(source) and source[body_start] in " \t\r\n":
            body_start += 1
        if source.startswith("/*", body_start):
            close = source.find("*/", body_start + 2)
            if close < 0:
                raise ConfigError(f"line {line}", "unclosed comment")
            after = close + 2
            trim_next, end = _action_end(source, after, line)
            position = end
            continue
        end_index, trim_next, position = _find_close(source, inner, line)
        action = source[inner:end_index]
        try:
            tokens = tuple(_lex(action))
        except ValueError as error:
            raise ConfigError(f"line {line}", str(error)) from None
        pieces.append(_Piece(None, tokens, line, "{{" + action + "}}"))
    return iter(pieces)


def _action_end(source: str, position: int, line: int) -> tuple[bool, int]:
    """After a comment: ``}}`` or `` -}}``; (trim the next text?, index after the close)."""
    rest = source[position:]
    stripped = rest.lstrip(" \t\r\n")
    if stripped.startswith("-}}") and len(stripped) < len(rest):
        return True, len(source) - len(stripped) + 3
    if rest.startswith("}}"):
        return False, position + 2
    raise ConfigError(f"line {line}", "comment ends before the closing }}")


def _find_close(source: str, position: int, line: int) -> tuple[int, bool, int]:
    """The end of an action starting at ``position``: (end of its text, trim the next text?, index after ``}}``)."""
    quote = ""
    index = position
    while index < len(source):
        char = source[index]
        if quote:
            if char == "\\" and quote == '"':
                index += 2
                continue
            if char == quote:
                quote = ""
        elif char in "\"`'":
            quote = char
        elif source.startswith("}}", index):
            end = index
            trim = False
            if end - 1 >= position and source[end - 1] == "-" and end - 2 >= position and source[end - 2] in " \t\r\n":
                end -= 1
                trim = True
            return end, trim, index + 2
        index += 1
    raise ConfigError(f"line {line}", "unclosed action (no closing }})")


# -- translation ----------------------------------------------------------------------------------------------------
@dataclass
class _Block:
    kind: str  # if, range, with
    line: int
    has_else: bool = False
    dot: str = ""  # the dot to restore at its end
    opened: int = 0  # how many Jinja blocks its end closes (``else if`` opens none; ``with`` opens an if)


@dataclass
class _Translator:
    literals: list[object] = field(default_factory=list)
    out: list[str] = field(default_factory=list)
    scopes: list[dict[str, str]] = field(default_factory=lambda: [{"": "g_root"}])
    blocks: list[_Block] = field(default_factory=list)
    dot: str = "g_root"
    counter: int = 0
    line: int = 0

    def fail(self, problem: str) -> ConfigError:
        return ConfigError(f"line {self.line}", problem)

    def literal(self, value: object) -> str:
        self.literals.append(value)
        return f"g_lit[{len(self.literals) - 1}]"

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"g_{stem}_{self.counter}"

    def variable(self, name: str) -> str:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        raise self.fail(f"undefined variable: ${name}")

    def declare(self, name: str) -> str:
        if not name:
            raise self.fail("cannot declare $")
        jinja_name = self.fresh("var")
        self.scopes[-1][name] = jinja_name
        return jinja_name

    # -- pieces
    def text(self, text: str) -> None:
        if text:
            self.out.append("{{ " + self.literal(text) + " }}")

    def action(self, tokens: Sequence[_Token]) -> None:
        if not tokens:
            raise self.fail("missing value for command")
        head = tokens[0]
        if head.kind == "ident" and head.text in _KEYWORDS:
            self.control(head.text, list(tokens[1:]))
            return
        if head.kind == "var" and len(tokens) > 1 and tokens[1].kind in {"declare", "assign", "comma"}:
            if tokens[1].kind != "declare":
                raise self.fail(
                    f"assigning to a declared variable ({head.text} = ...) is not supported; declare a new one with :="
                )
            expression = self.pipeline(list(tokens[2:]))
            self.out.append("{% set " + self.declare(str(head.value)) + " = " + expression + " %}")
            return
        self.out.append("{{ " + self.pipeline(list(tokens)) + " }}")

    def control(self, keyword: str, rest: list[_Token]) -> None:
        if keyword in {"define", "template", "block"}:
            raise self.fail(f"named templates ({keyword}) are not supported")
        if keyword == "if":
            self.open("if", rest, opened=1)
            self.out.append("{% if " + self.pipeline(rest) + " %}")
        elif keyword == "with":
            expression = self.pipeline(rest)
            block = self.open("with", rest, opened=1)
            name = self.fresh("dot")
            self.out.append("{% set " + name + " = " + expression + " %}{% if " + name + " %}")
            block.dot, self.dot = self.dot, name
        elif keyword == "range":
            self.range(rest)
        elif keyword == "else":
            self.else_(rest)
        elif keyword == "end":
            if rest:
                raise self.fail("unexpected words after end")
            if not self.blocks:
                raise self.fail("unexpected {{end}}")
            block = self.blocks.pop()
            self.scopes.pop()
            if block.kind in {"with", "range"}:
                self.dot = block.dot
            closing = "{% endfor %}" if block.kind == "range" else "{% endif %}"
            self.out.append(closing * block.opened)
        elif keyword in {"break", "continue"}:
            if rest:
                raise self.fail(f"unexpected words after {keyword}")
            if not any(block.kind == "range" for block in self.blocks):
                raise self.fail(f"{{{{{keyword}}}}} outside {{{{range}}}}")
            self.out.append("{% " + keyword + " %}")

    def open(self, kind: str, rest: Sequence[_Token], *, opened: int) -> _Block:
        if not rest:
            raise self.fail(f"missing value for {kind}")
        if len(self.blocks) >= MAX_DEPTH:
            raise self.fail("blocks are nested too deeply")
        block = _Block(kind, self.line, opened=opened)
        self.blocks.append(block)
        self.scopes.append({})
        return block

    def range(self, rest: list[_Token]) -> None:
        names: list[str] = []
        if rest and rest[0].kind == "var" and len(rest) > 1 and rest[1].kind in {"declare", "comma", "assign"}:
            names.append(str(rest[0].value))
            if rest[1].kind == "comma":
                if len(rest) < 4 or rest[2].kind != "var" or rest[3].kind != "declare":
                    raise self.fail("range can only initialize variables as $i, $v :=")
                names.append(str(rest[2].value))
                rest = rest[4:]
            elif rest[1].kind == "declare":
                rest = rest[2:]
            else:
                raise self.fail("range can only initialize variables with :=")
        expression = self.pipeline(rest)
        block = self.open("range", rest, opened=1)
        block.dot = self.dot
        if len(names) == 2:
            key, value = self.declare(names[0]), self.declare(names[1])
            self.out.append("{% for " + key + ", " + value + " in go_range_pairs(" + expression + ") %}")
            self.dot = value
        else:
            value = self.declare(names[0]) if names else self.fresh("dot")
            self.out.append("{% for " + value + " in go_range_values(" + expression + ") %}")
            self.dot = value

    def else_(self, rest: list[_Token]) -> None:
        if not self.blocks:
            raise self.fail("unexpected {{else}}")
        block = self.blocks[-1]
        if block.has_else:
            raise self.fail("{{else}} after {{else}}")
        self.scopes[-1] = {}
        if rest and rest[0].kind == "ident" and rest[0].text == "if":
            if block.kind != "if":
                raise self.fail("{{else if}} is only allowed in {{if}}")
            self.out.append("{% elif " + self.pipeline(rest[1:]) + " %}")
            return
        if rest:
            raise self.fail("{{else with}} and other words after else are not supported")
        block.has_else = True
        if block.kind == "with":
            self.dot = block.dot  # the else branch of a with runs with the outer dot
        self.out.append("{% else %}")

    # -- expressions
    def pipeline(self, tokens: list[_Token]) -> str:
        if not tokens:
            raise self.fail("missing value for command")
        commands: list[list[_Token]] = [[]]
        depth = 0
        for token in tokens:
            if token.kind == "lparen":
                depth += 1
            elif token.kind == "rparen":
                depth -= 1
            if token.kind == "pipe" and depth == 0:
                commands.append([])
            else:
                commands[-1].append(token)
        if depth:
            raise self.fail("unbalanced parentheses")
        if any(token.kind in {"declare", "assign"} for command in commands for token in command):
            raise self.fail("variables can only be declared at the start of an action ($x := ...)")
        value: str | None = None
        for command in commands:
            value = self.command(command, value)
        assert value is not None
        return value

    def command(self, tokens: list[_Token], piped: str | None) -> str:
        if not tokens:
            raise self.fail("missing command in a pipeline")
        operands = self.operands(tokens)
        head_token, head = operands[0]
        if head_token.kind == "ident":
            name = head_token.text
            args = [expression for _, expression in operands[1:]]
            if piped is not None:
                args.append(piped)
            return self.call(name, args)
        if len(operands) > 1 or piped is not None:
            raise self.fail(f"can't give argument to non-function {head_token.text}")
        if head_token.kind == "nil":
            raise self.fail("nil is not a command")
        return head

    def call(self, name: str, args: list[str]) -> str:
        if name in _OPERATORS:
            if name == "not":
                if len(args) != 1:
                    raise self.fail(f"wrong number of args for not: want 1 got {len(args)}")
                return f"(not {args[0]})"
            if not args:
                raise self.fail(f"wrong number of args for {name}: want at least 1 got 0")
            return "(" + f" {name} ".join(args) + ")"
        if name in _REFUSED_FUNCTIONS:
            raise self.fail(f"function {name!r}: {_REFUSED_FUNCTIONS[name]}")
        if name not in FUNCTIONS:
            raise self.fail(f"function {name!r} is not supported (supported: {', '.join(sorted(FUNCTIONS))})")
        return f"go_call({self.literal(name)}" + "".join(", " + arg for arg in args) + ")"

    def operands(self, tokens: list[_Token]) -> list[tuple[_Token, str]]:
        operands: list[tuple[_Token, str]] = []
        position = 0
        while position < len(tokens):
            token = tokens[position]
            if token.kind == "lparen":
                depth, end = 0, position
                for end in range(position, len(tokens)):
                    depth += {"lparen": 1, "rparen": -1}.get(tokens[end].kind, 0)
                    if depth == 0:
                        break
                expression = "(" + self.pipeline(tokens[position + 1 : end]) + ")"
                position = end + 1
            elif token.kind == "rparen":
                raise self.fail("unexpected )")
            elif token.kind == "ident" and operands:  # a function as an argument: called with no arguments
                expression = self.call(token.text, [])
                position += 1
            else:
                expression = self.term(token)
                position += 1
            while position < len(tokens) and tokens[position].kind == "field" and not tokens[position].spaced:
                if token.kind in {"ident", "nil", "bool", "string", "number"}:
                    raise self.fail(f"unexpected {tokens[position].text} after {token.text}")
                expression = f"go_field({expression}, {self.literal(tokens[position].value)})"
                position += 1
            operands.append((token, expression))
        return operands

    def term(self, token: _Token) -> str:
        if token.kind == "field":
            return f"go_field({self.dot}, {self.literal(token.value)})"
        if token.kind == "dot":
            return self.dot
        if token.kind == "var":
            return self.variable(str(token.value))
        if token.kind in {"string", "number", "bool"}:
            return self.literal(token.value)
        if token.kind == "nil":
            return "none"
        if token.kind == "ident":
            if token.text in _KEYWORDS:
                raise self.fail(f"unexpected {token.text} in an expression")
            return token.text  # a function name: command() turns it into a call
        raise self.fail(f"unexpected {token.text!r}")


# -- the compiled template ------------------------------------------------------------------------------------------
def _call(name: str, *args: object) -> object:
    return FUNCTIONS[name](*args)


_ENVIRONMENT = SandboxedEnvironment(
    autoescape=False,
    undefined=StrictUndefined,
    finalize=_finalize,
    keep_trailing_newline=True,
    extensions=["jinja2.ext.loopcontrols"],
)
_ENVIRONMENT.globals.clear()
_ENVIRONMENT.globals.update(go_field=_field, go_range_values=_range_values, go_range_pairs=_range_pairs, go_call=_call)


@dataclass(frozen=True, slots=True)
class GoTemplate:
    """One compiled template field (e.g. ``template.rollout-aborted: slack.attachments``). Immutable."""

    where: str  # the ConfigMap key and field, for messages
    source: str
    jinja: str  # the generated Jinja source (tests and diagnostics)
    literals: tuple[object, ...]
    _template: Any = field(repr=False, compare=False)

    def render(self, variables: Mapping[str, object]) -> str:
        """The text for ``variables`` (``rollout``, ``recipient``, ...); :class:`RenderError` naming the key."""
        if not self.source:
            return ""
        try:
            text = str(self._template.render(g_root=dict(variables), g_lit=self.literals))
        except _FailedError as error:
            raise RenderError(self.where, str(error)) from None
        except (JinjaError, TypeError, ValueError, RecursionError) as error:  # a helper given what it cannot take
            raise RenderError(self.where, f"{type(error).__name__}: {error}") from None
        if len(text) > MAX_OUTPUT_LENGTH:
            raise RenderError(self.where, f"the rendered text is longer than {MAX_OUTPUT_LENGTH} characters")
        return text


def compile_template(source: str, *, where: str) -> GoTemplate:
    """Translate a Go template into a sandboxed Jinja template; :class:`ConfigError` naming ``where`` and the line
    for anything unsupported or malformed."""
    if not isinstance(source, str):
        raise ConfigError(where, f"expected a string, got {type(source).__name__}")
    if len(source) > MAX_TEMPLATE_LENGTH:
        raise ConfigError(where, f"the template is longer than {MAX_TEMPLATE_LENGTH} characters")
    translator = _Translator()
    try:
        for piece in _split(source):
            if piece.text is not None:
                translator.text(piece.text)
            else:
                translator.line = piece.line
                translator.action(piece.tokens)
        if translator.blocks:
            block = translator.blocks[-1]
            translator.line = block.line
            raise translator.fail(f"unexpected end of template: {{{{{block.kind}}}}} has no {{{{end}}}}")
    except ConfigError as error:
        raise ConfigError(f"{where}: {error.where}", error.problem) from None
    jinja = "".join(translator.out)
    try:
        template = _ENVIRONMENT.from_string(jinja)
    except JinjaError as error:  # a bug of this module, reported, never a crash
        raise ConfigError(where, f"cannot compile the translated template: {error}") from None
    return GoTemplate(where, source, jinja, tuple(translator.literals), template)
