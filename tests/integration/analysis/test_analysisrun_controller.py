"""AnalysisRuns run by the real controller subprocess on the real cluster: the data decides the verdict, the status
has Argo's shape, terminate/restart/delete behave, secrets stay secret, invalid runs end in Error with a path."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import yaml
from kubernetes import client

from tests.support.analysis_manifests import analysis_run, job_metric, prometheus_metric, web_metric
from tests.support.cluster import (
    ControllerProcess,
    Kube,
    delete_custom,
    event_reasons,
    events,
    jobs,
    list_custom,
    wait_for,
)
from tests.support.cluster_analysis_runs import PLURAL, concluded, create, metric, read, status, terminate
from tests.support.corpus import rollouts_example
from tests.support.http import JsonServer


def prom_metric(case: str, address: str) -> dict[str, Any]:
    return prometheus_metric(
        "success-rate",
        f'canary_success_rate{{case="{case}"}}',
        address,
        count=2,
        interval="1s",
        successCondition="result[0] >= 0.95",
        failureCondition="result[0] < 0.6",
    )


def test_prometheus_and_web_data_decide_each_run(
    kube: Kube, namespace: str, controller: ControllerProcess, rates: str, web: JsonServer
) -> None:
    missing = f"{web.url}/missing"
    runs = {
        "prom-ok": ([prom_metric("ok", rates)], "Successful"),
        "prom-bad": ([prom_metric("bad", rates)], "Failed"),
        "prom-meh": ([prom_metric("meh", rates)], "Inconclusive"),
        "web-ok": ([web_metric("up", web.route("/up", {"ok": True}), successCondition="result.ok")], "Successful"),
        "web-error": ([web_metric("down", missing, consecutiveErrorLimit=0)], "Error"),
    }
    for name, (metrics, _) in runs.items():
        create(kube, namespace, analysis_run(name, metrics))
    for name, (_, expected) in runs.items():
        final = concluded(kube, namespace, name)
        assert final["phase"] == expected, (name, final)
        assert final["startedAt"]
        assert final["completedAt"]
        result = final["metricResults"][0]
        assert result["phase"] == expected
        for measurement in result["measurements"]:
            assert measurement["startedAt"]
            assert measurement["finishedAt"]
            assert measurement["phase"] in {"Successful", "Failed", "Inconclusive", "Error"}
        assert f"AnalysisRun{expected}" in wait_for(
            lambda name=name: (
                {r for r in event_reasons(kube, namespace, name) if r.startswith("AnalysisRun")}
                - {"AnalysisRunRunning"}
            ),
            timeout=10,
            what=f"completion event of {name}",
        )
    ok = metric(status(kube, namespace, "prom-ok"), "success-rate")
    assert (ok["count"], ok["successful"], ok["failed"], ok["error"]) == (2, 2, 0, 0)
    assert ok["measurements"][0]["value"] == "[0.99]"
    bad = status(kube, namespace, "prom-bad")
    assert bad["runSummary"] == {"count": 1, "successful": 0, "failed": 1, "inconclusive": 0, "error": 0}
    assert 'Metric "success-rate" assessed Failed' in bad["message"]
    error = metric(status(kube, namespace, "web-error"), "down")
    assert (error["error"], error["consecutiveError"], error["count"]) == (1, 1, 0)
    assert "404" in error["measurements"][0]["message"]


def test_a_failing_metric_stops_the_others_promptly(
    kube: Kube, namespace: str, controller: ControllerProcess, web: JsonServer
) -> None:
    bad = web.route("/bad", {"rate": 0.1})
    create(
        kube,
        namespace,
        analysis_run(
            "fail-fast",
            [
                web_metric("gate", bad, initialDelay="1s", successCondition="result.rate > 0.9"),
                job_metric("long-job", annotations={"kwok.rollouts.dev/run-duration": "120s"}),
                web_metric("forever", web.route("/ok", {"rate": 1}), interval="1s"),
            ],
        ),
    )
    started = time.monotonic()
    final = concluded(kube, namespace, "fail-fast", timeout=30)
    assert time.monotonic() - started < 20
    assert final["phase"] == "Failed"
    assert metric(final, "gate")["phase"] == "Failed"
    long_job = metric(final, "long-job")
    assert long_job["measurements"][-1]["phase"] == "Inconclusive"  # a Job stopped before it finished (Argo v1.10)
    assert long_job["measurements"][-1]["message"] == "Metric Terminated"
    # The terminated measurement's Job is deleted (not left running for two minutes).
    wait_for(lambda: not jobs(kube, namespace), timeout=20, what="the terminated Job to go")


def test_terminate_stops_an_open_ended_run_successfully(
    kube: Kube, namespace: str, controller: ControllerProcess, web: JsonServer
) -> None:
    url = web.route("/ok", {"ok": True})
    create(kube, namespace, analysis_run("open-ended", [web_metric("watch", url, interval="1s")]))
    wait_for(
        lambda: (
            (
                metric(status(kube, namespace, "open-ended"), "watch")["count"]
                if status(kube, namespace, "open-ended").get("metricResults")
                else 0
            )
            >= 2
        ),
        timeout=20,
        what="two measurements",
    )
    terminate(kube, namespace, "open-ended")
    final = concluded(kube, namespace, "open-ended", timeout=15)
    assert final["phase"] == "Successful"
    assert final["message"] == "Run Terminated"
    count = metric(final, "watch")["count"]
    time.sleep(2.5)
    assert metric(status(kube, namespace, "open-ended"), "watch")["count"] == count, "measuring went on"


def test_restart_mid_run_continues_counts_and_reattaches_to_the_job(
    kube: Kube, namespace: str, controller: ControllerProcess, web: JsonServer
) -> None:
    url = web.route("/ok", {"ok": True})
    create(
        kube,
        namespace,
        analysis_run(
            "restart",
            [
                web_metric("ticks", url, count=6, interval="1s"),
                job_metric("slow-job", annotations={"kwok.rollouts.dev/run-duration": "6s"}),
            ],
        ),
    )

    def mid_run() -> dict[str, Any] | None:
        current = status(kube, namespace, "restart")
        results = {r["name"]: r for r in current.get("metricResults") or []}
        ticks, job = results.get("ticks"), results.get("slow-job")
        ready = ticks and ticks["count"] >= 2 and job and job["measurements"][-1]["phase"] == "Running"
        return current if ready else None

    before = wait_for(mid_run, timeout=20, what="a run in progress with its Job running")
    job_before = metric(before, "slow-job")["measurements"][-1]
    controller.kill()
    time.sleep(1.5)
    controller.start()
    final = concluded(kube, namespace, "restart", timeout=40)
    assert final["phase"] == "Successful", final
    ticks = metric(final, "ticks")
    assert (ticks["count"], ticks["successful"]) == (6, 6), ticks  # continued, not started over
    job = metric(final, "slow-job")
    assert (job["count"], job["successful"]) == (1, 1)
    assert job["measurements"][-1]["metadata"]["job-name"] == job_before["metadata"]["job-name"] == "restart-slow-job-1"
    assert job["measurements"][-1]["startedAt"] == job_before["startedAt"]
    assert final["startedAt"] == before["startedAt"]
    names = [j.metadata.name for j in jobs(kube, namespace)]
    assert names == ["restart-slow-job-1"], names  # re-attached, no duplicate


def test_secret_args_work_and_never_show(
    kube: Kube, namespace: str, controller: ControllerProcess, web: JsonServer
) -> None:
    token = "s3cr3t-Tok3n-9f8e7d"
    client.CoreV1Api(kube.api_client).create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="creds"),
            data={"token": base64.b64encode(token.encode()).decode()},
        ),
    )
    url = web.route("/check", {"ok": True})
    web.route("/echo", {"echo": token})  # a server that echoes the secret back in its answer
    create(
        kube,
        namespace,
        analysis_run(
            "secret",
            [
                web_metric(
                    "auth",
                    url,
                    web={"headers": [{"key": "Authorization", "value": "Bearer {{args.token}}"}]},
                    successCondition="result.ok",
                ),
                web_metric(
                    "echo",
                    f"{web.url}/echo",
                    web={"headers": [{"key": "X-Token", "value": "{{args.token}}"}]},
                    successCondition="result.echo != ''",
                ),
            ],
            args=[{"name": "token", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}],
        ),
    )
    final = concluded(kube, namespace, "secret")
    assert final["phase"] == "Successful", final
    assert any(seen.headers.get("Authorization") == f"Bearer {token}" for seen in web.seen)
    stored = json.dumps(read(kube, namespace, "secret"))
    assert token not in stored
    assert "*****" in json.dumps(metric(final, "echo"))  # the echoed value was redacted
    wait_for(lambda: "AnalysisRunSuccessful" in event_reasons(kube, namespace, "secret"), timeout=10, what="event")
    assert all(token not in (event.message or "") for event in events(kube, namespace, "secret"))
    assert token not in controller.output()


def test_missing_secret_is_an_error_measurement_naming_the_secret(
    kube: Kube, namespace: str, controller: ControllerProcess, web: JsonServer
) -> None:
    create(
        kube,
        namespace,
        analysis_run(
            "no-secret",
            [
                web_metric(
                    "auth",
                    web.route("/x", {}),
                    web={"headers": [{"key": "Authorization", "value": "{{args.token}}"}]},
                    consecutiveErrorLimit=0,
                )
            ],
            args=[{"name": "token", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "token"}}}],
        ),
    )
    final = concluded(kube, namespace, "no-secret")
    assert final["phase"] == "Error"
    message = metric(final, "auth")["measurements"][0]["message"]
    assert "absent" in message
    assert "token" in message


def test_field_ref_args_read_the_analysis_run_itself(
    kube: Kube, namespace: str, controller: ControllerProcess, web: JsonServer
) -> None:
    web.route("/svc/checkout", {"ok": True})
    doc = analysis_run(
        "field-ref",
        [web_metric("svc", f"{web.url}/svc/{{{{args.service}}}}", successCondition="result.ok")],
        args=[{"name": "service", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}],
    )
    doc["metadata"]["labels"] = {"app": "checkout"}
    create(kube, namespace, doc)
    final = concluded(kube, namespace, "field-ref")
    assert final["phase"] == "Successful", final
    assert any(seen.path == "/svc/checkout" for seen in web.seen)


@pytest.mark.parametrize(
    ("metrics", "path"),
    [
        ([{"name": "m", "successCondition": "result >= ", "provider": {"web": {"url": "http://127.0.0.1:9/"}}}],
         "spec.metrics[0].successCondition"),
        ([{"name": "m", "provider": {"web": {"url": "http://127.0.0.1:9/{{args.nope}}"}}}],
         "spec.metrics[0].provider.web.url"),
    ],
    ids=["condition-syntax", "unknown-arg"],
)  # fmt: skip
def test_invalid_run_ends_in_error_with_the_field_path(
    kube: Kube, namespace: str, controller: ControllerProcess, metrics: list[dict[str, Any]], path: str
) -> None:
    create(kube, namespace, analysis_run("invalid", metrics))
    final = concluded(kube, namespace, "invalid", timeout=20)
    assert final["phase"] == "Error"
    assert path in final["message"], final["message"]
    warning = wait_for(
        lambda: [e for e in events(kube, namespace, "invalid") if e.reason == "AnalysisRunError"],
        timeout=10,
        what="a Warning event",
    )
    assert warning[0].type == "Warning"
    assert path in warning[0].message
    assert "Traceback" not in controller.output()


def test_deleting_a_run_cancels_its_job(kube: Kube, namespace: str, controller: ControllerProcess) -> None:
    create(
        kube,
        namespace,
        analysis_run("doomed", [job_metric("long", annotations={"kwok.rollouts.dev/run-duration": "120s"})]),
    )
    wait_for(lambda: jobs(kube, namespace), timeout=20, what="the Job")
    delete_custom(kube, namespace, PLURAL, "doomed")
    wait_for(lambda: not jobs(kube, namespace), timeout=30, what="the Job to be deleted")
    assert "Traceback" not in controller.output()


def test_corpus_templates_are_accepted_and_run(kube: Kube, namespace: str, controller: ControllerProcess) -> None:
    templates = rollouts_example("analysis-templates.yaml") + rollouts_example("cluster-analysis-templates.yaml")
    assert {t["metadata"]["name"] for t in templates} == {"pass", "random-fail", "always-pass"}
    for template in templates:  # apiVersion already rollouts.dev's
        if template["kind"] == "AnalysisTemplate":
            template["metadata"]["namespace"] = namespace
        # Server-side dry run: full admission (schema, CEL) without leaving cluster-scoped objects behind (apply, not
        # create: another test of the session may have left the cluster-scoped one in place).
        kube.kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(template))
        create(kube, namespace, analysis_run(f"corpus-{template['metadata']['name']}", template["spec"]["metrics"]))
    for template in templates:
        final = concluded(kube, namespace, f"corpus-{template['metadata']['name']}", timeout=40)
        # KWOK completes Job pods with exit code 0 unless told otherwise, so every corpus Job passes here.
        assert final["phase"] == "Successful", final
        assert all(r["phase"] == "Successful" for r in final["metricResults"])


def test_terminate_set_while_the_controller_is_down_winds_the_run_up_on_restart(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    create(
        kube,
        namespace,
        analysis_run("offline", [job_metric("long", annotations={"kwok.rollouts.dev/run-duration": "120s"})]),
    )

    def job_running() -> bool:
        results = status(kube, namespace, "offline").get("metricResults") or []
        return bool(results) and results[0]["measurements"][-1]["phase"] == "Running"

    wait_for(job_running, timeout=20, what="the job measurement to be Running")
    controller.kill()
    terminate(kube, namespace, "offline")
    controller.start()
    final = concluded(kube, namespace, "offline", timeout=20)
    # The Job never finished: its measurement, the metric and so the run are Inconclusive (Argo v1.10).
    assert final["phase"] == "Inconclusive"
    assert "inconclusive (1) > inconclusiveLimit (0)" in final["message"]
    last = metric(final, "long")["measurements"][-1]
    assert (last["phase"], last["message"]) == ("Inconclusive", "Metric Terminated")
    wait_for(lambda: not jobs(kube, namespace), timeout=20, what="the terminated Job to go")


def test_ttl_strategy_deletes_finished_runs_when_their_time_is_up(
    kube: Kube, namespace: str, controller: ControllerProcess, web: JsonServer
) -> None:
    ok = web.route("/ttl-ok", {"rate": 1})
    bad = web.route("/ttl-bad", {"rate": 0})
    ttl = {"secondsAfterSuccess": 6, "secondsAfterFailure": 3600}
    gate = "result.rate > 0.5"
    create(kube, namespace, analysis_run("ttl-pass", [web_metric("gate", ok, successCondition=gate)], ttlStrategy=ttl))
    create(kube, namespace, analysis_run("ttl-fail", [web_metric("gate", bad, successCondition=gate)], ttlStrategy=ttl))
    assert concluded(kube, namespace, "ttl-pass", timeout=30)["phase"] == "Successful"
    assert concluded(kube, namespace, "ttl-fail", timeout=30)["phase"] == "Failed"
    # The controller that timed the deletion dies: its successor times it again from the stored status.
    controller.kill()
    controller.start()

    def gone() -> bool:
        return "ttl-pass" not in {run["metadata"]["name"] for run in list_custom(kube, namespace, PLURAL)}

    wait_for(gone, timeout=30, what="the Successful run deleted after secondsAfterSuccess")
    assert str(status(kube, namespace, "ttl-fail")["phase"]) == "Failed"  # an hour to live: still there
