"""The controller's counted /metrics series: Argo's names, label sets, types and buckets, written in the text format
Prometheus parses (Go's number spelling included), gone when their object is."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from rollouts.controller.metrics import ControllerMetrics, exposition, number_text, serve_metrics
from tools.conformance.controllers import free_port
from workflows.runtime.kube import RequestTarget, request_target


def _scrape(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample as Prometheus' own text parser reads the exposition."""
    text = exposition(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(registry: CollectorRegistry, sample: str, /, **labels: str) -> float | None:
    return _scrape(registry).get((sample, frozenset(labels.items())))


def test_rollout_reconciles_are_a_histogram_with_argos_buckets() -> None:
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    metrics.reconciled("ns", "web", 0.02)
    metrics.reconciled("ns", "web", 0.7)
    text = exposition(registry).decode()
    assert "# TYPE rollout_reconcile histogram\n" in text
    buckets = {
        sample.labels["le"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "rollout_reconcile_bucket"
    }
    assert buckets == {"0.01": 0, "0.15": 1, "0.25": 1, "0.5": 1, "1": 2, "+Inf": 2}  # le="1", as Go writes it
    assert _value(registry, "rollout_reconcile_count", namespace="ns", name="web") == 2
    assert _value(registry, "rollout_reconcile_sum", namespace="ns", name="web") == pytest.approx(0.72)
    assert "_created" not in text  # Argo's Go client writes none


def test_reconcile_errors_keep_argos_names_without_total() -> None:
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    metrics.failed("ns", "web")
    metrics.failed("ns", "web")
    metrics.analysis_runs.failed("ns", "web-1")
    text = exposition(registry).decode()
    assert "# TYPE rollout_reconcile_error counter\n" in text
    assert 'rollout_reconcile_error{namespace="ns",name="web"} 2\n' in text
    assert "# TYPE analysis_run_reconcile_error counter\n" in text
    assert 'analysis_run_reconcile_error{namespace="ns",name="web-1"} 1\n' in text
    assert "rollout_reconcile_error_total" not in text


def test_a_deleted_objects_counted_series_go_with_it() -> None:
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    for name in ("web", "api"):
        metrics.reconciled("ns", name, 0.01)
        metrics.failed("ns", name)
        metrics.event("ns", name, type="Normal", reason="RolloutUpdated")
    metrics.analysis_runs.reconciled("ns", "web-1", 0.01)
    metrics.forget("ns", "web")
    metrics.analysis_runs.forget("ns", "web-1")
    text = exposition(registry).decode()
    assert 'name="web"' not in text
    assert 'name="web-1"' not in text
    assert _value(registry, "rollout_events_total", namespace="ns", name="api", type="Normal", reason="RolloutUpdated")
    metrics.forget("ns", "never-seen")  # nothing to remove is not an error


def test_events_are_counted_by_type_and_reason() -> None:
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    metrics.event("ns", "web", type="Normal", reason="RolloutStepCompleted")
    metrics.event("ns", "web", type="Normal", reason="RolloutStepCompleted")
    metrics.event("ns", "web", type="Warning", reason="RolloutAborted")
    labels = {"namespace": "ns", "name": "web"}
    assert _value(registry, "rollout_events_total", **labels, type="Normal", reason="RolloutStepCompleted") == 2
    assert _value(registry, "rollout_events_total", **labels, type="Warning", reason="RolloutAborted") == 1


@pytest.mark.parametrize(
    ("method", "path", "query", "body", "expected"),
    [
        ("GET", "/apis/apps/v1/namespaces/ns/replicasets", [("labelSelector", "a=b")], None,
         RequestTarget("replicasets", "ns", "", "List")),
        ("PATCH", "/apis/rollouts.dev/v1alpha1/namespaces/ns/rollouts/web/status", [], None,
         RequestTarget("rollouts", "ns", "web", "Patch")),  # a subresource counts as its resource
        ("GET", "/api/v1/namespaces/ns/services/web-stable", [], None,
         RequestTarget("services", "ns", "web-stable", "Get")),
        ("GET", "/apis/networking.istio.io/v1beta1", [], None, RequestTarget("", "", "", "Get")),  # discovery
        ("GET", "/api/v1/pods", [("watch", "true")], None, RequestTarget("pods", "", "", "Watch")),
        ("GET", "/api/v1/namespaces/ns/pods", [("watch", "true"), ("fieldSelector", "metadata.name=p")], None,
         RequestTarget("pods", "ns", "p", "Watch")),
        ("DELETE", "/apis/batch/v1/namespaces/ns/jobs/run-1", [], None, RequestTarget("jobs", "ns", "run-1", "Delete")),
        ("DELETE", "/apis/batch/v1/namespaces/ns/jobs", [], None, RequestTarget("jobs", "ns", "", "DeleteCollection")),
        ("POST", "/apis/apps/v1/namespaces/ns/replicasets", [], {"metadata": {"name": "web-abc"}},
         RequestTarget("replicasets", "ns", "web-abc", "Create")),  # the name of a create is in its body
        ("PUT", "/apis/rollouts.dev/v1alpha1/namespaces/ns/rollouts/web", [], None,
         RequestTarget("rollouts", "ns", "web", "Update")),
    ],
)  # fmt: skip
def test_a_request_is_described_as_argo_counts_it(
    method: str, path: str, query: list[tuple[str, str]], body: object, expected: RequestTarget
) -> None:
    assert request_target(method, path, query, body) == expected


def test_api_requests_are_counted_with_argos_labels() -> None:
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    metrics.request(RequestTarget("rollouts", "ns", "web", "Patch"), 409)
    metrics.request(RequestTarget("rollouts", "ns", "web", "Patch"), 409)
    metrics.request(RequestTarget("rollouts", "ns", "", "List"), 200)
    metrics.request(RequestTarget("replicasets", "ns", "web-abc", "Create"), 201)
    metrics.request(RequestTarget("events", "ns", "web.17", "Patch"), 200)
    sample = "controller_clientset_k8s_request_total"
    labels = {"namespace": "ns"}
    assert _value(registry, sample, **labels, kind="rollouts", name="web", verb="Patch", status_code="409") == 2
    # Argo counts lists, Events and ReplicaSets by kind only (bounded cardinality)
    assert _value(registry, sample, **labels, kind="rollouts", name="N/A", verb="List", status_code="200") == 1
    assert _value(registry, sample, **labels, kind="replicasets", name="N/A", verb="Create", status_code="201") == 1
    assert _value(registry, sample, **labels, kind="events", name="N/A", verb="Patch", status_code="200") == 1


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"), (0.0, "0"), (0.25, "0.25"), (0.15, "0.15"), (123456.0, "123456"), (1234567.0, "1.234567e+06"),
        (1e6, "1e+06"), (0.0001, "0.0001"), (1e-05, "1e-05"), (-2.5, "-2.5"), (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"), (float("nan"), "NaN"), (0.1 + 0.2, "0.30000000000000004"),
    ],
)  # fmt: skip
def test_numbers_are_written_as_go_writes_them(value: float, text: str) -> None:
    assert number_text(value) == text


def test_label_values_are_escaped() -> None:
    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    metrics.event("ns", "web", type="Normal", reason='a "quoted"\\ reason\nwith a newline')
    reason = _scrape(registry)
    assert any(
        dict(labels).get("reason") == 'a "quoted"\\ reason\nwith a newline'
        for (name, labels) in reason
        if name == "rollout_events_total"
    )


def test_served_over_http_plain_and_gzipped() -> None:
    registry = CollectorRegistry()
    ControllerMetrics(registry).reconciled("ns", "web", 0.01)
    port = free_port()
    server = serve_metrics(port, "127.0.0.1", registry=registry)
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            plain = response.read()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Accept-Encoding": "gzip"})
        with opener.open(request, timeout=5) as response:
            assert response.headers["Content-Encoding"] == "gzip"
            assert gzip.decompress(response.read()) == plain
        assert b'rollout_reconcile_count{namespace="ns",name="web"} 1\n' in plain
        with pytest.raises(urllib.error.HTTPError) as missing:
            opener.open(f"http://127.0.0.1:{port}/other", timeout=5)
        assert missing.value.code == 404
        missing.value.close()
    finally:
        server.shutdown()  # no serving thread left behind for the tests that follow
        server.server_close()
