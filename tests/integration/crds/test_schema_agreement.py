"""The offline validator agrees with the real API server: same objects accepted, same refused, at the same paths.

:mod:`workflows.model.schema` exists so that drop-in mode (Argo's loose CRDs) and ``kubectl rollouts lint`` enforce
exactly what our CRDs enforce. The proof is here: our CRDs installed on the local cluster, and for every manifest a
server-side dry-run create with ``fieldValidation=Strict`` (what kubectl does by default), compared with the offline
verdict on the same object. The manifests:

- every document of our kinds in the shared Argo corpus (apiVersion switched), accepted or refused;
- the CRD case tables (minimal valid manifests, one-rule-broken manifests), the demo's manifests and the test
  builders' manifests;
- deliberate breakage: every single-keyword mutant of those (:func:`tests.support.schema_cases.mutants`: undeclared
  fields, wrong types, enums, patterns, bounds, formats, required fields, nulls, duplicates, unimplemented
  features), one per schema node and keyword, plus hypothesis-generated specs for every kind.

Both judge the object the server validates, i.e. with the schema's defaults applied (:func:`our_issues`). How
verdicts compare (:func:`disagreement`): accepted by one means accepted by the other. When the server refuses at
strict decoding (400, it then validates nothing else), the undeclared fields it names are exactly ours. When it
refuses at validation (422), its field paths are exactly ours -- except when it skipped its CEL rules because of a
blocking error ("some validation rules were not checked"): ours must then include its paths (we still evaluate the
rules that do not read the broken value, so we may name more).
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.demo.manifests import Timing
from rollouts.demo.manifests import analysis_template as demo_analysis_template
from rollouts.demo.manifests import rollout as demo_rollout
from tests.support import analysis_manifests, cluster_rollouts, routing, workflows
from tests.support.crd_validator import apply_defaults, as_our_path
from tests.support.crds import CORPUS_DOCUMENTS, INVALID_CASES, VALID_MANIFESTS
from tests.support.schema_cases import distinct_mutants, instances
from workflows.api import API_VERSION
from workflows.errors import FieldIssue
from workflows.model.schema import RULES_NOT_CHECKED, UNDECLARED, validate_object
from workflows.runtime.crds import openapi_schema
from workflows.runtime.kube import ApiError, Kube, resource_for

NAMESPACE = "default"  # dry runs store nothing
KINDS = ("Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Workflow", "WorkflowTemplate")


# --------------------------------------------------------------------------------------------------------------
# The two judges


@dataclass(frozen=True)
class ServerVerdict:
    accepted: bool
    strict: frozenset[str] = frozenset()  # undeclared fields named by strict decoding (then nothing else is checked)
    paths: frozenset[str] = frozenset()  # field paths of a validation refusal
    rules_skipped: bool = False
    text: str = ""


_UNKNOWN_FIELD = re.compile(r'unknown field "([^"]+)"')
_CHECKED_FORMAT = re.compile(r"Checked value must be of type \w+ with format \w+ in (\S+)")


def server_verdict(kube: Kube, manifest: Mapping[str, Any]) -> ServerVerdict:
    resource = resource_for(API_VERSION, str(manifest["kind"]))
    try:
        kube.create(
            resource, manifest, NAMESPACE if resource.namespaced else None, dry_run=True, field_validation="Strict"
        )
    except ApiError as error:
        if error.status == 400 and "strict decoding error" in error.message:
            return ServerVerdict(False, strict=frozenset(_UNKNOWN_FIELD.findall(error.message)), text=error.message)
        if error.status != 422:
            return ServerVerdict(False, text=f"{error.status}: {error.message}")
        paths: set[str] = set()
        skipped = False
        for cause in error.details.get("causes") or ():
            where, message = str(cause.get("field") or ""), str(cause.get("message") or "")
            if RULES_NOT_CHECKED in message:
                skipped = True
            elif "accessor error" in message:
                continue  # the scale subresource reading spec.replicas; refused by the schema anyway
            elif where == "<nil>":
                checked = _CHECKED_FORMAT.search(message)
                paths.add(checked[1] if checked else "<nil>")
            else:
                paths.add(as_our_path(where))
        return ServerVerdict(False, paths=frozenset(paths), rules_skipped=skipped, text=error.message)
    return ServerVerdict(True)


def our_issues(manifest: Mapping[str, Any]) -> list[FieldIssue]:
    """Our verdict on what the server validates: the object with the schema's defaults filled in (the validator itself
    never defaults; a rule reading a defaulted field, such as ``revisionHistoryLimit``, sees the default there)."""
    schema = openapi_schema(str(manifest["kind"]))
    return list(validate_object(schema, apply_defaults(schema, manifest)).items)


def disagreement(server: ServerVerdict, ours: list[FieldIssue]) -> str | None:
    """Why the two verdicts differ, or None when they agree (see the module docstring)."""
    undeclared = {issue.path for issue in ours if issue.message == UNDECLARED}
    others = {issue.path for issue in ours if issue.message not in (UNDECLARED, RULES_NOT_CHECKED)}
    if server.accepted or not ours:
        return None if server.accepted == (not ours) else "accepted by only one"
    if server.strict:
        return None if undeclared == server.strict else f"undeclared: server {sorted(server.strict)}"
    if undeclared:
        return f"we call {sorted(undeclared)} undeclared; the server decoded them"
    if not server.paths:
        return None  # refused before validation (a decoding error without a path): both refuse
    if server.rules_skipped:
        return None if server.paths <= others else f"server paths missing: {sorted(server.paths - others)}"
    return None if server.paths == others else f"paths: server {sorted(server.paths)}"


# --------------------------------------------------------------------------------------------------------------
# The manifests


def _prepared(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """As sent: no namespace of its own (the request's), a unique name (the cluster is shared)."""
    sent = copy.deepcopy(dict(manifest))
    metadata = sent.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("namespace", None)
        metadata.pop("uid", None)
        if isinstance(metadata.get("name"), str):
            metadata["name"] = f"{metadata['name'][:200]}-{uuid.uuid4().hex[:8]}"
    return sent


def _builders() -> dict[str, Callable[[], dict[str, Any]]]:
    """The demo's and the test builders' manifests (each a valid object of one of our kinds, or meant to be)."""
    timing = Timing.default()
    return {
        "demo-analysis-template": lambda: demo_analysis_template(
            namespace="demo", prometheus="http://prometheus:9090", timing=timing
        ),
        "demo-rollout": lambda: demo_rollout(namespace="demo", image="demo:1.0", timing=timing),
        "cluster-rollout-canary": lambda: cluster_rollouts.rollout(
            "web", strategy={"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}
        ),
        "cluster-rollout-blue-green": lambda: cluster_rollouts.rollout(
            "web", strategy={"blueGreen": {"activeService": "web-active", "autoPromotionEnabled": False}}
        ),
        "restarted-rollout": lambda: cluster_rollouts.rollout(
            "web", strategy={"canary": {}}, restartAt="2024-01-01T00:00:00Z"
        ),
        "routed-rollout-fragment": lambda: routing.rollout({"nginx": {"stableIngress": "web"}}),
        "job-template": lambda: analysis_manifests.job_template("check", exit_code=1, count=2),
        "analysis-run-mixed": lambda: analysis_manifests.analysis_run(
            "run",
            [
                analysis_manifests.web_metric("web", "http://127.0.0.1:1/x", successCondition="result == 1"),
                analysis_manifests.prometheus_metric("prom", "up", "http://127.0.0.1:9090"),
                analysis_manifests.job_metric("job"),
            ],
        ),
        "workflow-dag": lambda: workflows.workflow(
            [workflows.dag("main", [{"name": "a", "template": "work"}]), workflows.leaf()]
        ),
    }


def _edge_cases() -> dict[str, dict[str, Any]]:
    """What the mutants do not reach: formats at their edges, ObjectMeta, maps bounded in size, nulls in lists."""

    def canary(**spec: Any) -> dict[str, Any]:
        manifest = VALID_MANIFESTS["canary"]()
        manifest["spec"].update(spec)
        return manifest

    def routed(**routing: Any) -> dict[str, Any]:
        manifest = VALID_MANIFESTS["routed-canary"]()
        manifest["spec"]["strategy"]["canary"]["trafficRouting"] = routing
        return manifest

    cases = {
        f"restart-at-{text}": canary(restartAt=text)
        for text in (
            "2024-01-01t10:00:00z",
            "2024-01-01T10:00:00.123+02:00",
            "2024-01-01T23:59:59-00:00",
            "2024-01-01T24:00:00Z",
            "2024-01-01 10:00:00Z",
            "2024-01-01T10:00Z",
            "2024-1-01T10:00:00Z",
            "2024-02-29T10:00:00Z",
            "2023-02-29T10:00:00Z",
        )
    }
    cases |= {
        "replicas-int32-max": canary(replicas=2**31 - 1),
        "replicas-negative": canary(replicas=-1),
        "replicas-as-bool": canary(replicas=True),
        "two-plugins": routed(plugins={"argoproj-labs/gatewayAPI": {"httpRoute": "r"}, "other/x": {}}),
        "plugin-wrong-name": routed(plugins={"other/x": {"httpRoute": "r"}}),
        "null-in-string-list": {
            **VALID_MANIFESTS["analysis-template"](),
            "spec": {**VALID_MANIFESTS["analysis-template"]()["spec"], "args": [None]},
        },
        "generate-name-only": {**canary(), "metadata": {"generateName": "demo-"}},
        "no-name": {**canary(), "metadata": {}},
        "bad-generate-name": {**canary(), "metadata": {"generateName": "Demo_"}},
        "masked-generate-name": {**canary(), "metadata": {"generateName": "dem_-"}},
        "long-generate-name": {**canary(), "metadata": {"generateName": "g" * 70 + "-"}},
        "long-name": {**canary(), "metadata": {"name": "n" * 240}},
        "labels-not-strings": {**canary(), "metadata": {"name": "demo", "labels": {"a": 1}}},
        "template-with-status": {**VALID_MANIFESTS["analysis-template"](), "status": {"phase": "x"}},
        "no-metadata": {k: v for k, v in canary().items() if k != "metadata"},
    }
    return cases


def _bases() -> list[tuple[str, dict[str, Any]]]:
    bases = [(f"corpus:{d.case_id}", d.manifest) for d in CORPUS_DOCUMENTS]
    bases += [(f"valid:{name}", build()) for name, build in VALID_MANIFESTS.items()]
    bases += [(f"invalid:{case.case_id}", case.build()) for case in INVALID_CASES]
    bases += [(f"builder:{name}", build()) for name, build in _builders().items()]
    bases += [(f"edge:{name}", manifest) for name, manifest in _edge_cases().items()]
    return bases


BASES = _bases()


MUTANT_CASES = [
    (name, [(mutant.label, mutant.manifest) for mutant in chosen])
    for name, chosen in distinct_mutants(
        # the broken ones are broken already: mutate the valid, corpus and builder manifests
        [(name, manifest) for name, manifest in BASES if not name.startswith(("invalid:", "edge:"))],
        openapi_schema,
    )
]


# --------------------------------------------------------------------------------------------------------------
# The tests


@dataclass
class Tally:
    """What one test compared, for the report and the failure message."""

    compared: int = 0
    refused: int = 0
    disagreements: list[str] = field(default_factory=list)

    def check(self, kube: Kube, label: str, manifest: Mapping[str, Any]) -> None:
        sent = _prepared(manifest)
        server = server_verdict(kube, sent)
        ours = our_issues(sent)
        self.compared += 1
        self.refused += not server.accepted
        why = disagreement(server, ours)
        if why is not None:
            mine = "; ".join(map(str, ours)) or "accepted"
            theirs = "accepted" if server.accepted else server.text[:1500]
            self.disagreements.append(f"{label}: {why}\n    server: {theirs}\n    ours:   {mine[:1500]}")


def _assert_agree(tally: Tally) -> None:
    assert tally.compared, "nothing was compared"
    assert not tally.disagreements, "\n".join(tally.disagreements)


@pytest.mark.parametrize(("name", "manifest"), BASES, ids=[name for name, _ in BASES])
def test_each_manifest_is_judged_alike(
    kube_client: Kube, crds_installed: list[str], name: str, manifest: dict[str, Any]
) -> None:
    tally = Tally()
    tally.check(kube_client, name, manifest)
    _assert_agree(tally)


@pytest.mark.parametrize(("name", "cases"), MUTANT_CASES, ids=[name for name, _ in MUTANT_CASES])
def test_every_single_keyword_breakage_is_judged_alike(
    kube_client: Kube, crds_installed: list[str], name: str, cases: list[tuple[str, dict[str, Any]]]
) -> None:
    tally = Tally()
    for label, manifest in cases:
        tally.check(kube_client, f"{name} {label}", manifest)
    _assert_agree(tally)


def test_the_breakage_covers_every_keyword_our_crds_use() -> None:
    operators = {label.split("@")[0] for _, cases in MUTANT_CASES for label, _ in cases}
    assert operators >= {
        "undeclared", "type", "enum", "pattern", "minimum", "maximum", "int32", "date-time", "maxLength",
        "minLength", "duplicate", "maxItems", "null", "required", "unimplemented", "name",
    }  # fmt: skip
    assert sum(len(cases) for _, cases in MUTANT_CASES) > 300


def _spec_strategy(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    spec = openapi_schema(kind)["properties"]["spec"]
    return st.one_of(instances(spec), instances(spec, implemented_only=True)).map(
        lambda spec: {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": "generated"}, "spec": spec}
    )


@pytest.mark.parametrize("kind", KINDS)
def test_generated_specs_are_judged_alike(kube_client: Kube, crds_installed: list[str], kind: str) -> None:
    """Objects built from the schema's structure (CEL rules not honoured, so many are refused by a rule)."""
    tally = Tally()

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(_spec_strategy(kind))
    def judged_alike(manifest: dict[str, Any]) -> None:
        tally.check(kube_client, f"generated {kind}", manifest)

    judged_alike()
    _assert_agree(tally)
    print(f"{kind}: {tally.compared} generated objects, {tally.refused} refused by both")
