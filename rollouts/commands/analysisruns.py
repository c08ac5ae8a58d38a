"""``kubectl rollouts create analysisrun`` and ``terminate analysisrun``: AnalysisRuns started and stopped by hand.

``create analysisrun`` turns an AnalysisTemplate (``--from NAME``, ``--global`` for a ClusterAnalysisTemplate, or
``--from-file``) into a run, as Argo's plugin does (``NewAnalysisRunFromUnstructured``): the template's spec as
written, ``-a name=value`` overriding the values of the args the template declares (args it does not declare are
ignored, as a Rollout's are; a template without args takes them as given), every arg left with a value or
``valueFrom``, named ``--name`` or generated from ``--generate-name`` (default ``<template>-``). The AnalysisRun
controller then runs it like any other. ``terminate analysisrun`` sets ``spec.terminate: true``, which the controller
honours by stopping the measurements and ending the run as Successful, as Argo's.

The run is built by a pure function (:func:`analysis_run_from_template`); the client only reads and writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rollouts.commands import CommandError, CommandKube
from workflows.api import ROLLOUTS_DEV, ApiMode
from workflows.runtime.kube import ApiError

__all__ = ["AnalysisRunClient", "analysis_run_from_template", "parse_arguments"]

_TEMPLATE_KINDS = ("AnalysisTemplate", "ClusterAnalysisTemplate")


def parse_arguments(items: Sequence[str]) -> list[tuple[str, str]]:
    """``-a name=value`` flags as pairs, in order (the value may itself contain ``=``)."""
    pairs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CommandError(f"arguments must be in the form NAME=VALUE, got {item!r}")
        pairs.append((name, value))
    return pairs


def _merged_args(declared: object, incoming: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    if declared is None:
        # A template that declares no args takes the ones given, as Argo does.
        return [{"name": name, "value": value} for name, value in incoming]
    if not isinstance(declared, list):
        raise CommandError("the template's spec.args must be a list")
    merged = [dict(arg) for arg in declared if isinstance(arg, Mapping)]
    for name, value in incoming:
        for arg in merged:
            if arg.get("name") == name:
                arg["value"] = value
                arg.pop("valueFrom", None)
    unresolved = [str(arg.get("name")) for arg in merged if arg.get("value") is None and arg.get("valueFrom") is None]
    if unresolved:
        raise CommandError(
            f"args.{unresolved[0]} was not resolved: pass it with -a {unresolved[0]}=VALUE"
            + (f" (also unresolved: {', '.join(unresolved[1:])})" if unresolved[1:] else "")
        )
    return merged


def analysis_run_from_template(
    template: Mapping[str, Any],
    *,
    args: Sequence[tuple[str, str]] = (),
    name: str | None = None,
    generate_name: str | None = None,
    namespace: str,
    mode: ApiMode = ROLLOUTS_DEV,
    instance_id: str | None = None,
) -> dict[str, Any]:
    """The AnalysisRun body for ``template`` (an AnalysisTemplate or ClusterAnalysisTemplate, from the cluster or a
    file): its spec with the args merged, its labels and annotations, none of its server-set metadata."""
    kind = template.get("kind")
    if kind not in _TEMPLATE_KINDS:
        raise CommandError(f"expected an AnalysisTemplate or ClusterAnalysisTemplate, got kind {kind!r}")
    template_meta = template.get("metadata") or {}
    spec = dict(template.get("spec") or {})
    merged = _merged_args(spec.get("args"), args)
    if merged:
        spec["args"] = merged
    metadata: dict[str, Any] = {"namespace": namespace}
    if name:
        metadata["name"] = name
    else:
        prefix = generate_name or f"{template_meta.get('name') or ''}-"
        if prefix == "-":
            raise CommandError("name is invalid: give --name or --generate-name (the template has no name)")
        metadata["generateName"] = prefix
    labels = dict(template_meta.get("labels") or {})
    if instance_id:
        labels[mode.instance_id_label] = instance_id
    if labels:
        metadata["labels"] = labels
    if template_meta.get("annotations"):
        metadata["annotations"] = dict(template_meta["annotations"])
    return {"apiVersion": mode.api_version, "kind": "AnalysisRun", "metadata": metadata, "spec": spec}


def read_template_file(path: Path) -> dict[str, Any]:
    """A template manifest from a YAML or JSON file (the first document)."""
    try:
        documents = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]
    except (OSError, yaml.YAMLError) as error:
        raise CommandError(f"{path}: {error}") from None
    if not documents or not isinstance(documents[0], dict):
        raise CommandError(f"{path}: expected an AnalysisTemplate or ClusterAnalysisTemplate manifest")
    return documents[0]


@dataclass
class AnalysisRunClient:
    """Creates and terminates one namespace's AnalysisRuns; every method raises :class:`CommandError` on refusal."""

    kube: CommandKube
    namespace: str
    mode: ApiMode = ROLLOUTS_DEV

    def read_template(self, name: str, *, cluster: bool = False) -> dict[str, Any]:
        """The AnalysisTemplate ``name`` of the namespace, or the ClusterAnalysisTemplate with ``cluster``."""
        resource = self.mode.cluster_analysis_templates if cluster else self.mode.analysis_templates
        where = name if cluster else f"{self.namespace}/{name}"
        try:
            body = self.kube.get(resource, name, None if cluster else self.namespace)
        except ApiError as error:
            raise CommandError(f"{resource.kind.lower()} {where}: {error}") from None
        if body is None:
            raise CommandError(f"{resource.kind.lower()} {where} not found")
        return body

    def create(self, run: Mapping[str, Any]) -> str:
        """Create ``run``; returns Argo's line (``analysisrun.<group>/<name> created``)."""
        try:
            created = self.kube.create(self.mode.analysis_runs, run, self.namespace)
        except ApiError as error:
            raise CommandError(f"analysisrun in {self.namespace}: {error}") from None
        return f"analysisrun.{self.mode.group}/{created['metadata']['name']} created"

    def terminate(self, name: str) -> str:
        try:
            patched = self.kube.patch(self.mode.analysis_runs, name, {"spec": {"terminate": True}}, self.namespace)
        except ApiError as error:
            raise CommandError(f"analysisrun {self.namespace}/{name}: {error}") from None
        if patched is None:
            raise CommandError(f"analysisrun {self.namespace}/{name} not found")
        return f"analysisRun '{name}' terminated"
