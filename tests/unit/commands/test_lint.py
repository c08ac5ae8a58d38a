"""`kubectl rollouts lint -f FILE`: the Rollouts of a file through the controller's own parser, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.commands.lint import lint_documents
from tests.support.fake_kube import FakeKube, Plugin
from workflows.api import ARGO, ROLLOUTS_DEV, ApiMode

MODES = pytest.mark.parametrize("mode", [ROLLOUTS_DEV, ARGO], ids=["rollouts.dev", "argoproj.io"])


def rollout(mode: ApiMode, name: str = "web", **canary: Any) -> dict[str, Any]:
    return {
        "apiVersion": mode.api_version,
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "demo:blue"}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}], **canary}},
        },
    }


def service(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": {"selector": {"app": name}}}


def write(tmp_path: Path, *documents: Any) -> str:
    path = tmp_path / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(documents), encoding="utf-8")
    return str(path)


@MODES
def test_a_valid_file_lints_clean_silently(tmp_path: Path, api: FakeKube, plugin: Plugin, mode: ApiMode) -> None:
    # Whatever group the plugin talks to: lint reads files, not the cluster.
    assert plugin("lint", "-f", write(tmp_path, service("web"), rollout(mode))) == (0, "", "")
    assert api.requests == []


def test_every_problem_is_reported_with_its_path(tmp_path: Path, plugin: Plugin) -> None:
    bad = rollout(ARGO, "bad")
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    bad["spec"]["strategy"]["canary"]["steps"] = [{"setWeight": 20}, {"teleport": {}}]
    code, out, err = plugin("lint", "--filename", write(tmp_path, rollout(ARGO, "good"), bad))
    lines = out.splitlines()
    assert code == 1
    assert len(lines) == 2, out
    assert lines[0].startswith("rollout bad: spec.selector: does not match the template's labels")
    assert lines[1].startswith("rollout bad: spec.strategy.canary.steps[1]")
    assert err == f"Error: {lines[0]}\n"


def test_a_workload_ref_is_resolved_in_the_file_or_said_unchecked() -> None:
    ref = rollout(ARGO, "ref")
    del ref["spec"]["template"], ref["spec"]["selector"]
    ref["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ref"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ref"},
        "spec": {
            "selector": {"matchLabels": {"app": "ref"}},
            "template": {"metadata": {"labels": {"app": "other"}}, "spec": {"containers": []}},
        },
    }
    with_deployment = lint_documents([ref, deployment])
    assert [p.split(": ")[1] for p in with_deployment.problems] == ["spec.selector"]
    alone = lint_documents([ref])
    assert (alone.problems, alone.linted) == ([], 1)
    assert alone.notes == [
        "rollout ref: spec.workloadRef names a workload that is not in the file; its template was not checked"
    ]


def test_other_kinds_and_groups_are_ignored() -> None:
    foreign = rollout(ARGO)
    foreign["apiVersion"] = "example.com/v1"
    result = lint_documents([service("web"), foreign, None, "text"])
    assert (result.problems, result.linted) == ([], 0)


def test_an_unreadable_file_fails(tmp_path: Path, plugin: Plugin) -> None:
    code, out, err = plugin("lint", "-f", str(tmp_path / "missing.yaml"))
    assert (code, out) == (1, "")
    assert err.startswith("kubectl rollouts lint: ")
    assert "missing.yaml" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [", encoding="utf-8")
    assert plugin("lint", "-f", str(broken))[0] == 1
