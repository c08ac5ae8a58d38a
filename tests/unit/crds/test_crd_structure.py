"""Every CRD is a valid structural schema with the names, subresources and columns clients rely on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.crd_validator import root_schema
from workflows.api import GROUP, VERSION
from workflows.model.schema import compile_rule, validate

KINDS = {
    "Rollout": ("rollouts", "ro", "Namespaced", True),
    "AnalysisTemplate": ("analysistemplates", "at", "Namespaced", False),
    "ClusterAnalysisTemplate": ("clusteranalysistemplates", "cat", "Cluster", False),
    "AnalysisRun": ("analysisruns", "ar", "Namespaced", True),
    "Workflow": ("workflows", "wf", "Namespaced", True),
    "WorkflowTemplate": ("workflowtemplates", "wftmpl", "Namespaced", False),
}
ALLOWED_REASONS = {"FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"}


def walk(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with a readable path (``.spec.strategy.canary.steps[]``)."""
    yield path, schema
    for key, sub in schema.get("properties", {}).items():
        yield from walk(sub, f"{path}.{key}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], f"{path}[*]")
    if "items" in schema:
        yield from walk(schema["items"], f"{path}[]")


def all_nodes(crds: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for kind, crd in crds.items():
        for path, node in walk(root_schema(crd)):
            yield kind, path, node


def test_exactly_the_six_kinds_are_defined(crds: dict[str, dict[str, Any]]) -> None:
    assert set(crds) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_names_scope_and_categories(crds: dict[str, dict[str, Any]], kind: str) -> None:
    plural, short_name, scope, _ = KINDS[kind]
    spec = crds[kind]["spec"]
    assert crds[kind]["metadata"]["name"] == f"{plural}.rollouts.dev"
    assert spec["group"] == GROUP
    assert spec["scope"] == scope
    assert spec["names"]["plural"] == plural
    assert spec["names"]["shortNames"] == [short_name]
    assert spec["names"]["categories"] == ["rollouts"]
    (version,) = spec["versions"]
    assert version["name"] == VERSION
    assert version["served"] is True
    assert version["storage"] is True


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_status_subresource_on_all_but_templates(crds: dict[str, dict[str, Any]], kind: str) -> None:
    has_status = KINDS[kind][3]
    (version,) = crds[kind]["spec"]["versions"]
    properties = root_schema(crds[kind])["properties"]
    assert ("status" in version.get("subresources", {})) is has_status
    assert ("status" in properties) is has_status


def test_rollout_scale_subresource_points_at_declared_fields(crds: dict[str, dict[str, Any]]) -> None:
    (version,) = crds["Rollout"]["spec"]["versions"]
    scale = version["subresources"]["scale"]
    assert scale == {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.HPAReplicas",
        "labelSelectorPath": ".status.selector",
    }
    properties = root_schema(crds["Rollout"])["properties"]
    assert properties["spec"]["properties"]["replicas"]["type"] == "integer"
    assert properties["status"]["properties"]["replicas"]["type"] == "integer"
    assert properties["status"]["properties"]["selector"]["type"] == "string"


@pytest.mark.parametrize(
    ("kind", "columns"),
    [
        ("Rollout", ["Desired", "Current", "Up-to-date", "Available", "Phase", "Step", "Age"]),
        ("AnalysisRun", ["Phase", "Age"]),
        ("Workflow", ["Phase", "Progress", "Message", "Age"]),
    ],
)
def test_printer_columns(crds: dict[str, dict[str, Any]], kind: str, columns: list[str]) -> None:
    (version,) = crds[kind]["spec"]["versions"]
    assert [c["name"] for c in version["additionalPrinterColumns"]] == columns


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_printer_columns_read_declared_fields(crds: dict[str, dict[str, Any]], kind: str) -> None:
    (version,) = crds[kind]["spec"]["versions"]
    declared = {path for path, _ in walk(root_schema(crds[kind]))}
    for column in version["additionalPrinterColumns"]:
        if column["jsonPath"].startswith(".metadata."):
            continue
        assert column["jsonPath"] in declared, column


def test_every_node_is_typed(crds: dict[str, dict[str, Any]]) -> None:
    untyped = [
        f"{kind}{path}"
        for kind, path, node in all_nodes(crds)
        if "type" not in node
        and not node.get("x-kubernetes-int-or-string")
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ]
    assert untyped == []


def test_objects_declare_their_shape(crds: dict[str, dict[str, Any]]) -> None:
    """An object has properties, a value schema (a map) or explicitly preserves unknown fields -- never both
    properties and additionalProperties (not structural)."""
    problems = []
    for kind, path, node in all_nodes(crds):
        if node.get("type") != "object" or path == ".metadata":
            continue
        has_properties = "properties" in node
        has_additional = "additionalProperties" in node
        preserves = bool(node.get("x-kubernetes-preserve-unknown-fields"))
        if has_properties and has_additional:
            problems.append(f"{kind}{path}: properties with additionalProperties")
        if not (has_properties or has_additional or preserves):
            problems.append(f"{kind}{path}: object without shape")
    assert problems == []


def test_arrays_have_items(crds: dict[str, dict[str, Any]]) -> None:
    assert [f"{k}{p}" for k, p, n in all_nodes(crds) if n.get("type") == "array" and "items" not in n] == []


def test_int_or_string_nodes_carry_no_type(crds: dict[str, dict[str, Any]]) -> None:
    bad = [f"{k}{p}" for k, p, n in all_nodes(crds) if n.get("x-kubernetes-int-or-string") and "type" in n]
    assert bad == []


def test_required_fields_are_declared(crds: dict[str, dict[str, Any]]) -> None:
    bad = [
        f"{kind}{path}.{name}"
        for kind, path, node in all_nodes(crds)
        for name in node.get("required", [])
        if name not in node.get("properties", {})
    ]
    assert bad == []


def test_list_map_keys_are_required(crds: dict[str, dict[str, Any]]) -> None:
    """The API server refuses a list-map whose key fields are optional."""
    bad = [
        f"{kind}{path}"
        for kind, path, node in all_nodes(crds)
        if node.get("x-kubernetes-list-type") == "map"
        and not set(node["x-kubernetes-list-map-keys"]) <= set(node["items"].get("required", []))
    ]
    assert bad == []


def test_defaults_are_valid_against_their_own_schema(crds: dict[str, dict[str, Any]]) -> None:
    found = 0
    for kind, path, node in all_nodes(crds):
        if "default" in node:
            found += 1
            schema = {k: v for k, v in node.items() if k != "default"}
            assert validate(schema, node["default"], path=path).items == [], f"{kind}{path}"
    assert found >= 8  # revisionHistoryLimit, progressDeadlineSeconds, autoPromotionEnabled, ... are defaulted


def test_fail_fast_is_not_defaulted(crds: dict[str, dict[str, Any]]) -> None:
    """The engine defaults dag.failFast to true; a schema default would hide whether the user chose it."""
    for kind in ("Workflow", "WorkflowTemplate"):
        for path, node in walk(root_schema(crds[kind])):
            if path.endswith(".failFast"):
                assert "default" not in node, path


def test_cel_rules_compile_and_are_well_formed(crds: dict[str, dict[str, Any]]) -> None:
    count = 0
    for kind, path, node in all_nodes(crds):
        for entry in node.get("x-kubernetes-validations", []):
            count += 1
            compile_rule(entry["rule"])
            assert entry["message"], f"{kind}{path}: rule without message"
            assert entry.get("reason", "FieldValueInvalid") in ALLOWED_REASONS, f"{kind}{path}"
            field_path = entry.get("fieldPath")
            if field_path is not None:
                first = field_path.lstrip(".").split(".")[0]
                assert first in node.get("properties", {}), f"{kind}{path}: fieldPath {field_path} not declared"
    assert count > 30


def test_status_is_written_only_by_the_controller_so_never_bounded(crds: dict[str, dict[str, Any]]) -> None:
    """A status bound would turn a long message or node table into a failed status write, i.e. a retry loop."""
    for kind, crd in crds.items():
        status = root_schema(crd)["properties"].get("status")
        if status is None:
            continue
        for path, node in walk(status):
            assert "maxItems" not in node, f"{kind}.status{path}"
            assert "maxLength" not in node, f"{kind}.status{path}"
            # The only closed vocabulary in status is a condition's True/False/Unknown (metav1.Condition's own).
            assert "enum" not in node or path == ".conditions[].status", f"{kind}.status{path}"
