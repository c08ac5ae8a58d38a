"""Fixtures for the integration tier: one real local cluster per test session, a fresh namespace per test.

The cluster is the project's own container-less cluster (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, KWOK). Set ``ROLLOUTS_TEST_KUBECONFIG`` to reuse a cluster started with ``rollouts cluster up``
(fast local iteration). Outside CI a missing cluster build skips this tier with the reason; under ``CI=true`` it
fails the run, because CI must never pass by skipping what it is meant to test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip outside CI, fail under CI: a missing real component is never a silent pass there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: missing components fail the run)", pytrace=False)
    pytest.skip(reason)


@dataclass
class Kube:
    """A handle on the test cluster: kubeconfig, a kubernetes ApiClient and a kubectl runner."""

    kubeconfig: Path
    kubectl_binary: Path
    api_client: Any
    start_seconds: float | None

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:  # noqa: A002
        result = subprocess.run(
            [str(self.kubectl_binary), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed with {result.returncode}:\n{result.stderr}{result.stdout}"
            )
        return result


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    from kubernetes import config

    from rollouts.devcluster import ClusterError, ensure_binaries, running_cluster

    reuse = os.environ.get("ROLLOUTS_TEST_KUBECONFIG")
    if reuse:
        bin_dir = ensure_binaries(build=False)
        client = config.new_client_from_config(config_file=reuse)
        yield Kube(kubeconfig=Path(reuse), kubectl_binary=bin_dir / "kubectl", api_client=client, start_seconds=None)
        client.close()
        return
    try:
        ensure_binaries(build=IN_CI)
    except ClusterError as error:
        unavailable(f"local cluster binaries are not built: {error}")
    state_dir = tmp_path_factory.mktemp("cluster")
    with running_cluster(state_dir, nodes=2) as info:
        client = config.new_client_from_config(config_file=str(info.kubeconfig))
        try:
            yield Kube(
                kubeconfig=info.kubeconfig,
                kubectl_binary=info.kubectl,
                api_client=client,
                start_seconds=info.start_seconds,
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
    deadline = time.monotonic() + 30
    # Pods cannot be created before the namespace's default ServiceAccount exists (ServiceAccount admission).
    while True:
        try:
            core.read_namespaced_service_account("default", name)
            break
        except client.ApiException as error:
            if error.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
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


@dataclass
class ControllerProcess:
    """``rollouts controller`` as a real subprocess watching one namespace; can be killed and restarted."""

    kube: Kube
    namespace: str
    log: Path
    process: subprocess.Popen[bytes] | None = None
    kubeconfig: Path | None = None  # another identity than the admin's, e.g. the controller's ServiceAccount

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "controller already running"
        sink = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rollouts.cli", "controller",
             f"--kubeconfig={self.kubeconfig or self.kube.kubeconfig}", f"--namespace={self.namespace}"],
            stdout=sink, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
        sink.close()

    def kill(self) -> None:
        """SIGKILL: the harshest restart, no cleanup handlers run."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


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


def wait_for(probe: Any, *, timeout: float = 60.0, interval: float = 0.2, what: str) -> Any:
    """Poll ``probe()`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
