"""Rollouts on the real cluster: their manifests, reads of the Rollout and what it owns (ReplicaSets, pods, Services,
AnalysisRuns), waits for a status or a pod split, and ``kubectl-rollouts`` run in-process.

Manifests are applied with :func:`tests.support.cluster.apply`; the job-based AnalysisTemplates the analysis steps
reference come from :func:`tests.support.analysis_manifests.job_template`. Every reader returns plain dicts (never
client models) so assertions print readably. Pod counts exclude terminating pods: a scaled-down ReplicaSet's pods
linger while KWOK deletes them, and the tests are about what the controller asked for and what serves.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from collections.abc import Mapping
from typing import Any

import yaml
from kubernetes import client

from rollouts.cli import kubectl_main
from tests.support.cluster import Kube, get_custom, list_custom, wait_for
from workflows.api import GROUP, VERSION

HASH_LABEL = "rollouts-pod-template-hash"
REVISION_ANNOTATION = "rollouts.dev/revision"
READY_DELAY = "kwok.rollouts.dev/ready-delay"


# -- manifests --------------------------------------------------------------------------------------------------------
def rollout(
    name: str,
    *,
    strategy: Mapping[str, Any],
    replicas: int = 5,
    image: str = "demo:blue",
    pod_annotations: Mapping[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A Rollout with one container named ``app`` whose pods carry ``app: <name>``."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": dict(pod_annotations or {})},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
            "strategy": dict(strategy),
            **spec,
        },
    }


def service(name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]},
    }


def create(kube: Kube, namespace: str, *docs: Mapping[str, Any]) -> subprocess.CompletedProcess[str]:
    """``kubectl create``; returns the completed process (``check=False``) so refusals can be asserted on."""
    text = yaml.safe_dump_all([dict(doc) for doc in docs])
    return kube.kubectl("create", f"--namespace={namespace}", "-f", "-", input=text, check=False)


# -- reading the world ------------------------------------------------------------------------------------------------
def get_rollout(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return get_custom(kube, namespace, "rollouts", name)


def status(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return dict(get_rollout(kube, namespace, name).get("status") or {})


def replica_sets(kube: Kube, namespace: str, name: str) -> dict[str, dict[str, Any]]:
    """The Rollout's ReplicaSets by pod-template hash: replicas asked, available, revision, name."""
    listed: Any = client.AppsV1Api(kube.api_client).list_namespaced_replica_set(
        namespace, label_selector=f"app={name}", _preload_content=False
    )
    found: dict[str, dict[str, Any]] = {}
    for rs in json.loads(listed.data)["items"]:
        pod_hash = rs["metadata"]["labels"].get(HASH_LABEL)
        found[pod_hash] = {
            "name": rs["metadata"]["name"],
            "replicas": rs["spec"].get("replicas", 0),
            "available": (rs.get("status") or {}).get("availableReplicas", 0),
            "revision": (rs["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION),
            "owners": [o["kind"] for o in rs["metadata"].get("ownerReferences") or []],
            "body": rs,
        }
    return found


def live_pods(kube: Kube, namespace: str, app: str) -> list[dict[str, Any]]:
    """Pods of ``app`` that are not being deleted."""
    listed: Any = client.CoreV1Api(kube.api_client).list_namespaced_pod(
        namespace, label_selector=f"app={app}", _preload_content=False
    )
    return [p for p in json.loads(listed.data)["items"] if not p["metadata"].get("deletionTimestamp")]


def pods_by_hash(kube: Kube, namespace: str, app: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pod in live_pods(kube, namespace, app):
        pod_hash = pod["metadata"]["labels"].get(HASH_LABEL, "")
        counts[pod_hash] = counts.get(pod_hash, 0) + 1
    return counts


def service_selector(kube: Kube, namespace: str, name: str) -> dict[str, str]:
    svc: Any = client.CoreV1Api(kube.api_client).read_namespaced_service(name, namespace)
    return dict(svc.spec.selector or {})


def analysis_runs(kube: Kube, namespace: str, rollout_name: str) -> list[dict[str, Any]]:
    """The AnalysisRuns the Rollout controls (found by ownerReference, as the controller finds them)."""
    listed = list_custom(kube, namespace, "analysisruns", label_selector="rollouts.dev/analysis-kind")
    runs = [
        run
        for run in listed
        if any(
            o.get("kind") == "Rollout" and o.get("name") == rollout_name
            for o in run["metadata"].get("ownerReferences") or []
        )
    ]
    return sorted(runs, key=lambda r: str(r["metadata"]["creationTimestamp"]) + str(r["metadata"]["name"]))


def condition(rollout_status: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in rollout_status.get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


# -- waiting ----------------------------------------------------------------------------------------------------------
def _status_now(kube: Kube, namespace: str, name: str) -> str:
    return f"status now: {json.dumps(status(kube, namespace, name))[:3000]}"


def wait_status(
    kube: Kube, namespace: str, name: str, *, what: str, timeout: float = 30, **expected: Any
) -> dict[str, Any]:
    """Wait until every ``expected`` status field has its value (``phase="Healthy", currentStepIndex=2``)."""

    def probe() -> dict[str, Any] | None:
        current = status(kube, namespace, name)
        return current if all(current.get(k) == v for k, v in expected.items()) else None

    return wait_for(
        probe,
        timeout=timeout,
        what=f"{name}: {what} ({expected})",
        now=lambda: _status_now(kube, namespace, name),
    )


def wait_healthy(kube: Kube, namespace: str, name: str, *, timeout: float = 30) -> dict[str, Any]:
    """Healthy for the current template: phase Healthy and the stable hash is the current one."""

    def probe() -> dict[str, Any] | None:
        current = status(kube, namespace, name)
        healthy = current.get("phase") == "Healthy" and current.get("stableRS") == current.get("currentPodHash")
        return current if healthy and current.get("stableRS") else None

    return wait_for(
        probe, timeout=timeout, what=f"{name} to be Healthy", now=lambda: _status_now(kube, namespace, name)
    )


def wait_pods(kube: Kube, namespace: str, app: str, expected: Mapping[str, int], *, timeout: float = 30) -> None:
    """Wait until the live pods per hash are exactly ``expected`` (hashes with 0 may be absent)."""
    want = {h: n for h, n in expected.items() if n}
    wait_for(
        lambda: pods_by_hash(kube, namespace, app) == want,
        timeout=timeout,
        what=f"pods of {app} to be {want}",
        now=lambda: f"pods now: {pods_by_hash(kube, namespace, app)}",
    )


def wait_replicas(
    kube: Kube, namespace: str, app: str, expected: Mapping[str, int], *, timeout: float = 30
) -> dict[str, dict[str, Any]]:
    """Wait until the ReplicaSets ask for and have available exactly ``expected`` pods per hash."""

    def probe() -> dict[str, dict[str, Any]] | None:
        found = replica_sets(kube, namespace, app)
        ok = all(
            found.get(h, {}).get("replicas", 0) == n and found.get(h, {}).get("available", 0) == n
            for h, n in expected.items()
        )
        return found if ok else None

    def now() -> str:
        counts = {h: (rs["replicas"], rs["available"]) for h, rs in replica_sets(kube, namespace, app).items()}
        return f"(replicas, available) now: {counts}"

    return wait_for(probe, timeout=timeout, what=f"{app} ReplicaSets at {expected}", now=now)


# -- commands ---------------------------------------------------------------------------------------------------------
def kubectl_rollouts(kube: Kube, namespace: str, *args: str, expect: int = 0) -> str:
    """Run ``kubectl-rollouts`` in-process (the same argv a user types) and return its output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = kubectl_main([*args, f"--kubeconfig={kube.kubeconfig}", "-n", namespace])
    assert code == expect, f"kubectl rollouts {' '.join(args)} -> {code}: {out.getvalue()}{err.getvalue()}"
    return out.getvalue() + err.getvalue()


def wait_observed(kube: Kube, namespace: str, name: str, *, timeout: float = 20) -> dict[str, Any]:
    """Wait until the controller has planned for the current spec (``status.observedGeneration`` caught up)."""

    def probe() -> dict[str, Any] | None:
        body = get_rollout(kube, namespace, name)
        current = dict(body.get("status") or {})
        return current if str(current.get("observedGeneration")) == str(body["metadata"]["generation"]) else None

    return wait_for(probe, timeout=timeout, what=f"{name}: the controller to observe the spec")


def set_image(kube: Kube, namespace: str, name: str, image: str, container: str = "app") -> str:
    """``kubectl rollouts set image``; returns the new pod-template hash once the controller has seen the change."""
    kubectl_rollouts(kube, namespace, "set", "image", name, f"{container}={image}")
    return str(wait_observed(kube, namespace, name)["currentPodHash"])
