"""Argo Rollouts' published CRDs (v1.10.1, fetched by ``tools/cluster/crds/fetch.sh``) as field paths, for the walks
that prove every Argo field is implemented or refused (``tests/unit/crds/test_argo_*field_walk.py``).

Paths: ``.`` between properties, ``[]`` for list items, ``.*`` for map values (``spec.metrics[].provider.web.url``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.support.components import unavailable
from tools.crdgen.schema import UNSUPPORTED_RULE

__all__ = ["ancestors", "argo_crd", "argo_crd_dir", "opaque", "refused_by_schema", "schema_of", "walk", "with_field"]


def argo_crd_dir() -> Path:
    """The directory of Argo's published CRDs (``<kind>-crd.yaml``), fetched on first use, or :func:`unavailable`."""
    from rollouts.kube.install import RoutingCrdsUnavailableError, fetch_routing_crds

    try:
        return fetch_routing_crds() / "argo-rollouts"
    except RoutingCrdsUnavailableError as error:
        unavailable(str(error))


def argo_crd(file_name: str) -> dict[str, Any]:
    """One of Argo's published CRDs (``rollout-crd.yaml``, ``analysis-run-crd.yaml``, ...), or :func:`unavailable`."""
    manifest = argo_crd_dir() / file_name
    if not manifest.is_file():
        unavailable(f"{manifest} is missing: run tools/cluster/crds/fetch.sh")
    crd: dict[str, Any] = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    return crd


def schema_of(crd: Mapping[str, Any]) -> Mapping[str, Any]:
    """The storage version's ``openAPIV3Schema``."""
    [version] = [v for v in crd["spec"]["versions"] if v.get("storage", True)][:1]
    schema: Mapping[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def walk(schema: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """``(path, schema)`` of every field, parents before children."""
    for key, child in (schema.get("properties") or {}).items():
        child_path = f"{path}.{key}" if path else key
        yield child_path, child
        yield from walk(child, child_path)
    if isinstance(schema.get("items"), Mapping):
        yield from walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), Mapping):
        yield from walk(schema["additionalProperties"], f"{path}.*")


def ancestors(path: str) -> Iterator[str]:
    """``a.b[].c`` -> ``a``, ``a.b``, ``a.b[]``, ``a.b[].c`` (shortest first)."""
    for index, char in enumerate(path):
        if char == "." or (char == "[" and path[index : index + 2] == "[]"):
            yield path[:index]
        if char == "]":
            yield path[: index + 1]
    yield path


def refused_by_schema(schema: Mapping[str, Any]) -> bool:
    """Declared by our generated CRD only to be refused (``tools.crdgen.schema.unsupported``)."""
    return any(rule.get("rule") == UNSUPPORTED_RULE for rule in schema.get("x-kubernetes-validations") or [])


def opaque(schema: Mapping[str, Any]) -> bool:
    """A node whose inside our CRD keeps whole (a Kubernetes type such as a pod template, a JobSpec)."""
    return bool(schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("x-kubernetes-embedded-resource"))


def with_field(base: Mapping[str, Any], path: str, value: object = None) -> tuple[dict[str, Any], str]:
    """A copy of ``base`` with the field at ``path`` set to ``value`` (default ``{"any": "value"}``), and its
    concrete path: each ``[]`` appends one more item to that list (``spec.metrics[]`` -> ``spec.metrics[1]``)."""
    body = copy.deepcopy(dict(base))
    segments = path.split(".")
    node: Any = body
    concrete: list[str] = []
    for segment in segments[:-1]:
        if segment.endswith("[]"):
            items = node.setdefault(segment[:-2], [])
            items.append({})
            concrete.append(f"{segment[:-2]}[{len(items) - 1}]")
            node = items[-1]
        else:
            node = node.setdefault(segment, {})
            concrete.append(segment)
    node[segments[-1]] = {"any": "value"} if value is None else value
    concrete.append(segments[-1])
    return body, ".".join(concrete)
