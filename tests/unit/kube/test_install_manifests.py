"""``rollouts install --print``: the manifests ``rollouts install`` applies, from package data, as one YAML stream."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import yaml

from rollouts.cli import main
from rollouts.kube.install import MANIFESTS, manifest_files, render_manifests
from workflows.runtime.crds import CRDS_DIR


def _kinds(stream: str) -> list[str]:
    return [doc["kind"] for doc in yaml.safe_load_all(stream) if doc]


def test_the_printed_stream_is_every_manifest_install_applies_in_its_order() -> None:
    stream = render_manifests()
    applied = [doc for path in manifest_files() for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert [doc for doc in yaml.safe_load_all(stream) if doc] == applied
    kinds = _kinds(stream)
    assert kinds[:6] == ["CustomResourceDefinition"] * 6  # CRDs first: the RBAC and resources refer to them
    assert {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"} <= set(kinds)
    assert set(_kinds(render_manifests(rbac=False))) == {"CustomResourceDefinition"}


def test_the_manifests_are_package_data_inside_the_packages() -> None:
    # An installed wheel carries them (pyproject's package-data), so `rollouts install` needs no checkout.
    assert CRDS_DIR.parent.name == "workflows"
    assert MANIFESTS.parent.name == "kube"
    assert all(path.resolve().is_relative_to(CRDS_DIR.parent.parent) for path in manifest_files())


def test_install_print_writes_the_stream_and_needs_no_cluster() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["install", "--print", "--kubeconfig", "/nonexistent/kubeconfig"])
    assert code == 0
    assert out.getvalue() == render_manifests()
