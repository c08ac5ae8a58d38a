"""Validate an object against a CRD's structural schema offline, as the API server would, with every field path.

Why it exists. Our generated CRDs (``crds/``) say exactly what the product implements: types, enums, patterns,
bounds, required fields, ``x-kubernetes-validations`` CEL rules (among them ``rule: 'false'`` entries that refuse a
feature we do not implement, by name). Served through our own CRDs, the API server enforces all of it. Served
through Argo's own ``argoproj.io`` CRDs (drop-in mode) it enforces almost nothing -- they preserve unknown fields --
so a field we do not implement would apply cleanly and then be ignored. This module applies our schema in Python
instead: the controller turns its issues into an ``InvalidSpec`` condition and a Warning Event, and
``kubectl rollouts lint`` prints them. ``tests/integration/crds/test_schema_agreement.py`` checks that it accepts
and refuses what the real API server accepts and refuses, at the same field paths.

What it implements (every keyword our CRDs use, plus the few neighbours that cost a line): ``type`` (an integral
float passes as an integer, as in the API server), ``nullable``, ``enum``, ``format`` (``int32``, ``int64``,
``date-time``; other formats are not checked), ``pattern`` (RE2, as Go's regexp), ``minLength``/``maxLength``,
``minimum``/``maximum`` (and their ``exclusive`` flags), ``multipleOf``, ``minItems``/``maxItems``,
``minProperties``/``maxProperties``, ``required``, ``properties``, ``additionalProperties``, ``items``,
``x-kubernetes-preserve-unknown-fields``, ``x-kubernetes-int-or-string``, ``x-kubernetes-embedded-resource``,
``x-kubernetes-list-type`` (``set``, ``map`` with ``x-kubernetes-list-map-keys``) and ``x-kubernetes-validations``
(``rule``, ``message``, ``messageExpression``, ``fieldPath``, ``reason``) evaluated with cel-python.

How it follows the API server:

- every problem is reported, not the first: :class:`~workflows.errors.Issues`, one per path and reason;
- a field the schema does not declare is :data:`UNDECLARED` at its full path (what ``fieldValidation=Strict``
  refuses; a lax client would see it pruned, i.e. silently ignored);
- a ``null`` where the schema does not say ``nullable`` is dropped, as the server prunes it (so a required field set
  to ``null`` is missing); a ``null`` list item is a type error;
- errors the server calls blocking (type, enum, required, maxLength, maxItems/maxProperties) stop the CEL rules that
  would read the broken value. The server then skips *every* rule of the object and says so; we skip only the rules
  of the nodes that contain the broken value, still evaluate the others, and add :data:`RULES_NOT_CHECKED` once, so a
  user sees more at once and never a rule evaluated on an ill-typed value;
- map keys are path segments (``matchLabels.app``), as in the server's schema and strict-decoding errors;
- defaults are not applied: this validates what was written (in drop-in mode the stored object carries Argo's
  defaults, not ours). Transition rules (``oldSelf``) are skipped: there is no old object offline.

What it must never do: I/O, or raise on bad input. A rule is compiled once per rule text; the schemas themselves are
loaded (and cached) by :mod:`workflows.runtime.crds`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import date
from functools import cache, lru_cache
from typing import Any, Final, TypeGuard

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError

from workflows.errors import Issues
from workflows.model.expr import search_pattern

__all__ = [
    "RULES_NOT_CHECKED",
    "UNDECLARED",
    "Schema",
    "compile_rule",
    "validate",
    "validate_object",
]

Schema = Mapping[str, Any]

#: The message of a field the schema does not declare (what ``fieldValidation=Strict`` refuses).
UNDECLARED: Final = "field not declared in the schema"
#: Added (at the root, once) when a blocking error kept CEL rules from being evaluated.
RULES_NOT_CHECKED: Final = (
    "some validation rules were not checked because the object was invalid; correct the existing errors to complete "
    "validation"
)

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
# ObjectMeta: what the API server decodes under ``metadata`` of a custom resource, whatever the CRD declares there.
_OBJECT_META_FIELDS = frozenset(
    {
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
        "managedFields",
    }
)  # fmt: skip
# Our own fixed grammars use ``re``; only schema patterns (user-visible, Go semantics) go through RE2.
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
# kube-openapi's strfmt.IsDateTime: lower-cased, split at "t"; the time part must match this (the dot is any rune).
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))\Z")
_REASON_PREFIX = {
    "FieldValueForbidden": "Forbidden",
    "FieldValueRequired": "Required value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueInvalid": "Invalid value",
}


def validate(schema: Schema, value: object, *, path: str = "") -> Issues:
    """Every problem of ``value`` against ``schema`` (a structural schema node), at paths under ``path``.

    ``value`` is any part of an object (``path`` says where it sits: ``spec.strategy``). For a whole custom resource
    use :func:`validate_object`, which also knows what the API server does with ``metadata`` and ``status``.
    """
    walker = _Walker()
    walker.node(schema, value, path)
    return walker.finish()


def validate_object(schema: Schema, obj: Mapping[str, Any]) -> Issues:
    """Every problem of a whole custom resource against its CRD's ``openAPIV3Schema``, as a create request sees it.

    ``metadata`` is checked as the API server checks ObjectMeta (known fields, string maps, a valid ``name`` or
    ``generateName``), whatever the CRD declares there. ``status`` is not checked: it is the controller's output
    (and another controller's, for an object Argo's controller handled before), and a create drops it. ``apiVersion``
    and ``kind`` are for the caller to match to a schema (:func:`workflows.runtime.crds.openapi_schema`).
    """
    walker = _Walker()
    walker.resource(schema, obj, "", root=True)
    return walker.finish()


def compile_rule(rule: str) -> None:
    """Raise ``CELParseError`` when cel-python cannot parse ``rule`` (the API server type-checks it too)."""
    _program(rule)


# --------------------------------------------------------------------------------------------------------------
# Paths and values


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _json(value: object) -> str:
    """A value as the API server quotes it in a message (``"Has"``, ``{"name":"A"}``)."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)
    except ValueError:
        return repr(value)


def _json_type(value: object) -> str:
    """The JSON type name of ``value`` (what a type error says was found)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__  # not JSON at all (a YAML date, a set): refused by every type


def _is_integer(value: object) -> bool:
    # The API server decodes 2.0 sent as JSON to a float and accepts it as an integer (go-openapi's isFloatInt).
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _has_type(schema: Schema, value: object) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, str) or _is_integer(value)
    expected = schema.get("type")
    if expected is None:
        return True
    match expected:
        case "object":
            return isinstance(value, Mapping)
        case "array":
            return isinstance(value, list)
        case "string":
            return isinstance(value, str)
        case "integer":
            return _is_integer(value)
        case "number":
            return _is_number(value)
        case "boolean":
            return isinstance(value, bool)
    return True  # an unknown type name is the CRD's problem (the API server refuses such a CRD)


def _is_typed(schema: Schema) -> bool:
    return "type" in schema or bool(schema.get("x-kubernetes-int-or-string"))


def _expected_type(schema: Schema) -> str:
    return "integer or string" if schema.get("x-kubernetes-int-or-string") else str(schema.get("type"))


def _same(a: object, b: object) -> bool:
    """JSON equality: ``true`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _is_date_time(text: str) -> bool:
    """kube-openapi's ``date-time`` check (RFC 3339; ``t``/``z`` in either case; ``2024-02-30`` is not a date)."""
    parts = text.lower().split("t")
    if len(text) < 4 or len(parts) < 2:
        return False
    day = _DATE.match(parts[0])
    if day is None:
        return False
    try:
        date(int(day[1]), int(day[2]), int(day[3]))
    except ValueError:
        return False
    clock = _TIME.match(parts[1])
    return clock is not None and clock[1] <= "23" and clock[2] <= "59" and clock[3] <= "59"


def _matches(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches anywhere in ``text``, with Go's regexp semantics (RE2) as the API server does."""
    try:
        return search_pattern(pattern, text)
    except ValueError:
        # RE2 refused the pattern. The API server refuses such a CRD, so this only happens with a schema that was
        # never installed; Python's engine is the best remaining reading (the only path here that backtracks).
        try:
            return re.search(pattern, text) is not None
        except re.error:
            return False


# --------------------------------------------------------------------------------------------------------------
# CEL


_CEL = celpy.Environment()


@cache
def _program(rule: str) -> celpy.Runner:
    """The rule compiled once per rule text (the same rule repeats across kinds and list items)."""
    return _CEL.program(_CEL.compile(rule))


def _without_nulls(value: Any) -> Any:
    """``value`` as CEL sees it on the server: nulls pruned from maps (they are dropped before validation)."""
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


_FIELD_PATH_SEGMENT = re.compile(r"\.([A-Za-z_$][A-Za-z0-9_$-]*)|\['((?:[^'\\]|\\.)*)'\]|\[([0-9]+)\]")


def _rule_path(path: str, field_path: str) -> str:
    """``spec.strategy`` + ``.canary['x'][0]`` -> ``spec.strategy.canary.x[0]`` (a rule's ``fieldPath``)."""
    out = path
    position = 0
    while position < len(field_path):
        segment = _FIELD_PATH_SEGMENT.match(field_path, position)
        if segment is None:
            return out + field_path[position:]
        if segment[3] is not None:
            out = f"{out}[{segment[3]}]"
        else:
            out = _child(out, segment[1] if segment[1] is not None else segment[2])
        position = segment.end()
    return out


# --------------------------------------------------------------------------------------------------------------
# The walk


class _Walker:
    """One validation: collects issues; ``node`` returns whether a blocking error was found in that subtree."""

    __slots__ = ("issues", "rules_skipped")

    def __init__(self) -> None:
        self.issues = Issues()
        self.rules_skipped = False

    def finish(self) -> Issues:
        if self.rules_skipped:
            self.issues.add("", RULES_NOT_CHECKED)
        return self.issues

    def node(self, schema: Schema, value: object, path: str) -> bool:
        if value is None:
            if schema.get("nullable") or not _is_typed(schema):
                return False
            self.issues.add(path, f"Invalid value: null: must be of type {_expected_type(schema)}")
            return True
        if not _has_type(schema, value):
            found = _json_type(value)
            self.issues.add(path, f'Invalid value: "{found}": must be of type {_expected_type(schema)}')
            self._undeclared_inside(schema, value, path)
            return True
        blocked = False
        if isinstance(value, str):
            blocked = self._string(schema, value, path)
        elif _is_number(value):
            self._number(schema, value, path)
        elif isinstance(value, list):
            blocked = self._array(schema, value, path)
        elif isinstance(value, Mapping):
            if schema.get("x-kubernetes-embedded-resource"):
                blocked = self.resource(schema, value, path, root=False)
            else:
                blocked = self._object(schema, value, path)
        enum = schema.get("enum")
        if enum is not None and not any(_same(value, allowed) for allowed in enum):
            supported = ", ".join(_json(allowed) for allowed in enum)
            self.issues.add(path, f"Unsupported value: {_json(value)}: supported values: {supported}")
            blocked = True
        rules = schema.get("x-kubernetes-validations")
        if rules:
            if blocked:
                self.rules_skipped = True
            else:
                self._rules(rules, value, path)
        return blocked

    def _undeclared_inside(self, schema: Schema | None, value: object, path: str) -> None:
        """The undeclared fields inside a value of the wrong type, as the API server's pruning finds them.

        Pruning runs before validation and does not look at types: the keys of a map given where a list is expected
        (``steps: {a: 1}``) are matched against the list schema's (absent) properties, so each is an unknown field
        (``spec.steps.a``); a list's items are matched against the node's ``items``, absent unless it is an array.
        """
        if schema is not None and schema.get("x-kubernetes-preserve-unknown-fields"):
            properties: Mapping[str, Schema] = schema.get("properties") or {}
            if isinstance(value, Mapping):
                for key, item in value.items():
                    if key in properties:
                        self._undeclared_inside(properties[key], item, _child(path, key))
            elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
                for index, item in enumerate(value):
                    self._undeclared_inside(schema["items"], item, f"{path}[{index}]")
            return
        if isinstance(value, Mapping):
            properties = (schema or {}).get("properties") or {}
            additional = (schema or {}).get("additionalProperties")
            for key, item in value.items():
                sub = properties.get(key, additional if isinstance(additional, Mapping) else None)
                if sub is None:
                    self.issues.add(_child(path, key), UNDECLARED)
                else:
                    self._undeclared_inside(sub, item, _child(path, key))
        elif isinstance(value, list):
            items = (schema or {}).get("items")
            for index, item in enumerate(value):
                self._undeclared_inside(items if isinstance(items, Mapping) else None, item, f"{path}[{index}]")

    # -- scalars ----------------------------------------------------------------------------------------------
    def _string(self, schema: Schema, value: str, path: str) -> bool:
        blocked = False
        fmt = schema.get("format")
        if fmt in ("date-time", "datetime") and not _is_date_time(value):
            # The API server reports a bad format as a type error (blocking): "must be of type date-time".
            self.issues.add(path, f"Invalid value: {_json(value)}: must be of type date-time")
            blocked = True
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            self.issues.add(path, f"Too long: may not be more than {schema['maxLength']} characters")
            blocked = True
        if "minLength" in schema and len(value) < schema["minLength"]:
            self.issues.add(path, f"Invalid value: {_json(value)}: should be at least {schema['minLength']} chars long")
        pattern = schema.get("pattern")
        if pattern is not None and not _matches(pattern, value):
            self.issues.add(path, f"Invalid value: {_json(value)}: should match '{pattern}'")
        return blocked

    def _number(self, schema: Schema, value: float, path: str) -> None:
        bounds = {"int32": _INT32, "int64": _INT64}.get(str(schema.get("format")))
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            self.issues.add(
                path, f"Invalid value: {_json(value)}: must be an integer with format {schema['format']}"
                f" (from {bounds[0]} to {bounds[1]})"
            )  # fmt: skip
        minimum = schema.get("minimum")
        if minimum is not None:
            if schema.get("exclusiveMinimum") and value <= minimum:
                self.issues.add(path, f"Invalid value: {_json(value)}: should be greater than {minimum}")
            elif value < minimum:
                self.issues.add(path, f"Invalid value: {_json(value)}: should be greater than or equal to {minimum}")
        maximum = schema.get("maximum")
        if maximum is not None:
            if schema.get("exclusiveMaximum") and value >= maximum:
                self.issues.add(path, f"Invalid value: {_json(value)}: should be less than {maximum}")
            elif value > maximum:
                self.issues.add(path, f"Invalid value: {_json(value)}: should be less than or equal to {maximum}")
        multiple = schema.get("multipleOf")
        if multiple and not math.isclose(value / multiple, round(value / multiple)):
            self.issues.add(path, f"Invalid value: {_json(value)}: should be a multiple of {multiple}")

    # -- collections ------------------------------------------------------------------------------------------
    def _array(self, schema: Schema, value: list[Any], path: str) -> bool:
        blocked = False
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self.issues.add(path, f"Too many: {len(value)}: must have at most {schema['maxItems']} items")
            blocked = True
        if "minItems" in schema and len(value) < schema["minItems"]:
            self.issues.add(path, f"Invalid value: {len(value)}: should have at least {schema['minItems']} items")
        items = schema.get("items")
        if items is None and _preserves(schema):
            items = {"x-kubernetes-preserve-unknown-fields": True}  # the server prunes nothing in these items
        for index, item in enumerate(value):
            blocked = self.node(items or {}, item, f"{path}[{index}]") or blocked
        self._list_type(schema, value, path)
        return blocked

    def _list_type(self, schema: Schema, value: list[Any], path: str) -> None:
        list_type = schema.get("x-kubernetes-list-type")
        seen: list[Any] = []
        if list_type == "set":
            for index, item in enumerate(value):
                if any(_same(item, earlier) for earlier in seen):
                    self.issues.add(f"{path}[{index}]", f"Duplicate value: {_json(item)}")
                seen.append(item)
        elif list_type == "map":
            keys: Sequence[str] = schema.get("x-kubernetes-list-map-keys") or ()
            for index, item in enumerate(value):
                if not isinstance(item, Mapping):
                    continue  # a type error already
                key = {name: item.get(name) for name in keys}
                if any(_same(key, earlier) for earlier in seen):
                    self.issues.add(f"{path}[{index}]", f"Duplicate value: {_json(key)}")
                seen.append(key)

    def _object(self, schema: Schema, value: Mapping[str, Any], path: str, *, resource: bool = False) -> bool:
        blocked = False
        properties: Mapping[str, Schema] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields")) or additional is True
        present = 0  # the fields left after the API server's pruning (what maxProperties counts)
        for key, item in value.items():
            sub = properties.get(key)
            if sub is None and isinstance(additional, Mapping):
                sub = additional
            if sub is None:
                if preserve:
                    present += 1
                else:
                    self.issues.add(_child(path, key), UNDECLARED)
                continue
            if item is None and not sub.get("nullable"):
                continue  # pruned by the API server before validation
            present += 1
            blocked = self.node(sub, item, _child(path, key)) or blocked
        for name in schema.get("required") or ():
            if resource and name in ("apiVersion", "kind", "metadata"):
                continue  # a resource's own fields: checked by resource()
            if value.get(name) is None and not (name in value and properties.get(name, {}).get("nullable")):
                self.issues.add(_child(path, name), "Required value")
                blocked = True
        if "maxProperties" in schema and present > schema["maxProperties"]:
            self.issues.add(path, f"Too many: {present}: must have at most {schema['maxProperties']} items")
            blocked = True
        if "minProperties" in schema and present < schema["minProperties"]:
            self.issues.add(path, f"Invalid value: {present}: should have at least {schema['minProperties']} items")
        return blocked

    # -- resources (the root of a custom resource, x-kubernetes-embedded-resource) ------------------------------
    def resource(self, schema: Schema, value: Mapping[str, Any], path: str, *, root: bool) -> bool:
        """An object with ``apiVersion``, ``kind`` and ObjectMeta ``metadata`` (whatever the schema declares there).

        At the root, ``status`` is skipped (see :func:`validate_object`) and a name is required; an embedded
        resource (a pod template is not one in our CRDs) must say its ``apiVersion`` and ``kind`` instead.
        """
        properties: Mapping[str, Schema] = schema.get("properties") or {}
        rest: dict[str, Any] = {}
        for key, item in value.items():
            if key == "metadata":
                self._object_meta(item, _child(path, key), name_required=root)
            elif key in ("apiVersion", "kind") and key not in properties:
                if not isinstance(item, str):
                    self.issues.add(_child(path, key), f'Invalid value: "{_json_type(item)}": must be of type string')
            elif not (root and key == "status"):
                rest[key] = item
        if root and "metadata" not in value:
            self._object_meta({}, _child(path, "metadata"), name_required=True)
        if not root:
            for key in ("apiVersion", "kind"):
                if not value.get(key):
                    self.issues.add(_child(path, key), "Required value: must not be empty")
        stripped = dict(schema)
        stripped["properties"] = {k: v for k, v in properties.items() if k not in ("metadata", "status")}
        stripped.pop("x-kubernetes-validations", None)
        blocked = self._object(stripped, rest, path, resource=True)
        if "status" in value and root and "status" not in properties and not _preserves(schema):
            self.issues.add(_child(path, "status"), UNDECLARED)
        rules = schema.get("x-kubernetes-validations")
        if rules:
            if blocked:
                self.rules_skipped = True
            else:
                self._rules(rules, value, path)
        return blocked

    def _object_meta(self, value: object, path: str, *, name_required: bool) -> None:
        if not isinstance(value, Mapping):
            self.issues.add(path, f'Invalid value: "{_json_type(value)}": must be of type object')
            return
        for key, item in value.items():
            where = _child(path, key)
            if key not in _OBJECT_META_FIELDS:
                self.issues.add(where, UNDECLARED)
            elif key in ("labels", "annotations") and item is not None:
                if not isinstance(item, Mapping):
                    self.issues.add(where, f'Invalid value: "{_json_type(item)}": must be of type object')
                    continue
                for entry, text in item.items():
                    if not isinstance(text, str):
                        self.issues.add(
                            _child(where, entry), f'Invalid value: "{_json_type(text)}": must be of type string'
                        )
            elif key in ("name", "generateName", "namespace") and item is not None and not isinstance(item, str):
                self.issues.add(where, f'Invalid value: "{_json_type(item)}": must be of type string')
        name, prefix = value.get("name"), value.get("generateName")
        if isinstance(prefix, str) and prefix:
            # A prefix may end with "-": the server checks it as if a suffix followed (apimachinery's
            # maskTrailingDash, which replaces the last *two* characters by "a"; kept, as it decides validity).
            masked = prefix[:-2] + "a" if len(prefix) > 1 and prefix.endswith("-") else prefix
            self._dns_subdomain(masked, _child(path, "generateName"))
            if not (isinstance(name, str) and name):
                # The server names the object before validating it: the prefix (at most 58 characters) and 5 more.
                name = prefix[:58] + "x" * 5
        if isinstance(name, str) and name:
            self._dns_subdomain(name, _child(path, "name"))
        elif name_required:
            self.issues.add(_child(path, "name"), "Required value: name or generateName is required")

    def _dns_subdomain(self, name: str, path: str) -> None:
        if len(name) > 253:
            self.issues.add(path, f"Invalid value: {_json(name)}: must be no more than 253 characters")
        elif _DNS_SUBDOMAIN.match(name) is None:
            self.issues.add(
                path,
                f"Invalid value: {_json(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character",
            )

    # -- CEL rules --------------------------------------------------------------------------------------------
    def _rules(self, rules: Sequence[Mapping[str, Any]], value: object, path: str) -> None:
        context = _RuleContext(value)
        for rule in rules:
            text = str(rule.get("rule", "")).strip()
            where = _rule_path(path, str(rule.get("fieldPath") or ""))
            if text == "true" or "oldSelf" in text:
                continue  # transition rules need the stored object; a create has none
            if text == "false":  # the refusal of an unimplemented field: nothing to evaluate
                self.issues.add(where, _rule_message(rule, context))
                continue
            outcome = context.evaluate(text)
            if isinstance(outcome, str):
                self.issues.add(where, f"Invalid value: {outcome} evaluating rule: {text}")
            elif not outcome:
                self.issues.add(where, _rule_message(rule, context))


def _run(expression: str, self_json: str) -> object:
    """``expression`` evaluated with ``self`` bound to the JSON value; a :class:`_Unevaluated` when it fails."""
    try:
        outcome: object = _program(expression).evaluate({"self": json_to_cel(json.loads(self_json))})
    except CELParseError as error:
        return _Unevaluated(f"the rule does not compile ({error})")
    except CELEvalError as error:
        return _Unevaluated(str(error.args[0] if error.args else error))
    except (ValueError, OverflowError) as error:  # cel-python's int64 range: a number the API server refuses too
        return _Unevaluated(f"{error} (numbers must fit in 64 bits)")
    if isinstance(outcome, CELEvalError):  # cel-python returns some errors instead of raising them
        return _Unevaluated(str(outcome.args[0] if outcome.args else outcome))
    return outcome


# cel-python interprets a rule in milliseconds, and a controller re-validates the same objects on every reconcile:
# outcomes are pure functions of (rule, value), so they are kept -- for values up to 16 KB of JSON, at most 1024 of
# them (16 MB at worst); larger values (a whole big spec) are evaluated every time.
_CACHED_VALUE_LENGTH = 16 * 1024
_run_cached = lru_cache(maxsize=1024)(_run)


class _RuleContext:
    """The value one node's rules see as ``self``, as JSON text: the key of the outcome cache (made once, if needed)."""

    __slots__ = ("_text", "_value")

    def __init__(self, value: object) -> None:
        self._value = value
        self._text: str | None = None

    def run(self, expression: str) -> object:
        """The raw outcome of ``expression``, or a :class:`_Unevaluated` saying why there is none."""
        if self._text is None:
            try:
                self._text = json.dumps(_without_nulls(self._value), sort_keys=True, separators=(",", ":"))
            except (TypeError, ValueError) as error:  # not JSON (only possible inside preserved, untyped fields)
                return _Unevaluated(f"the value is not JSON: {error}")
        if len(self._text) <= _CACHED_VALUE_LENGTH:
            return _run_cached(expression, self._text)
        return _run(expression, self._text)

    def evaluate(self, rule: str) -> bool | str:
        """True/False, or why the rule could not be evaluated (the API server refuses the object then too)."""
        outcome = self.run(rule)
        if isinstance(outcome, _Unevaluated):
            return outcome.reason
        if not isinstance(outcome, celtypes.BoolType):
            return f"a {type(outcome).__name__} where a bool was expected"
        return bool(outcome)


class _Unevaluated:
    """Why an expression has no value (an evaluation error, a parse error, a value CEL cannot hold)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _rule_message(rule: Mapping[str, Any], context: _RuleContext) -> str:
    """A failed rule's issue: its reason's prefix and its ``messageExpression``, else ``message``, else the rule."""
    message = str(rule.get("message") or "")
    expression = rule.get("messageExpression")
    if expression:
        evaluated = context.run(str(expression))
        if isinstance(evaluated, str) and evaluated.strip():  # celpy gives str or its StringType subclass
            message = str(evaluated)
    if not message:
        message = f"failed rule: {rule.get('rule')}"
    prefix = _REASON_PREFIX.get(str(rule.get("reason") or "FieldValueInvalid"), "Invalid value")
    return f"{prefix}: {message}"


def _preserves(schema: Schema) -> bool:
    return bool(schema.get("x-kubernetes-preserve-unknown-fields"))
