"""The controller's /metrics series: Argo's names, one rollout_info series per Rollout, gone when it is."""

from __future__ import annotations

import urllib.request

from prometheus_client import CollectorRegistry

from rollouts.controller.metrics import ControllerMetrics, serve_metrics
from tools.conformance.controllers import free_port


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
