"""The controller's /metrics series: Argo's names, one rollout_info series per Rollout, gone when it is."""

from __future__ import annotations

import urllib.request

from prometheus_client import CollectorRegistry

from rollouts.controller.metrics import ControllerMetrics, serve_metrics
from tools.conformance.controllers import free_port
from workflows.runtime.kube import request_kind_verb


def _value(registry: CollectorRegistry, metric: str, **labels: str) -> float | None:
    return registry.get_sample_value(metric, labels)


def test_rollout_info_follows_the_phase_and_goes_with_the_rollout() -> None:
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    metrics.observed("ns", "web", strategy="canary", phase="Progressing", seconds=0.02)
    assert _value(registry, "rollout_info", namespace="ns", name="web", strategy="canary", phase="Progressing") == 1
    metrics.observed("ns", "web", strategy="canary", phase="Healthy", seconds=0.01)
    assert _value(registry, "rollout_info", namespace="ns", name="web", strategy="canary", phase="Progressing") is None
    assert _value(registry, "rollout_info", namespace="ns", name="web", strategy="canary", phase="Healthy") == 1
    assert _value(registry, "rollout_reconcile_count", namespace="ns", name="web") == 2
    metrics.failed("ns", "web")
    assert _value(registry, "rollout_reconcile_error_total", namespace="ns", name="web") == 1
    metrics.forget("ns", "web")
    assert _value(registry, "rollout_info", namespace="ns", name="web", strategy="canary", phase="Healthy") is None
    assert _value(registry, "rollout_reconcile_count", namespace="ns", name="web") is None
    metrics.forget("ns", "never-seen")  # nothing to remove is not an error


def test_served_over_http() -> None:
    port = free_port()
    server = serve_metrics(port, "127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert response.status == 200
            assert b"python_info" in response.read()
    finally:
        server.shutdown()  # no serving thread left behind for the tests that follow (the collector's are exact)
        server.server_close()


def test_api_requests_are_counted_by_resource_verb_and_status() -> None:
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    for method, path, query, status in [
        ("GET", "/apis/apps/v1/namespaces/ns/replicasets", [("labelSelector", "app=web")], 200),
        ("GET", "/apis/apps/v1/namespaces/ns/replicasets", [], 200),
        ("PATCH", "/apis/rollouts.dev/v1alpha1/namespaces/ns/rollouts/web/status", [], 409),
        ("GET", "/api/v1/namespaces/ns/services/web-stable", [], 200),
        ("GET", "/apis/networking.istio.io/v1beta1", [], 200),
        ("GET", "/api/v1/namespaces/ns/pods", [("watch", "true")], 200),
        ("DELETE", "/apis/batch/v1/namespaces/ns/jobs/run-1", [], 200),
        ("POST", "/api/v1/namespaces", [], 201),
    ]:
        metrics.request(*request_kind_verb(method, path, query), status)
    sample = "controller_clientset_k8s_request_total"
    assert _value(registry, sample, kind="replicasets", verb="List", status_code="200") == 2
    assert _value(registry, sample, kind="rollouts", verb="Patch", status_code="409") == 1
    assert _value(registry, sample, kind="services", verb="Get", status_code="200") == 1
    assert _value(registry, sample, kind="", verb="Get", status_code="200") == 1  # discovery
    assert _value(registry, sample, kind="pods", verb="Watch", status_code="200") == 1
    assert _value(registry, sample, kind="jobs", verb="Delete", status_code="200") == 1
    assert _value(registry, sample, kind="namespaces", verb="Create", status_code="201") == 1
