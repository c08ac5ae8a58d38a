"""Workflows on the real cluster: a manifest from a YAML spec, create, read, wait until finished, the node phases.

(The engine's own unit-test builders, DAGs run in-process, are a different concern and live apart from these.)
"""

from __future__ import annotations

import textwrap
from typing import Any

import yaml

from tests.support.cluster import Kube, create_custom, get_custom, wait_for
from workflows.api import API_VERSION
from workflows.model.status import decode_nodes

__all__ = ["FINISHED", "PLURAL", "create", "finished", "phases", "read", "workflow"]

PLURAL = "workflows"
FINISHED = {"Succeeded", "Failed", "Error"}


def workflow(name: str, body: str) -> dict[str, Any]:
    """A Workflow called ``name`` whose ``spec`` is the YAML ``body`` (``spec:`` at its top, indentation free)."""
    doc: dict[str, Any] = yaml.safe_load(textwrap.dedent(body))
    doc.update({"apiVersion": API_VERSION, "kind": "Workflow", "metadata": {"name": name}})
    return doc


def create(kube: Kube, namespace: str, doc: dict[str, Any]) -> None:
    create_custom(kube, namespace, PLURAL, doc)


def read(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return get_custom(kube, namespace, PLURAL, name)


def finished(kube: Kube, namespace: str, name: str, *, timeout: float = 90) -> dict[str, Any]:
    """The Workflow once its phase is final (Succeeded, Failed or Error)."""

    def done() -> dict[str, Any] | None:
        obj = read(kube, namespace, name)
        return obj if (obj.get("status") or {}).get("phase") in FINISHED else None

    return wait_for(done, timeout=timeout, what=f"workflow {name} to finish")


def phases(obj: dict[str, Any]) -> dict[str, str]:
    """Node display name -> phase, from the Workflow's status (plain or compressed node list)."""
    return {record.display_name: record.phase.value for record in decode_nodes(obj.get("status") or {})}
