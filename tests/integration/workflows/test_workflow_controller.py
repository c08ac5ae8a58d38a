"""Workflows run by the controller on the real cluster: container steps are real Jobs, status survives restarts."""

from __future__ import annotations

from kubernetes import client

from tests.support.cluster import ControllerProcess, Kube, event_reasons, jobs, run_cli, wait_for
from tests.support.cluster_workflows import create, finished, phases, read, workflow

DIAMOND = """
spec:
  entrypoint: diamond
  templates:
  - name: diamond
    dag:
      tasks:
      - {name: A, template: step}
      - {name: B, template: step, dependencies: [A]}
      - {name: C, template: step, dependencies: [A]}
      - {name: D, template: step, dependencies: [B, C]}
  - name: step
    container: {image: busybox, command: [sh, -c, "exit 0"]}
"""


def test_diamond_of_container_steps_runs_through_real_jobs(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    create(kube, namespace, workflow("diamond", DIAMOND))
    obj = finished(kube, namespace, "diamond")
    assert obj["status"]["phase"] == "Succeeded", obj["status"]
    assert {k: v for k, v in phases(obj).items() if k in "ABCD"} == dict.fromkeys("ABCD", "Succeeded")
    assert obj["status"]["progress"] == "4/4"
    created = jobs(kube, namespace)
    assert len(created) == 4, [j.metadata.name for j in created]
    for job in created:
        assert job.metadata.owner_references[0].kind == "Workflow"
        assert job.metadata.owner_references[0].name == "diamond"
        pod = job.spec.template.spec
        # Least privilege by default: a dedicated ServiceAccount with no token mounted.
        assert pod.service_account_name == "rollouts-workflow-step"
        assert pod.automount_service_account_token is False
    account = client.CoreV1Api(kube.api_client).read_namespaced_service_account("rollouts-workflow-step", namespace)
    assert account.automount_service_account_token is False
    bindings = client.RbacAuthorizationV1Api(kube.api_client).list_namespaced_role_binding(namespace).items
    assert not [b for b in bindings if any(s.name == "rollouts-workflow-step" for s in b.subjects or [])]


FAILING = """
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: A, template: ok}
      - {name: B, template: broken, dependencies: [A]}
      - {name: C, template: ok, depends: "B"}
      - {name: on-failure, template: ok, depends: "B.Failed"}
  - name: ok
    container: {image: busybox}
  - name: broken
    metadata: {annotations: {kwok.rollouts.dev/exit-code: "1"}}
    container: {image: busybox}
"""


def test_a_failing_job_fails_the_workflow_per_depends_rules(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    create(kube, namespace, workflow("failing", FAILING))
    obj = finished(kube, namespace, "failing")
    assert obj["status"]["phase"] == "Failed"
    nodes = phases(obj)
    assert nodes["A"] == "Succeeded"
    assert nodes["B"] == "Failed"
    assert nodes["on-failure"] == "Succeeded"
    assert nodes["C"] == "Omitted"


SLOW = """
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: first, template: slow}
      - {name: second, template: quick, dependencies: [first]}
  - name: slow
    metadata: {annotations: {kwok.rollouts.dev/run-duration: "5s"}}
    container: {image: busybox}
  - name: quick
    container: {image: busybox}
"""


def test_controller_killed_mid_run_resumes_without_duplicate_jobs(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    create(kube, namespace, workflow("restart", SLOW))
    wait_for(lambda: len(jobs(kube, namespace)) == 1, what="the first step's Job")
    wait_for(
        lambda: phases(read(kube, namespace, "restart")).get("first") == "Running",
        what="status to record the running step",
    )
    # Events are posted from a queue, after the status: a SIGKILL may drop the ones still queued (as client-go's
    # would), so the kill waits for the one this test checks.
    wait_for(lambda: "Started" in event_reasons(kube, namespace, "restart"), what="the Started Event")
    controller.kill()
    controller.start()
    obj = finished(kube, namespace, "restart")
    assert obj["status"]["phase"] == "Succeeded", obj["status"]
    names = sorted(j.metadata.name for j in jobs(kube, namespace))
    assert len(names) == 2, names  # one Job per step: the running one was re-attached, not re-created
    reasons = event_reasons(kube, namespace, "restart")
    assert "Started" in reasons
    assert "Resumed" in reasons  # the second controller continued from status instead of starting over


def test_invalid_workflow_reports_the_field_and_does_not_crash(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    doc = workflow("cyclic", """
        spec:
          entrypoint: main
          templates:
          - name: main
            dag:
              tasks:
              - {name: A, template: step, dependencies: [B]}
              - {name: B, template: step, dependencies: [A]}
          - name: step
            container: {image: busybox}
    """)  # fmt: skip
    create(kube, namespace, doc)
    obj = finished(kube, namespace, "cyclic")
    assert obj["status"]["phase"] == "Error"
    assert "cycle" in obj["status"]["message"].lower()
    assert "A" in obj["status"]["message"]
    assert "B" in obj["status"]["message"]
    # The controller is still alive and serving: a valid workflow after the bad one still runs.
    create(kube, namespace, workflow("after", DIAMOND))
    assert finished(kube, namespace, "after")["status"]["phase"] == "Succeeded"


GATED = """
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: build, template: step}
      - {name: approve, template: gate, dependencies: [build]}
      - {name: deploy, template: step, dependencies: [approve]}
  - name: gate
    suspend: {}
  - name: step
    container: {image: busybox}
"""


def test_suspended_step_waits_for_rollouts_workflow_resume(
    kube: Kube, namespace: str, controller: ControllerProcess
) -> None:
    create(kube, namespace, workflow("gated", GATED))
    wait_for(lambda: phases(read(kube, namespace, "gated")).get("approve") == "Running", what="the approval gate")
    assert "deploy" not in phases(read(kube, namespace, "gated"))
    assert len(jobs(kube, namespace)) == 1
    result = run_cli(
        "workflow", "resume", "gated", f"--kubeconfig={kube.kubeconfig}", f"--namespace={namespace}", timeout=60
    )
    assert result.returncode == 0, result.stderr
    obj = finished(kube, namespace, "gated")
    assert obj["status"]["phase"] == "Succeeded"
    assert phases(obj)["deploy"] == "Succeeded"
    assert not obj["status"].get("resume"), "the controller clears the request once applied"
