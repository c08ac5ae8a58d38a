"""`kubectl rollouts get rollout` renders from plain dicts; no cluster needed."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from rollouts.commands.view import RolloutView, render_rollout


def rollout(phase: str, *, generation: int = 2, observed: int = 2, step: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "shop", "generation": generation},
        "spec": {
            "replicas": 4,
            "strategy": {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}]}},
        },
        "status": {
            "phase": phase,
            "message": "waiting",
            "currentStepIndex": step,
            "stableRS": "aaa",
            "currentPodHash": "bbb",
            "observedGeneration": str(observed),
            "replicas": 5,
            "availableReplicas": 5,
        },
    }


def replica_set(pod_hash: str, revision: int, image: str, replicas: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"web-{pod_hash}",
            "labels": {"rollouts-pod-template-hash": pod_hash},
            "annotations": {"rollouts.dev/revision": str(revision)},
        },
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
        "status": {"readyReplicas": replicas, "availableReplicas": replicas},
    }


def test_get_shows_step_roles_and_analysis() -> None:
    view = RolloutView(
        rollout=rollout("Paused"),
        replica_sets=[replica_set("aaa", 1, "app:1", 4), replica_set("bbb", 2, "app:2", 1)],
        analysis_runs=[
            {
                "metadata": {"name": "web-bbb-2", "labels": {"rollouts.dev/analysis-kind": "Step"}},
                "status": {"phase": "Successful"},
            }
        ],
    )
    console = Console(width=140, record=True)
    console.print(render_rollout(view))
    text = console.export_text()
    assert "Paused" in text
    assert "Step:" in text
    assert "1/3" in text
    assert "web-aaa" in text
    assert "stable" in text
    assert "canary" in text
    assert "app:2" in text
    assert "web-bbb-2" in text
    assert "Successful" in text
    # Newest revision first.
    assert text.index("web-bbb") < text.index("web-aaa")


def test_get_shows_an_unobserved_spec_as_progressing_as_argo() -> None:
    console = Console(width=140, record=True)
    console.print(render_rollout(RolloutView(rollout=rollout("Healthy", generation=3, observed=2))))
    text = console.export_text()
    assert "Progressing" in text
    assert "waiting for rollout spec update to be observed" in text
