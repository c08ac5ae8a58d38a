"""``provider.workflow`` (beyond Argo): a metric that runs a WorkflowTemplate on the shared executor, as real Jobs."""

from __future__ import annotations

from typing import Any

from tests.support.analysis_manifests import analysis_run
from tests.support.cluster import ControllerProcess, Kube, create_custom, jobs
from tests.support.cluster_analysis_runs import concluded, create, metric


def template(name: str, *, exit_code: str = "0") -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name},
        "spec": {
            "entrypoint": "smoke",
            "arguments": {"parameters": [{"name": "target", "value": "none"}]},
            "templates": [
                {
                    "name": "smoke",
                    "dag": {
                        "tasks": [
                            {"name": "prepare", "template": "step"},
                            {"name": "check", "template": "check", "dependencies": ["prepare"]},
                        ]
                    },
                },
                {"name": "step", "container": {"image": "busybox"}},
                {
                    "name": "check",
                    "metadata": {"annotations": {"kwok.rollouts.dev/exit-code": exit_code}},
                    "container": {"image": "busybox", "args": ["{{workflow.parameters.target}}"]},
                },
            ],
        },
    }


def workflow_metric(name: str, template_name: str) -> dict[str, Any]:
    return {
        "name": name,
        "provider": {
            "workflow": {
                "templateRef": {"name": template_name},
                "arguments": {"parameters": [{"name": "target", "value": "canary"}]},
            }
        },
    }


def test_workflow_template_outcome_is_the_measurement(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    for body in (template("smoke-ok"), template("smoke-bad", exit_code="1")):
        create_custom(kube, namespace, "workflowtemplates", body)
    create(kube, namespace, analysis_run("passes", [workflow_metric("smoke", "smoke-ok")]))
    create(kube, namespace, analysis_run("fails", [workflow_metric("smoke", "smoke-bad")]))
    # consecutiveErrorLimit 0: the first Error decides (instead of five attempts 10 s apart).
    create(
        kube,
        namespace,
        analysis_run("missing", [{**workflow_metric("smoke", "no-such-template"), "consecutiveErrorLimit": 0}]),
    )

    passed = concluded(kube, namespace, "passes", timeout=60)
    assert passed["phase"] == "Successful", passed
    assert metric(passed, "smoke")["measurements"][-1]["value"] == "Succeeded"

    failed = concluded(kube, namespace, "fails", timeout=60)
    assert failed["phase"] == "Failed", failed
    assert "failed" in metric(failed, "smoke")["measurements"][-1]["message"]

    missing = concluded(kube, namespace, "missing", timeout=60)
    assert missing["phase"] == "Error", missing
    assert "no-such-template" in metric(missing, "smoke")["measurements"][-1]["message"]

    # The workflow's container steps ran as real Jobs owned by their AnalysisRun, with the argument passed through.
    created = jobs(kube, namespace)
    owners = {job.metadata.owner_references[0].name for job in created}
    assert owners == {"passes", "fails"}
    args = [c.args for job in created for c in job.spec.template.spec.containers if c.args]
    assert ["canary"] in args
