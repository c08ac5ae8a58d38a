"""The scrape-time /metrics series, computed from the informer caches and the shared executor at each scrape: Argo's
names and label values for Rollouts, AnalysisRuns and templates (in both API groups), gone as soon as their object
is, and our executor's node counts and queues."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from rollouts.controller.metrics import ControllerMetrics, ScrapeSources, exposition
from rollouts.controller.rollouts import rollout_cache
from tests.support.fake_kube import FakeKube
from tests.support.workflows import dag, leaf, plan_of, workflow
from workflows import Executor, ExecutorConfig, NodeContext, NodeResult, RunnerRegistry
from workflows.api import ARGO, ROLLOUTS_DEV, ApiMode
from workflows.runtime.informer import Cache

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _rollout(
    name: str, *, strategy: Mapping[str, Any], status: Mapping[str, Any], replicas: int | None = 5, **labels: str
) -> dict[str, Any]:
    spec: dict[str, Any] = {"strategy": dict(strategy), "selector": {"matchLabels": {"app": name}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": "shop", "labels": dict(labels)},
        "spec": spec,
        "status": dict(status),
    }


def _progressing(reason: str) -> dict[str, Any]:
    return {"type": "Progressing", "status": "True", "reason": reason}


def _run(name: str, *, labels: Mapping[str, str], spec: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": name, "namespace": "shop", "labels": dict(labels)},
        "spec": dict(spec),
        "status": dict(status),
    }


PROMETHEUS = {"prometheus": {"address": "http://prometheus:9090", "query": "up"}}
WEB = {"web": {"url": "http://checks/health"}}


def _world() -> FakeKube:
    kube = FakeKube()
    kube.add(
        _rollout(
            "checkout",
            strategy={"canary": {"trafficRouting": {"nginx": {"stableIngress": "checkout"}}, "steps": [{"pause": {}}]}},
            status={
                "replicas": 6,
                "availableReplicas": 4,
                "updatedReplicas": 2,
                "currentStepIndex": 0,
                "conditions": [_progressing("RolloutPaused")],
            },
        )
    )
    kube.add(
        _rollout(
            "cart",
            strategy={"blueGreen": {"activeService": "cart"}},
            status={"replicas": 1, "availableReplicas": 1, "updatedReplicas": 1, "conditions": [
                _progressing("NewReplicaSetAvailable")
            ]},
            replicas=None,  # Argo's default: 1 desired
        )
    )  # fmt: skip
    kube.add(
        _rollout(
            "broken",
            strategy={"canary": {"trafficRouting": {"istio": {"virtualService": {"name": "vs"}}}}},
            status={"conditions": [_progressing("RolloutAborted"), {"type": "InvalidSpec", "status": "True"}]},
        )
    )
    kube.add(
        _rollout(
            "gateway",
            strategy={"canary": {"trafficRouting": {"plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "r"}}}}},
            status={"conditions": [_progressing("ProgressDeadlineExceeded")]},
        )
    )
    kube.add(  # another controller instance's: not this controller's to report
        _rollout(
            "elsewhere",
            strategy={"canary": {}},
            status={},
            **{"argo-rollouts.argoproj.io/controller-instance-id": "other"},
        )
    )
    kube.add(
        _run(
            "checkout-abc-1",
            labels={"rollouts.dev/analysis-kind": "Step"},
            spec={
                "metrics": [{"name": "success-rate", "provider": PROMETHEUS}, {"name": "latency", "provider": WEB}],
                "dryRun": [{"metricName": "lat.*"}],
            },
            status={"phase": "Running", "metricResults": [{"name": "success-rate", "phase": "Successful"}]},
        )
    )
    kube.add(  # made by hand, not by a Rollout: reported all the same
        _run("smoke", labels={}, spec={"metrics": [{"name": "job", "provider": {"job": {"spec": {}}}}]}, status={})
    )
    kube.add(
        {
            "apiVersion": "rollouts.dev/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": "success-rate", "namespace": "shop"},
            "spec": {"metrics": [{"name": "success-rate", "provider": PROMETHEUS}]},
        }
    )
    kube.add(
        {
            "apiVersion": "rollouts.dev/v1alpha1",
            "kind": "ClusterAnalysisTemplate",
            "metadata": {"name": "health"},
            "spec": {"metrics": [{"name": "health", "provider": WEB}]},
        }
    )
    return kube


def _synced_cache(kube: FakeKube, mode: ApiMode = ROLLOUTS_DEV) -> Cache:
    cache = rollout_cache(cast("Any", kube), mode=mode)
    for informer in cache:
        informer._list(None)
    assert cache.synced
    return cache


def _scrape(registry: CollectorRegistry) -> Samples:
    text = exposition(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _series(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: value for (sample, labels), value in samples.items() if sample == name}


def _labels(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def _registry(cache: Cache, mode: ApiMode = ROLLOUTS_DEV) -> CollectorRegistry:
    registry = CollectorRegistry()
    ControllerMetrics(registry).attach(ScrapeSources(cache, mode))
    return registry


def test_rollout_info_has_argos_labels_and_phase_from_the_conditions() -> None:
    samples = _scrape(_registry(_synced_cache(_world())))
    info = _series(samples, "rollout_info")
    shop = {"namespace": "shop"}
    assert info == {
        _labels(**shop, name="checkout", strategy="canary", traffic_router="Nginx", phase="Paused"): 1,
        _labels(**shop, name="cart", strategy="blueGreen", traffic_router="", phase="Completed"): 1,
        _labels(**shop, name="broken", strategy="canary", traffic_router="Istio", phase="InvalidSpec"): 1,
        # Argo reaches Gateway API through a plugin, which its controller labels with no router
        _labels(**shop, name="gateway", strategy="canary", traffic_router="", phase="Timeout"): 1,
    }


def test_replica_gauges_follow_status_and_spec() -> None:
    samples = _scrape(_registry(_synced_cache(_world())))
    checkout, cart = _labels(namespace="shop", name="checkout"), _labels(namespace="shop", name="cart")
    assert _series(samples, "rollout_info_replicas_available")[checkout] == 4
    assert _series(samples, "rollout_info_replicas_unavailable")[checkout] == 2
    assert _series(samples, "rollout_info_replicas_desired")[checkout] == 5
    assert _series(samples, "rollout_info_replicas_updated")[checkout] == 2
    assert _series(samples, "rollout_info_replicas_desired")[cart] == 1  # no spec.replicas: Argo's default


def test_the_deprecated_rollout_phase_has_one_series_per_phase() -> None:
    samples = _scrape(_registry(_synced_cache(_world())))
    phases = _series(samples, "rollout_phase")
    checkout = {dict(labels)["phase"]: value for labels, value in phases.items() if dict(labels)["name"] == "checkout"}
    assert checkout == {"Completed": 0, "Progressing": 0, "Paused": 1, "Timeout": 0, "Error": 0, "Abort": 0}
    broken = [value for labels, value in phases.items() if dict(labels)["name"] == "broken"]
    assert broken == [0] * 6  # InvalidSpec is none of them, as in Argo


def test_analysis_runs_report_their_phase_metrics_types_and_dry_run() -> None:
    samples = _scrape(_registry(_synced_cache(_world())))
    run = {"namespace": "shop", "name": "checkout-abc-1"}
    assert _series(samples, "analysis_run_info") == {
        _labels(**run, phase="Running"): 1,
        _labels(namespace="shop", name="smoke", phase=""): 1,
    }
    phases = _series(samples, "analysis_run_phase")
    assert phases[_labels(**run, phase="Running")] == 1
    assert phases[_labels(namespace="shop", name="smoke", phase="Pending")] == 1  # no phase yet: Pending, as Argo
    assert sum(value for labels, value in phases.items() if dict(labels)["name"] == "smoke") == 1
    assert _series(samples, "analysis_run_metric_type") == {
        _labels(**run, metric="success-rate", type="Prometheus"): 1,
        _labels(**run, metric="latency", type="Web"): 1,
        _labels(namespace="shop", name="smoke", metric="job", type="Job"): 1,
    }
    metric_phase = _series(samples, "analysis_run_metric_phase")
    rate = {"metric": "success-rate", "type": "Prometheus", "dry_run": "false"}
    latency = {"metric": "latency", "type": "Web", "dry_run": "true"}  # dryRun's metricName is a regular expression
    assert metric_phase[_labels(**run, **rate, phase="Successful")] == 1
    assert metric_phase[_labels(**run, **rate, phase="Running")] == 0
    assert metric_phase[_labels(**run, **latency, phase="Pending")] == 1  # no result yet
    assert len([labels for labels in metric_phase if dict(labels)["name"] == "checkout-abc-1"]) == 12


def test_templates_are_reported_as_argo_does() -> None:
    samples = _scrape(_registry(_synced_cache(_world())))
    assert _series(samples, "analysis_template_info") == {
        _labels(namespace="shop", name="success-rate"): 1,
        _labels(namespace="", name="health"): 1,  # a ClusterAnalysisTemplate
    }
    assert _series(samples, "analysis_template_metric_info") == {
        _labels(namespace="shop", name="success-rate", type="Prometheus", metric="success-rate"): 1,
        _labels(namespace="", name="health", type="Web", metric="health"): 1,
    }


def test_a_deleted_object_has_no_series_at_the_next_scrape() -> None:
    kube = _world()
    cache = _synced_cache(kube)
    registry = _registry(cache)
    assert any(dict(labels)["name"] == "checkout" for labels in _series(_scrape(registry), "rollout_info"))
    for key in [key for key in kube.objects if key[2] in {"checkout", "checkout-abc-1"}]:
        del kube.objects[key]
    for informer in cache:
        informer._list(None)  # the watch would tell it; a re-list forgets what went meanwhile
    samples = _scrape(registry)
    assert not any("checkout" in dict(labels).get("name", "") for (_, labels) in samples)
    assert any(dict(labels)["name"] == "cart" for labels in _series(samples, "rollout_info"))


def test_drop_in_mode_reports_argos_objects_under_the_same_names() -> None:
    kube = FakeKube()
    ours = _world()
    for body in ours.objects.values():
        kube.add({**body, "apiVersion": "argoproj.io/v1alpha1"})
    kube.add(_rollout("ours-only", strategy={"canary": {}}, status={}))  # rollouts.dev: not served in drop-in mode
    argo = _scrape(_registry(_synced_cache(kube, ARGO), ARGO))
    own = _scrape(_registry(_synced_cache(ours)))
    assert argo == own


def test_no_sources_attached_means_no_per_object_series() -> None:
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    sources = ScrapeSources(_synced_cache(_world()), ROLLOUTS_DEV)
    metrics.attach(sources)
    assert _series(_scrape(registry), "rollout_info")
    metrics.detach(ScrapeSources(sources.cache, ROLLOUTS_DEV))  # an equal value detaches (the operator's stop)
    assert not _series(_scrape(registry), "rollout_info")


class _Gate:
    """A step runner whose steps run until the gate opens."""

    uses_slot = True

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.first_started = asyncio.Event()

    async def run(self, node: NodeContext) -> NodeResult:
        self.first_started.set()
        await self.open.wait()
        return NodeResult.succeeded()


async def test_executor_nodes_and_queues_are_reported() -> None:
    gate = _Gate()
    executor = Executor(
        registry=RunnerRegistry({"container": gate}), config=ExecutorConfig(max_running=1, status_interval=0)
    )
    tasks = [{"name": name, "template": "work"} for name in ("a", "b", "c")]
    registry = CollectorRegistry()
    ControllerMetrics(registry).attach(ScrapeSources(Cache(cast("Any", FakeKube())), ROLLOUTS_DEV, executor.stats))
    try:
        run = executor.submit(plan_of(workflow([dag("main", tasks), leaf()])), owner={"kind": "Workflow"})
        await asyncio.wait_for(gate.first_started.wait(), timeout=10)
        samples = _scrape(registry)
        nodes = _series(samples, "workflow_nodes")
        assert nodes[_labels(kind="Workflow", phase="Running")] == 2  # the DAG and the step holding the one slot
        assert nodes[_labels(kind="Workflow", phase="Pending")] == 2  # ready, waiting for the slot
        assert _series(samples, "workflow_executor_queue_depth") == {frozenset(): 2}
        assert _series(samples, "workflow_executor_running") == {frozenset(): 1}
        assert _series(samples, "workflow_executor_slots") == {frozenset(): 1}
        assert _series(samples, "workflow_executor_runs") == {frozenset(): 1}
        gate.open.set()
        await asyncio.wait_for(run.wait(), timeout=10)
        samples = _scrape(registry)
        assert _series(samples, "workflow_nodes") == {}  # a finished run is no longer counted
        assert _series(samples, "workflow_executor_queue_depth") == {frozenset(): 0}
        latency = _series(samples, "workflow_executor_queue_latency_seconds_count")
        assert latency == {frozenset(): 3}  # each step's first attempt, once
        buckets = _series(samples, "workflow_executor_queue_latency_seconds_bucket")
        assert buckets[_labels(le="+Inf")] == 3
    finally:
        await executor.close()


@pytest.mark.parametrize("mode", [ROLLOUTS_DEV, ARGO])
def test_every_family_is_described_and_collected_under_one_name(mode: ApiMode) -> None:
    """The registry refuses a name twice; what describe() announces is what collect() writes."""
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    metrics.attach(ScrapeSources(_synced_cache(FakeKube(), mode), mode, Executor().stats))
    described = {family.name for family in metrics.describe()}
    collected = {family.name for family in metrics.collect()}
    assert described == collected
