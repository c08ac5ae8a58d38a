"""A local stand-in for the API server's CRD validation, good enough to test our schemas without a cluster.

It follows the API server's order: defaults are applied, then each node is checked against its structural schema
(type, enum, pattern, bounds, required, unknown fields as with strict field validation, list-map key uniqueness)
and its ``x-kubernetes-validations`` CEL rules are evaluated with cel-python. Errors carry the API server's field
paths (``spec.templates[1].script``) so the same expectations hold against the real server in
tests/integration/crds.

What it does not model: CEL cost limits and type-checking at CRD creation (only the real server can say; the
integration tier installs the CRDs), ``oldSelf`` transition rules (we have none), and quantity/URL CEL libraries.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import celpy
import yaml
from celpy import celtypes, json_to_cel

REPO = Path(__file__).resolve().parents[2]
CRDS_DIR = REPO / "crds"

Schema = dict[str, Any]


@dataclass(frozen=True)
class FieldError:
    """One refusal, as the API server would word its location."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def load_crds(directory: Path = CRDS_DIR) -> dict[str, dict[str, Any]]:
    """Every CRD in ``directory`` keyed by kind."""
    crds: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        crds[document["spec"]["names"]["kind"]] = document
    return crds


def root_schema(crd: dict[str, Any]) -> Schema:
    (version,) = crd["spec"]["versions"]
    schema: Schema = version["schema"]["openAPIV3Schema"]
    return schema


# --- defaulting -------------------------------------------------------------------------------------------------


def apply_defaults(schema: Schema, value: Any) -> Any:
    """A copy of ``value`` with schema defaults filled into present objects, as the API server does on decode."""
    result = copy.deepcopy(value)
    _default_in_place(schema, result)
    return result


def _default_in_place(schema: Schema, value: Any) -> None:
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, sub in properties.items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
        for key, item in value.items():
            if key in properties:
                _default_in_place(properties[key], item)
            elif isinstance(schema.get("additionalProperties"), dict):
                _default_in_place(schema["additionalProperties"], item)
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            _default_in_place(schema["items"], item)


# --- CEL --------------------------------------------------------------------------------------------------------

_CEL = celpy.Environment()


@cache
def _program(expression: str) -> Any:
    return _CEL.program(_CEL.compile(expression))


def compile_rule(expression: str) -> None:
    """Raise if cel-python cannot parse ``expression`` (the real server type-checks it too)."""
    _program(expression)


def evaluate_rule(expression: str, value: Any) -> bool | str:
    """True/False, or the evaluation error text (the API server refuses the object then, too)."""
    try:
        outcome = _program(expression).evaluate({"self": json_to_cel(value)})
    except Exception as error:  # noqa: BLE001 - any CEL failure is a refusal, reported as text
        return f"evaluation error: {error}"
    if isinstance(outcome, celpy.CELEvalError):
        return f"evaluation error: {outcome}"
    if not isinstance(outcome, celtypes.BoolType):
        return f"rule returned {type(outcome).__name__}, not bool"
    return bool(outcome)


# --- structural validation ----------------------------------------------------------------------------------------


def _type_ok(schema: Schema, value: Any) -> bool:
    if value is None:
        return bool(schema.get("nullable"))
    if schema.get("x-kubernetes-int-or-string"):
        return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)
    expected = schema.get("type")
    if expected is None:
        return True
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
    }
    return bool(checks[expected](value))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def validate(schema: Schema, value: Any, path: str = "") -> list[FieldError]:
    """All errors of ``value`` against ``schema`` (defaults are not applied here; see ``validate_object``)."""
    errors: list[FieldError] = []
    if not _type_ok(schema, value):
        wanted = "integer or string" if schema.get("x-kubernetes-int-or-string") else schema.get("type")
        errors.append(FieldError(path, f"Invalid value: must be of type {wanted}"))
        return errors
    if value is None:
        return errors
    if "enum" in schema and value not in schema["enum"]:
        errors.append(FieldError(path, f"Unsupported value: {value!r}: supported values: {schema['enum']}"))
    if isinstance(value, str):
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errors.append(FieldError(path, f"Invalid value: should match '{schema['pattern']}'"))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(FieldError(path, f"Too long: may not be more than {schema['maxLength']} bytes"))
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(FieldError(path, f"Invalid value: should be at least {schema['minLength']} chars long"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(FieldError(path, f"Invalid value: should be greater than or equal to {schema['minimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(FieldError(path, f"Invalid value: should be less than or equal to {schema['maximum']}"))
    if isinstance(value, list):
        errors.extend(_validate_list(schema, value, path))
    if isinstance(value, dict):
        errors.extend(_validate_object(schema, value, path))
    for entry in schema.get("x-kubernetes-validations", []):
        verdict = evaluate_rule(entry["rule"], value)
        if verdict is not True:
            where = path + entry.get("fieldPath", "")
            text = entry["message"] if verdict is False else str(verdict)
            errors.append(FieldError(where, text))
    return errors


def _validate_list(schema: Schema, value: list[Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(FieldError(path, f"Too many: {len(value)}: must have at most {schema['maxItems']} items"))
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(FieldError(path, f"Invalid value: should have at least {schema['minItems']} items"))
    keys = schema.get("x-kubernetes-list-map-keys")
    if schema.get("x-kubernetes-list-type") == "map" and keys:
        seen: set[tuple[Any, ...]] = set()
        for index, item in enumerate(value):
            if isinstance(item, dict):
                key = tuple(item.get(k) for k in keys)
                if key in seen:
                    errors.append(
                        FieldError(f"{path}[{index}]", f"Duplicate value: {dict(zip(keys, key, strict=True))}")
                    )
                seen.add(key)
    if schema.get("x-kubernetes-list-type") == "set" and len({repr(v) for v in value}) != len(value):
        errors.append(FieldError(path, "Duplicate value"))
    for index, item in enumerate(value):
        errors.extend(validate(schema.get("items", {}), item, f"{path}[{index}]"))
    return errors


def _validate_object(schema: Schema, value: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    properties: dict[str, Schema] = schema.get("properties", {})
    additional = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    errors.extend(
        FieldError(_join(path, key), "Required value") for key in schema.get("required", []) if key not in value
    )
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        errors.append(FieldError(path, f"Too many: must have at most {schema['maxProperties']} items"))
    for key, item in value.items():
        if key in properties:
            errors.extend(validate(properties[key], item, _join(path, key)))
        elif isinstance(additional, dict):
            errors.extend(validate(additional, item, f"{path}[{key}]"))
        elif not preserve and not (path == "" and key in ("apiVersion", "kind")) and not _is_metadata(path):
            errors.append(FieldError(_join(path, key), f'unknown field "{_join(path, key)}"'))
    return errors


def _is_metadata(path: str) -> bool:
    return path == "metadata"


def validate_object(crd: dict[str, Any], manifest: dict[str, Any]) -> list[FieldError]:
    """Default then validate a whole object, as a create request would be."""
    schema = root_schema(crd)
    defaulted = apply_defaults(schema, manifest)
    errors = validate(schema, defaulted)
    if manifest.get("apiVersion") != f"{crd['spec']['group']}/v1alpha1":
        errors.append(FieldError("apiVersion", f"unexpected apiVersion {manifest.get('apiVersion')!r}"))
    if manifest.get("kind") != crd["spec"]["names"]["kind"]:
        errors.append(FieldError("kind", f"unexpected kind {manifest.get('kind')!r}"))
    return errors
