"""Fixtures for the router integration tests: the PUBLISHED Istio and Gateway API CRDs on the test cluster.

``tools/cluster/crds/fetch.sh`` fetches the manifests through the Go module proxy at the versions its wrapper modules
pin (verified against their go.sum) into a cache; this fixture applies them, so every VirtualService,
DestinationRule and HTTPRoute the routers write is validated by the real upstream schema. Without Go or the network
the tier is unavailable (a skip locally, a failure under CI).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from tests.support.cluster import Kube, apply
from tests.support.components import unavailable

ROUTING_CRDS = (
    "virtualservices.networking.istio.io",
    "destinationrules.networking.istio.io",
    "httproutes.gateway.networking.k8s.io",
)


@pytest.fixture(scope="session")
def routing_crds(kube_client: Any, crds_installed: list[str]) -> list[str]:
    """Apply the published Istio and Gateway API CRDs (and ours, for the Rollouts that own what routers create)."""
    from rollouts.kube.install import RoutingCrdsUnavailableError, install_routing_crds

    try:
        install_routing_crds(kube_client, which=("istio", "gateway-api"))
    except RoutingCrdsUnavailableError as error:
        unavailable(str(error))
    return list(ROUTING_CRDS)


@pytest.fixture
def apply_docs(kube: Kube, namespace: str) -> Callable[..., list[dict[str, Any]]]:
    """Apply manifests (dicts) into the test namespace with kubectl; returns the created objects as dicts. Fields
    another manager owns are a conflict, not taken over."""

    def apply_into_namespace(*docs: Mapping[str, Any]) -> list[dict[str, Any]]:
        return apply(kube, namespace, *docs, force_conflicts=False)

    return apply_into_namespace
