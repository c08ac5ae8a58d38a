"""Go's ``encoding/json`` of a value decoded into one of Argo Rollouts' Go types, byte for byte.

Why: two of Argo's identities are hashes of Go's JSON of a typed value, ``status.currentStepHash`` (``[]CanaryStep``)
and the pod-template hash naming a ReplicaSet (``corev1.PodTemplateSpec``). Reproducing them means writing what Go
writes after decoding the object into the struct: unknown fields dropped, fields in struct order, ``omitempty`` /
``omitzero`` as Go applies them, nil slices, maps and pointers as ``null``, map keys sorted, Go's string escaping,
and the types with their own ``MarshalJSON`` (``resource.Quantity`` in canonical form, ``intstr.IntOrString``,
``metav1.Time``, raw JSON).

The shapes of the Go types are not written by hand: ``go_shapes/argo.json`` is generated from the Go types
themselves by ``tools/argo/podshape.go`` (``make argo-shapes``), inside Argo Rollouts' module so that its pinned
``k8s.io/api`` applies. This module is the one encoder for every shape in it. Pure: the table is read once, as
package data.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["go_json", "go_quantity", "go_string", "root_shape"]

_MAX_INT64 = (1 << 63) - 1


# -- shapes --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Scalar:
    kind: str  # string bool int uint float32 float64 bytes quantity time microtime intorstring fieldsv1 rawmessage


@dataclass(frozen=True, slots=True)
class _Ptr:
    elem: Any


@dataclass(frozen=True, slots=True)
class _List:
    item: Any


@dataclass(frozen=True, slots=True)
class _Map:
    value: Any


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    shape: Any
    omitempty: bool
    omitzero: bool


@dataclass(eq=False, slots=True)
class _Struct:
    name: str
    fields: list[_Field] = field(default_factory=list)  # filled after creation: Go types may be recursive


_SCALARS = frozenset(
    {"string", "bool", "int", "uint", "float32", "float64", "bytes", "quantity", "time", "microtime", "intorstring"}
    | {"fieldsv1", "rawmessage"}
)


@cache
def _table() -> dict[str, Any]:
    text = resources.files("rollouts.core").joinpath("go_shapes", "argo.json").read_text(encoding="utf-8")
    table = json.loads(text)
    assert isinstance(table, dict)
    return table


@cache
def _structs() -> dict[str, _Struct]:
    raw = _table()["structs"]
    made = {name: _Struct(name) for name in raw}
    for name, fields in raw.items():
        made[name].fields.extend(
            _Field(f["name"], _parse(f["type"], made), bool(f.get("omitempty")), bool(f.get("omitzero")))
            for f in fields
        )
    return made


def _parse(text: str, structs: Mapping[str, _Struct]) -> Any:
    if text.startswith("*"):
        return _Ptr(_parse(text[1:], structs))
    if text.startswith("[]"):
        return _List(_parse(text[2:], structs))
    if text.startswith("map[string]"):
        return _Map(_parse(text[len("map[string]") :], structs))
    if text in _SCALARS:
        return _Scalar(text)
    return structs[text]


@cache
def root_shape(name: str) -> Any:
    """The shape of one of the table's roots (``PodTemplateSpec``, ``CanarySteps``)."""
    return _parse(_table()["roots"][name], _structs())


# -- the encoder ---------------------------------------------------------------------------------------------------
def go_json(value: object, shape: Any) -> str:
    """What Go's ``json.Marshal`` writes for ``value`` (decoded JSON: dicts, lists, scalars) decoded into ``shape``.

    ``None`` and an absent field are the same to Go's decoder: the zero value of the field's type (nil for pointers,
    slices and maps). Values of the wrong JSON type, which Go would refuse to decode, are coerced, never raised on.
    """
    if value is None:
        return _zero(shape)
    if isinstance(shape, _Ptr):
        return go_json(value, shape.elem)
    if isinstance(shape, _List):
        items = value if isinstance(value, list | tuple) else []
        return "[" + ",".join(go_json(item, shape.item) for item in items) + "]"
    if isinstance(shape, _Map):
        entries = value if isinstance(value, Mapping) else {}
        keys = sorted({_valid(str(k)): k for k in entries}.items())
        return "{" + ",".join(f"{go_string(key)}:{go_json(entries[k], shape.value)}" for key, k in keys) + "}"
    if isinstance(shape, _Struct):
        given = value if isinstance(value, Mapping) else {}
        parts = []
        for f in shape.fields:
            item = given.get(f.name)
            if f.omitempty and _empty(item, f.shape):
                continue
            if f.omitzero and _zero_value(item, f.shape):
                continue
            parts.append(f"{go_string(f.name)}:{go_json(item, f.shape)}")
        return "{" + ",".join(parts) + "}"
    return _scalar(value, shape.kind)


def _zero(shape: Any) -> str:
    if isinstance(shape, _Ptr | _List | _Map):
        return "null"
    if isinstance(shape, _Struct):
        return go_json({}, shape)
    return {"string": '""', "bool": "false", "quantity": '"0"', "intorstring": "0"}.get(
        shape.kind, "null" if shape.kind in ("bytes", "time", "microtime", "fieldsv1", "rawmessage") else "0"
    )


_STRUCT_KINDS = frozenset({"quantity", "time", "microtime", "intorstring", "fieldsv1"})  # Go structs: never "empty"


def _empty(value: object, shape: Any) -> bool:
    """encoding/json's isEmptyValue (``omitempty``): false, 0, "", nil, empty slices and maps; structs never."""
    if isinstance(shape, _Struct):
        return False
    if isinstance(shape, _Scalar) and shape.kind in _STRUCT_KINDS:
        return False
    if value is None:
        return True
    if isinstance(shape, _Ptr):
        return False
    if isinstance(shape, _List | _Map):
        return not value if isinstance(value, list | tuple | Mapping) else True
    kind = shape.kind
    if kind == "rawmessage":
        return False  # decoded from some JSON value: not empty
    if kind in ("string", "bytes"):
        return value == ""
    if kind == "bool":
        return value is False
    return value == 0 and not isinstance(value, bool)


def _zero_value(value: object, shape: Any) -> bool:
    """``omitzero``: reflect's zero value, or the type's own IsZero (metav1.Time/MicroTime)."""
    if value is None:
        return True
    if isinstance(shape, _Scalar) and shape.kind in ("time", "microtime"):
        return _parse_time(value) is None
    if isinstance(shape, _Struct):
        given = value if isinstance(value, Mapping) else {}
        return all(_zero_value(given.get(f.name), f.shape) for f in shape.fields)
    if isinstance(shape, _Ptr | _List | _Map):
        return False
    if shape.kind == "intorstring":
        return value == 0 and not isinstance(value, bool)
    return shape.kind not in _STRUCT_KINDS and _empty(value, shape)


def _scalar(value: object, kind: str) -> str:
    if kind == "string":
        return go_string(value if isinstance(value, str) else json.dumps(value))
    if kind == "bool":
        return "true" if value is True else "false"
    if kind in ("int", "uint"):
        return str(_int(value))
    if kind in ("float32", "float64"):
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else 0
        return go_float(float(number), bits=32 if kind == "float32" else 64)
    if kind == "quantity":
        return go_string(go_quantity(value))
    if kind == "intorstring":
        return go_string(value) if isinstance(value, str) else str(_int(value))
    if kind in ("time", "microtime"):
        parsed = _parse_time(value)
        if parsed is None:
            return "null"
        layout = "%Y-%m-%dT%H:%M:%S.%fZ" if kind == "microtime" else "%Y-%m-%dT%H:%M:%SZ"
        return '"' + parsed.astimezone(UTC).strftime(layout) + '"'
    if kind == "bytes":
        try:
            raw = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raw = str(value).encode("utf-8", "replace")
        return '"' + base64.b64encode(raw).decode() + '"'
    assert kind in ("fieldsv1", "rawmessage")
    return _raw_json(value)


def _int(value: object) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return 0


def _raw_json(value: object) -> str:
    """Raw JSON as encoding/json compacts it (keys in the order given, <>& escaped)."""
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{go_string(str(k))}:{_raw_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_raw_json(v) for v in value) + "]"
    if isinstance(value, str):
        return go_string(value)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, float):
        return go_float(value)
    return str(value)


# -- strings and numbers -------------------------------------------------------------------------------------------
_GO_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))
_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid(text: str) -> str:
    """What Go's decoder makes of a lone surrogate escape (``"\\ud800"``): U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def go_string(text: str) -> str:
    """Go's string encoding with HTML escaping: ``\\n \\r \\t \\b \\f``, other controls as ``\\u00XX``, ``<>&``,
    U+2028/U+2029 escaped, everything else as UTF-8."""
    encoded = json.dumps(_valid(text), ensure_ascii=False)
    for raw, escaped in _GO_ESCAPES:
        encoded = encoded.replace(raw, escaped)
    return encoded


def go_float(number: float, *, bits: int = 64) -> str:
    """encoding/json's float: shortest digits, ``%f`` between 1e-6 and 1e21, else ``%e`` with ``e-7`` not ``e-07``."""
    if bits == 32:
        number = _shortest_float32(number)
    digits = Decimal(repr(number)).normalize()
    magnitude = abs(number)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        sign, figures, exponent = digits.as_tuple()
        assert isinstance(exponent, int)
        text = "".join(map(str, figures))
        power = exponent + len(text) - 1
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        out = f"{'-' if sign else ''}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
        return re.sub(r"e-0(\d)$", r"e-\1", out)
    return format(digits, "f")


def _shortest_float32(number: float) -> float:
    target = struct.unpack("f", struct.pack("f", number))[0]
    for precision in range(1, 10):
        candidate = float(f"{target:.{precision}g}")
        if struct.unpack("f", struct.pack("f", candidate))[0] == target:
            return candidate
    return float(target)


# -- metav1.Time ---------------------------------------------------------------------------------------------------
def _parse_time(value: object) -> datetime | None:
    """metav1.Time as decoded: RFC 3339, None for null or Go's zero time (which encodes as null)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    utc = parsed.astimezone(UTC)
    if utc == datetime(1, 1, 1, tzinfo=UTC):
        return None
    return utc


# -- resource.Quantity (k8s.io/apimachinery/pkg/api/resource) ------------------------------------------------------
_DECIMAL_SI, _BINARY_SI, _DECIMAL_EXPONENT = "DecimalSI", "BinarySI", "DecimalExponent"
_DEC_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BIN_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DEC_NAMES = {exponent: name for name, exponent in _DEC_SUFFIXES.items()}
_BIN_NAMES = {exponent: name for name, exponent in _BIN_SUFFIXES.items()}
_SUFFIX_CHARS = set("eEinumkKMGTP")
_DIGITS = set("0123456789")


def go_quantity(value: object) -> str:
    """A ``resource.Quantity`` decoded from ``value`` (a string, or a JSON number) and encoded again: its canonical
    form (``"1000m"`` -> ``"1"``, ``"0.5"`` -> ``"500m"``, ``"1024Mi"`` -> ``"1Gi"``), or the string as given when
    ParseQuantity keeps it (already canonical). A string ParseQuantity refuses (Go would not decode the object at
    all) is returned as given."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return "0"
    text = value.strip() if isinstance(value, str) else (str(value) if isinstance(value, int) else go_float(value))
    parsed = _parse_quantity(text)
    if parsed is None:
        return text
    if isinstance(parsed, str):
        return parsed
    unscaled, exponent, form = parsed
    return _canonical_quantity(unscaled, exponent, form)


def _split_quantity(text: str) -> tuple[bool, str, str, str, str] | None:
    """parseQuantityString: (positive, value, num, denom, suffix), or None (ErrFormatWrong)."""
    positive, pos, end = True, 0, len(text)
    if pos < end and text[0] in "+-":
        positive = text[0] != "-"
        pos += 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return positive, "0", "0", "", ""
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos >= end:
        return positive, text, text[start:], "", ""
    num = text[start:pos] or "0"
    denom = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        if pos >= end:
            return positive, text, num, text[start:], ""
        denom = text[start:pos]
    value, suffix_start = text[:pos], pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos >= end:
        return positive, value, num, denom, text[suffix_start:]
    if text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos >= end:
        return positive, value, num, denom, text[suffix_start:]
    return None


def _interpret(suffix: str) -> tuple[int, int, str] | None:
    if suffix in _DEC_SUFFIXES:
        return 10, _DEC_SUFFIXES[suffix], _DECIMAL_SI
    if suffix in _BIN_SUFFIXES:
        return 2, _BIN_SUFFIXES[suffix], _BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and re.fullmatch(r"[+-]?[0-9]+", suffix[1:]):
        parsed = int(suffix[1:])
        if -(1 << 63) <= parsed <= _MAX_INT64:
            return 10, (parsed + (1 << 31)) % (1 << 32) - (1 << 31), _DECIMAL_EXPONENT  # int32(parsed)
    return None


def _parse_quantity(text: str) -> str | tuple[int, int, str] | None:
    """ParseQuantity: the string kept as is (``q.s``), or (unscaled, exponent, format) with value
    ``unscaled * 10**exponent``; None when Go refuses it."""
    if not text:
        return None
    if text == "0":
        return "0"
    split = _split_quantity(text)
    if split is None:
        return None
    positive, value, num, denom, suffix = split
    interpreted = _interpret(suffix)
    if interpreted is None:
        return None
    base, exponent, form = interpreted
    scale, mantissa = 0, 1
    if form in (_DECIMAL_EXPONENT, _DECIMAL_SI):
        scale = exponent
        precision = 18 - (len(num) + len(denom))
    elif exponent >= 0 and not denom:
        mantissa = 1 << exponent
        precision = 15 - len(num) - exponent * 3 // 10 - 1
    else:
        precision = -1
    if precision >= 0:
        scale -= len(denom)
        if scale >= -9:
            shifted = num + denom
            number = int(shifted)
            result = number * mantissa
            if result <= _MAX_INT64:
                if not positive:
                    result = -result
                if form == _BINARY_SI:
                    if exponent % 10 == 0 and number & 0x07 != 0:
                        return text
                elif scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0":
                    return text
                return result, scale, form
    match = re.fullmatch(r"([+-]?)([0-9]*)(?:\.([0-9]*))?", value)
    if match is None or not (match.group(2) or match.group(3)):
        return None
    sign = -1 if match.group(1) == "-" else 1
    fraction = match.group(3) or ""
    unscaled, power = int((match.group(2) or "") + fraction or "0"), -len(fraction)
    if base == 10:
        power += exponent
    else:
        unscaled <<= exponent
    if unscaled != 0 and power < -9:  # round up (away from zero) to nano
        divisor = 10 ** (-9 - power)
        unscaled, power = -(-unscaled // divisor), -9
    if form == _BINARY_SI and _compare(unscaled, power, _MAX_INT64) > 0:
        unscaled, power = _MAX_INT64, 0
    return sign * unscaled, power, form


def _compare(unscaled: int, exponent: int, number: int) -> int:
    """Sign of ``unscaled * 10**exponent - number``, exactly."""
    left, right = (unscaled * 10**exponent, number) if exponent >= 0 else (unscaled, number * 10**-exponent)
    return (left > right) - (left < right)


def _canonical_quantity(unscaled: int, exponent: int, form: str) -> str:
    """CanonicalizeBytes of a parsed Quantity."""
    if unscaled == 0:
        return "0"
    if form == _BINARY_SI:
        magnitude, rest = divmod(abs(unscaled), 10**-exponent) if exponent < 0 else (abs(unscaled) * 10**exponent, 0)
        if _compare(abs(unscaled), exponent, 1024) < 0 or rest:  # |q| < 1024, or not a whole number
            form = _DECIMAL_SI
        else:
            times = 0
            while magnitude >= 1024 and magnitude % 1024 == 0:
                magnitude //= 1024
                times += 1
            sign = "-" if unscaled < 0 else ""
            return f"{sign}{magnitude}{_BIN_NAMES.get(times * 10, '')}"
    while unscaled % 10 == 0:
        unscaled //= 10
        exponent += 1
    while exponent % 3 != 0:
        unscaled *= 10
        exponent -= 1
    if form == _DECIMAL_EXPONENT:
        return f"{unscaled}" + (f"e{exponent}" if exponent else "")
    return f"{unscaled}{_DEC_NAMES.get(exponent, '')}"
