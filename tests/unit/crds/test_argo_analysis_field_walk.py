"""Every field path of Argo's published analysis CRDs (v1.10.1, pinned) is implemented or refused by name.

Walks ``analysis-template-crd.yaml``, ``cluster-analysis-template-crd.yaml`` and ``analysis-run-crd.yaml`` as
fetched by ``tools/cluster/crds/fetch.sh`` (the Rollout CRD has its own walk, ``test_argo_field_walk.py``) and sorts
each path into one of:

- **implemented** -- our generated schema of the kind (``tools/crdgen/analysis.py``) declares it and does not refuse
  it, or it lies inside a Kubernetes type we keep whole (a job metric's JobSpec, a web metric's ``jsonBody``); the
  analysis parser (:mod:`analysis.spec`) reads it: set on a parsed object it is never an unknown or refused field;
- **refused** -- it (or an ancestor) is in :data:`analysis.refused.REFUSED`: the parser reports it at its path (and
  our own CRD refuses it too);
- **status written** / **status not written** -- an AnalysisRun status field our status encoder writes, or one of
  :data:`STATUS_NOT_WRITTEN` (a field of an Argo feature we refuse).

A path in none of these fails the test: a field added by a later Argo release cannot slip through silently. Every
other CRD Argo publishes is a kind we do not serve (:data:`NOT_SERVED`), and drop-in mode does not install it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from analysis.assess import AnalysisPhase, Measurement, MetricResult, RunAssessment
from analysis.errors import SpecError
from analysis.refused import REFUSED
from analysis.spec import parse_run_spec, parse_template_manifest
from analysis.status import encode_run_status
from rollouts.kube.install import ARGO_SERVED_CRDS
from tests.support.argo_crds import (
    ancestors,
    argo_crd,
    argo_crd_dir,
    opaque,
    refused_by_schema,
    schema_of,
    walk,
    with_field,
)
from tools.crdgen.analysis import analysis_run_crd, analysis_template_crd, cluster_analysis_template_crd
from workflows.errors import FieldIssue

DOC = Path(__file__).resolve().parents[3] / "docs" / "argo-fields.md"

#: Argo's published CRDs of kinds we do not serve: never installed, their objects never read.
NOT_SERVED = {"experiment-crd.yaml": "Experiment"}

#: AnalysisRun status fields Argo has and we never write, with why.
STATUS_NOT_WRITTEN = {
    "status.metricResults[].consecutiveSuccess": "counts toward consecutiveSuccessLimit, which is refused",
    "status.metricResults[].metadata": "provider state Argo keeps per metric (metric plugins); none of ours needs it",
}

_METRIC = {"name": "up", "provider": {"prometheus": {"address": "http://prometheus:9090", "query": "up"}}}


def _parse_template(body: Mapping[str, Any]) -> None:
    parse_template_manifest(body)


def _parse_run(body: Mapping[str, Any]) -> None:
    parse_run_spec(body["spec"])


@dataclass(frozen=True)
class Kind:
    name: str
    argo_file: str
    ours: Callable[[], Mapping[str, Any]]
    parse: Callable[[Mapping[str, Any]], None]

    @property
    def base(self) -> dict[str, Any]:
        """The smallest object of this kind that parses, as Argo's CRD serves it."""
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": self.name,
            "metadata": {"name": "analysis", "namespace": "default"},
            "spec": {"metrics": [dict(_METRIC)]},
        }

    def issues(self, body: Mapping[str, Any]) -> tuple[FieldIssue, ...]:
        try:
            self.parse(body)
        except SpecError as error:
            return tuple(error.issues)
        return ()


KINDS = (
    Kind("AnalysisTemplate", "analysis-template-crd.yaml", analysis_template_crd, _parse_template),
    Kind(
        "ClusterAnalysisTemplate", "cluster-analysis-template-crd.yaml", cluster_analysis_template_crd, _parse_template
    ),
    Kind("AnalysisRun", "analysis-run-crd.yaml", analysis_run_crd, _parse_run),
)
_IDS = [kind.name for kind in KINDS]


def _encoded_paths(value: object, path: str) -> Iterator[str]:
    yield path
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _encoded_paths(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _encoded_paths(item, f"{path}[]")


def written_status_paths() -> set[str]:
    """Every path of an AnalysisRun status our encoder writes, with every optional field set."""
    at = datetime(2025, 1, 1, tzinfo=UTC)
    measurement = Measurement(
        phase=AnalysisPhase.SUCCESSFUL,
        started_at=at,
        finished_at=at,
        value="[1]",
        message="m",
        resume_at=at,
        metadata={"key": "value"},
    )
    result = MetricResult(
        name="up", phase=AnalysisPhase.SUCCESSFUL, measurements=(measurement,), count=1, message="m", dry_run=True
    )
    assessment = RunAssessment(phase=AnalysisPhase.SUCCESSFUL, message="done", metrics={}, terminating=False)
    status = encode_run_status(
        metric_names=["up"], results={"up": result}, assessment=assessment, started_at=at, completed_at=at
    )
    return set(_encoded_paths(status, "status"))


def classify(path: str, ours: Mapping[str, Mapping[str, Any]], written: set[str]) -> str | None:
    """implemented | refused | status-written | status-not-written, or None when the path is in no category."""
    if path == "status" or path.startswith("status."):
        if path in written:
            return "status-written"
        return "status-not-written" if path in STATUS_NOT_WRITTEN else None
    chain = list(ancestors(path))
    if any(a in REFUSED for a in chain):
        return "refused"
    for ancestor in chain:
        schema = ours.get(ancestor)
        if schema is None:
            continue
        if refused_by_schema(schema):
            return "refused-by-schema-only"
        if ancestor != path and opaque(schema):
            return "implemented"  # a Kubernetes type or a JSON body kept whole
    return "implemented" if path in ours else None


@dataclass(frozen=True)
class Walked:
    kind: Kind
    paths: dict[str, str | None]  # Argo path -> classify()
    ours: dict[str, Mapping[str, Any]]


@pytest.fixture(scope="module", params=KINDS, ids=_IDS)
def walked(request: pytest.FixtureRequest) -> Walked:
    kind: Kind = request.param
    ours = dict(walk(schema_of(kind.ours())))
    written = written_status_paths()
    argo = [path for path, _ in walk(schema_of(argo_crd(kind.argo_file)))]
    return Walked(kind, {path: classify(path, ours, written) for path in argo}, ours)


def test_every_argo_analysis_field_is_implemented_or_refused(walked: Walked) -> None:
    assert len(walked.paths) > 900  # the whole published schema was read (the job's pod template included)
    unknown = sorted(path for path, verdict in walked.paths.items() if verdict is None)
    assert unknown == [], f"{walked.kind.name}: Argo fields neither implemented nor refused: {unknown}"
    schema_only = sorted(path for path, verdict in walked.paths.items() if verdict == "refused-by-schema-only")
    assert schema_only == [], "refused by our CRD only (drop-in mode serves Argo's; add to analysis.refused)"
    assert walked.paths["spec.metrics[].provider.prometheus.query"] == "implemented"
    assert walked.paths["spec.metrics[].provider.datadog"] == "refused"


def test_our_crd_and_the_parser_refuse_the_same_spec_fields(walked: Walked) -> None:
    by_schema = {path for path, schema in walked.ours.items() if refused_by_schema(schema)}
    in_kind = {pattern for pattern in REFUSED if pattern in walked.paths}
    assert by_schema == in_kind


def test_the_parser_reads_every_implemented_field(walked: Walked) -> None:
    """Set on an object, an implemented field is never an unknown or refused field to the parser (it may still be
    a wrong value: the walk sets each to ``{"any": "value"}``)."""
    kind, refusals = walked.kind, ("unknown field", "unknown provider", "not supported")
    kept_whole = {path for path, schema in walked.ours.items() if opaque(schema)}
    checked = 0
    for path, verdict in walked.paths.items():
        if verdict != "implemented" or path in ("apiVersion", "kind", "metadata", "spec"):
            continue
        if any(a in kept_whole for a in ancestors(path) if a != path):
            continue  # inside a JobSpec or a JSON body: the provider passes it on as written
        body, concrete = with_field(kind.base, path)
        refused = [i for i in kind.issues(body) if i.path == concrete and i.message.startswith(refusals)]
        assert refused == [], f"{kind.name} {path}"
        checked += 1
    assert checked > 50


@pytest.mark.parametrize("kind", KINDS, ids=_IDS)
def test_the_base_objects_parse(kind: Kind) -> None:
    assert kind.issues(kind.base) == ()


@pytest.mark.parametrize(
    ("kind", "pattern"),
    [
        pytest.param(kind, pattern, id=f"{kind.name}-{pattern}")
        for kind in KINDS
        for pattern in sorted(REFUSED)
        if not (kind.name == "AnalysisRun" and pattern == "spec.templates")  # Argo's runs have no templates
    ],
)
def test_each_refused_field_is_reported_by_its_path(kind: Kind, pattern: str) -> None:
    body, path = with_field(kind.base, pattern)
    messages = [issue.message for issue in kind.issues(body) if issue.path == path]
    assert len(messages) == 1, messages
    assert messages[0].startswith(f"not supported: {REFUSED[pattern]}")


@pytest.mark.parametrize("provider", ["prometheus", "web"])
def test_an_authentication_argo_left_unset_is_no_authentication(provider: str) -> None:
    # Argo's controller writes Go structs it never set as {} on the AnalysisRuns it creates.
    [kind] = [kind for kind in KINDS if kind.name == "AnalysisRun"]
    body = kind.base
    body["spec"]["metrics"][0]["provider"] = {provider: {"url": "http://x", "query": "up"}}
    del body["spec"]["metrics"][0]["provider"][provider]["query" if provider == "web" else "url"]
    body["spec"]["metrics"][0]["provider"][provider]["authentication"] = {"oauth2": {}, "sigv4": {}}
    assert kind.issues(body) == ()


def test_every_published_argo_crd_is_walked_or_not_served() -> None:
    published = {path.name for path in argo_crd_dir().glob("*-crd.yaml")}
    walked = {"rollout-crd.yaml", *(kind.argo_file for kind in KINDS)}
    assert set(ARGO_SERVED_CRDS) == walked
    assert published == walked | set(NOT_SERVED)
    assert not walked & set(NOT_SERVED)


def test_the_docs_table_lists_every_field_of_the_walk(walked: Walked) -> None:
    """Every refused entry, every status field not written, and every implemented field outside the subtrees kept
    whole (a JobSpec, a JSON body) and the refused ones has a row in "Analysis kinds"."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Analysis kinds") :]
    skipped = {path for path, schema in walked.ours.items() if opaque(schema)} | set(REFUSED)
    rows = [
        path
        for path, verdict in walked.paths.items()
        if verdict in ("implemented", "refused", "status-not-written")
        and not any(a in skipped for a in ancestors(path) if a != path)
        and path not in ("apiVersion", "kind", "metadata", "spec")
    ]
    missing = [path for path in rows if f"`{path}`" not in section]
    assert missing == [], f"docs/argo-fields.md (Analysis kinds) does not list {missing}"


def test_the_docs_say_which_kinds_are_not_served() -> None:
    text = DOC.read_text(encoding="utf-8")
    for kind in NOT_SERVED.values():
        assert f"{kind}s are not served" in text
