"""End to end on a kind cluster (opt-in: ``pytest tests/e2e --e2e`` with KUBECONFIG pointing at kind).

Where Docker runs, kind gives real kubelets and containers instead of KWOK's fake ones. This tier installs the
product into that cluster, runs the controller against it and takes a canary from first deploy through a promoted
update. It is not part of ``make test`` (this machine has no Docker engine); the integration tier covers the same
behaviour on the local cluster.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, check=False, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{result.stderr}{result.stdout}")
    return result


@pytest.fixture(scope="module")
def kind_kubeconfig() -> str:
    kubeconfig = os.environ.get("ROLLOUTS_E2E_KUBECONFIG") or os.environ.get("KUBECONFIG")
    if not kubeconfig:
        pytest.fail("set ROLLOUTS_E2E_KUBECONFIG (or KUBECONFIG) to a kind cluster's kubeconfig")
    run("kubectl", f"--kubeconfig={kubeconfig}", "get", "nodes")
    return kubeconfig


def test_canary_update_is_promoted_to_healthy_on_kind(kind_kubeconfig: str, tmp_path: Path) -> None:
    kubectl = ("kubectl", f"--kubeconfig={kind_kubeconfig}")
    namespace = f"e2e-{uuid.uuid4().hex[:6]}"
    run(sys.executable, "-m", "rollouts.cli", "install", f"--kubeconfig={kind_kubeconfig}")
    run(*kubectl, "create", "namespace", namespace)
    log = (tmp_path / "controller.log").open("wb")
    command = [sys.executable, "-m", "rollouts.cli", "controller", f"--kubeconfig={kind_kubeconfig}"]
    controller = subprocess.Popen([*command, f"--namespace={namespace}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        rollout = {
            "apiVersion": "rollouts.dev/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "e2e", "namespace": namespace},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "e2e"}},
                "template": {
                    "metadata": {"labels": {"app": "e2e"}},
                    "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]},
                },
                "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}},
            },
        }
        subprocess.run([*kubectl, "apply", "-f", "-"], input=yaml.safe_dump(rollout), text=True, check=True)
        plugin = [sys.executable, "-c", "from rollouts.cli import kubectl_main; raise SystemExit(kubectl_main())"]
        common = ["-n", namespace, f"--kubeconfig={kind_kubeconfig}"]
        run(*plugin, "status", "e2e", "--watch", "--timeout", "180", *common)
        run(*plugin, "set", "image", "e2e", "app=registry.k8s.io/pause:3.9", *common)
        time.sleep(5)
        run(*plugin, "promote", "e2e", *common)
        run(*plugin, "status", "e2e", "--watch", "--timeout", "180", *common)
    finally:
        controller.terminate()
        controller.wait(timeout=30)
        run(*kubectl, "delete", "namespace", namespace, "--wait=false", check=False)
