"""The controller as an operator watches it: a real Prometheus scrapes ``/metrics`` of ``rollouts controller`` on the
local cluster and answers PromQL with Argo's series names and labels, and ``--log-format json`` writes one JSON
object per line, naming the Rollout (and its step) or the AnalysisRun a line is about."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollouts.devcluster.prometheus import PrometheusServer, free_port
from tests.support.analysis_manifests import job_template
from tests.support.cluster import ControllerProcess, Kube, apply
from tests.support.cluster_rollouts import analysis_runs, rollout, set_image, wait_healthy
from tests.support.components import require_prometheus
from workflows.api import GROUP

JOB = "rollouts-controller"


@pytest.fixture
def observed_controller(
    kube: Kube, namespace: str, crds_installed: list[str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[ControllerProcess, PrometheusServer]]:
    """The controller serving /metrics on a free port with JSON logs (debug: a reconcile's reasons), and a real
    Prometheus scraping it every second, as a ServiceMonitor would."""
    require_prometheus()
    port = free_port()
    handle = ControllerProcess(
        kube=kube,
        namespace=namespace,
        log=tmp_path / "controller.log",
        args=(f"--metrics-port={port}", "--log-format=json", "--verbose"),
    )
    handle.start()
    try:
        with PrometheusServer.start(tmp_path / "prometheus", scrape=f"127.0.0.1:{port}", job=JOB) as prometheus:
            yield handle, prometheus
    finally:
        handle.stop()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(f"--- controller log ({handle.log}) ---\n{handle.output()[-6000:]}")


def _value(result: list[Any]) -> float:
    (sample,) = result
    return float(sample["value"][1])


def test_prometheus_reads_argos_series_and_the_logs_are_json(
    kube: Kube, namespace: str, observed_controller: tuple[ControllerProcess, PrometheusServer]
) -> None:
    controller, prometheus = observed_controller
    name = "shop"
    apply(kube, namespace, job_template("pass"))
    steps = [{"setWeight": 25}, {"analysis": {"templates": [{"templateName": "pass"}]}}, {"setWeight": 50}]
    apply(kube, namespace, rollout(name, replicas=4, strategy={"canary": {"steps": steps}}))
    wait_healthy(kube, namespace, name)
    set_image(kube, namespace, name, "demo:green")
    wait_healthy(kube, namespace, name, timeout=40)
    (run,) = analysis_runs(kube, namespace, name)
    assert run["status"]["phase"] == "Successful"
    run_name = run["metadata"]["name"]

    on = f'namespace="{namespace}",name="{name}"'
    # scrape-time series, from the controller's caches: what Argo's dashboards and alerts query
    assert _value(prometheus.wait_for(f"rollout_info_replicas_available{{{on}}} == 4", timeout=30)) == 4
    assert _value(prometheus.wait_for(f"rollout_info_replicas_desired{{{on}}}")) == 4
    info = prometheus.wait_for(f'rollout_info{{{on},phase="Completed"}}', timeout=30)
    assert info[0]["metric"]["strategy"] == "canary"
    assert "traffic_router" not in info[0]["metric"]  # no router: "", which Prometheus stores as no label (as Argo's)
    assert info[0]["metric"]["job"] == JOB
    assert _value(prometheus.wait_for(f'rollout_phase{{{on},phase="Completed"}} == 1')) == 1
    run_on = f'namespace="{namespace}",name="{run_name}"'
    metric = prometheus.wait_for(f'analysis_run_metric_phase{{{run_on},phase="Successful"}} == 1', timeout=30)
    assert metric[0]["metric"]["metric"] == "check"
    assert metric[0]["metric"]["type"] == "Job"
    assert metric[0]["metric"]["dry_run"] == "false"
    assert _value(prometheus.wait_for(f'analysis_run_info{{{run_on},phase="Successful"}}')) == 1
    assert _value(prometheus.wait_for(f'analysis_run_metric_type{{{run_on},metric="check",type="Job"}}')) == 1
    # counted series
    assert _value(prometheus.wait_for(f"rollout_reconcile_count{{{on}}} > 0")) > 0
    buckets = prometheus.wait_for(f"rollout_reconcile_bucket{{{on}}}")
    assert {sample["metric"]["le"] for sample in buckets} == {"0.01", "0.15", "0.25", "0.5", "1", "+Inf"}
    assert _value(prometheus.wait_for(f"analysis_run_reconcile_count{{{run_on}}} > 0")) > 0
    requests = prometheus.wait_for(f'controller_clientset_k8s_request_total{{namespace="{namespace}",kind="rollouts"}}')
    assert {sample["metric"]["verb"] for sample in requests} >= {"Patch"}
    events = prometheus.wait_for(f'rollout_events_total{{{on},type="Normal",reason="RolloutUpdated"}}')
    assert _value(events) >= 1
    assert _value(prometheus.wait_for('workflow_executor_slots{job="rollouts-controller"}')) > 0

    # deleting the Rollout (and with it, its run) takes its scrape-time series away at the next scrape
    # (the full resource name: Argo's CRDs, which other tests install, answer to "rollout" too)
    kube.kubectl("delete", f"rollouts.{GROUP}", name, f"--namespace={namespace}", "--wait=true")
    prometheus.wait_for(f"absent(rollout_info{{{on}}})", timeout=30)

    lines = [line for line in controller.output().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(line) for line in parsed)
    about = [line for line in parsed if line.get("rollout") == name]
    assert about, "no line named the Rollout"
    assert all(line["namespace"] == namespace for line in about)
    assert any(line.get("step") == 1 for line in about)  # the analysis step, from status.currentStepIndex
    kopf_lines = [line for line in parsed if line["logger"].startswith("kopf") and line.get("analysisrun") == run_name]
    assert kopf_lines, "kopf's lines about the AnalysisRun do not name it"
