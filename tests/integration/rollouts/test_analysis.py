"""Analysis gates on the real cluster with job-based AnalysisTemplates (KWOK ends the Job's pod with the exit code
the template's annotations ask for): a passing step analysis advances, a failing one aborts to stable, a failing
background analysis aborts a paused update."""

from __future__ import annotations

from typing import Any

from tests.support.analysis_manifests import job_template
from tests.support.cluster import ControllerProcess, Kube, apply
from tests.support.cluster_rollouts import (
    analysis_runs,
    rollout,
    set_image,
    wait_healthy,
    wait_replicas,
    wait_status,
)


def _runs_by_kind(kube: Kube, namespace: str, name: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for run in analysis_runs(kube, namespace, name):
        kind = run["metadata"]["labels"]["rollouts.dev/analysis-kind"]
        found.setdefault(kind, []).append(run)
    return found


def test_passing_step_analysis_advances_to_healthy(kube: Kube, namespace: str, controller: ControllerProcess) -> None:
    name = "passes"
    apply(kube, namespace, job_template("pass"))
    steps = [{"setWeight": 25}, {"analysis": {"templates": [{"templateName": "pass"}]}}, {"setWeight": 50}]
    apply(kube, namespace, rollout(name, replicas=4, strategy={"canary": {"steps": steps}}))
    stable = str(wait_healthy(kube, namespace, name)["stableRS"])
    assert analysis_runs(kube, namespace, name) == []  # the first deploy runs no analysis

    set_image(kube, namespace, name, "demo:green")
    healthy = wait_healthy(kube, namespace, name, timeout=40)
    canary = str(healthy["currentPodHash"])
    assert canary != stable
    runs = _runs_by_kind(kube, namespace, name)
    assert list(runs) == ["Step"], runs
    (run,) = runs["Step"]
    assert run["status"]["phase"] == "Successful"
    assert run["metadata"]["labels"]["rollouts.dev/step-index"] == "1"
    assert run["metadata"]["labels"]["rollouts-pod-template-hash"] == canary
    wait_replicas(kube, namespace, name, {canary: 4, stable: 0})


def test_failing_step_analysis_aborts_and_restores_stable(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    name = "fails"
    apply(kube, namespace, job_template("fail", exit_code=1))
    steps = [{"setWeight": 25}, {"analysis": {"templates": [{"templateName": "fail"}]}}, {"setWeight": 50}]
    apply(kube, namespace, rollout(name, replicas=4, strategy={"canary": {"steps": steps}}))
    stable = str(wait_healthy(kube, namespace, name)["stableRS"])

    set_image(kube, namespace, name, "demo:green")
    degraded = wait_status(kube, namespace, name, what="aborted by analysis", phase="Degraded", timeout=40)
    assert degraded["abort"] is True
    assert degraded["stableRS"] == stable
    assert "RolloutAborted" in degraded["message"]
    assert degraded["canary"]["currentStepAnalysisRunStatus"]["status"] == "Failed"
    canary = str(degraded["currentPodHash"])
    wait_replicas(kube, namespace, name, {stable: 4, canary: 0})
    (run,) = _runs_by_kind(kube, namespace, name)["Step"]
    assert run["status"]["phase"] == "Failed"


def test_failing_background_analysis_aborts_a_paused_update(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    name = "background"
    apply(kube, namespace, job_template("fail-later", exit_code=1, run_duration="2s"))
    canary_strategy = {
        "analysis": {"templates": [{"templateName": "fail-later"}]},
        "steps": [{"setWeight": 25}, {"pause": {}}],
    }
    apply(kube, namespace, rollout(name, replicas=4, strategy={"canary": canary_strategy}))
    stable = str(wait_healthy(kube, namespace, name)["stableRS"])

    set_image(kube, namespace, name, "demo:green")
    paused = wait_status(kube, namespace, name, what="paused at step 1", phase="Paused", currentStepIndex=1)
    canary = str(paused["currentPodHash"])
    degraded = wait_status(kube, namespace, name, what="aborted by background analysis", phase="Degraded", timeout=40)
    assert degraded["abort"] is True
    assert degraded["canary"]["currentBackgroundAnalysisRunStatus"]["status"] == "Failed"
    wait_replicas(kube, namespace, name, {stable: 4, canary: 0})
    (run,) = _runs_by_kind(kube, namespace, name)["Background"]
    assert run["status"]["phase"] == "Failed"
