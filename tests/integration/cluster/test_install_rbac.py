"""`rollouts install` applies CRDs and a least-privilege identity; the controller works with exactly that identity."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.cluster import ControllerProcess, Kube, run_cli, service_account_kubeconfig
from tests.support.cluster_workflows import create, finished, workflow

SA = "system:serviceaccount:rollouts-system:rollouts-controller"


def install(kube: Kube) -> subprocess.CompletedProcess[str]:
    return run_cli("install", f"--kubeconfig={kube.kubeconfig}")


@pytest.fixture(scope="module")
def installed(kube: Kube) -> None:
    first = install(kube)
    assert first.returncode == 0, first.stderr
    assert "applied CustomResourceDefinition rollouts.rollouts.dev" in first.stdout
    again = install(kube)  # server-side apply: re-running is a no-op, not a conflict
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"),
    [
        ("create", "replicasets.apps", True),
        ("patch", "rollouts.rollouts.dev/status", True),
        ("create", "analysisruns.rollouts.dev", True),
        ("create", "jobs.batch", True),
        ("watch", "jobs.batch", True),
        ("patch", "services", True),
        ("patch", "workflows.rollouts.dev/status", True),
        ("patch", "analysisruns.rollouts.dev/status", True),
        ("create", "pods/eviction", True),
        ("get", "secrets", True),
        ("update", "ingresses.networking.k8s.io", True),
        # What it must not be able to do.
        ("list", "secrets", False),
        ("create", "pods", False),
        ("delete", "namespaces", False),
        ("create", "clusterroles.rbac.authorization.k8s.io", False),
        ("create", "rolebindings.rbac.authorization.k8s.io", False),
        ("get", "configmaps", False),
        ("delete", "rollouts.rollouts.dev", False),
        ("update", "rollouts.rollouts.dev/scale", False),
        ("create", "pods/exec", False),
        ("create", "services", False),
        ("update", "leases.coordination.k8s.io", False),  # only its own namespace's (the Role in rollouts-system)
    ],
)
def test_controller_identity_is_least_privilege(
    kube: Kube, installed: None, verb: str, resource: str, allowed: bool
) -> None:
    name, _, subresource = resource.partition("/")
    extra = [f"--subresource={subresource}"] if subresource else []
    result = kube.kubectl("auth", "can-i", verb, name, *extra, f"--as={SA}", "--all-namespaces", check=False)
    assert result.stdout.strip() == ("yes" if allowed else "no"), (verb, resource, result.stdout, result.stderr)


@pytest.mark.parametrize("verb", ["get", "create", "update"])
def test_the_leader_election_lease_is_writable_in_the_controllers_namespace_only(
    kube: Kube, installed: None, verb: str
) -> None:
    def can(namespace: str) -> str:
        result = kube.kubectl("auth", "can-i", verb, "leases.coordination.k8s.io", f"--as={SA}", "-n", namespace,
                              check=False)  # fmt: skip
        return result.stdout.strip()

    assert can("rollouts-system") == "yes"
    assert can("default") == "no"


def test_controller_runs_workflows_with_only_its_service_account(
    kube: Kube, installed: None, namespace: str, tmp_path: Path
) -> None:
    controller = ControllerProcess(
        kube=kube,
        namespace=namespace,
        log=tmp_path / "controller.log",
        kubeconfig=service_account_kubeconfig(kube, "rollouts-system", "rollouts-controller", tmp_path),
        # where a pod of it runs (its $POD_NAMESPACE): its Lease and notifications Roles are there
        args=("--lease-namespace=rollouts-system", "--notifications-namespace=rollouts-system"),
    )
    controller.start()
    try:
        body = workflow("as-sa", """
            spec:
              entrypoint: main
              templates:
              - name: main
                dag:
                  tasks:
                  - {name: a, template: step}
                  - {name: b, template: step, dependencies: [a]}
              - name: step
                container: {image: busybox}
        """)  # fmt: skip
        create(kube, namespace, body)
        phase = finished(kube, namespace, "as-sa", timeout=90)["status"]["phase"]
        assert phase == "Succeeded", controller.output()[-3000:]
        assert "Forbidden" not in controller.output()
    finally:
        controller.stop()
