"""`kubectl rollouts create analysisrun` / `terminate analysisrun`: the run built from a template as Argo's plugin
builds it, with Argo's flags, and the terminate patch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.commands import CommandError
from rollouts.commands.analysisruns import analysis_run_from_template, parse_arguments
from tests.support.fake_kube import FakeKube, Plugin
from workflows.api import ARGO, ROLLOUTS_DEV, ApiMode

METRICS = [{"name": "rate", "provider": {"web": {"url": "http://x/{{args.service}}"}}, "successCondition": "true"}]


def analysis_template(
    mode: ApiMode = ROLLOUTS_DEV, *, kind: str = "AnalysisTemplate", args: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": "success-rate",
        "labels": {"team": "shop"},
        "uid": "u1",
        "resourceVersion": "42",
        "creationTimestamp": "2025-01-01T00:00:00Z",
        "managedFields": [{"manager": "kubectl"}],
    }
    if kind == "AnalysisTemplate":
        metadata["namespace"] = "shop"
    spec: dict[str, Any] = {"metrics": METRICS}
    if args is not None:
        spec["args"] = args
    return {"apiVersion": mode.api_version, "kind": kind, "metadata": metadata, "spec": spec}


DECLARED = [{"name": "service"}, {"name": "namespace", "value": "shop"}, {"name": "token", "valueFrom": {"x": 1}}]


def test_the_run_is_the_templates_spec_with_the_args_merged() -> None:
    run = analysis_run_from_template(
        analysis_template(args=DECLARED),
        args=[("service", "web"), ("token", "plain"), ("undeclared", "ignored")],
        namespace="shop",
    )
    assert run == {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"namespace": "shop", "generateName": "success-rate-", "labels": {"team": "shop"}},
        "spec": {
            "metrics": METRICS,
            "args": [
                {"name": "service", "value": "web"},
                {"name": "namespace", "value": "shop"},
                {"name": "token", "value": "plain"},
            ],
        },
    }


def test_a_template_without_args_takes_the_given_ones_as_argo() -> None:
    run = analysis_run_from_template(analysis_template(), args=[("service", "web")], namespace="shop")
    assert run["spec"]["args"] == [{"name": "service", "value": "web"}]
    assert "args" not in analysis_run_from_template(analysis_template(), namespace="shop")["spec"]


def test_an_arg_left_without_a_value_is_refused_naming_it() -> None:
    with pytest.raises(CommandError, match=r"args.service was not resolved: pass it with -a service=VALUE"):
        analysis_run_from_template(analysis_template(args=DECLARED), namespace="shop")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ({"name": "run-1"}, {"name": "run-1"}),
        ({"generate_name": "manual-"}, {"generateName": "manual-"}),
        ({"name": "run-1", "generate_name": "manual-"}, {"name": "run-1"}),  # --name wins, as Argo
        ({}, {"generateName": "success-rate-"}),
    ],
)
def test_names(names: dict[str, str], expected: dict[str, str]) -> None:
    run = analysis_run_from_template(analysis_template(), namespace="shop", **names)
    assert {key: run["metadata"][key] for key in ("name", "generateName") if key in run["metadata"]} == expected


def test_a_cluster_template_an_instance_id_and_argos_group() -> None:
    run = analysis_run_from_template(
        analysis_template(ARGO, kind="ClusterAnalysisTemplate"), namespace="ci", mode=ARGO, instance_id="e2e"
    )
    assert run["apiVersion"] == "argoproj.io/v1alpha1"
    assert run["metadata"]["namespace"] == "ci"
    assert run["metadata"]["labels"] == {"team": "shop", "argo-rollouts.argoproj.io/controller-instance-id": "e2e"}


def test_only_templates_become_runs() -> None:
    with pytest.raises(CommandError, match="expected an AnalysisTemplate or ClusterAnalysisTemplate"):
        analysis_run_from_template({"kind": "Rollout", "spec": {}}, namespace="shop")


def test_arguments_are_name_equals_value() -> None:
    assert parse_arguments(["a=1", "q=x=y", "empty="]) == [("a", "1"), ("q", "x=y"), ("empty", "")]
    with pytest.raises(CommandError, match="NAME=VALUE"):
        parse_arguments(["novalue"])


# -- the commands ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [ROLLOUTS_DEV, ARGO], ids=["rollouts.dev", "argoproj.io"])
def test_create_from_a_template_in_the_cluster(api: FakeKube, plugin: Plugin, mode: ApiMode) -> None:
    api.add(analysis_template(mode, args=[{"name": "service"}]))
    code, out, err = plugin(
        "create", "analysisrun", "--from", "success-rate", "-a", "service=web", "--api-group", mode.group
    )
    assert (code, err) == (0, "")
    assert out == f"analysisrun.{mode.group}/success-rate-x0001 created\n"
    [write] = api.writes()
    assert (write.verb, write.resource, write.namespace) == ("create", mode.analysis_runs, "shop")
    assert write.body["spec"]["args"] == [{"name": "service", "value": "web"}]
    assert [(r.resource, r.namespace) for r in api.requests if r.verb == "get"] == [(mode.analysis_templates, "shop")]


def test_create_from_a_cluster_template_with_global(api: FakeKube, plugin: Plugin) -> None:
    api.add(analysis_template(kind="ClusterAnalysisTemplate"))
    code, out, _ = plugin("create", "ar", "--global", "--from", "success-rate", "--name", "by-hand", "-n", "ci")
    assert (code, out) == (0, "analysisrun.rollouts.dev/by-hand created\n")
    assert [(r.resource, r.namespace) for r in api.requests if r.verb == "get"] == [
        (ROLLOUTS_DEV.cluster_analysis_templates, None)
    ]
    assert api.writes()[0].namespace == "ci"


def test_create_from_a_file(api: FakeKube, plugin: Plugin, tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(analysis_template(ARGO)))
    code, out, _ = plugin("create", "analysisrun", "--from-file", str(path), "--generate-name", "file-")
    assert (code, out) == (0, "analysisrun.rollouts.dev/file-x0001 created\n")
    assert api.writes()[0].body["apiVersion"] == "rollouts.dev/v1alpha1"  # the group we talk to, not the file's


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["create", "analysisrun"], "one of --from or --from-file must be specified"),
        (["create", "analysisrun", "--from", "a", "--from-file", "b"], "one of --from or --from-file"),
        (["create", "analysisrun", "--from", "missing"], "analysistemplate shop/missing not found"),
        (["create", "analysisrun", "--from", "success-rate", "-a", "oops"], "NAME=VALUE"),
        (["create", "analysisrun", "--from", "success-rate"], "args.service was not resolved"),
    ],
)
def test_create_refusals(api: FakeKube, plugin: Plugin, argv: list[str], message: str) -> None:
    api.add(analysis_template(args=[{"name": "service"}]))
    code, out, err = plugin(*argv)
    assert (code, out) == (1, "")
    assert message in err
    assert api.writes() == []


@pytest.mark.parametrize("mode", [ROLLOUTS_DEV, ARGO], ids=["rollouts.dev", "argoproj.io"])
def test_terminate_sets_spec_terminate(api: FakeKube, plugin: Plugin, mode: ApiMode) -> None:
    for name in ("r1", "r2"):
        api.add({"apiVersion": mode.api_version, "kind": "AnalysisRun", "metadata": {"name": name}, "spec": {}})
    code, out, _ = plugin("terminate", "analysisrun", "r1", "r2", "--api-group", mode.group)
    assert code == 0
    assert out.splitlines() == ["analysisRun 'r1' terminated", "analysisRun 'r2' terminated"]
    assert [(r.resource, r.name, r.body) for r in api.writes()] == [
        (mode.analysis_runs, "r1", {"spec": {"terminate": True}}),
        (mode.analysis_runs, "r2", {"spec": {"terminate": True}}),
    ]


def test_terminating_a_missing_run_exits_1(api: FakeKube, plugin: Plugin) -> None:
    code, _, err = plugin("terminate", "ar", "ghost")
    assert code == 1
    assert "analysisrun shop/ghost not found" in err
