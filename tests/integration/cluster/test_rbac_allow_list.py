"""The controller's ServiceAccount, as `rollouts install` creates it, can do exactly what docs/security.md's
allow-list says: `kubectl auth can-i --list` in a workload namespace and in the controller's own namespace compared
row by row with the documented list; any extra or missing permission fails with the diff."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.cluster import Kube, run_cli

SA = "system:serviceaccount:rollouts-system:rollouts-controller"
DOC = Path(__file__).resolve().parents[3] / "docs" / "security.md"
# Granted to every authenticated identity by Kubernetes' own default roles (system:basic-user, system:discovery,
# system:public-info-viewer), not by our manifests: left out of the comparison.
KUBERNETES_DEFAULTS = frozenset(
    {
        "selfsubjectreviews.authentication.k8s.io",
        "selfsubjectaccessreviews.authorization.k8s.io",
        "selfsubjectrulesreviews.authorization.k8s.io",
    }
)

Row = tuple[str, str, str]  # resource, one resource name ("-": any), verbs (sorted, space-separated)


def documented(namespace: str) -> set[Row]:
    """The allow-list block of docs/security.md: rows whose scope is ``*`` (every namespace) or ``namespace``."""
    block = re.search(r"```text rbac-allow-list\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert block, f"no rbac-allow-list block in {DOC}"
    rows: set[Row] = set()
    for line in block.group(1).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        scope, resource, names, verbs = line.split(maxsplit=3)
        if scope in {"*", namespace}:
            rows.update((resource, name, " ".join(sorted(verbs.split()))) for name in names.split(","))
    return rows


def granted(kube: Kube, namespace: str) -> set[Row]:
    """`kubectl auth can-i --list` for the controller's identity in ``namespace``, as rows (resource URLs only)."""
    out = kube.kubectl("auth", "can-i", "--list", f"--as={SA}", "-n", namespace).stdout
    lines = out.splitlines()
    header = lines[0]
    starts = [header.index(title) for title in ("Resources", "Non-Resource URLs", "Resource Names", "Verbs")]
    rows: dict[tuple[str, str], set[str]] = {}
    for line in lines[1:]:
        if not line.strip():
            continue
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], len(line) + 1], strict=True)]
        resource, urls, names, verbs = cells
        if not resource or urls != "[]" or resource in KUBERNETES_DEFAULTS:
            continue
        for name in names.strip("[]").split() or ["-"]:  # kubectl may print several names in one row
            rows.setdefault((resource, name), set()).update(verbs.strip("[]").split())
    return {(resource, names, " ".join(sorted(verbs))) for (resource, names), verbs in rows.items()}


@pytest.fixture(scope="module")
def installed(kube: Kube) -> None:
    result = run_cli("install", f"--kubeconfig={kube.kubeconfig}")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("namespace", ["default", "rollouts-system"])
def test_the_controller_can_do_exactly_what_the_allow_list_documents(
    kube: Kube, installed: None, namespace: str
) -> None:
    expected, actual = documented(namespace), granted(kube, namespace)
    extra = sorted(actual - expected)
    missing = sorted(expected - actual)
    diff = [f"+ {' | '.join(row)}   (granted, not in docs/security.md)" for row in extra]
    diff += [f"- {' | '.join(row)}   (documented, not granted)" for row in missing]
    assert not diff, f"RBAC of {SA} in namespace {namespace} differs from the allow-list:\n" + "\n".join(diff)
