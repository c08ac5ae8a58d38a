"""AnalysisRuns on the real cluster: create, read, wait, list Jobs and Events (shared by the test_analysisrun_* and
test_job_* files)."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from tests.integration.conftest import Kube, wait_for
from workflows.api import GROUP, VERSION

PLURAL = "analysisruns"
CONCLUDED = {"Successful", "Failed", "Error", "Inconclusive"}


def analysis_run(name: str, metrics: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AnalysisRun",
        "metadata": {"name": name},
        "spec": {"metrics": metrics, **spec},
    }


def create(kube: Kube, namespace: str, doc: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = client.CustomObjectsApi(kube.api_client).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, doc
    )
    return created


def read(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = client.CustomObjectsApi(kube.api_client).get_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, name
    )
    return obj


def status(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return dict(read(kube, namespace, name).get("status") or {})


def concluded(kube: Kube, namespace: str, name: str, *, timeout: float = 40) -> dict[str, Any]:
    """The status once the run has concluded (phase final and completedAt written)."""

    def probe() -> dict[str, Any] | None:
        current = status(kube, namespace, name)
        return current if current.get("phase") in CONCLUDED and current.get("completedAt") else None

    result: dict[str, Any] = wait_for(probe, timeout=timeout, interval=0.2, what=f"AnalysisRun {name} to conclude")
    return result


def metric(status: dict[str, Any], name: str) -> dict[str, Any]:
    for result in status.get("metricResults") or []:
        if result["name"] == name:
            return dict(result)
    raise AssertionError(f"no metricResult {name!r} in {json.dumps(status)[:2000]}")


def jobs(kube: Kube, namespace: str) -> list[Any]:
    return list(client.BatchV1Api(kube.api_client).list_namespaced_job(namespace).items)


def events(kube: Kube, namespace: str, name: str) -> list[Any]:
    listed = client.CoreV1Api(kube.api_client).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    return list(listed.items)


def event_reasons(kube: Kube, namespace: str, name: str) -> set[str]:
    return {event.reason for event in events(kube, namespace, name)}


def job_metric(name: str, *, annotations: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
    """A job metric whose KWOK pod is steered by ``annotations`` (exit code, run duration, image pull error)."""
    return {
        "name": name,
        "provider": {
            "job": {
                "spec": {
                    "backoffLimit": 0,
                    "template": {
                        "metadata": {"annotations": annotations or {}},
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "check", "image": "busybox", "command": ["true"]}],
                        },
                    },
                }
            }
        },
        **fields,
    }


def web_metric(name: str, url: str, **fields: Any) -> dict[str, Any]:
    provider = {"url": url, **fields.pop("web", {})}
    return {"name": name, "provider": {"web": provider}, **fields}
