"""Objects built from a structural schema, and broken on purpose, for the offline validator's properties and for the
agreement test that holds it against the real API server.

- :func:`instances`: a hypothesis strategy of values that satisfy a schema's structural keywords (types, enums,
  patterns, formats, bounds, required fields, list-set/map uniqueness). CEL rules are not honoured: use
  :func:`without_rules` for "every instance validates clean", or compare with a real judge.
- :func:`undeclared_sites`: where in a value an undeclared key would be refused (objects that neither preserve
  unknown fields nor are maps), as key paths.
- :func:`mutants`: deterministic broken (and some harmless) variants of a manifest, one per schema keyword and node:
  an undeclared field, a wrong type, a value outside an enum, a pattern or a bound, a missing required field, a
  ``null``, a duplicate list entry, too many items, an unimplemented field (``rule: 'false'``) set.

Paths are key tuples (``("spec", "templates", 0, "dag")``); :func:`path_text` renders them as the validator does.
"""

from __future__ import annotations

import copy
import json
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

Schema = Mapping[str, Any]
KeyPath = tuple[str | int, ...]

UNDECLARED_KEY = "zzUndeclared"
_INT32 = (-(2**31), 2**31 - 1)
_SAFE_TEXT = string.ascii_letters + string.digits + "-_./: "


def path_text(path: KeyPath) -> str:
    """``("spec", "steps", 2, "setWeight")`` -> ``spec.steps[2].setWeight``."""
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out = f"{out}.{key}" if out else key
    return out


def without_rules(schema: Schema) -> dict[str, Any]:
    """A copy of ``schema`` with every ``x-kubernetes-validations`` removed (structural keywords only)."""
    out: dict[str, Any] = {k: v for k, v in schema.items() if k != "x-kubernetes-validations"}
    if "properties" in out:
        out["properties"] = {k: without_rules(v) for k, v in out["properties"].items()}
    if isinstance(out.get("additionalProperties"), Mapping):
        out["additionalProperties"] = without_rules(out["additionalProperties"])
    if "items" in out:
        out["items"] = without_rules(out["items"])
    return out


# --------------------------------------------------------------------------------------------------------------
# Instances


def _json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(_SAFE_TEXT, max_size=5))


def _strings(schema: Schema) -> st.SearchStrategy[str]:
    low = int(schema.get("minLength", 0))
    high = int(schema.get("maxLength", max(low, 8)))
    if schema.get("format") in ("date-time", "datetime"):
        moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))  # noqa: DTZ001
        return moments.map(lambda moment: moment.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    pattern = schema.get("pattern")
    if pattern is not None:
        return st.from_regex(str(pattern), fullmatch=True).filter(lambda text: low <= len(text) <= high)
    return st.text(_SAFE_TEXT, min_size=low, max_size=min(high, low + 8))


def _integers(schema: Schema) -> st.SearchStrategy[int]:
    low = schema.get("minimum", _INT32[0] if schema.get("format") == "int32" else -1000)
    high = schema.get("maximum", _INT32[1] if schema.get("format") == "int32" else 1000)
    return st.integers(min_value=int(low), max_value=int(high))


def instances(schema: Schema, *, max_items: int = 2, implemented_only: bool = False) -> st.SearchStrategy[Any]:
    """Values that satisfy ``schema``'s structural keywords (not its CEL rules).

    ``implemented_only`` leaves out the optional fields our CRDs refuse by name (``rule: 'false'``), so more of
    the values get past the rules.
    """
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    if schema.get("x-kubernetes-int-or-string"):
        return st.one_of(_integers(schema), _strings(schema))
    kind = schema.get("type")
    if kind == "string":
        return _strings(schema)
    if kind == "integer":
        return _integers(schema)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return _arrays(schema, max_items=max_items, implemented_only=implemented_only)
    if kind == "object":
        return _objects(schema, max_items=max_items, implemented_only=implemented_only)
    return _json_scalars()  # untyped (x-kubernetes-preserve-unknown-fields): anything


def _arrays(schema: Schema, *, max_items: int, implemented_only: bool) -> st.SearchStrategy[list[Any]]:
    low = int(schema.get("minItems", 0))
    high = min(int(schema.get("maxItems", max_items)), max(low, max_items))
    items = instances(schema.get("items") or {}, max_items=max_items, implemented_only=implemented_only)
    list_type = schema.get("x-kubernetes-list-type")
    if list_type == "set":
        return st.lists(items, min_size=low, max_size=high, unique_by=lambda v: json.dumps(v, sort_keys=True))
    if list_type == "map":
        keys = tuple(schema.get("x-kubernetes-list-map-keys") or ())
        return st.lists(
            items, min_size=low, max_size=high, unique_by=lambda v: json.dumps([v.get(k) for k in keys], default=str)
        )
    return st.lists(items, min_size=low, max_size=high)


def _refused_by_name(schema: Schema) -> bool:
    return any(str(rule.get("rule")) == "false" for rule in schema.get("x-kubernetes-validations") or ())


def _objects(schema: Schema, *, max_items: int, implemented_only: bool) -> st.SearchStrategy[dict[str, Any]]:
    properties: Mapping[str, Schema] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")

    def of(node: Schema) -> st.SearchStrategy[Any]:
        return instances(node, max_items=max_items, implemented_only=implemented_only)

    free = bool(schema.get("x-kubernetes-preserve-unknown-fields")) or additional is True
    if properties or not (free or isinstance(additional, Mapping)):  # `properties: {}` declares an empty object
        required = set(schema.get("required") or ())
        optional = {k: v for k, v in properties.items() if k not in required}
        if implemented_only:
            optional = {k: v for k, v in optional.items() if not _refused_by_name(v)}
        return st.fixed_dictionaries(
            {k: of(v) for k, v in properties.items() if k in required},
            optional={k: of(v) for k, v in optional.items()},
        )
    if isinstance(additional, Mapping):
        keys = st.text(string.ascii_lowercase + "-./", min_size=1, max_size=6)
        high = min(int(schema.get("maxProperties", max_items)), max_items)
        return st.dictionaries(keys, of(additional), max_size=high)
    return st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=4), _json_scalars(), max_size=2)


# --------------------------------------------------------------------------------------------------------------
# Walking a value along its schema


def walk(schema: Schema, value: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Schema, Any]]:
    """Every (path, schema node, value) of ``value`` that its schema describes (not inside preserved fields)."""
    yield path, schema, value
    if isinstance(value, dict):
        properties: Mapping[str, Schema] = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        for key, item in value.items():
            sub = properties.get(key, additional if isinstance(additional, Mapping) else None)
            if sub is not None and item is not None:
                yield from walk(sub, item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(schema.get("items") or {}, item, (*path, index))


def _refuses(schema: Schema) -> bool:
    return (
        schema.get("type") == "object"
        and not schema.get("x-kubernetes-preserve-unknown-fields")
        and not isinstance(schema.get("additionalProperties"), Mapping)
        and schema.get("additionalProperties") is not True
    )


def undeclared_sites(schema: Schema, value: Any, path: KeyPath = ()) -> list[KeyPath]:
    """The objects inside ``value`` where an undeclared key is refused."""
    return [where for where, node, item in walk(schema, value, path) if isinstance(item, dict) and _refuses(node)]


def at(value: Any, path: KeyPath) -> Any:
    for key in path:
        value = value[key]
    return value


# --------------------------------------------------------------------------------------------------------------
# Mutants


@dataclass(frozen=True)
class Mutant:
    """``manifest`` changed at ``path`` by ``operator`` (``undeclared``, ``type``, ``enum``, ...)."""

    operator: str
    path: KeyPath
    manifest: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.operator}@{path_text(self.path)}"


def _wrong_type(schema: Schema, value: Any) -> Any:
    if schema.get("x-kubernetes-int-or-string"):
        return True
    match schema.get("type"):
        case "string":
            return 12345
        case "integer" | "number":
            return "12"
        case "boolean":
            return "yes"
        case "array":
            return {"a": "b"}
        case "object":
            return ["a"]
    return None


def _typed_sample(schema: Schema) -> Any:
    """A value of the schema's type with no other constraint in mind (for setting an unimplemented field)."""
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("x-kubernetes-int-or-string"):
        return 1
    return {"string": "x", "integer": 1, "number": 1, "boolean": True, "array": [], "object": {}}.get(
        str(schema.get("type")), "x"
    )


def _edits(schema: Schema, value: Any) -> Iterator[tuple[str, Any]]:
    """(operator, new value) for the node itself; ``_DELETE`` removes it."""
    wrong = _wrong_type(schema, value)
    if wrong is not None:
        yield "type", wrong
    if "enum" in schema:
        yield "enum", "NotInTheEnum"
    if "pattern" in schema and isinstance(value, str):
        yield "pattern", "!not matching!"
    if "minimum" in schema and isinstance(value, int):
        yield "minimum", schema["minimum"] - 1
    if "maximum" in schema and isinstance(value, int):
        yield "maximum", schema["maximum"] + 1
    if schema.get("format") == "int32" and isinstance(value, int):
        yield "int32", 2**31
    if schema.get("format") in ("date-time", "datetime") and isinstance(value, str):
        yield "date-time", "2024-02-30T10:00:00Z"
    if "maxLength" in schema and isinstance(value, str):
        yield "maxLength", "a" * (schema["maxLength"] + 1)
    if schema.get("minLength") and isinstance(value, str):
        yield "minLength", ""
    if isinstance(value, list) and value:
        if schema.get("x-kubernetes-list-type") in ("set", "map"):
            yield "duplicate", [*value, copy.deepcopy(value[0])]
        if "maxItems" in schema:
            yield "maxItems", [copy.deepcopy(value[i % len(value)]) for i in range(schema["maxItems"] + 1)]


_DELETE = object()


def mutants(schema: Schema, manifest: Mapping[str, Any]) -> Iterator[Mutant]:
    """Every single-edit variant of ``manifest`` (outside ``status``) the schema's keywords suggest."""
    base = copy.deepcopy(dict(manifest))
    nodes = [(p, s, v) for p, s, v in walk(schema, base) if p[:1] != ("status",) and p[:1] != ("metadata",)]
    for path, node, value in nodes:
        if path in ((), ("apiVersion",), ("kind",)):
            continue
        for operator, replacement in _edits(node, value):
            yield Mutant(operator, path, _replaced(base, path, replacement))
        yield Mutant("null", path, _replaced(base, path, None))
        if isinstance(value, dict):
            if _refuses(node):
                yield Mutant("undeclared", path, _replaced(base, (*path, UNDECLARED_KEY), 1))
            properties: Mapping[str, Schema] = node.get("properties") or {}
            for name in node.get("required") or ():
                if name in value:
                    yield Mutant("required", (*path, name), _replaced(base, (*path, name), _DELETE))
            for name, sub in properties.items():
                refusals = [r for r in sub.get("x-kubernetes-validations") or () if str(r.get("rule")) == "false"]
                if refusals and name not in value:
                    yield Mutant("unimplemented", (*path, name), _replaced(base, (*path, name), _typed_sample(sub)))
    yield Mutant("undeclared", ("metadata",), _replaced(base, ("metadata", UNDECLARED_KEY), "x"))
    yield Mutant("name", ("metadata", "name"), _replaced(base, ("metadata", "name"), "Not_A_Name"))


def distinct_mutants(
    bases: Iterable[tuple[str, Mapping[str, Any]]], schema_of: Callable[[str], Schema]
) -> list[tuple[str, list[Mutant]]]:
    """Per named base manifest, its mutants -- each (kind, schema node, operator) once over all bases, so the set
    grows with how much of the schemas the bases reach, not with how many bases there are."""
    seen: set[tuple[str, str, str]] = set()
    cases = []
    for name, manifest in bases:
        kind = str(manifest["kind"])
        chosen = []
        for mutant in mutants(schema_of(kind), manifest):
            location = ".".join("[]" if isinstance(key, int) else key for key in mutant.path)
            if (kind, location, mutant.operator) not in seen:
                seen.add((kind, location, mutant.operator))
                chosen.append(mutant)
        if chosen:
            cases.append((name, chosen))
    return cases


def _replaced(manifest: dict[str, Any], path: KeyPath, replacement: Any) -> dict[str, Any]:
    changed = copy.deepcopy(manifest)
    parent: Any = changed
    for key in path[:-1]:
        parent = parent.setdefault(key, {}) if isinstance(parent, dict) else parent[key]
    if replacement is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return changed
