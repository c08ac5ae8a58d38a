"""Manifests against the schemas, checked locally: the Argo corpus, hand-made invalid objects and defaults.

The same tables run against the real API server in tests/integration/crds/test_apiserver.py.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.support.crd_validator import apply_defaults, as_our_path, root_schema, validate_object
from tests.support.crds import (
    CORPUS_DOCUMENTS,
    CORPUS_REFUSALS,
    DEFAULT_CASES,
    INVALID_CASES,
    SUPPORTED,
    UNSUPPORTED,
    VALID_MANIFESTS,
    CorpusDocument,
    DefaultCase,
    InvalidCase,
    dig,
    without_defaults_fields,
)
from workflows.model.schema import validate


def test_corpus_is_present_and_classified() -> None:
    """A missing corpus must fail, not quietly parametrize nothing; every refusal entry names a real document."""
    assert len(CORPUS_DOCUMENTS) >= 40
    assert {d.manifest["kind"] for d in SUPPORTED} == {
        "Rollout",
        "AnalysisTemplate",
        "ClusterAnalysisTemplate",
        "Workflow",
        "WorkflowTemplate",
    }
    assert set(CORPUS_REFUSALS) <= {d.case_id for d in CORPUS_DOCUMENTS}


@pytest.mark.parametrize("document", SUPPORTED, ids=lambda d: d.case_id)
def test_supported_corpus_manifest_is_accepted(crds: dict[str, dict[str, Any]], document: CorpusDocument) -> None:
    errors = validate_object(crds[document.manifest["kind"]], document.manifest)
    assert errors == [], "\n".join(map(str, errors))


@pytest.mark.parametrize("document", UNSUPPORTED, ids=lambda d: d.case_id)
def test_unsupported_corpus_manifest_is_refused_at_the_feature(
    crds: dict[str, dict[str, Any]], document: CorpusDocument
) -> None:
    errors = validate_object(crds[document.manifest["kind"]], document.manifest)
    paths = {e.path for e in errors}
    for expected in CORPUS_REFUSALS[document.case_id]:
        assert expected in paths, f"{expected} not among {sorted(paths)}"
    # Nothing but the unsupported features themselves is reported: the rest of the manifest is fine.
    assert paths <= set(CORPUS_REFUSALS[document.case_id])


@pytest.mark.parametrize("name", sorted(VALID_MANIFESTS))
def test_minimal_manifests_are_valid(crds: dict[str, dict[str, Any]], name: str) -> None:
    manifest = VALID_MANIFESTS[name]()
    errors = validate_object(crds[manifest["kind"]], manifest)
    assert errors == [], "\n".join(map(str, errors))


@pytest.mark.parametrize("case", INVALID_CASES, ids=lambda c: c.case_id)
def test_invalid_manifest_is_refused_with_path_and_message(crds: dict[str, dict[str, Any]], case: InvalidCase) -> None:
    manifest = case.build()
    errors = validate_object(crds[manifest["kind"]], manifest)
    matching = [e for e in errors if e.path == as_our_path(case.path) and case.message in e.message]
    assert matching, f"expected {case.path}: ...{case.message}... in\n" + "\n".join(map(str, errors))


@pytest.mark.parametrize("case", DEFAULT_CASES, ids=lambda c: c.case_id)
def test_schema_defaults(crds: dict[str, dict[str, Any]], case: DefaultCase) -> None:
    manifest = case.build()
    with pytest.raises((KeyError, IndexError)):
        dig(manifest, case.path)  # the case really omits the field
    defaulted = apply_defaults(root_schema(crds[manifest["kind"]]), manifest)
    assert dig(defaulted, case.path) == case.expected


@pytest.mark.parametrize(
    ("build", "path"), [pytest.param(build, path, id=case_id) for case_id, build, path in without_defaults_fields()]
)
def test_engine_defaults_are_not_schema_defaults(
    crds: dict[str, dict[str, Any]], build: Any, path: tuple[str | int, ...]
) -> None:
    manifest = build()
    defaulted = apply_defaults(root_schema(crds[manifest["kind"]]), manifest)
    with pytest.raises((KeyError, IndexError)):
        dig(defaulted, path)


def test_explicit_values_win_over_defaults(crds: dict[str, dict[str, Any]]) -> None:
    manifest = VALID_MANIFESTS["canary"]()
    manifest["spec"]["revisionHistoryLimit"] = 2
    defaulted = apply_defaults(root_schema(crds["Rollout"]), manifest)
    assert defaulted["spec"]["revisionHistoryLimit"] == 2
    assert manifest == VALID_MANIFESTS["canary"]() | {"spec": manifest["spec"]}  # input not mutated


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (10, True),
        ("10", True),
        ("30s", True),
        ("1h30m", True),
        ("1.5h", True),
        ("500ms", True),
        ("soon", False),
        ("10 s", False),
        ("-5s", False),
        ("", False),
    ],
)
def test_pause_duration_grammar(crds: dict[str, dict[str, Any]], value: object, ok: bool) -> None:
    manifest = VALID_MANIFESTS["canary"]()
    manifest["spec"]["strategy"]["canary"]["steps"] = [{"pause": {"duration": value}}]
    errors = validate_object(crds["Rollout"], manifest)
    assert (errors == []) is ok, errors


@pytest.mark.parametrize(
    ("surge", "unavailable", "ok"),
    [
        (1, 0, True),
        ("25%", "25%", True),
        (0, 1, True),
        ("0%", 2, True),
        (0, 0, False),
        ("0%", "0", False),
        ("0", "0%", False),
        ("five", 1, False),
        (-1, 1, False),
    ],
)
def test_max_surge_and_unavailable(
    crds: dict[str, dict[str, Any]], surge: object, unavailable: object, ok: bool
) -> None:
    manifest = VALID_MANIFESTS["canary"]()
    manifest["spec"]["strategy"]["canary"].update(maxSurge=surge, maxUnavailable=unavailable)
    errors = validate_object(crds["Rollout"], manifest)
    assert (errors == []) is ok, errors


def test_workload_ref_replaces_selector_and_template(crds: dict[str, dict[str, Any]]) -> None:
    manifest = VALID_MANIFESTS["canary"]()
    del manifest["spec"]["selector"], manifest["spec"]["template"]
    manifest["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    assert validate_object(crds["Rollout"], manifest) == []


def test_gateway_api_plugin_spelling_is_accepted(crds: dict[str, dict[str, Any]]) -> None:
    manifest = VALID_MANIFESTS["routed-canary"]()
    routing = manifest["spec"]["strategy"]["canary"]["trafficRouting"]
    del routing["nginx"]
    routing["plugins"] = {"argoproj-labs/gatewayAPI": {"httpRoute": "web", "namespace": "default"}}
    assert validate_object(crds["Rollout"], manifest) == []
    routing["gatewayAPI"] = {"httpRoute": "web"}
    paths = {e.path for e in validate_object(crds["Rollout"], manifest)}
    assert "spec.strategy.canary.trafficRouting.plugins" in paths


def test_istio_subset_routing_needs_no_services(crds: dict[str, dict[str, Any]]) -> None:
    manifest = VALID_MANIFESTS["canary"]()
    manifest["spec"]["strategy"]["canary"]["trafficRouting"] = {
        "istio": {
            "virtualService": {"name": "vs", "routes": ["primary"]},
            "destinationRule": {"name": "dr", "canarySubsetName": "canary", "stableSubsetName": "stable"},
        }
    }
    assert validate_object(crds["Rollout"], manifest) == []


def test_metric_dependencies_and_workflow_provider(crds: dict[str, dict[str, Any]]) -> None:
    """Our extensions: a metric may wait for others and may run a WorkflowTemplate."""
    manifest = VALID_MANIFESTS["analysis-template"]()
    smoke = {
        "name": "smoke",
        "provider": {
            "workflow": {
                "templateRef": {"name": "smoke-tests"},
                "arguments": {"parameters": [{"name": "url", "value": "{{args.service}}"}]},
            }
        },
    }
    manifest["spec"]["metrics"].insert(0, smoke)
    manifest["spec"]["metrics"][1]["dependencies"] = ["smoke"]
    assert validate_object(crds["AnalysisTemplate"], manifest) == []
    manifest["spec"]["metrics"][0]["dependencies"] = ["smoke"]
    paths = {e.path for e in validate_object(crds["AnalysisTemplate"], manifest)}
    assert "spec.metrics[0].dependencies" in paths


def test_placeholders_are_accepted_where_argo_resolves_them(crds: dict[str, dict[str, Any]]) -> None:
    manifest = VALID_MANIFESTS["analysis-template"]()
    metric = manifest["spec"]["metrics"][0]
    metric.update(count="{{args.count}}", failureLimit="{{args.limit}}", interval="{{args.interval}}")
    assert validate_object(crds["AnalysisTemplate"], manifest) == []


def test_unknown_fields_are_reported_by_name(crds: dict[str, dict[str, Any]]) -> None:
    """With strict field validation (kubectl's default) a typo is refused, not silently pruned."""
    manifest = copy.deepcopy(VALID_MANIFESTS["canary"]())
    manifest["spec"]["strategy"]["canary"]["stepz"] = []
    paths = {e.path for e in validate_object(crds["Rollout"], manifest)}
    assert paths == {"spec.strategy.canary.stepz"}


def test_status_accepts_what_the_controller_writes(crds: dict[str, dict[str, Any]]) -> None:
    status = {
        "phase": "Paused",
        "message": "CanaryPauseStep",
        "observedGeneration": 3,
        "currentStepIndex": 1,
        "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-01-01T00:00:00Z"}],
        "conditions": [{"type": "Progressing", "status": "True", "reason": "RolloutPaused", "message": "x" * 10000}],
        "canary": {"weights": {"canary": {"weight": 20}, "stable": {"weight": 80}}},
        "selector": "app=demo",
        "replicas": 5,
    }
    schema = root_schema(crds["Rollout"])["properties"]["status"]
    assert validate(schema, status, path="status").items == []
