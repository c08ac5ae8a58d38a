"""``rollouts install``: server-side apply the CRDs and the controller's RBAC to the current cluster.

Server-side apply with one field manager (:meth:`workflows.runtime.kube.Kube.apply`) makes the command idempotent and
safe to re-run after an upgrade: fields we own are updated, fields other tools own are left alone. The manifests are
package data: the CRDs (located by :mod:`workflows.runtime.crds`, which the offline validator reads too) and the
controller's RBAC (``rollouts/kube/manifests/``), so an installed wheel installs itself with no checkout. This module
never writes anything but those manifests.

:func:`install_routing_crds` installs the *published* CRDs of the data planes our routers write to (Gateway API,
Istio), for clusters that have none (the demo, local experiments). They are never vendored: ``fetch.sh`` downloads
them at pinned versions through the Go module proxy (verified by go.sum) into a cache, once.

Drop-in mode (``rollouts install --api-group argoproj.io``) installs Argo Rollouts' own *published* CRDs for the kinds
we serve (Rollout, AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate; fetched the same way, pinned to the Argo
release in ``tools/cluster/crds/argo-rollouts/go.mod``) instead of ours, our Workflow kinds (which stay in
``rollouts.dev``), and the RBAC for both groups. Argo's Experiment CRD is not installed: we do not serve Experiments,
so applying one fails at the API server instead of being silently ignored.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from workflows.api import ARGO, ROLLOUTS_DEV, ApiMode
from workflows.runtime.crds import crd_files
from workflows.runtime.kube import CRDS, Kube

__all__ = [
    "ROUTING_CRD_SETS",
    "Applied",
    "RoutingCrdsUnavailableError",
    "fetch_routing_crds",
    "install",
    "install_routing_crds",
    "manifest_files",
    "render_manifests",
    "routing_crd_files",
]

FIELD_MANAGER = "rollouts-install"
REPO = Path(__file__).resolve().parents[2]
MANIFESTS = Path(__file__).resolve().parent / "manifests"  # package data: the controller's RBAC (deploy/ links here)
FETCH_SCRIPT = REPO / "tools" / "cluster" / "crds" / "fetch.sh"
# The sets fetch.sh provides: name -> glob inside its output directory.
ROUTING_CRD_SETS = {
    "gateway-api": "gateway-api/*.yaml",
    "istio": "istio/customresourcedefinitions.gen.yaml",
    "argo-rollouts": "argo-rollouts/*-crd.yaml",
}
# Argo's CRDs for the kinds drop-in mode serves (file names as published in argo-rollouts' manifests/crds/).
ARGO_SERVED_CRDS = ("rollout-crd.yaml", "analysis-run-crd.yaml", "analysis-template-crd.yaml",
                    "cluster-analysis-template-crd.yaml")  # fmt: skip
# Ours that drop-in mode still needs: the Workflow kinds (the workflow metric provider runs WorkflowTemplates).
OWN_CRDS_IN_DROP_IN = ("workflows.yaml", "workflowtemplates.yaml")


class RoutingCrdsUnavailableError(RuntimeError):
    """The published CRDs could not be fetched (no Go and no cached copy, or the download failed)."""


@dataclass(frozen=True, slots=True)
class Applied:
    kind: str
    name: str
    namespace: str | None


def manifest_files(*, rbac: bool = True, mode: ApiMode = ROLLOUTS_DEV) -> list[Path]:
    """The CRDs first (so RBAC and custom resources can refer to them), then the controller's identity."""
    files = crd_files()
    if mode is ARGO:
        published = {path.name: path for path in routing_crd_files(fetch_routing_crds(), ("argo-rollouts",))}
        files = [published[name] for name in ARGO_SERVED_CRDS] + [f for f in files if f.name in OWN_CRDS_IN_DROP_IN]
    if rbac:
        files.append(MANIFESTS / "rbac.yaml")
        if mode is ARGO:
            files.append(MANIFESTS / "rbac-argoproj.yaml")
    return files


def _documents(files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield doc


def render_manifests(*, rbac: bool = True, mode: ApiMode = ROLLOUTS_DEV) -> str:
    """Every manifest :func:`install` would apply, in the same order, as one multi-document YAML stream (for GitOps:
    ``rollouts install --print > rollouts.yaml``). Reads package data only; needs no cluster."""
    parts = []
    for path in manifest_files(rbac=rbac, mode=mode):
        text = path.read_text(encoding="utf-8").removeprefix("---\n")
        parts.append(f"---\n# {path.name}\n{text}" if text.endswith("\n") else f"---\n# {path.name}\n{text}\n")
    return "".join(parts)


def install(kube: Kube, *, rbac: bool = True, mode: ApiMode = ROLLOUTS_DEV, timeout: float = 60.0) -> list[Applied]:
    """Apply every manifest of ``mode`` and wait for the CRDs to be Established; returns what was applied, in order."""
    return _apply_and_wait(kube, manifest_files(rbac=rbac, mode=mode), timeout=timeout)


def fetch_routing_crds(*, script: Path = FETCH_SCRIPT, timeout: float = 600.0) -> Path:
    """The directory of the published routing CRDs, fetched by ``tools/cluster/crds/fetch.sh`` on first use.

    The script prints the directory on its last stdout line (at once when cached). Go is only needed for the first
    fetch, so a machine with a filled cache works without it.
    """
    cached = subprocess.run([str(script), "--print"], capture_output=True, text=True, check=False)  # noqa: S603
    if cached.returncode == 0 and cached.stdout.strip():
        return Path(cached.stdout.strip().splitlines()[-1])
    if shutil.which("go") is None:
        raise RoutingCrdsUnavailableError(
            f"Go is needed once to fetch the published Gateway API/Istio CRDs ({script}); install Go (the local "
            "cluster's build needs it too) and run again"
        )
    try:
        result = subprocess.run(  # noqa: S603 -- our own script, no user input
            [str(script)], capture_output=True, text=True, check=False, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RoutingCrdsUnavailableError(f"{script} did not finish: {error}") from error
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        detail = result.stderr.strip()[-1500:] or f"exit code {result.returncode}"
        raise RoutingCrdsUnavailableError(f"{script} could not fetch the routing CRDs: {detail}")
    return Path(lines[-1])


def routing_crd_files(directory: Path, which: Iterable[str]) -> list[Path]:
    """The manifest files of the named CRD sets (``ROUTING_CRD_SETS``) inside a fetched directory."""
    files: list[Path] = []
    for name in which:
        pattern = ROUTING_CRD_SETS.get(name)
        if pattern is None:
            known = ", ".join(sorted(ROUTING_CRD_SETS))
            raise ValueError(f"unknown routing CRD set {name!r}; known: {known}")
        found = sorted(directory.glob(pattern))
        if not found:
            raise RoutingCrdsUnavailableError(f"no {name} CRD manifests in {directory / pattern}; re-run fetch.sh")
        files.extend(found)
    return files


def install_routing_crds(
    kube: Kube, *, which: Sequence[str] = ("gateway-api",), timeout: float = 60.0
) -> list[Applied]:
    """Server-side apply the published CRDs of ``which`` data planes and wait until they are Established.

    Raises :class:`RoutingCrdsUnavailableError` when they cannot be fetched. Idempotent, like :func:`install`.
    """
    return _apply_and_wait(kube, routing_crd_files(fetch_routing_crds(), which), timeout=timeout)


def _apply_and_wait(kube: Kube, files: list[Path], *, timeout: float) -> list[Applied]:
    applied: list[Applied] = []
    for doc in _documents(files):
        # force: on upgrade, take back fields an older installer (or a hand edit) set; others' fields stay theirs.
        kube.apply(doc, force=True, field_manager=FIELD_MANAGER)
        applied.append(
            Applied(kind=doc["kind"], name=doc["metadata"]["name"], namespace=doc["metadata"].get("namespace"))
        )
    crds = [a.name for a in applied if a.kind == "CustomResourceDefinition"]
    _wait_established(kube, crds, timeout=timeout)
    return applied


def _is_established(crd: dict[str, Any] | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def _wait_established(kube: Kube, names: list[str], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending:
        for name in sorted(pending):
            if _is_established(kube.get(CRDS, name)):
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"CRDs not Established after {timeout:.0f}s: {', '.join(sorted(pending))}")
        if pending:
            time.sleep(0.2)
