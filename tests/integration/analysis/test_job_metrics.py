"""Job metrics on the real cluster: a completing Job is Successful, a failing one Failed, a pod that cannot pull its
image Inconclusive (and its Job deleted); Jobs carry Argo's naming, our labels and an ownerReference to the run."""

from __future__ import annotations

from kubernetes import client

from tests.support.analysis_manifests import analysis_run, job_metric
from tests.support.cluster import ControllerProcess, Kube, jobs, wait_for
from tests.support.cluster_analysis_runs import concluded, create, metric, read


def test_job_outcomes_decide_the_runs(kube: Kube, namespace: str, controller: ControllerProcess) -> None:
    runs = {
        "job-pass": (job_metric("check"), "Successful"),
        "job-fail": (job_metric("check", annotations={"kwok.rollouts.dev/exit-code": "1"}), "Failed"),
        "job-pull": (job_metric("check", annotations={"kwok.rollouts.dev/image-pull-error": "true"}), "Inconclusive"),
    }
    for name, (spec, _) in runs.items():
        create(kube, namespace, analysis_run(name, [spec]))
    for name, (_, expected) in runs.items():
        final = concluded(kube, namespace, name, timeout=40)
        assert final["phase"] == expected, (name, final)
        measurement = metric(final, "check")["measurements"][-1]
        assert measurement["phase"] == expected
        assert measurement["metadata"]["job-name"] == f"{name}-check-1"
    pull = metric(concluded(kube, namespace, "job-pull"), "check")["measurements"][-1]
    assert "ErrImagePull" in pull["message"] or "ImagePullBackOff" in pull["message"], pull
    fail = metric(concluded(kube, namespace, "job-fail"), "check")["measurements"][-1]
    assert "failed" in fail["message"], fail

    passed = client.BatchV1Api(kube.api_client).read_namespaced_job("job-pass-check-1", namespace)
    owner = passed.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.controller) == ("AnalysisRun", "job-pass", True)
    assert owner.uid == read(kube, namespace, "job-pass")["metadata"]["uid"]
    assert passed.metadata.labels["workflows.rollouts.dev/managed-by"] == "rollouts"
    assert passed.metadata.annotations["analysis.rollouts.dev/metric-name"] == "check"
    # The Job whose pod could not start is deleted: it would otherwise wait for an image forever.
    wait_for(
        lambda: "job-pull-check-1" not in {j.metadata.name for j in jobs(kube, namespace)},
        timeout=20,
        what="the unstartable Job to be deleted",
    )


def test_repeated_job_measurements_get_one_job_each(kube: Kube, namespace: str, controller: ControllerProcess) -> None:
    create(
        kube,
        namespace,
        analysis_run("repeat", [job_metric("check", count=3, interval="1s", failureLimit=3)]),
    )
    final = concluded(kube, namespace, "repeat", timeout=40)
    assert final["phase"] == "Successful", final
    result = metric(final, "check")
    assert (result["count"], result["successful"]) == (3, 3)
    names = sorted(j.metadata.name for j in jobs(kube, namespace))
    assert names == ["repeat-check-1", "repeat-check-2", "repeat-check-3"]
    assert [m["metadata"]["job-name"] for m in result["measurements"]] == names
