"""`rollouts install` applies CRDs and a least-privilege identity; the controller works with exactly that identity."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from tests.support.cluster import ControllerProcess, Kube, run_cli
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
    ],
)
def test_controller_identity_is_least_privilege(
    kube: Kube, installed: None, verb: str, resource: str, allowed: bool
) -> None:
    name, _, subresource = resource.partition("/")
    extra = [f"--subresource={subresource}"] if subresource else []
    result = kube.kubectl("auth", "can-i", verb, name, *extra, f"--as={SA}", "--all-namespaces", check=False)
    assert result.stdout.strip() == ("yes" if allowed else "no"), (verb, resource, result.stdout, result.stderr)


def service_account_kubeconfig(kube: Kube, directory: Path) -> Path:
    token = client.CoreV1Api(kube.api_client).create_namespaced_service_account_token(
        "rollouts-controller", "rollouts-system", {"spec": {"expirationSeconds": 3600}}
    )
    admin = yaml.safe_load(kube.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster}],
        "users": [{"name": "controller", "user": {"token": token.status.token}}],
        "contexts": [{"name": "controller", "context": {"cluster": "local", "user": "controller"}}],
        "current-context": "controller",
    }
    assert base64.b64decode(cluster["certificate-authority-data"])
    path = directory / "controller.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_controller_runs_workflows_with_only_its_service_account(
    kube: Kube, installed: None, namespace: str, tmp_path: Path
) -> None:
    controller = ControllerProcess(
        kube=kube,
        namespace=namespace,
        log=tmp_path / "controller.log",
        kubeconfig=service_account_kubeconfig(kube, tmp_path),
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
