"""The job provider: Job names, Job bodies and stuck-pod detection (pure), and the provider driven by the real
metric runner and executor in virtual time against a fake cluster backend (no sockets, no threads)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.assess import AnalysisPhase, Measurement, MetricResult
from analysis.providers.base import ProviderRegistry
from analysis.providers.job import (
    JOB_POD_LABEL,
    PULL_PATIENCE,
    RUN_UID_LABEL,
    JobOwnershipError,
    JobProvider,
    JobResult,
    build_job,
    job_name,
    unstartable_reason,
)
from analysis.runner import AnalysisOutcome, conclude
from analysis.spec import ProviderKind, parse_run_spec, resolve_metrics
from tests.support.fakes import ScriptedProvider
from tests.support.metric_runner import metric_executor, run_in_virtual_time
from tests.support.virtual_time import T0, VirtualTime
from workflows import Executor
from workflows.api import MANAGED_LABEL

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
OWNER = {
    "apiVersion": "rollouts.dev/v1alpha1",
    "kind": "AnalysisRun",
    "name": "run",
    "uid": "uid-1",
    "controller": True,
}


# --------------------------------------------------------------------------------------------------------------
# Names


def test_job_name_is_run_metric_sequence_when_that_is_valid() -> None:
    assert job_name("canary-abc", "error-rate", 3) == "canary-abc-error-rate-3"


@given(
    run=st.from_regex(r"[a-z0-9]([-a-z0-9]{0,60}[a-z0-9])?", fullmatch=True),
    metric=st.text(min_size=1, max_size=80),
    sequence=st.integers(min_value=1, max_value=10**6),
)
def test_job_names_are_always_valid_stable_and_end_with_the_sequence(run: str, metric: str, sequence: int) -> None:
    name = job_name(run, metric, sequence)
    assert len(name) <= 63
    assert DNS_LABEL.match(name), name
    assert name.endswith(f"-{sequence}")
    assert job_name(run, metric, sequence) == name


def test_metric_names_that_sanitise_alike_do_not_share_jobs() -> None:
    assert job_name("run", "a.b", 1) != job_name("run", "a_b", 1)
    assert job_name("run", "Latency", 1) != job_name("run", "latency", 1)


# --------------------------------------------------------------------------------------------------------------
# Job bodies


def test_job_body_keeps_the_user_spec_and_adds_labels_annotations_and_owner() -> None:
    provider_body = {
        "metadata": {"labels": {"team": "payments"}, "annotations": {"note": "x"}},
        "spec": {
            "backoffLimit": 2,
            "template": {
                "metadata": {"labels": {"app": "smoke"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    job = build_job(provider_body, name="run-m-1", namespace="ns", run_name="run", metric_name="m", owner=OWNER)
    assert job["apiVersion"] == "batch/v1"
    assert job["kind"] == "Job"
    meta = job["metadata"]
    assert (meta["name"], meta["namespace"]) == ("run-m-1", "ns")
    assert meta["labels"] == {"team": "payments", MANAGED_LABEL: "rollouts", RUN_UID_LABEL: "uid-1"}
    assert meta["annotations"]["note"] == "x"
    assert meta["annotations"]["analysis.rollouts.dev/metric-name"] == "m"
    assert meta["ownerReferences"] == [OWNER]
    assert job["spec"]["backoffLimit"] == 2  # the user's spec, untouched
    # the user's pod spec, plus no token for a pod that asked for no identity (see the tests below)
    user_pod = provider_body["spec"]["template"]["spec"]  # type: ignore[index]
    assert job["spec"]["template"]["spec"] == {**user_pod, "automountServiceAccountToken": False}
    assert job["spec"]["template"]["metadata"]["labels"] == {"app": "smoke", JOB_POD_LABEL: "run-m-1"}
    # The input is not mutated (it is the metric's body, reused for every measurement).
    assert "metadata" not in provider_body["spec"]["template"]["spec"]  # type: ignore[index]
    assert "automountServiceAccountToken" not in provider_body["spec"]["template"]["spec"]  # type: ignore[index]
    assert JOB_POD_LABEL not in provider_body["spec"]["template"]["metadata"]["labels"]  # type: ignore[index]


def job_pod_spec(pod_spec: dict[str, Any]) -> dict[str, Any]:
    body = {"spec": {"template": {"spec": pod_spec}}}
    job = build_job(body, name="j", namespace="ns", run_name="r", metric_name="m", owner=None)
    return dict(job["spec"]["template"]["spec"])


def test_a_job_metric_pod_that_asks_for_no_identity_gets_no_service_account_token() -> None:
    containers = [{"name": "c", "image": "busybox"}]
    assert job_pod_spec({"containers": containers}) == {"containers": containers, "automountServiceAccountToken": False}


@pytest.mark.parametrize(
    "asked",
    [
        {"serviceAccountName": "smoke-tests"},
        {"serviceAccount": "smoke-tests"},  # the deprecated alias still names an identity
        {"automountServiceAccountToken": True},
        {"automountServiceAccountToken": False},
        {"serviceAccountName": "smoke-tests", "automountServiceAccountToken": False},
    ],
)
def test_an_explicit_identity_choice_in_a_job_metric_is_never_overridden(asked: dict[str, Any]) -> None:
    spec = {"containers": [{"name": "c", "image": "busybox"}], **asked}
    assert job_pod_spec(spec) == spec


def test_our_managed_label_wins_over_a_user_label_of_the_same_key() -> None:
    body = {"metadata": {"labels": {MANAGED_LABEL: "someone-else"}}, "spec": {"template": {}}}
    job = build_job(body, name="j", namespace="ns", run_name="r", metric_name="m", owner=None)
    assert job["metadata"]["labels"][MANAGED_LABEL] == "rollouts"
    assert "ownerReferences" not in job["metadata"]


# --------------------------------------------------------------------------------------------------------------
# Pods that cannot start


def pod(*, waiting: str | None = None, message: str = "", key: str = "containerStatuses") -> dict[str, Any]:
    """A pod started at T0 whose container waits for ``waiting`` (runs when None)."""
    state: dict[str, Any] = {"waiting": {"reason": waiting, "message": message}} if waiting else {"running": {}}
    status = {"phase": "Pending", "startTime": "2026-01-01T00:00:00Z", key: [{"name": "main", "state": state}]}
    return {"metadata": {"name": "p"}, "status": status}


LATER = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)  # well past the pull-error patience


@pytest.mark.parametrize(
    "reason", ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"]
)
def test_unstartable_reasons_are_detected(reason: str) -> None:
    found = unstartable_reason(pod(waiting=reason, message="failed to pull image"), now=LATER)
    assert found is not None
    assert found.startswith(reason)
    assert "failed to pull image" in found


@pytest.mark.parametrize("reason", ["ContainerCreating", "PodInitializing", None])
def test_pods_that_are_merely_starting_or_running_are_not_stuck(reason: str | None) -> None:
    assert unstartable_reason(pod(waiting=reason), now=LATER) is None


def test_init_containers_count_and_empty_pods_do_not_crash() -> None:
    assert unstartable_reason(pod(waiting="ErrImagePull", key="initContainerStatuses"), now=LATER) is not None
    assert unstartable_reason({}, now=LATER) is None
    assert unstartable_reason({"status": {"containerStatuses": None}}, now=LATER) is None


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff"])
def test_a_pull_error_counts_once_the_kubelets_first_retry_has_failed_too(reason: str) -> None:
    """The kubelet retries a failed pull after 10 s: an error younger than that may be a registry's blip."""
    started = datetime(2026, 1, 1, tzinfo=UTC)
    assert unstartable_reason(pod(waiting=reason), now=started + PULL_PATIENCE - timedelta(seconds=1)) is None
    assert unstartable_reason(pod(waiting=reason), now=started + PULL_PATIENCE) is not None
    # A reason the kubelet never retries its way out of counts at once.
    assert unstartable_reason(pod(waiting="InvalidImageName"), now=started) is not None


# --------------------------------------------------------------------------------------------------------------
# The provider on the real runner and executor, with a fake cluster


@dataclass
class FakeCluster:
    """Jobs complete after a scripted virtual duration with a scripted result; records creates and deletes."""

    vt: VirtualTime
    outcomes: dict[str, tuple[float, JobResult]] = field(default_factory=dict)
    default: tuple[float, JobResult] = (30.0, JobResult(succeeded=True))
    existing: dict[str, str] = field(default_factory=dict)  # job name -> owner uid (created "before a restart")
    create_error: Exception | None = None
    created: list[dict[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    shutting_down: bool = False

    def create_job(self, namespace: str, body: Mapping[str, Any]) -> None:
        if self.create_error is not None:
            raise self.create_error
        name = body["metadata"]["name"]
        if name in self.existing:
            if self.existing[name] != body["metadata"]["ownerReferences"][0]["uid"]:
                raise JobOwnershipError(f"Job {name} already exists and belongs to another object")
            return
        self.existing[name] = body["metadata"]["ownerReferences"][0]["uid"]
        self.created.append(dict(body))

    def delete_job(self, namespace: str, name: str) -> None:
        self.deleted.append(name)

    async def wait_job(self, namespace: str, name: str) -> JobResult:
        duration, result = self._script(name)
        if result.unstartable:
            await asyncio.Event().wait()  # never completes: the pod watch answers instead
        await self.vt.sleep(duration)
        return result

    async def wait_unstartable(self, namespace: str, name: str) -> JobResult:
        duration, result = self._script(name)
        if not result.unstartable:
            await asyncio.Event().wait()
        await self.vt.sleep(duration)
        return result

    def _script(self, name: str) -> tuple[float, JobResult]:
        for prefix, script in self.outcomes.items():
            if name.startswith(prefix):
                return script
        return self.default


@pytest.fixture
def cluster(vt: VirtualTime) -> FakeCluster:
    return FakeCluster(vt=vt)


@pytest.fixture
async def executor(vt: VirtualTime, cluster: FakeCluster) -> AsyncIterator[Executor]:
    providers = ProviderRegistry(
        {
            ProviderKind.JOB: JobProvider(cluster, clock=vt.clock),
            ProviderKind.PROMETHEUS: ScriptedProvider(scripts={"gate": [0.1]}),
        }
    )
    executor = metric_executor(providers, secrets={("creds", "image"): "registry.example/s3cr3t"}, vt=vt)
    yield executor
    await executor.close()


def job(name: str, **fields: Any) -> dict[str, Any]:
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}
    return {"name": name, "provider": {"job": {"spec": {"backoffLimit": 0, "template": template}}}, **fields}


async def go(
    vt: VirtualTime,
    executor: Executor,
    metrics: list[dict[str, Any]],
    *,
    results: Mapping[str, MetricResult] | None = None,
    updates: list[tuple[str, MetricResult]] | None = None,
    **spec: Any,
) -> AnalysisOutcome:
    """A run of ``metrics`` in namespace ``ns``, owned by :data:`OWNER`."""
    run = parse_run_spec({"metrics": metrics, **spec})
    return await run_in_virtual_time(vt, executor, run, results=results, updates=updates, namespace="ns", owner=OWNER)


async def test_each_measurement_is_one_job_recorded_running_first(
    vt: VirtualTime, executor: Executor, cluster: FakeCluster
) -> None:
    updates: list[tuple[str, MetricResult]] = []
    outcome = await go(vt, executor, [job("smoke", count=2, interval="1m")], updates=updates)
    assert outcome.phase is AnalysisPhase.SUCCESSFUL
    assert [body["metadata"]["name"] for body in cluster.created] == ["run-smoke-1", "run-smoke-2"]
    first = updates[0][1].measurements[-1]
    assert first.phase is AnalysisPhase.RUNNING
    assert first.metadata == {"job-name": "run-smoke-1"}
    result = outcome.results["smoke"]
    assert (result.count, result.successful) == (2, 2)
    assert [m.finished_at - m.started_at for m in result.measurements] == [timedelta(seconds=30)] * 2  # type: ignore[operator]
    # The second Job starts one interval after the first finished.
    assert result.measurements[1].started_at == T0 + timedelta(seconds=30 + 60)
    assert cluster.deleted == []


CASES = {
    "failed": (
        JobResult(succeeded=False, message="BackoffLimitExceeded: Job has reached the specified backoff limit"),
        AnalysisPhase.FAILED,
        "BackoffLimitExceeded",
    ),
    "unstartable": (
        JobResult(succeeded=False, message="pod p: ErrImagePull: container c", unstartable=True),
        AnalysisPhase.INCONCLUSIVE,
        "cannot start: pod p: ErrImagePull",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_job_outcomes_become_measurement_phases(
    vt: VirtualTime, executor: Executor, cluster: FakeCluster, case: tuple[JobResult, AnalysisPhase, str]
) -> None:
    script, phase, text = case
    cluster.default = (5.0, script)
    outcome = await go(vt, executor, [job("smoke")])
    assert outcome.phase is phase
    measurement = outcome.results["smoke"].measurements[-1]
    assert measurement.phase is phase
    assert text in measurement.message
    # An unstartable Job is deleted (it would wait forever); a failed one is kept for its logs.
    assert cluster.deleted == (["run-smoke-1"] if script.unstartable else [])


async def test_conditions_do_not_apply_to_job_metrics(vt: VirtualTime, executor: Executor) -> None:
    outcome = await go(vt, executor, [job("smoke", successCondition="result == 'never'")])
    assert outcome.phase is AnalysisPhase.SUCCESSFUL


async def test_restart_reattaches_to_the_running_job_and_keeps_its_start(
    vt: VirtualTime, executor: Executor, cluster: FakeCluster
) -> None:
    cluster.existing["run-smoke-2"] = "uid-1"
    stored = MetricResult(
        name="smoke",
        phase=AnalysisPhase.RUNNING,
        count=1,
        successful=1,
        measurements=(
            Measurement(phase=AnalysisPhase.SUCCESSFUL, started_at=T0, finished_at=T0 + timedelta(seconds=30),
                        metadata={"job-name": "run-smoke-1"}),
            Measurement(phase=AnalysisPhase.RUNNING, started_at=T0 + timedelta(seconds=90),
                        metadata={"job-name": "run-smoke-2"}),
        ),
    )  # fmt: skip
    vt.now = T0 + timedelta(seconds=100)
    outcome = await go(vt, executor, [job("smoke", count=2, interval="1m")], results={"smoke": stored})
    assert outcome.phase is AnalysisPhase.SUCCESSFUL
    assert cluster.created == []  # no duplicate Job
    result = outcome.results["smoke"]
    assert (result.count, result.successful) == (2, 2)
    assert result.measurements[-1].started_at == T0 + timedelta(seconds=90)
    assert result.measurements[-1].metadata == {"job-name": "run-smoke-2"}


async def test_a_job_of_the_same_name_owned_by_another_run_is_an_error(
    vt: VirtualTime, executor: Executor, cluster: FakeCluster
) -> None:
    cluster.existing["run-smoke-1"] = "someone-else"
    outcome = await go(vt, executor, [job("smoke", consecutiveErrorLimit=0)])
    assert outcome.phase is AnalysisPhase.ERROR
    assert "belongs to another object" in outcome.results["smoke"].measurements[-1].message


async def test_create_failures_are_error_measurements_without_secrets(
    vt: VirtualTime, executor: Executor, cluster: FakeCluster
) -> None:
    cluster.create_error = RuntimeError("admission refused image registry.example/s3cr3t")
    metric = job("smoke", consecutiveErrorLimit=0)
    metric["provider"]["job"]["spec"]["template"]["spec"]["containers"][0]["image"] = "{{args.image}}"
    outcome = await go(
        vt,
        executor,
        [metric],
        args=[{"name": "image", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "image"}}}],
    )
    assert outcome.phase is AnalysisPhase.ERROR
    message = outcome.results["smoke"].measurements[-1].message
    assert "cannot create Job run-smoke-1" in message
    assert "s3cr3t" not in message


async def test_a_failing_metric_terminates_the_running_job(
    vt: VirtualTime, executor: Executor, cluster: FakeCluster
) -> None:
    cluster.default = (3600.0, JobResult(succeeded=True))
    gate = {"name": "gate", "initialDelay": "10s", "successCondition": "result > 0.9",
            "provider": {"prometheus": {"query": "q"}}}  # fmt: skip
    outcome = await go(vt, executor, [gate, job("smoke")])
    assert outcome.phase is AnalysisPhase.FAILED
    smoke = outcome.results["smoke"].measurements[-1]
    # A Job stopped before it finished says nothing either way: Inconclusive, as Argo v1.10's job provider.
    assert (smoke.phase, smoke.message) == (AnalysisPhase.INCONCLUSIVE, "Metric Terminated")
    assert smoke.finished_at == T0 + timedelta(seconds=10)
    assert cluster.deleted == ["run-smoke-1"]


async def test_shutdown_leaves_the_job_and_the_running_measurement_for_the_next_controller(
    vt: VirtualTime, executor: Executor, cluster: FakeCluster
) -> None:
    cluster.default = (3600.0, JobResult(succeeded=True))
    updates: list[tuple[str, MetricResult]] = []
    task = asyncio.ensure_future(go(vt, executor, [job("smoke")], updates=updates))
    for _ in range(100):
        await asyncio.sleep(0)
        if updates:
            break
    assert updates, "the Running measurement was never recorded"
    cluster.shutting_down = True
    await executor.close()
    outcome = await task
    assert outcome.interrupted
    assert cluster.deleted == []
    assert outcome.results["smoke"].measurements[-1].phase is AnalysisPhase.RUNNING


def test_a_terminated_run_with_a_job_still_running_is_inconclusive() -> None:
    """Argo's TestCanaryBackgroundAnalysisLongRunningJob: the rollout finishes, its background run is terminated
    while the Job runs; the Job's measurement (and so the run) is Inconclusive. A web metric stopped the same way
    counts as Successful, as in Argo."""
    web = {"name": "ping", "provider": {"web": {"url": "http://example.invalid"}}}
    run = parse_run_spec({"metrics": [job("smoke"), web]})
    running = Measurement(phase=AnalysisPhase.RUNNING, started_at=T0, metadata={"job-name": "run-smoke-1"})
    results = {
        "smoke": MetricResult(name="smoke", phase=AnalysisPhase.RUNNING, measurements=(running,)),
        "ping": MetricResult(name="ping", phase=AnalysisPhase.RUNNING, measurements=(replace(running, metadata={}),)),
    }
    outcome = conclude(
        resolve_metrics(run), results, terminate=True, dry_run=(), started_at=T0, now=T0 + timedelta(seconds=5)
    )
    assert outcome.phase is AnalysisPhase.INCONCLUSIVE
    smoke, ping = outcome.results["smoke"], outcome.results["ping"]
    assert (smoke.phase, smoke.measurements[-1].phase) == (AnalysisPhase.INCONCLUSIVE, AnalysisPhase.INCONCLUSIVE)
    assert smoke.measurements[-1].message == "Metric Terminated"
    assert (ping.phase, ping.measurements[-1].phase) == (AnalysisPhase.SUCCESSFUL, AnalysisPhase.SUCCESSFUL)
