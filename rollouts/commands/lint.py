"""``kubectl rollouts lint -f FILE``: would the controller run these Rollouts as written?

Argo's ``lint`` validates the Rollouts of a manifest file offline; ours runs them through the controller's own parser
(:func:`rollouts.core.spec.parse_rollout`), so a Rollout that lints clean is one the controller does not refuse, and
every problem is reported with its field path, all of them at once. Rollouts of either group are linted (a user
migrating from Argo lints Argo's manifests as they are); a ``workloadRef`` is resolved against the Deployments of the
same file, and when the file has none of that name the template cannot be checked (said so, not an error). Other
kinds are ignored, as in Argo. Pure: documents in, lines out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from rollouts.commands import CommandError
from rollouts.core.errors import InvalidSpecError
from rollouts.core.spec import parse_rollout
from workflows.api import ARGO, ROLLOUTS_DEV

__all__ = ["LintResult", "lint_documents", "read_documents"]

_ROLLOUT_API_VERSIONS = frozenset({ROLLOUTS_DEV.api_version, ARGO.api_version})
# The issues that only say the referenced workload's template was not at hand.
_WORKLOAD_PATHS = frozenset({"spec.workloadRef", "spec.template", "spec.selector"})


class LintResult:
    """What ``lint`` found: ``problems`` (``rollout NAME: path: message``) and ``notes`` (what it could not check)."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.linted = 0


def read_documents(path: Path) -> list[Any]:
    """Every YAML (or JSON) document of ``path``, empty ones dropped."""
    try:
        return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]
    except (OSError, yaml.YAMLError) as error:
        raise CommandError(f"{path}: {error}") from None


def _deployments(documents: Sequence[Any]) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for doc in documents:
        if isinstance(doc, Mapping) and doc.get("apiVersion") == "apps/v1" and doc.get("kind") == "Deployment":
            found[str((doc.get("metadata") or {}).get("name") or "")] = doc
    return found


def lint_documents(documents: Sequence[Any]) -> LintResult:
    """Lint every Rollout among ``documents`` (in either API group)."""
    result = LintResult()
    deployments = _deployments(documents)
    for index, doc in enumerate(documents):
        if not isinstance(doc, Mapping) or doc.get("kind") != "Rollout":
            continue
        if doc.get("apiVersion") not in _ROLLOUT_API_VERSIONS:
            continue
        result.linted += 1
        name = str((doc.get("metadata") or {}).get("name") or f"(document {index + 1})")
        ref = (doc.get("spec") or {}).get("workloadRef")
        workload = deployments.get(str(ref.get("name"))) if isinstance(ref, Mapping) else None
        workload_spec = (workload or {}).get("spec") or {}
        try:
            parse_rollout(
                doc,
                workload_template=workload_spec.get("template") if workload else None,
                workload_selector=workload_spec.get("selector") if workload else None,
            )
        except InvalidSpecError as error:
            issues = list(error.issues)
            if ref and workload is None:
                issues = [issue for issue in issues if issue.path not in _WORKLOAD_PATHS]
                result.notes.append(
                    f"rollout {name}: spec.workloadRef names a workload that is not in the file; its template "
                    "was not checked"
                )
            result.problems.extend(f"rollout {name}: {issue}" for issue in issues)
    return result
