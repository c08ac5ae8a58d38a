"""Fixtures of the Rollout tests that run in drop-in mode next to Argo Rollouts' own binaries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.cluster import Kube, wait_for
from tools.conformance.peer import ensure_peer
from workflows.api import ARGO


@pytest.fixture
def argo_crds(kube: Kube, kube_client: Any) -> None:
    """Argo's published CRDs as ``rollouts install --api-group argoproj.io`` applies them, plus Argo's Experiment CRD
    from the built module: a cluster migrating from Argo has it, and Argo's controller and kubectl plugin wait for
    it."""
    from rollouts.kube.install import install

    install(kube_client, rbac=False, mode=ARGO)
    peer = ensure_peer(build=True)
    kube.kubectl("apply", "--server-side", f"--filename={peer.crds_dir / 'experiment-crd.yaml'}")

    def established() -> bool:
        crd = json.loads(kube.kubectl("get", "crd", "experiments.argoproj.io", "--output=json").stdout)
        conditions = (crd.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

    wait_for(established, timeout=60, what="Argo's Experiment CRD Established")
