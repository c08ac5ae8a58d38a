"""Fixtures for the router integration tests: the PUBLISHED Istio and Gateway API CRDs on the test cluster.

``tools/cluster/crds/fetch.sh`` fetches the manifests through the Go module proxy at the versions its wrapper modules
pin (verified against their go.sum) into a cache; this fixture applies them, so every VirtualService,
DestinationRule and HTTPRoute the routers write is validated by the real upstream schema. Without Go or the network
the tier is unavailable (a skip locally, a failure under CI).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.conftest import REPO, Kube, unavailable

FETCH = REPO / "tools" / "cluster" / "crds" / "fetch.sh"
ROUTING_CRDS = (
    "virtualservices.networking.istio.io",
    "destinationrules.networking.istio.io",
    "httproutes.gateway.networking.k8s.io",
)


def fetch_crds() -> Path:
    if (
        shutil.which("go") is None
        and subprocess.run([str(FETCH), "--print"], capture_output=True, check=False).returncode
    ):
        unavailable("Go is needed to fetch the published Istio/Gateway API CRDs (tools/cluster/crds/fetch.sh)")
    result = subprocess.run([str(FETCH)], capture_output=True, text=True, check=False, timeout=600)
    if result.returncode != 0 or not result.stdout.strip():
        unavailable(f"fetch.sh could not fetch the CRD manifests: {result.stderr.strip()[-2000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def routing_crds(kube: Kube, crds_installed: list[str]) -> list[str]:
    """Apply the published Istio and Gateway API CRDs (and ours, for the Rollouts that own what routers create)."""
    directory = fetch_crds()
    files = [
        directory / "istio" / "customresourcedefinitions.gen.yaml",
        *sorted((directory / "gateway-api").glob("*.yaml")),
    ]
    kube.kubectl("apply", "--server-side", "--force-conflicts", *[f"--filename={f}" for f in files])
    kube.kubectl("wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{name}" for name in ROUTING_CRDS])
    return list(ROUTING_CRDS)


@pytest.fixture
def apply_docs(kube: Kube, namespace: str) -> Any:
    """Apply manifests (dicts) into the test namespace with kubectl; returns the created objects as dicts."""

    def apply(*docs: Mapping[str, Any]) -> list[dict[str, Any]]:
        text = yaml.safe_dump_all([dict(d) for d in docs])
        out = kube.kubectl(
            "apply", "--server-side", f"--namespace={namespace}", "--output=yaml", "--filename=-", input=text
        )
        loaded = yaml.safe_load(out.stdout)
        return list(loaded.get("items") or [loaded]) if loaded.get("kind") == "List" else [loaded]

    return apply
