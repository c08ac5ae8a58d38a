"""Drop-in mode: our own CRD schema is the validator, since Argo's CRDs let the API server store what we do not
implement (fields Argo has, anything under what its CRDs leave open).

In ``ARGO`` mode every Rollout, AnalysisTemplate and AnalysisRun the controller reads is checked against our schema
(:class:`~workflows.runtime.crds.SchemaCheck`) once per generation, and each issue goes the parser's way: a Rollout's
``InvalidSpec`` condition and Warning Event, an AnalysisRun's phase ``Error``, with the field paths. In our own group
the API server already applied the schema and nothing is checked twice.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from analysis.controller import prepare_run
from analysis.errors import SpecError
from rollouts.act import apply_plan
from rollouts.controller.rollouts import Reconciler
from rollouts.core import InvalidSpecError, parse_rollout
from rollouts.core.actions import CreateAnalysisRun, EventType, Plan
from rollouts.core.observed import AnalysisKind
from workflows.api import ARGO, ROLLOUTS_DEV
from workflows.errors import FieldIssue, explained_first
from workflows.model.schema import RULES_NOT_CHECKED, UNDECLARED
from workflows.runtime.crds import SchemaCheck
from workflows.runtime.kube import Resource

BOGUS = "spec.strategy.canary.bogus"


def argo_rollout(*, generation: int = 1, uid: str = "u-1", **canary: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": uid,
            "generation": generation,
            "resourceVersion": "7",
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 50}], **canary}},
        },
        # status is the controllers' output (and Argo's, before a take-over): never judged by our schema
        "status": {"someArgoOnlyField": True, "phase": "Healthy"},
    }


def argo_template(**metric: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "rate", "namespace": "default", "uid": "t-1", "generation": 1},
        "spec": {
            "metrics": [
                {"name": "up", "provider": {"prometheus": {"address": "http://p:9090", "query": "up"}}, **metric}
            ]
        },
    }


# -- SchemaCheck ------------------------------------------------------------------------------------------------------


def test_in_argo_mode_an_undeclared_field_is_an_issue_at_its_path() -> None:
    check = SchemaCheck(ARGO)
    assert check.issues(argo_rollout(bogus=1)) == (FieldIssue(BOGUS, UNDECLARED),)
    assert check.issues(argo_rollout(uid="u-2")) == ()


def test_in_our_own_group_the_api_server_applied_the_schema_and_nothing_is_checked_again() -> None:
    check = SchemaCheck(ROLLOUTS_DEV)
    assert check.issues(argo_rollout(bogus=1)) == ()
    assert check.validations == 0


def test_an_authentication_argo_left_unset_is_no_authentication() -> None:
    # Argo's controller writes Go structs it never set as {} on the AnalysisRuns it creates.
    check = SchemaCheck(ARGO)
    unset = argo_template()
    unset["spec"]["metrics"][0]["provider"]["prometheus"]["authentication"] = {"oauth2": {}, "sigv4": {}}
    assert check.issues(unset) == ()
    configured = argo_template()
    configured["metadata"]["uid"] = "t-2"
    configured["spec"]["metrics"][0]["provider"]["prometheus"]["authentication"] = {"sigv4": {"region": "eu"}}
    assert [issue.path for issue in check.issues(configured)] == ["spec.metrics[0].provider.prometheus.authentication"]


def test_each_generation_is_validated_once() -> None:
    check = SchemaCheck(ARGO)
    for _ in range(5):
        assert check.issues(argo_rollout(bogus=1)) == (FieldIssue(BOGUS, UNDECLARED),)
    assert check.validations == 1
    assert check.issues(argo_rollout(generation=2)) == ()  # the field was removed: a new generation
    assert check.validations == 2
    check.forget("u-1")
    check.issues(argo_rollout(generation=2))
    assert check.validations == 3


def test_objects_without_uid_or_generation_are_validated_every_time_and_never_remembered() -> None:
    check = SchemaCheck(ARGO)
    body = argo_rollout(bogus=1)
    del body["metadata"]["uid"]
    check.issues(body)
    check.issues(body)
    assert check.validations == 2


def test_the_least_recently_read_objects_are_forgotten_beyond_capacity() -> None:
    check = SchemaCheck(ARGO, capacity=2)
    for uid in ("a", "b", "a", "c"):  # "b" is the least recently read when "c" arrives
        check.issues(argo_rollout(uid=uid))
    assert check.validations == 3
    check.issues(argo_rollout(uid="a"))
    assert check.validations == 3
    check.issues(argo_rollout(uid="b"))
    assert check.validations == 4


# -- the parser's InvalidSpec path ------------------------------------------------------------------------------------


def test_schema_issues_make_a_rollout_the_parser_accepts_invalid() -> None:
    body = argo_rollout(bogus=1)
    parse_rollout(body)  # alone, the parser would ignore the field
    with pytest.raises(InvalidSpecError) as raised:
        parse_rollout(body, schema_issues=SchemaCheck(ARGO).issues(body))
    assert raised.value.issues == (FieldIssue(BOGUS, UNDECLARED),)


def test_schema_issues_come_first_and_the_parsers_consequences_are_left_out() -> None:
    body = argo_rollout(bogus=1)
    body["spec"]["strategy"]["canary"]["steps"] = [{"setWeight": 50}, {"pause": {"duration": "soon"}}]
    body["spec"]["selector"] = {"matchLabels": {"app": "api"}}
    issues = SchemaCheck(ARGO).issues(body)
    paths = [issue.path for issue in issues]
    assert BOGUS in paths
    assert "spec.strategy.canary.steps[1].pause.duration" in paths
    with pytest.raises(InvalidSpecError) as raised:
        parse_rollout(body, schema_issues=issues)
    assert raised.value.issues[: len(issues)] == issues
    # the parser's own word on the duration is a consequence; its selector mismatch is news
    assert [issue.path for issue in raised.value.issues[len(issues) :]] == ["spec.selector"]


def test_a_value_that_trips_the_parser_is_reported_by_the_schema_instead() -> None:
    body = argo_rollout()
    body["spec"]["strategy"]["canary"]["steps"] = "all of them"
    issues = SchemaCheck(ARGO).issues(body)
    assert [issue.path for issue in issues] == ["spec.strategy.canary.steps", ""]
    assert issues[1].message == RULES_NOT_CHECKED
    with pytest.raises(InvalidSpecError) as raised:
        parse_rollout(body, schema_issues=issues)
    assert raised.value.issues == issues


def test_explained_first_keeps_unrelated_paths_only() -> None:
    first = [FieldIssue("spec.x", "a")]
    then = [
        FieldIssue("spec.x.y", "b"),
        FieldIssue("spec", "c"),
        FieldIssue("spec.xy", "d"),
        FieldIssue("spec.xy", "e"),
    ]
    assert explained_first(first, then) == (FieldIssue("spec.x", "a"), FieldIssue("spec.xy", "d"))


# -- the reconciler -------------------------------------------------------------------------------------------------


@dataclass
class FakeKube:
    """Just what an invalid Rollout's reconcile and an AnalysisRun's creation touch: GETs and recorded writes."""

    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    patches: list[tuple[str, str, Mapping[str, Any], str | None]] = field(default_factory=list)
    created: list[Mapping[str, Any]] = field(default_factory=list)

    def get(self, resource: Resource, name: str, namespace: str | None = None, **_: Any) -> dict[str, Any] | None:
        found = self.objects.get((resource.kind, name))
        return copy.deepcopy(found) if found is not None else None

    def patch(
        self, resource: Resource, name: str, patch: Mapping[str, Any], namespace: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        self.patches.append((resource.kind, name, patch, kw.get("subresource")))
        body = self.objects[(resource.kind, name)]
        body.setdefault("status", {}).update(patch.get("status") or {})
        body["metadata"]["resourceVersion"] = str(int(body["metadata"]["resourceVersion"]) + 1)
        return body

    def create(self, resource: Resource, body: Mapping[str, Any], namespace: str | None = None) -> dict[str, Any]:
        self.created.append(body)
        return dict(body)


def test_an_unknown_field_is_an_invalid_spec_condition_and_one_warning_validated_once() -> None:
    kube = FakeKube(objects={("Rollout", "web"): argo_rollout(bogus=1)})
    reconciler = Reconciler(kube=cast("Any", kube), mode=ARGO)
    rollout, events, _ = reconciler.reconcile(("default", "web"))
    assert rollout is not None
    [event] = events
    assert event.type is EventType.WARNING
    assert event.reason == "InvalidSpec"
    assert f"{BOGUS}: {UNDECLARED}" in event.message
    status = kube.objects[("Rollout", "web")]["status"]
    assert status["phase"] == "Degraded"
    [condition] = [c for c in status["conditions"] if c["type"] == "InvalidSpec"]
    assert condition["status"] == "True"
    assert BOGUS in condition["message"]
    # the next reconciles of the same generation neither validate again nor warn again
    for _ in range(3):
        _, events, _ = reconciler.reconcile(("default", "web"))
        assert events == []
    assert reconciler._schema.validations == 1


def test_a_shared_schema_check_is_the_one_the_reconciler_uses() -> None:
    shared = SchemaCheck(ARGO)
    kube = FakeKube(objects={("Rollout", "web"): argo_rollout(bogus=1)})
    Reconciler(kube=cast("Any", kube), mode=ARGO, schema=shared).reconcile(("default", "web"))
    assert shared.validations == 1


# -- AnalysisTemplates and AnalysisRuns -----------------------------------------------------------------------------


def _create_run(kube: FakeKube, schema: SchemaCheck) -> None:
    action = CreateAnalysisRun(
        name="web-1", kind=AnalysisKind.STEP, pod_hash="abc", templates=(("rate", False),), args=()
    )
    rollout = argo_rollout()
    apply_plan(cast("Any", kube), rollout, Plan(actions=(action,), status={}), mode=ARGO, schema=schema)


def test_a_template_with_an_unknown_field_is_refused_before_any_run_is_created() -> None:
    kube = FakeKube(objects={("AnalysisTemplate", "rate"): argo_template(sucessCondition="result[0] > 1")})
    with pytest.raises(InvalidSpecError) as raised:
        _create_run(kube, SchemaCheck(ARGO))
    assert raised.value.issues == (
        FieldIssue("analysis.templates", f"AnalysisTemplate 'rate': spec.metrics[0].sucessCondition: {UNDECLARED}"),
    )
    assert kube.created == []


def test_a_template_using_what_argos_crd_leaves_open_and_we_do_not_implement_is_refused_by_name() -> None:
    template = argo_template()
    template["spec"]["metrics"][0]["provider"] = {"plugin": {"argoproj-labs/metric-ai": {"model": "x"}}}
    with pytest.raises(InvalidSpecError) as raised:
        _create_run(FakeKube(objects={("AnalysisTemplate", "rate"): template}), SchemaCheck(ARGO))
    [issue] = raised.value.issues
    assert issue.message.startswith("AnalysisTemplate 'rate': spec.metrics[0].provider.plugin: Forbidden: ")


def test_a_valid_template_makes_its_run() -> None:
    kube = FakeKube(objects={("AnalysisTemplate", "rate"): argo_template(successCondition="result[0] > 1")})
    _create_run(kube, SchemaCheck(ARGO))
    [run] = kube.created
    assert run["apiVersion"] == "argoproj.io/v1alpha1"
    assert run["spec"]["metrics"][0]["name"] == "up"


def test_an_analysis_run_with_an_unknown_field_is_a_spec_error_with_its_path() -> None:
    run = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": "r", "namespace": "default", "uid": "r-1", "generation": 1},
        "spec": {
            "metrics": [{"name": "up", "provider": {"prometheus": {"address": "http://p:9090", "query": "up"}}}],
            "ttlStrategyy": {"secondsAfterCompletion": 60},
        },
    }
    with pytest.raises(SpecError) as alone:
        prepare_run(run)
    assert alone.value.path == "spec.ttlStrategyy"  # in the parser's words
    with pytest.raises(SpecError) as raised:
        prepare_run(run, schema_issues=SchemaCheck(ARGO).issues(run))
    assert raised.value.issues == (FieldIssue("spec.ttlStrategyy", UNDECLARED),)  # the same, said once


def test_a_nested_unknown_field_of_an_analysis_run_provider_is_refused_by_the_parser_and_the_schema() -> None:
    run = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": "r", "namespace": "default", "uid": "r-2", "generation": 1},
        "spec": {"metrics": [{"name": "up", "provider": {"web": {"url": "http://x", "bogus": 1}}}]},
    }
    with pytest.raises(SpecError) as alone:
        prepare_run(run)
    assert alone.value.path == "spec.metrics[0].provider.web.bogus"  # the parser refuses provider fields too
    with pytest.raises(SpecError) as raised:
        prepare_run(run, schema_issues=SchemaCheck(ARGO).issues(run))
    assert raised.value.issues == (FieldIssue("spec.metrics[0].provider.web.bogus", UNDECLARED),)


def test_a_spec_is_parsed_once_per_generation_and_always_carries_this_reconciles_body() -> None:
    reconciler = Reconciler(kube=cast("Any", FakeKube()), mode=ARGO)
    first = argo_rollout()
    parsed = reconciler._parse(("default", "web"), first, None)
    relabelled = copy.deepcopy(first)
    relabelled["metadata"]["labels"] = {"team": "a"}  # a label does not move the generation
    again = reconciler._parse(("default", "web"), relabelled, None)
    assert again.body is relabelled  # analysis args read labels and annotations from the body: never stale
    assert again.strategy is parsed.strategy  # ... the parse itself was kept
    edited = argo_rollout(generation=2, maxSurge=2)
    assert reconciler._parse(("default", "web"), edited, None).strategy != parsed.strategy
    reconciler.forget("default", "web")
    assert ("default", "web") not in reconciler._parsed
