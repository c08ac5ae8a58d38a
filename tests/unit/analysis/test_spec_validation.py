"""Template and run specs: Argo fields parse, every problem is reported with its field path and a fix."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from analysis.args import Argument, SecretKeyRef
from analysis.errors import SpecError
from analysis.refused import ARGO_ONLY_PROVIDERS, REFUSED
from analysis.spec import (
    DryRunRule,
    ProviderKind,
    RetentionRule,
    build_run_spec,
    merge_templates,
    parse_run_spec,
    parse_template_manifest,
    parse_template_spec,
    resolve_metrics,
)
from tests.support.corpus import CORPUS, documents, with_our_api_version

ARGO_ROLLOUTS = CORPUS / "argo-rollouts"
PROM = {"prometheus": {"address": "http://prom:9090", "query": "up"}}


def metric(**fields: Any) -> dict[str, Any]:
    return {"name": "m", "provider": PROM, **fields}


def issues_of(spec: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as raised:
        parse_template_spec(spec)
    return [str(issue) for issue in raised.value.issues]


def _corpus_templates() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(ARGO_ROLLOUTS.glob("*.yaml")):
        found.extend(
            (f"{path.name}:{document['metadata']['name']}", with_our_api_version(document))
            for document in documents(path)
            if document.get("kind") in ("AnalysisTemplate", "ClusterAnalysisTemplate")
        )
    return found


CORPUS_TEMPLATES = _corpus_templates()


def test_corpus_has_templates() -> None:
    assert len(CORPUS_TEMPLATES) >= 4


@pytest.mark.parametrize(("label", "document"), CORPUS_TEMPLATES, ids=[label for label, _ in CORPUS_TEMPLATES])
def test_every_corpus_template_parses_after_the_api_version_change(label: str, document: dict[str, Any]) -> None:
    template = parse_template_manifest(document)
    assert [m.name for m in template.metrics] == [m["name"] for m in document["spec"]["metrics"]]
    for parsed, raw in zip(template.metrics, document["spec"]["metrics"], strict=True):
        assert parsed.provider_kind.value in raw["provider"]


@pytest.mark.parametrize("provider", ["datadog", "newRelic", "wavefront", "kayenta", "cloudWatch", "graphite",
                                      "influxdb", "skywalking", "plugin"])  # fmt: skip
def test_corpus_template_with_an_unsupported_provider_is_refused_with_the_path(provider: str) -> None:
    _, document = CORPUS_TEMPLATES[0]
    spec = document["spec"]
    hostile = {**document, "spec": {**spec, "metrics": [*spec["metrics"], metric(name="x", provider={provider: {}})]}}
    with pytest.raises(SpecError) as raised:
        parse_template_manifest(hostile)
    index = len(spec["metrics"])
    assert str(raised.value) == (
        f"spec.metrics[{index}].provider.{provider}: not supported: {ARGO_ONLY_PROVIDERS[provider]}"
        " (supported: prometheus, web, job)"
    )


def test_both_served_api_versions_are_read_and_others_refused() -> None:
    _, document = CORPUS_TEMPLATES[0]
    ours = parse_template_manifest({**document, "apiVersion": "rollouts.dev/v1alpha1"})
    assert parse_template_manifest({**document, "apiVersion": "argoproj.io/v1alpha1"}) == ours  # drop-in mode
    with pytest.raises(SpecError, match=r"apiVersion: must be rollouts\.dev/v1alpha1 or argoproj\.io/v1alpha1"):
        parse_template_manifest({**document, "apiVersion": "example.com/v1"})


def test_metric_fields_parse_to_typed_values() -> None:
    spec = parse_template_spec({
        "metrics": [metric(interval="1m30s", initialDelay="30", count=5, failureLimit=2, inconclusiveLimit=1,
                           consecutiveErrorLimit=-1, successCondition="result[0] >= 0.95")]
    })  # fmt: skip
    run = build_run_spec(spec)
    (resolved,) = resolve_metrics(run)
    assert resolved.interval == timedelta(seconds=90)
    assert resolved.initial_delay == timedelta(seconds=30)
    assert (resolved.count, resolved.failure_limit, resolved.inconclusive_limit) == (5, 2, 1)
    assert resolved.consecutive_error_limit == -1
    assert resolved.provider.kind is ProviderKind.PROMETHEUS


@pytest.mark.parametrize(
    ("fields", "expected_count"),
    [({}, 1), ({"interval": "5s"}, None), ({"count": 3, "interval": "5s"}, 3), ({"count": 0}, 1)],
)
def test_effective_count_follows_argo(fields: dict[str, Any], expected_count: int | None) -> None:
    (resolved,) = resolve_metrics(build_run_spec(parse_template_spec({"metrics": [metric(**fields)]})))
    assert resolved.effective_count == expected_count


def test_defaults_match_argo() -> None:
    (resolved,) = resolve_metrics(build_run_spec(parse_template_spec({"metrics": [metric()]})))
    assert (resolved.failure_limit, resolved.inconclusive_limit, resolved.consecutive_error_limit) == (0, 0, 4)


def test_all_errors_are_collected_with_paths() -> None:
    found = issues_of({
        "metrics": [
            metric(interval="5 minutes"),
            {"name": "b", "count": "x", "successCondition": "reslt > 1", "provider": {"datadog": {"query": "q"}}},
            metric(name="m", failureLimit=-2),
        ],
        "unknownThing": 1,
    })  # fmt: skip
    joined = "\n".join(found)
    assert "spec.unknownThing: unknown field" in joined
    assert "spec.metrics[0].interval: '5 minutes' is not a duration" in joined
    assert "spec.metrics[1].count: must be an integer" in joined
    assert "spec.metrics[1].successCondition: unknown name 'reslt' at column 1" in joined
    assert "spec.metrics[1].provider.datadog: not supported: the datadog metric provider" in joined
    assert "spec.metrics[2].failureLimit: must be >= 0, or -1 to disable the check, got -2" in joined
    assert len(found) >= 6


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"count": 2}, "spec.metrics[0].interval: is required when count > 1"),
        ({"count": 1, "failureLimit": 2}, "spec.metrics[0].count: must be >= failureLimit (2)"),
        ({"count": 1, "inconclusiveLimit": 3}, "spec.metrics[0].count: must be >= inconclusiveLimit (3)"),
        ({"interval": "-5s"}, "spec.metrics[0].interval: '-5s' must not be negative"),
        ({"interval": "0s"}, "spec.metrics[0].interval: must be greater than zero"),
        ({"consecutiveSuccessLimit": 2}, "spec.metrics[0].consecutiveSuccessLimit: not supported"),
        ({"succesCondition": "x"}, "did you mean 'successCondition'"),
        ({"provider": {}}, "spec.metrics[0].provider: is required"),
        ({"provider": {"foo": {}}}, "spec.metrics[0].provider.foo: unknown provider"),
        ({"provider": {"prometheus": {}}}, "spec.metrics[0].provider.prometheus.query: is required"),
        ({"provider": {"web": {"jsonPath": "$"}}}, "spec.metrics[0].provider.web.url: is required"),
        ({"provider": {"job": {}}}, "spec.metrics[0].provider.job.spec: is required"),
        ({"provider": {"workflow": {}}}, "spec.metrics[0].provider.workflow.templateRef.name: is required"),
        ({"provider": {"web": {"url": "u"}, "job": {"spec": {}}}}, "exactly one provider"),
        ({"dependencies": ["nope"]}, "spec.metrics[0].dependencies: 'nope' is not a metric"),
        ({"dependencies": ["m"]}, "cannot depend on itself"),
        ({"name": ""}, "spec.metrics[0].name: is required"),
        # provider bodies: every field is known or refused, never accepted and ignored
        ({"provider": {"prometheus": {"query": "up", "qurey": "x"}}}, "prometheus.qurey: unknown field; did you mean"),
        ({"provider": {"prometheus": {"query": "up", "rangeQuery": {"stepp": "1m"}}}}, "rangeQuery.stepp: unknown"),
        ({"provider": {"web": {"url": "u", "headers": [{"key": "a", "vale": "b"}]}}}, "headers[0].vale: unknown"),
        ({"provider": {"job": {"spec": {}, "metadata": {"name": "j"}}}}, "job.metadata.name: unknown field"),
        ({"provider": {"workflow": {"templateRef": {"name": "t", "kind": "x"}}}}, "templateRef.kind: unknown"),
        (
            {"provider": {"prometheus": {"query": "up", "authentication": {"sigv4": {"region": "eu"}}}}},
            "spec.metrics[0].provider.prometheus.authentication: not supported: prometheus authentication",
        ),
    ],
)
def test_metric_rules(fields: dict[str, Any], fragment: str) -> None:
    assert any(fragment in issue for issue in issues_of({"metrics": [metric(**fields)]}))


def test_nested_templates_are_refused_by_path() -> None:
    found = issues_of({"metrics": [metric()], "templates": [{"templateName": "other"}]})
    assert found == [f"spec.templates: not supported: {REFUSED['spec.templates']}"]


def test_an_authentication_that_sets_nothing_is_no_authentication() -> None:
    # Argo's controller writes the Go structs it never set as {}.
    web = {"url": "http://x", "authentication": {"oauth2": {"scopes": []}, "sigv4": {}}}
    parse_template_spec({"metrics": [metric(provider={"web": web})]})


def test_workflow_provider_and_dependencies_beyond_argo() -> None:
    spec = parse_template_spec({
        "metrics": [
            {"name": "smoke", "provider": {"workflow": {"templateRef": {"name": "smoke-tests"}}}},
            metric(name="rate", dependencies=["smoke"]),
        ]
    })  # fmt: skip
    assert spec.metrics[0].provider_kind is ProviderKind.WORKFLOW
    assert spec.metrics[1].dependencies == ("smoke",)


def test_dependency_cycles_are_refused() -> None:
    found = issues_of({"metrics": [metric(name="a", dependencies=["b"]), metric(name="b", dependencies=["a"])]})
    assert any("metric dependencies form a cycle" in issue for issue in found)


def test_duplicate_metric_names_are_refused() -> None:
    assert any("used twice" in issue for issue in issues_of({"metrics": [metric(), metric()]}))


def test_undeclared_arg_is_named_with_the_field() -> None:
    found = issues_of({"metrics": [metric(provider={"web": {"url": "http://x/{{args.host}}"}})]})
    assert found == ["spec.metrics[0].provider.web.url: {{args.host}} refers to an undeclared arg; add it to spec.args"]


def test_secret_args_are_refused_outside_the_provider() -> None:
    found = issues_of({
        "args": [{"name": "s", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "k"}}}],
        "metrics": [metric(successCondition="result == '{{args.s}}'")],
    })  # fmt: skip
    assert found == [
        "spec.metrics[0].successCondition: secret arg 's' may only be used inside provider (it would be stored)"
    ]


@pytest.mark.parametrize(
    ("arg", "fragment"),
    [
        ({"name": "a", "value": "1", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}, "not both"),
        ({"name": "a", "valueFrom": {"secretKeyRef": {"name": "s"}}}, "needs name (the Secret) and key"),
        ({"name": "a", "valueFrom": {}}, "needs secretKeyRef or fieldRef"),
        ({"name": "a", "value": 3}, "must be a string"),
        ({"value": "x"}, "spec.args[0].name: is required"),
    ],
)
def test_arg_rules(arg: dict[str, Any], fragment: str) -> None:
    assert any(fragment in issue for issue in issues_of({"args": [arg], "metrics": [metric()]}))


def test_templated_fields_are_checked_after_args_are_bound() -> None:
    spec = parse_template_spec({
        "args": [{"name": "count"}, {"name": "threshold", "value": "0.9"}, {"name": "every", "value": "10s"}],
        "metrics": [metric(count="{{args.count}}", interval="{{args.every}}",
                           successCondition="result[0] >= {{args.threshold}}")],
    })  # fmt: skip
    (resolved,) = resolve_metrics(build_run_spec(spec, args=[Argument(name="count", value="3")]))
    assert (resolved.count, resolved.interval) == (3, timedelta(seconds=10))
    assert resolved.success_condition == "result[0] >= 0.9"
    with pytest.raises(SpecError, match=r"spec.metrics\[0\].count: must be an integer"):
        resolve_metrics(build_run_spec(spec, args=[Argument(name="count", value="three")]))


def test_missing_arg_value_names_the_arg() -> None:
    spec = parse_template_spec({"args": [{"name": "service"}], "metrics": [metric()]})
    with pytest.raises(SpecError, match=r"args\.service: has no value"):
        build_run_spec(spec)


def test_merge_templates_merges_metrics_args_and_rules() -> None:
    first = parse_template_spec({
        "args": [{"name": "svc"}, {"name": "shared", "value": "1"}],
        "metrics": [metric(name="a")],
        "dryRun": [{"metricName": "a"}],
    })  # fmt: skip
    second = parse_template_spec({
        "args": [{"name": "svc", "value": "web"}, {"name": "shared", "value": "1"}],
        "metrics": [metric(name="b")],
        "measurementRetention": [{"metricName": "b", "limit": 3}],
    })  # fmt: skip
    merged = merge_templates([first, second])
    assert [m.name for m in merged.metrics] == ["a", "b"]
    assert {a.name: a.value for a in merged.args} == {"svc": "web", "shared": "1"}
    run = build_run_spec(merged)
    assert run.is_dry_run("a")
    assert not run.is_dry_run("b")
    assert run.retention_limit("b") == 3
    assert run.retention_limit("a") == 10


@pytest.mark.parametrize(
    ("second", "fragment"),
    [
        ({"args": [{"name": "shared", "value": "2"}], "metrics": [metric(name="b")]}, "different values"),
        ({"metrics": [metric(name="a")]}, "defined by more than one template"),
        ({"metrics": [metric(name="b")], "dryRun": [{"metricName": "a"}]}, "two dryRun rules"),
    ],
)
def test_merge_conflicts_are_errors(second: dict[str, Any], fragment: str) -> None:
    first = parse_template_spec({
        "args": [{"name": "shared", "value": "1"}], "metrics": [metric(name="a")], "dryRun": [{"metricName": "a"}]
    })  # fmt: skip
    with pytest.raises(SpecError, match=fragment):
        merge_templates([first, parse_template_spec(second)])


def test_run_spec_parses_terminate_and_requires_arg_values() -> None:
    run = parse_run_spec({"metrics": [metric()], "terminate": True, "dryRun": [{"metricName": "*"}]})
    assert run.terminate
    assert run.is_dry_run("m")
    with pytest.raises(SpecError, match=r"spec.args\[0\]: arg 'x' has no value"):
        parse_run_spec({"args": [{"name": "x"}], "metrics": [metric()]})


def test_rules_that_match_no_metric_are_refused() -> None:
    with pytest.raises(SpecError, match=r"spec.dryRun\[0\].metricName: 'typo' matches no metric"):
        parse_run_spec({"metrics": [metric()], "dryRun": [{"metricName": "typo"}]})
    with pytest.raises(SpecError, match="invalid regular expression"):
        parse_run_spec({"metrics": [metric()], "dryRun": [{"metricName": "(["}]})


def test_rules_match_like_argo_regexps() -> None:
    assert DryRunRule(metric_name="rate").matches("success-rate")  # unanchored, as Go's MatchString
    assert DryRunRule(metric_name="*").matches("anything")
    assert RetentionRule(metric_name="^a$", limit=1).matches("a")
    assert not RetentionRule(metric_name="^a$", limit=1).matches("ab")


def test_secret_args_stay_placeholders_after_resolution() -> None:
    spec = parse_template_spec({
        "args": [{"name": "url", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
        "metrics": [metric(provider={"web": {"url": "{{args.url}}"}})],
    })  # fmt: skip
    run = build_run_spec(spec)
    assert run.args[0].secret_key_ref == SecretKeyRef(name="s", key="k")
    (resolved,) = resolve_metrics(run)
    assert resolved.provider.body == {"url": "{{args.url}}"}


def test_metric_name_rules_are_re2_like_go() -> None:
    """RE2, as Go's regexp: no lookaround (refused with the reason) and no catastrophic backtracking."""
    with pytest.raises(SpecError, match=r"dryRun\[0\].metricName: invalid regular expression"):
        parse_run_spec({"metrics": [metric()], "dryRun": [{"metricName": "(?=m)"}]})
    # A pattern that takes exponential time in a backtracking engine answers at once (no timing asserted: it returns).
    assert not DryRunRule(metric_name="^(a+)+$").matches("a" * 64 + "!")
