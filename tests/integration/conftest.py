"""Fixtures for the integration tier: one real local cluster per test session, a fresh namespace per test.

The cluster is the project's own container-less cluster (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, KWOK). Set ``ROLLOUTS_TEST_KUBECONFIG`` to reuse a cluster started with ``rollouts cluster up``
(fast local iteration). Outside CI a missing cluster build skips this tier with the reason; under ``CI=true`` it
fails the run, because CI must never pass by skipping what it is meant to test.

Only fixtures (and the report hook the controller fixture reads) live here: the handle, the controller process and
the readers they are used with are in :mod:`tests.support.cluster`.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import AUDITED_NAMESPACE, ControllerProcess, Kube, wait_for
from tests.support.components import require_cluster_binaries


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    from kubernetes import config

    from rollouts.devcluster import ensure_binaries, running_cluster

    reuse = os.environ.get("ROLLOUTS_TEST_KUBECONFIG")
    if reuse:
        bin_dir = ensure_binaries(build=False)
        client = config.new_client_from_config(config_file=reuse)
        yield Kube(kubeconfig=Path(reuse), kubectl_binary=bin_dir / "kubectl", api_client=client, start_seconds=None)
        client.close()
        return
    require_cluster_binaries()
    state_dir = tmp_path_factory.mktemp("cluster")
    with running_cluster(state_dir, nodes=2, audited_namespace=AUDITED_NAMESPACE) as info:
        client = config.new_client_from_config(config_file=str(info.kubeconfig))
        try:
            yield Kube(
                kubeconfig=info.kubeconfig,
                kubectl_binary=info.kubectl,
                api_client=client,
                start_seconds=info.start_seconds,
                audit_log=info.state_dir / "logs" / "audit.log",
            )
        finally:
            client.close()


@pytest.fixture
def namespace(kube: Kube, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, named after it; deleted afterwards without waiting."""
    from kubernetes import client

    stem = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40].rstrip("-")
    name = f"{stem}-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(kube.api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))

    def default_service_account() -> bool:
        try:
            core.read_namespaced_service_account("default", name)
        except client.ApiException as error:
            if error.status != 404:
                raise
            return False
        return True

    # Pods cannot be created before the namespace's default ServiceAccount exists (ServiceAccount admission).
    wait_for(default_service_account, timeout=30, interval=0.05, what=f"the default ServiceAccount of {name}")
    yield name
    core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture(scope="session")
def kube_client(kube: Kube) -> Any:
    """The product's own client (:class:`workflows.runtime.kube.Kube`) on the test cluster's connection pool."""
    from workflows.runtime.kube import Kube as Client

    return Client(kube.api_client)  # not closed: the session's ApiClient is closed by the ``kube`` fixture


@pytest.fixture(scope="session")
def crds_installed(kube_client: Any) -> list[str]:
    """Apply every CRD in crds/ the way ``rollouts install`` does, and wait until they are Established."""
    from rollouts.kube.install import install

    applied = install(kube_client, rbac=False)
    names = [item.name for item in applied if item.kind == "CustomResourceDefinition"]
    if not names:
        pytest.fail("crds/ holds no CRD manifests")
    return names


@pytest.fixture
def controller(
    kube: Kube, namespace: str, crds_installed: list[str], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[ControllerProcess]:
    handle = ControllerProcess(kube=kube, namespace=namespace, log=tmp_path / "controller.log")
    handle.start()
    yield handle
    handle.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(f"--- controller log ({handle.log}) ---\n{handle.output()[-6000:]}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
