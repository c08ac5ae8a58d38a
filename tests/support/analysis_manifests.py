"""Analysis manifests as users write them: one metric per provider (prometheus, web, job), the AnalysisRun that
carries metrics, and the job-based AnalysisTemplate the Rollout analysis tests reference.

Plain dicts, nothing applied: the in-process tests hand them to the real runner, the cluster tests create them.
Job metrics run on KWOK, which ends a Job's pod as the pod's ``kwok.rollouts.dev/*`` annotations say (exit code,
run duration, image pull error).
"""

from __future__ import annotations

from typing import Any

from workflows.api import GROUP, VERSION

__all__ = ["analysis_run", "job_metric", "job_template", "prometheus_metric", "web_metric"]


def prometheus_metric(name: str, query: str, address: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "provider": {"prometheus": {"address": address, "query": query}}, **fields}


def web_metric(name: str, url: str, **fields: Any) -> dict[str, Any]:
    """A web metric on ``url``; ``web={...}`` adds provider fields (headers, method, jsonPath, ...)."""
    provider = {"url": url, **fields.pop("web", {})}
    return {"name": name, "provider": {"web": provider}, **fields}


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


def analysis_run(name: str, metrics: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AnalysisRun",
        "metadata": {"name": name},
        "spec": {"metrics": metrics, **spec},
    }


def job_template(name: str, *, exit_code: int = 0, run_duration: str = "1s", count: int = 1) -> dict[str, Any]:
    """A job-based AnalysisTemplate with one metric, ``check``: KWOK ends its pod with ``exit_code`` after
    ``run_duration``."""
    annotations = {"kwok.rollouts.dev/exit-code": str(exit_code), "kwok.rollouts.dev/run-duration": run_duration}
    check = job_metric("check", annotations=annotations, count=count, interval="1s", failureLimit=0)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AnalysisTemplate",
        "metadata": {"name": name},
        "spec": {"metrics": [check]},
    }
