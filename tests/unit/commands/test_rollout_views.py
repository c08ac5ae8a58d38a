"""`kubectl rollouts get/status` render and wait from plain dicts; no cluster needed."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from rollouts.commands.view import RolloutView, render_rollout, wait_for_status


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


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        (["Progressing", "Paused", "Healthy"], 0),
        (["Progressing", "Degraded"], 1),
    ],
)
def test_status_watch_exit_codes(phases: list[str], expected: int) -> None:
    sequence = iter(phases)
    reported: list[str] = []
    code = wait_for_status(
        lambda: rollout(next(sequence)), timeout=None, interval=0, report=lambda p, m: reported.append(p)
    )
    assert code == expected
    assert reported == phases


def test_status_watch_waits_for_the_new_generation_and_times_out() -> None:
    # Healthy but not yet observed the latest spec: not done; with no time left it reports a timeout (2).
    code = wait_for_status(lambda: rollout("Healthy", generation=3, observed=2), timeout=0, interval=0, report=print)
    assert code == 2
