"""A create request without a cluster, for the unit tier: the schema's defaults applied, then the product's validator.

The API server defaults an object, then validates it. The validation is the product's own offline validator
(:mod:`workflows.model.schema`, which drop-in mode and ``kubectl rollouts lint`` use, and which
tests/integration/crds/test_schema_agreement.py holds against the real server); only the defaulting lives here,
because the product never defaults (it validates what was written). Errors carry the API server's field paths
(``spec.templates[1].script``), so the case tables hold against the real server in tests/integration/crds too; one
spelling differs, a map entry (``plugins.argoproj-labs/gatewayAPI``, where the server's CEL errors write
``plugins[argoproj-labs/gatewayAPI]``): :func:`as_our_path` reads a server path as ours.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from workflows.api import GROUP, VERSION
from workflows.errors import FieldIssue
from workflows.model.schema import validate_object as validate_resource
from workflows.runtime.crds import CRDS_DIR

Schema = dict[str, Any]


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


_MAP_KEY = re.compile(r"\[([^\]]*[^\]0-9][^\]]*)\]")


def as_our_path(path: str) -> str:
    """A field path as the API server prints it, as ours: no leading dot (CEL's), map entries as ``.key`` (CEL writes
    ``[key]``; list indexes stay ``[0]``), as the parsers write them."""
    return _MAP_KEY.sub(r".\1", path.lstrip("."))


def validate_object(crd: dict[str, Any], manifest: dict[str, Any]) -> list[FieldIssue]:
    """Default then validate a whole object, as a create request would be (its group and kind checked too)."""
    schema = root_schema(crd)
    errors = list(validate_resource(schema, apply_defaults(schema, manifest)).items)
    if manifest.get("apiVersion") != f"{GROUP}/{VERSION}":
        errors.append(FieldIssue("apiVersion", f"unexpected apiVersion {manifest.get('apiVersion')!r}"))
    if manifest.get("kind") != crd["spec"]["names"]["kind"]:
        errors.append(FieldIssue("kind", f"unexpected kind {manifest.get('kind')!r}"))
    return errors
