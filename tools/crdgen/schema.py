"""Small builders for structural OpenAPI v3 schemas, so every CRD reads as a table of fields.

Why a builder and not hand-written YAML: six CRDs share many shapes (analysis args, metric providers, label maps,
Kubernetes-style conditions), and a structural schema must type every node, bound every list and string that a CEL
rule touches (or the API server's cost estimator refuses the CRD) and never mix ``properties`` with
``additionalProperties``. Doing that by hand in 3,000 lines of YAML drifts; doing it here keeps each rule in one place.

Everything returns plain ``dict`` values that ``yaml.safe_dump`` can write. Nothing here knows about a specific kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from workflows.model.durations import DURATION_PATTERN

Schema = dict[str, Any]

# Bounds shared by all kinds. They are generous for real manifests yet small enough for the API server to prove the
# cost of every CEL rule: the estimator multiplies list sizes and string lengths, so an unbounded list under a rule
# makes the whole CRD unacceptable.
NAME_MAX = 253  # a DNS subdomain: Service, Ingress, template and object names
SHORT_NAME_MAX = 63  # a DNS label: metric, task, route and parameter names
LIST_MAX = 64  # default bound for small lists (args, headers, routes)

# A Go ``time.ParseDuration`` string ("30s", "1h30m", "1.5h") or a plain number of seconds ("20"): the pattern comes
# from the one duration parser, so the API server and the controllers accept the same strings.
# An Argo-style placeholder such as "{{args.interval}}" or "{{inputs.parameters.timeout}}", resolved at run time.
PLACEHOLDER_PATTERN = r"^.*\{\{.+\}\}.*$"
DURATION_OR_PLACEHOLDER_PATTERN = f"{DURATION_PATTERN}|{PLACEHOLDER_PATTERN}"
# maxSurge/maxUnavailable as strings: "25%" or "3".
PERCENT_OR_COUNT_PATTERN = r"^[0-9]+%?$"


def _described(schema: Schema, description: str) -> Schema:
    if description:
        return {"description": description, **schema}
    return schema


def string(
    description: str = "",
    *,
    enum: Sequence[str] | None = None,
    pattern: str | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    default: str | None = None,
    fmt: str | None = None,
) -> Schema:
    """A string; ``max_length`` is required in practice wherever a CEL rule reads the value."""
    schema: Schema = {"type": "string"}
    if fmt is not None:
        schema["format"] = fmt
    if enum is not None:
        schema["enum"] = list(enum)
    if pattern is not None:
        schema["pattern"] = pattern
    if min_length is not None:
        schema["minLength"] = min_length
    if max_length is not None:
        schema["maxLength"] = max_length
    if default is not None:
        schema["default"] = default
    return _described(schema, description)


def name(description: str, *, max_length: int = NAME_MAX) -> Schema:
    """A non-empty object or item name that rules may compare."""
    return string(description, min_length=1, max_length=max_length)


def integer(
    description: str = "",
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    default: int | None = None,
    fmt: str = "int32",
) -> Schema:
    schema: Schema = {"type": "integer", "format": fmt}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    if default is not None:
        schema["default"] = default
    return _described(schema, description)


def boolean(description: str = "", *, default: bool | None = None) -> Schema:
    schema: Schema = {"type": "boolean"}
    if default is not None:
        schema["default"] = default
    return _described(schema, description)


def int_or_string(description: str = "", *, pattern: str | None = None, max_length: int = 256) -> Schema:
    """Argo's ``intstr.IntOrString``: ``5`` and ``"5"`` and ``"{{args.count}}"`` are all valid values.

    ``pattern`` and ``maxLength`` only constrain the string form; integers pass them untouched.
    """
    schema: Schema = {"x-kubernetes-int-or-string": True, "maxLength": max_length}
    if pattern is not None:
        schema["pattern"] = pattern
    return _described(schema, description)


def duration(description: str = "") -> Schema:
    """A duration string ("30s", "5m") or a placeholder; rules never read it."""
    return string(description, pattern=DURATION_OR_PLACEHOLDER_PATTERN, max_length=256)


def timestamp(description: str = "") -> Schema:
    return string(description, fmt="date-time")


def array(
    items: Schema,
    description: str = "",
    *,
    max_items: int = LIST_MAX,
    min_items: int | None = None,
    map_keys: Sequence[str] | None = None,
    set_semantics: bool = False,
) -> Schema:
    """A bounded list. ``map_keys`` makes it a list-map (unique keys, merged by server-side apply)."""
    schema: Schema = {"type": "array", "items": items, "maxItems": max_items}
    if min_items is not None:
        schema["minItems"] = min_items
    if map_keys is not None:
        schema["x-kubernetes-list-type"] = "map"
        schema["x-kubernetes-list-map-keys"] = list(map_keys)
    elif set_semantics:
        schema["x-kubernetes-list-type"] = "set"
    return _described(schema, description)


def unbounded_array(items: Schema, description: str = "") -> Schema:
    """A list written only by the controller (status) and never read by a rule, so it needs no bound."""
    return _described({"type": "array", "items": items}, description)


def string_map(description: str = "", *, max_properties: int | None = None) -> Schema:
    """A ``map[string]string`` such as labels or annotations."""
    schema: Schema = {"type": "object", "additionalProperties": {"type": "string"}}
    if max_properties is not None:
        schema["maxProperties"] = max_properties
    return _described(schema, description)


def map_of(values: Schema, description: str = "", *, max_properties: int | None = None) -> Schema:
    schema: Schema = {"type": "object", "additionalProperties": values}
    if max_properties is not None:
        schema["maxProperties"] = max_properties
    return _described(schema, description)


def rule(
    expression: str,
    message: str,
    *,
    field_path: str | None = None,
    reason: str | None = None,
) -> Schema:
    """One ``x-kubernetes-validations`` entry.

    ``field_path`` is relative to the node carrying the rule (".activeService"), so the API server reports the
    error at the field the user must fix. ``reason`` is one of FieldValueInvalid, FieldValueForbidden,
    FieldValueRequired, FieldValueDuplicate.
    """
    entry: Schema = {"rule": expression, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    if reason is not None:
        entry["reason"] = reason
    return entry


def obj(
    description: str,
    properties: Mapping[str, Schema],
    *,
    required: Iterable[str] = (),
    rules: Iterable[Schema] = (),
    preserve_unknown: bool = False,
    min_properties: int | None = None,
) -> Schema:
    """A typed object. Unknown fields are pruned (or refused under strict field validation)."""
    schema: Schema = {"type": "object", "properties": dict(properties)}
    required_list = list(required)
    if required_list:
        missing = [key for key in required_list if key not in schema["properties"]]
        if missing:
            raise ValueError(f"required fields {missing} are not declared in properties")
        schema["required"] = required_list
    if min_properties is not None:
        schema["minProperties"] = min_properties
    if preserve_unknown:
        schema["x-kubernetes-preserve-unknown-fields"] = True
    rules_list = list(rules)
    if rules_list:
        schema["x-kubernetes-validations"] = rules_list
    return _described(schema, description)


def open_object(
    description: str,
    *,
    embedded: bool = False,
    properties: Mapping[str, Schema] | None = None,
    required: Iterable[str] = (),
) -> Schema:
    """An object whose shape belongs to another API (a Pod template, a Job spec, a Container).

    The real API validates it when the controller creates the Pod/Job, so the CRD keeps it as-is; ``properties``
    may still type the few fields we rely on.
    """
    schema: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if embedded:
        schema["x-kubernetes-embedded-resource"] = True
    if properties:
        schema["properties"] = dict(properties)
    required_list = list(required)
    if required_list:
        schema["required"] = required_list
    return _described(schema, description)


def any_value(description: str = "") -> Schema:
    """Any JSON value (a loop item). CEL rules cannot see such a node: never reference it from a rule."""
    return _described({"x-kubernetes-preserve-unknown-fields": True}, description)


# The marker rule of an unsupported feature. It is a constant on purpose: the field is declared only so that the
# API server keeps it long enough to refuse it with a message naming it, even for clients that do not ask for strict
# field validation (those would otherwise see the field silently pruned and the object half-applied).
UNSUPPORTED_RULE = "false"


def _opaque(shape: str) -> Schema:
    """A typed but otherwise open node. CEL needs a type on every node a rule can see (an untyped node makes the
    API server drop the field from the rule's type declarations), so refused fields keep their Argo shape."""
    if shape == "object":
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if shape == "objects":
        return {"type": "array", "items": _opaque("object")}
    if shape == "strings":
        return {"type": "array", "items": {"type": "string"}}
    if shape == "object-lists":  # Argo's steps: a list of parallel groups
        return {"type": "array", "items": _opaque("objects")}
    if shape == "int-or-string":
        return {"x-kubernetes-int-or-string": True}
    if shape in ("string", "boolean", "integer"):
        return {"type": shape}
    raise ValueError(f"unknown shape {shape!r}")


def unsupported(feature: str, hint: str = "", *, shape: str = "object") -> Schema:
    """A field Argo has and we refuse: declared, kept, and always rejected with a message naming the feature."""
    message = f"rollouts.dev does not support {feature}"
    if hint:
        message = f"{message}; {hint}"
    return {
        "description": f"Not supported: {message}.",
        **_opaque(shape),
        "x-kubernetes-validations": [rule(UNSUPPORTED_RULE, message, reason="FieldValueForbidden")],
    }


def unsupported_fields(features: Mapping[str, str | tuple[str, str]]) -> dict[str, Schema]:
    """``{field: feature}`` or ``{field: (feature, shape)}`` -> declared-but-refused properties."""
    fields: dict[str, Schema] = {}
    for field, feature in features.items():
        if isinstance(feature, tuple):
            fields[field] = unsupported(feature[0], shape=feature[1])
        else:
            fields[field] = unsupported(feature)
    return fields


def exactly_one(fields: Sequence[str]) -> str:
    """CEL: exactly one of ``fields`` is present on ``self``."""
    return " + ".join(f"(has(self.{field}) ? 1 : 0)" for field in fields) + " == 1"


def needs_exactly_one(what: str, fields: Sequence[str], *, named: Sequence[str] | None = None) -> Schema:
    """The rule "``what`` needs exactly one of a, b or c"; ``named`` lists the fields the message offers when some of
    ``fields`` are only there to be refused elsewhere with their own message."""
    offered = list(named if named is not None else fields)
    listed = offered[0] if len(offered) == 1 else ", ".join(offered[:-1]) + " or " + offered[-1]
    return rule(exactly_one(fields), f"{what} needs exactly one of {listed}")
