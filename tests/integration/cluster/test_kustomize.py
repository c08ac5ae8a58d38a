"""The kustomize base and its drop-in overlay (deploy/kustomize): they build with kubectl's kustomize, carry the
package's own CRDs and RBAC (generated copies, checked current), and pass the API server's validation (a server-side
dry run)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.support.cluster import REPO, Kube

KUSTOMIZE = REPO / "deploy" / "kustomize"


def build(kube: Kube, directory: str) -> list[dict[str, Any]]:
    out = kube.kubectl("kustomize", str(KUSTOMIZE / directory)).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def args(docs: list[dict[str, Any]]) -> list[str]:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    return list(deployment["spec"]["template"]["spec"]["containers"][0]["args"])


def test_generated_copies_of_the_packages_manifests_are_current() -> None:
    from tools.manifests import generated

    for path, text in generated().items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run `make manifests`"


def test_base_is_the_packages_crds_and_rbac_plus_the_deployment(kube: Kube) -> None:
    docs = build(kube, "base")
    crds = {d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"}
    shipped = {yaml.safe_load(p.read_text())["metadata"]["name"] for p in (REPO / "workflows" / "crds").glob("*.yaml")}
    assert crds == shipped
    namespaced = [d for d in docs if d["kind"] in {"Deployment", "Service", "ServiceAccount", "Role", "RoleBinding"}]
    assert {d["metadata"]["namespace"] for d in namespaced} == {"rollouts-system"}
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "rollouts-controller"
    assert pod["containers"][0]["image"] == "localhost/rollouts:0.1.0"
    assert "--leader-elect" in args(docs)


def test_argoproj_overlay_serves_argos_group_on_its_own_lease(kube: Kube) -> None:
    docs = build(kube, "overlays/argoproj")
    flags = args(docs)
    assert "--api-group=argoproj.io" in flags
    assert "--lease-name=rollouts-controller-argoproj" in flags
    assert "--lease-name=rollouts-controller" not in flags
    assert any(d["kind"] == "ClusterRole" and d["metadata"]["name"] == "rollouts-controller-argoproj" for d in docs)


@pytest.mark.parametrize("directory", ["base", "overlays/argoproj"])
def test_server_side_dry_run(kube: Kube, directory: str) -> None:
    # A dry run creates nothing, so the namespace the objects go to must exist for the API server to check them.
    namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: rollouts-system\n"
    kube.kubectl("apply", "--server-side", "-f", "-", input=namespace)
    # --force-conflicts: other tests of this shared cluster applied the same CRDs with their own field managers.
    out = kube.kubectl("apply", "--server-side", "--dry-run=server", "--field-manager=kustomize-test",
                       "--force-conflicts", "-k", str(KUSTOMIZE / directory)).stdout  # fmt: skip
    assert "deployment.apps/rollouts-controller serverside-applied (server dry run)" in out, out
