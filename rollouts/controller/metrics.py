"""The controller's Prometheus metrics, served on ``/metrics`` (``--metrics-port``, default 8090 as in Argo Rollouts).

Names follow Argo Rollouts' controller where the meaning is the same, so existing dashboards and alerts keep working
after a switch: ``rollout_info`` (one series per Rollout: its strategy and phase), ``rollout_reconcile`` (seconds per
reconcile, a histogram), ``rollout_reconcile_error`` (reconciles that failed) and
``controller_clientset_k8s_request_total`` (API requests by resource, verb and status). The process and Python runtime
metrics of ``prometheus_client`` come with them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, start_http_server

__all__ = ["DEFAULT_METRICS_PORT", "ControllerMetrics", "process_metrics", "serve_metrics"]

logger = logging.getLogger(__name__)

DEFAULT_METRICS_PORT = 8090  # Argo's controller.DefaultMetricsPort


class ControllerMetrics:
    """The Rollout controller's series. One instance per registry (the process' default one in the controller)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.info = Gauge(
            "rollout_info",
            "Information about a Rollout.",
            ["namespace", "name", "strategy", "phase"],
            registry=registry,
        )
        self.reconcile = Histogram(
            "rollout_reconcile",
            "Rollout reconciliation performance (seconds).",
            ["namespace", "name"],
            registry=registry,
        )
        self.errors = Counter(
            "rollout_reconcile_error", "Reconciles of a Rollout that failed.", ["namespace", "name"], registry=registry
        )
        # Argo's name; its labels without namespace and object name (bounded cardinality). kopf's own watches are
        # not counted: they are long-lived streams, not requests per reconcile.
        self.requests = Counter(
            "controller_clientset_k8s_request_total",
            "API requests the controller made, by resource, verb and HTTP status (0: no answer).",
            ["kind", "verb", "status_code"],
            registry=registry,
        )
        self._labels: dict[tuple[str, str], tuple[str, str]] = {}
        self._lock = threading.Lock()  # reconciles of different Rollouts run on several threads

    def observed(self, namespace: str, name: str, *, strategy: str, phase: str, seconds: float) -> None:
        """One reconcile of ``namespace/name`` ended with ``phase``."""
        self.reconcile.labels(namespace, name).observe(seconds)
        with self._lock:
            previous = self._labels.get((namespace, name))
            if previous != (strategy, phase):
                if previous is not None:
                    self.info.remove(namespace, name, *previous)
                self._labels[namespace, name] = (strategy, phase)
                self.info.labels(namespace, name, strategy, phase).set(1)

    def request(self, kind: str, verb: str, status: int) -> None:
        """One API request (a :class:`workflows.runtime.kube.Kube` observer)."""
        self.requests.labels(kind, verb, str(status)).inc()

    def failed(self, namespace: str, name: str) -> None:
        self.errors.labels(namespace, name).inc()

    def forget(self, namespace: str, name: str) -> None:
        """The Rollout was deleted: its series go."""
        with self._lock:
            previous = self._labels.pop((namespace, name), None)
            if previous is not None:
                self.info.remove(namespace, name, *previous)
        for metric in (self.reconcile, self.errors):
            with contextlib.suppress(KeyError):  # never observed
                metric.remove(namespace, name)


@functools.cache
def process_metrics() -> ControllerMetrics:
    """The series of this process, on the default registry (created once: a registry refuses a name twice)."""
    return ControllerMetrics()


def serve_metrics(port: int, address: str = "0.0.0.0") -> WSGIServer:  # noqa: S104 -- scraped from other pods
    """Serve ``/metrics`` on ``address:port`` from a daemon thread (``shutdown()`` the server returned to stop it);
    OSError when the port is taken (a misconfiguration the operator must see at start-up, not a silently missing
    endpoint)."""
    server, _ = start_http_server(port, addr=address)
    logger.info("metrics on http://%s:%d/metrics", address, port)
    return server
