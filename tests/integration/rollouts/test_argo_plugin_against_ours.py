"""Argo Rollouts' own kubectl plugin (``kubectl-argo-rollouts`` v1.10.1, built from its Go module by
``tools/conformance/build.sh``) drives our controller in drop-in mode.

CI scripts and runbooks call ``kubectl argo rollouts ...``; after a switch they must keep working. Every command the
plugin has for a Rollout is run against ``rollouts controller --api-group argoproj.io`` and what the controller then
does is checked on the cluster: ``set image``, ``get rollout``, ``promote``, ``abort``, ``retry rollout``,
``promote --full``, ``pause`` (and ``promote`` to unpause), ``undo``, ``restart`` and ``status``.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import ControllerProcess, Kube, apply, get_custom, wait_for
from tools.conformance.peer import ensure_peer
from workflows.api import ARGO

ARGO_API = (ARGO.group, ARGO.version)
NAME = "plugin"


@pytest.fixture
def ours(kube: Kube, namespace: str, argo_crds: None, tmp_path: Path) -> Iterator[ControllerProcess]:
    handle = ControllerProcess(
        kube=kube, namespace=namespace, log=tmp_path / "controller.log", args=("--api-group=argoproj.io",)
    )
    handle.start()
    yield handle
    handle.stop()


def _argo_plugin(kube: Kube, namespace: str, *args: str, expect: int = 0) -> str:
    binary = ensure_peer(build=True).root / "bin" / "kubectl-argo-rollouts"
    result = subprocess.run(
        [str(binary), *args, f"--namespace={namespace}", f"--kubeconfig={kube.kubeconfig}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == expect, f"kubectl argo rollouts {' '.join(args)} -> {result.returncode}:\n" + (
        result.stdout + result.stderr
    )
    return result.stdout + result.stderr


def _status(kube: Kube, namespace: str) -> dict[str, Any]:
    return dict(get_custom(kube, namespace, "rollouts", NAME, api=ARGO_API).get("status") or {})


def _wait(kube: Kube, namespace: str, what: str, **expected: object) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        current = _status(kube, namespace)
        return current if all(current.get(key) == value for key, value in expected.items()) else None

    return wait_for(probe, timeout=90, what=what, now=lambda: f"status now: {_status(kube, namespace)}")


def _image(kube: Kube, namespace: str) -> str:
    body = get_custom(kube, namespace, "rollouts", NAME, api=ARGO_API)
    return str(body["spec"]["template"]["spec"]["containers"][0]["image"])


def _pod_uids(kube: Kube, namespace: str) -> set[str]:
    listed = json.loads(kube.kubectl("get", "pods", f"--namespace={namespace}", "--output=json").stdout)
    return {p["metadata"]["uid"] for p in listed["items"] if not p["metadata"].get("deletionTimestamp")}


def test_argo_kubectl_plugin_drives_our_controller(kube: Kube, namespace: str, ours: ControllerProcess) -> None:
    rollout = {
        "apiVersion": ARGO.api_version,
        "kind": "Rollout",
        "metadata": {"name": NAME},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": NAME}},
            "template": {
                "metadata": {"labels": {"app": NAME}},
                "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}},
        },
    }
    try:
        apply(kube, namespace, rollout)
        first = _wait(kube, namespace, "first version Healthy", phase="Healthy")["stableRS"]

        _argo_plugin(kube, namespace, "set", "image", NAME, "app=example/app:2")
        second = _wait(kube, namespace, "paused at the pause step", phase="Paused", currentStepIndex=1)[
            "currentPodHash"
        ]
        shown = _argo_plugin(kube, namespace, "get", "rollout", NAME)
        assert "Paused" in shown, shown
        assert "1/2" in shown, shown

        _argo_plugin(kube, namespace, "promote", NAME)
        assert _wait(kube, namespace, "promoted to Healthy", phase="Healthy", stableRS=second)

        _argo_plugin(kube, namespace, "set", "image", NAME, "app=example/app:3")
        third = _wait(kube, namespace, "third version paused", phase="Paused", currentStepIndex=1)["currentPodHash"]
        _argo_plugin(kube, namespace, "abort", NAME)
        aborted = _wait(kube, namespace, "aborted", phase="Degraded", abort=True)
        assert aborted["stableRS"] == second
        _argo_plugin(kube, namespace, "retry", "rollout", NAME)
        _wait(kube, namespace, "retried to the pause again", phase="Paused", currentStepIndex=1)
        _argo_plugin(kube, namespace, "promote", "--full", NAME)
        _wait(kube, namespace, "fully promoted", phase="Healthy", stableRS=third)

        _argo_plugin(kube, namespace, "pause", NAME)
        _wait(kube, namespace, "paused by the user", phase="Paused")
        _argo_plugin(kube, namespace, "promote", NAME)  # Argo's way to unpause spec.paused
        _wait(kube, namespace, "unpaused", phase="Healthy")

        _argo_plugin(kube, namespace, "undo", NAME)
        assert _image(kube, namespace) == "example/app:2"
        _wait(kube, namespace, "the rollback paused at the pause step", phase="Paused", currentPodHash=second)
        _argo_plugin(kube, namespace, "promote", "--full", NAME)
        _wait(kube, namespace, "rolled back", phase="Healthy", stableRS=second)

        # restartAt restarts the pods created *before* it, at the API's one-second precision (as in Argo): pods the
        # rollback just created in this same second would rightly stay. Let a second pass first.
        time.sleep(1.5)
        before = _pod_uids(kube, namespace)
        _argo_plugin(kube, namespace, "restart", NAME)
        wait_for(
            lambda: not (_pod_uids(kube, namespace) & before) and len(_pod_uids(kube, namespace)) == 2,
            timeout=180,  # one pod at a time, each replacement available first: slow on a loaded machine
            what="every pod replaced by the restart",
        )
        out = _argo_plugin(kube, namespace, "status", NAME, "--timeout", "60s")
        assert "Healthy" in out, out
        assert first != second
    except BaseException:
        print("--- controller log ---\n" + ours.output()[-6000:])
        raise
