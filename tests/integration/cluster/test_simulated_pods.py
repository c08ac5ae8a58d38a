"""Simulated pods fail the way real ones do: what a pod's spec says decides how the local cluster's fake kubelet runs
it (docs/local-cluster.md, "How simulated pods behave").

Every scenario object is created at once by one module fixture, so the waits (a crash loop's first 10 s back-off, a
Job's retry back-off) overlap instead of adding up; each test then reads the outcome of its own objects.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from tests.support.cluster import Kube, events, read_pod, wait_for


def _job(name: str, script: str, *, backoff_limit: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script]}],
                }
            },
        },
    }


def _pod(name: str, container: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "nginx:1.27", **container}], **spec},
    }


JOBS = [
    _job("fails", "sleep 2 && exit 1"),
    _job("succeeds", "sleep 1 && exit 0"),
    _job("retried", "sleep 1; exit 3", backoff_limit=1),
]
PODS = [
    _pod("bad-command", {"image": "busybox", "command": ["/bad-command"]}),
    _pod("bad-shell-command", {"image": "busybox", "command": ["sh", "-c", "/bad-command"]}),
    _pod("unpullable", {"image": "argoproj/rollouts-demo:does-not-exist"}),
    _pod("slow-ready", {"readinessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 3, "periodSeconds": 1}}),
    _pod("ready-at-once", {}),
    _pod("refused", {}) | {"metadata": {"name": "refused", "annotations": {"kwok.rollouts.dev/unready": "maybe"}}},
    _pod("pre-stop", {"lifecycle": {"preStop": {"sleep": {"seconds": 3}}}}),
    _pod("pre-stop-capped", {"lifecycle": {"preStop": {"exec": {"command": ["sleep", "30"]}}}},
         terminationGracePeriodSeconds=2),
    _pod("no-pre-stop", {}),
]  # fmt: skip


@pytest.fixture(scope="module")
def scenarios(kube: Kube) -> Iterator[str]:
    """A namespace holding every scenario object, all created at once; its name."""
    core = client.CoreV1Api(kube.api_client)
    namespace = f"simulated-pods-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": namespace}})
    wait_for(
        lambda: namespace in {sa.metadata.namespace for sa in core.list_namespaced_service_account(namespace).items},
        timeout=30,
        interval=0.05,
        what=f"the default ServiceAccount of {namespace}",
    )
    batch = client.BatchV1Api(kube.api_client)
    for job in JOBS:
        batch.create_namespaced_job(namespace, job)
    for pod in PODS:
        core.create_namespaced_pod(namespace, pod)
    yield namespace
    core.delete_namespace(namespace, propagation_policy="Background")


def _pod_now(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    pod = read_pod(kube, namespace, name)
    assert pod is not None, f"pod {name} is gone"
    return pod


def _ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    (status,) = pod["status"].get("containerStatuses") or [{}]
    return dict(status)


def _time(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _job_outcome(kube: Kube, namespace: str, name: str) -> tuple[str, Any] | None:
    job = client.BatchV1Api(kube.api_client).read_namespaced_job(name, namespace)
    for condition in job.status.conditions or []:
        if condition.type in {"Complete", "Failed"} and condition.status == "True":
            return str(condition.type), job.status
    return None


def _job_pods(kube: Kube, namespace: str, name: str) -> list[dict[str, Any]]:
    listed = client.CoreV1Api(kube.api_client).list_namespaced_pod(namespace, label_selector=f"job-name={name}")
    return [_pod_now(kube, namespace, p.metadata.name) for p in listed.items]


# -- Jobs --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "expected"),
    [("fails", ("Failed", "Failed", 1, "Error", 2)), ("succeeds", ("Complete", "Succeeded", 0, "Completed", 1))],
)
def test_a_job_pod_runs_its_sleep_then_ends_with_its_exit_code(
    kube: Kube, scenarios: str, job: str, expected: tuple[str, str, int, str, int]
) -> None:
    outcome, phase, code, reason, ran = expected
    kind, status = wait_for(lambda: _job_outcome(kube, scenarios, job), timeout=60, what=f"job {job} to finish")
    assert kind == outcome
    assert (status.failed or 0, status.succeeded or 0) == ((1, 0) if code else (0, 1))
    (pod,) = _job_pods(kube, scenarios, job)
    assert pod["status"]["phase"] == phase
    terminated = _container(pod)["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (code, reason)
    # Timestamps have whole seconds: a 2 s run shows as 1 to 3 s.
    took = (_time(terminated["finishedAt"]) - _time(terminated["startedAt"])).total_seconds()
    assert ran - 1 <= took <= ran + 3, terminated


def test_the_job_controller_counts_every_failed_attempt(kube: Kube, scenarios: str) -> None:
    kind, status = wait_for(lambda: _job_outcome(kube, scenarios, "retried"), timeout=90, what="job retried to fail")
    assert kind == "Failed"
    assert (status.failed, status.succeeded) == (2, None)  # backoffLimit 1: two attempts, each exits 3


# -- failures before anything runs -------------------------------------------------------------------------------------


def test_a_command_that_cannot_exist_crash_loops_and_never_becomes_ready(kube: Kube, scenarios: str) -> None:
    def restarted() -> dict[str, Any] | None:
        pod = _pod_now(kube, scenarios, "bad-command")
        assert not _ready(pod), pod["status"]
        return pod if _container(pod).get("restartCount", 0) >= 1 else None

    def backing_off() -> dict[str, Any] | None:
        container = _container(_pod_now(kube, scenarios, "bad-command"))
        waiting = container.get("state", {}).get("waiting") or {}
        return container if waiting.get("reason") == "CrashLoopBackOff" else None

    wait_for(restarted, timeout=60, interval=0.3, what="the bad command to be restarted once")
    container = wait_for(backing_off, timeout=30, what="the restarted bad command to back off again")
    last = container["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (128, "StartError")
    assert "/bad-command" in last["message"]
    assert container["restartCount"] >= 1
    assert not container["ready"]
    assert _pod_now(kube, scenarios, "bad-command")["status"]["phase"] == "Running"  # as a real crash loop shows


def test_a_command_the_shell_cannot_find_exits_127_and_crash_loops(kube: Kube, scenarios: str) -> None:
    def backing_off() -> dict[str, Any] | None:
        container = _container(_pod_now(kube, scenarios, "bad-shell-command"))
        waiting = container.get("state", {}).get("waiting") or {}
        return container if waiting.get("reason") == "CrashLoopBackOff" else None

    container = wait_for(backing_off, timeout=30, what="the shell's missing command to crash-loop")
    last = container["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (127, "Error")
    assert not _ready(_pod_now(kube, scenarios, "bad-shell-command"))


def test_an_image_that_cannot_be_pulled_shows_err_image_pull_then_image_pull_back_off(
    kube: Kube, scenarios: str
) -> None:
    seen: set[str] = set()

    def both_seen() -> bool:
        pod = _pod_now(kube, scenarios, "unpullable")
        assert pod["status"].get("phase") == "Pending", pod["status"]
        assert not _ready(pod)
        waiting = _container(pod).get("state", {}).get("waiting") or {}
        seen.add(str(waiting.get("reason")))
        return {"ErrImagePull", "ImagePullBackOff"} <= seen

    wait_for(both_seen, timeout=40, interval=0.1, what=f"ErrImagePull and ImagePullBackOff (seen: {seen})")
    assert seen <= {"None", "ErrImagePull", "ImagePullBackOff"}


def test_a_wrong_steering_annotation_keeps_the_pod_pending_with_a_warning(kube: Kube, scenarios: str) -> None:
    warning = wait_for(
        lambda: [e for e in events(kube, scenarios, "refused") if e.reason == "InvalidSimulation"],
        timeout=30,
        what="the planner's warning about the refused pod",
    )
    assert 'kwok.rollouts.dev/unready: \'maybe\' is neither "true" nor "false"' in warning[0].message
    assert _pod_now(kube, scenarios, "refused")["status"].get("phase") == "Pending"


# -- readiness ---------------------------------------------------------------------------------------------------------


def test_a_readiness_probe_delay_delays_ready(kube: Kube, scenarios: str) -> None:
    def ready_pod(name: str) -> dict[str, Any] | None:
        pod = _pod_now(kube, scenarios, name)
        return pod if _ready(pod) else None

    def ready_after(pod: dict[str, Any]) -> float:
        (condition,) = [c for c in pod["status"]["conditions"] if c["type"] == "Ready"]
        return (_time(condition["lastTransitionTime"]) - _time(pod["status"]["startTime"])).total_seconds()

    slow = wait_for(lambda: ready_pod("slow-ready"), timeout=30, what="the slow pod to become Ready")
    at_once = wait_for(lambda: ready_pod("ready-at-once"), timeout=30, what="the plain pod to become Ready")
    assert 2 <= ready_after(slow) <= 8  # initialDelaySeconds 3 (whole-second timestamps)
    assert ready_after(at_once) <= 1


# -- stopping ----------------------------------------------------------------------------------------------------------


def test_a_pre_stop_hook_keeps_the_pod_terminating_within_its_grace(kube: Kube, scenarios: str) -> None:
    names = ("pre-stop", "pre-stop-capped", "no-pre-stop")
    for name in names:
        wait_for(lambda name=name: _ready(_pod_now(kube, scenarios, name)), timeout=30, what=f"{name} to run")
    core = client.CoreV1Api(kube.api_client)
    deleted = time.monotonic()
    for name in names:
        core.delete_namespaced_pod(name, scenarios)
    gone: dict[str, float] = {}

    def all_gone() -> bool:
        for name in names:
            if name not in gone and read_pod(kube, scenarios, name) is None:
                gone[name] = time.monotonic() - deleted
        return len(gone) == len(names)

    wait_for(all_gone, timeout=30, interval=0.1, what=f"the pods to be deleted (gone so far: {gone})")
    assert gone["no-pre-stop"] < 1.5, gone
    assert 2.5 <= gone["pre-stop"] <= 8, gone  # preStop: sleep 3 (the sleep action)
    assert 1.5 <= gone["pre-stop-capped"] <= 6, gone  # exec sleep 30, but terminationGracePeriodSeconds 2
