"""A fresh local cluster prepared as Argo's e2e CI prepares its cluster, plus a least-privilege controller identity.

Argo's CI (``.github/workflows/testing.yaml``) applies ``manifests/crds`` and ``test/e2e/crds`` to a k3s cluster,
starts the controller out of cluster with ``--instance-id``, and runs the suite in the kubeconfig's namespace. Here:

- the cluster is ours (``rollouts.devcluster``: real API server, controller-manager and scheduler, KWOK nodes),
  started fresh for each controller measured and tied to this process;
- Argo's CRDs come from the pinned module (``manifests/crds``, server-side apply as Argo's CI does: they exceed the
  client-side annotation limit), and Istio's from ``test/e2e/crds/istio.yaml`` of the same module (what Argo's CI
  installs; the suite enables its Istio tests when VirtualServices are served);
- the controller runs with the cluster admin's kubeconfig, as Argo's CI runs it out of cluster (RBAC plays no part
  in what the suite checks). ``admin=False`` (``--argo-rbac``) runs it instead as ServiceAccount
  ``argo-rollouts/argo-rollouts`` bound to Argo's published ClusterRole (``manifests/role``), through a kubeconfig
  holding a token for it: the least privilege Argo asks for, which a drop-in must also work with;
- the suite itself runs as the cluster admin, in namespace ``default``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rollouts.devcluster import ClusterError, ClusterInfo, LocalCluster
from tools.conformance.peer import Peer

__all__ = ["CONTROLLER_NAMESPACE", "TEST_NAMESPACE", "Environment", "EnvironmentError", "fresh_cluster"]

CONTROLLER_NAMESPACE = "argo-rollouts"
CONTROLLER_ACCOUNT = "argo-rollouts"
TEST_NAMESPACE = "default"
# Long enough for the longest run; the API server accepts it (no --service-account-max-token-expiration).
_TOKEN_DURATION = "48h"  # noqa: S105 -- a lifetime, not a secret


class EnvironmentError(Exception):  # noqa: A001 -- ours, never the builtin alias; imported qualified
    """The cluster could not be started or prepared."""


@dataclass(frozen=True)
class Environment:
    cluster: ClusterInfo
    admin_kubeconfig: Path  # the suite's identity
    controller_kubeconfig: Path  # the controller's identity
    controller_identity: str  # what the report says the controller ran as

    @property
    def kubectl(self) -> Path:
        return self.cluster.kubectl

    def env(self, kubeconfig: Path) -> dict[str, str]:
        """This process's environment with ``kubeconfig`` and the cluster's ``kubectl`` first on PATH."""
        return os.environ | {"KUBECONFIG": str(kubeconfig), "PATH": f"{self.cluster.bin_dir}:{os.environ['PATH']}"}


def _rbac(cluster_role: dict[str, Any]) -> list[dict[str, Any]]:
    name = cluster_role["metadata"]["name"]
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": CONTROLLER_ACCOUNT, "namespace": CONTROLLER_NAMESPACE},
        },
        cluster_role,
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": CONTROLLER_ACCOUNT, "namespace": CONTROLLER_NAMESPACE}],
        },
    ]


def token_kubeconfig(admin: dict[str, Any], *, token: str, namespace: str) -> dict[str, Any]:
    """A kubeconfig for the same cluster as ``admin`` that authenticates with a ServiceAccount ``token``."""
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
    cluster = next(c for c in admin["clusters"] if c["name"] == context["cluster"])
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": CONTROLLER_ACCOUNT, "user": {"token": token}}],
        "contexts": [
            {
                "name": "controller",
                "context": {"cluster": cluster["name"], "user": CONTROLLER_ACCOUNT, "namespace": namespace},
            }
        ],
        "current-context": "controller",
    }


class _Kubectl:
    def __init__(self, cluster: ClusterInfo) -> None:
        self._command = str(cluster.kubectl)
        self._env = os.environ | {"KUBECONFIG": str(cluster.kubeconfig)}

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
        result = subprocess.run(  # noqa: S603
            [self._command, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self._env,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise EnvironmentError(f"kubectl {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
        return result.stdout


def prepare(cluster: ClusterInfo, peer: Peer, *, istio: bool, admin: bool) -> Environment:
    """Install what the suite and the controller need on a running cluster; return how to reach it."""
    kubectl = _Kubectl(cluster)
    kubectl("apply", "--server-side", "--force-conflicts", "-k", str(peer.crds_dir))
    if istio:
        kubectl("apply", "--server-side", "--force-conflicts", "-f", str(peer.istio_crds))
    kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    # The controller's own namespace: Argo keeps its leader-election Lease there, whatever identity it runs as.
    kubectl("create", "namespace", CONTROLLER_NAMESPACE)
    if admin:
        return Environment(
            cluster=cluster,
            admin_kubeconfig=cluster.kubeconfig,
            controller_kubeconfig=cluster.kubeconfig,
            controller_identity="the cluster admin (system:masters)",
        )
    cluster_role = yaml.safe_load(peer.cluster_role.read_text())
    documents = _rbac(cluster_role)
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(documents))
    token = kubectl(
        "create", "token", CONTROLLER_ACCOUNT, "-n", CONTROLLER_NAMESPACE, f"--duration={_TOKEN_DURATION}"
    ).strip()
    path = cluster.state_dir / "controller.kubeconfig"
    admin_config = yaml.safe_load(cluster.kubeconfig.read_text())
    path.write_text(yaml.safe_dump(token_kubeconfig(admin_config, token=token, namespace=CONTROLLER_NAMESPACE)))
    path.chmod(0o600)
    return Environment(
        cluster=cluster,
        admin_kubeconfig=cluster.kubeconfig,
        controller_kubeconfig=path,
        controller_identity=(
            f"ServiceAccount {CONTROLLER_NAMESPACE}/{CONTROLLER_ACCOUNT} bound to Argo's ClusterRole "
            f"{cluster_role['metadata']['name']} (manifests/role)"
        ),
    )


@contextlib.contextmanager
def fresh_cluster(peer: Peer, state_dir: Path, *, istio: bool, admin: bool, nodes: int = 2) -> Iterator[Environment]:
    """A new cluster in ``state_dir`` for the ``with`` block, prepared for the suite; stopped (and its etcd data
    removed, logs kept) afterwards, even when the block fails."""
    cluster = LocalCluster(state_dir=state_dir, nodes=nodes)
    try:
        info = cluster.start(tie_to_parent=True, timeout=180)
    except ClusterError as error:
        raise EnvironmentError(f"the local cluster did not start: {error}") from error
    try:
        yield prepare(info, peer, istio=istio, admin=admin)
    finally:
        cluster.stop()
        shutil.rmtree(state_dir / "etcd", ignore_errors=True)
