"""The shared corpus of real Argo manifests: where it lives and how tests read it.

It lives in ``shared/corpus`` beside the repository checkout. CI lays a copy of ``shared/`` next to its fresh clone,
as the workplace does for development checkouts, so the path is relative to the repository, never absolute.
``ROLLOUTS_CORPUS`` overrides it. A missing corpus is an error, not an empty parametrisation: tests that load it must
never pass by running nothing.

Argo's manifests become ours by the one change the compatibility promise allows: ``apiVersion``
``argoproj.io/v1alpha1`` -> ``rollouts.dev/v1alpha1`` (:func:`with_our_api_version`).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from workflows.api import API_VERSION, ARGO_API_VERSION

__all__ = [
    "ARGO_API_VERSION",
    "CORPUS",
    "corpus_dir",
    "corpus_object",
    "documents",
    "of_kind",
    "rollouts_example",
    "with_our_api_version",
]

REPO = Path(__file__).resolve().parents[2]


def corpus_dir() -> Path:
    path = Path(os.environ.get("ROLLOUTS_CORPUS") or REPO.parent / "shared" / "corpus")
    if not (path / "argo-rollouts").is_dir() or not (path / "argo-workflows").is_dir():
        raise FileNotFoundError(f"the shared corpus is missing at {path}; set ROLLOUTS_CORPUS to its location")
    return path


CORPUS = corpus_dir()


def documents(path: Path) -> list[dict[str, Any]]:
    """The documents of one YAML file, as written (empty documents dropped)."""
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def with_our_api_version(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` with Argo's apiVersion changed to ours; other kinds (Service, Ingress, ...) unchanged."""
    converted = copy.deepcopy(dict(doc))
    if converted.get("apiVersion") == ARGO_API_VERSION:
        converted["apiVersion"] = API_VERSION
    return converted


def rollouts_example(name: str) -> list[dict[str, Any]]:
    """The documents of ``argo-rollouts/<name>`` with our apiVersion."""
    return [with_our_api_version(doc) for doc in documents(CORPUS / "argo-rollouts" / name)]


def of_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The documents of ``kind`` (the same objects, not copies)."""
    return [doc for doc in docs if doc.get("kind") == kind]


def corpus_object(name: str, kind: str, object_name: str | None = None) -> dict[str, Any]:
    """The ``kind`` object (named ``object_name``, or the first) of ``argo-rollouts/<name>``, with our apiVersion."""
    for doc in of_kind(rollouts_example(name), kind):
        if object_name is None or doc["metadata"]["name"] == object_name:
            return doc
    raise LookupError(f"{name} has no {kind} {object_name or ''}")
