"""``rollouts install``: server-side apply the CRDs and the controller's RBAC to the current cluster.

Server-side apply with one field manager makes the command idempotent and safe to re-run after an upgrade: fields
we own are updated, fields other tools own are left alone. The manifests are read from the source tree's
``crds/`` and ``deploy/`` folders.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.dynamic import DynamicClient

__all__ = ["Applied", "install", "manifest_files"]

FIELD_MANAGER = "rollouts-install"
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Applied:
    kind: str
    name: str
    namespace: str | None


def manifest_files(*, rbac: bool = True) -> list[Path]:
    """The CRDs first (so RBAC and custom resources can refer to them), then the controller's identity."""
    files = sorted((REPO / "crds").glob("*.yaml"))
    if not files:
        raise FileNotFoundError(f"no CRDs found in {REPO / 'crds'}; run from a source checkout")
    if rbac:
        files.append(REPO / "deploy" / "rbac.yaml")
    return files


def _documents(files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield doc


def install(api: client.ApiClient, *, rbac: bool = True, timeout: float = 60.0) -> list[Applied]:
    """Apply every manifest and wait for the CRDs to be Established; returns what was applied, in order."""
    dynamic = DynamicClient(api)
    applied: list[Applied] = []
    for doc in _documents(manifest_files(rbac=rbac)):
        resource = dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        namespace = doc["metadata"].get("namespace")
        resource.server_side_apply(
            body=doc,
            name=doc["metadata"]["name"],
            namespace=namespace,
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
        )
        applied.append(Applied(kind=doc["kind"], name=doc["metadata"]["name"], namespace=namespace))
    crds = [a.name for a in applied if a.kind == "CustomResourceDefinition"]
    _wait_established(client.ApiextensionsV1Api(api), crds, timeout=timeout)
    return applied


def _wait_established(extensions: client.ApiextensionsV1Api, names: list[str], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending:
        for name in sorted(pending):
            crd = extensions.read_custom_resource_definition(name)
            conditions = (crd.status.conditions if crd.status else None) or []
            if any(c.type == "Established" and c.status == "True" for c in conditions):
                pending.discard(name)
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"CRDs not Established after {timeout:.0f}s: {', '.join(sorted(pending))}")
        if pending:
            time.sleep(0.2)
