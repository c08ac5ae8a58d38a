"""``kubectl rollouts get rollout``: what a Rollout is doing, read from its status and owned objects.

Rendering is a pure function of plain dicts (:func:`render_rollout`), so it is tested without a cluster; the
reading is a GET and two list calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rollouts.commands import CommandError
from rollouts.commands.rollouts import RolloutClient
from rollouts.commands.status import rollout_phase
from rollouts.core.hashing import POD_TEMPLATE_HASH_LABEL
from workflows.api import ROLLOUTS_DEV, ApiMode
from workflows.runtime.kube import ApiError

__all__ = ["RolloutView", "read_view", "render_rollout"]

_PHASE_STYLE = {"Healthy": "green", "Progressing": "yellow", "Paused": "cyan", "Degraded": "red"}


@dataclass(frozen=True, slots=True)
class RolloutView:
    rollout: Mapping[str, Any]
    replica_sets: Sequence[Mapping[str, Any]] = ()
    analysis_runs: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    mode: ApiMode = ROLLOUTS_DEV


def read_view(rollouts: RolloutClient, name: str) -> RolloutView:
    rollout = rollouts.get(name)
    mode = rollouts.mode
    try:
        listed = rollouts.kube.list(mode.analysis_runs, rollouts.namespace, label_selector=mode.analysis_kind_label)
    except ApiError as error:
        raise CommandError(f"analysis runs of rollout {rollouts.namespace}/{name}: {error}") from None
    uid = rollout["metadata"].get("uid")
    runs = [
        run for run in listed.items if any(o.get("uid") == uid for o in run["metadata"].get("ownerReferences") or [])
    ]
    return RolloutView(rollout=rollout, replica_sets=rollouts.history(name), analysis_runs=runs, mode=mode)


def _step_text(rollout: Mapping[str, Any]) -> str:
    steps = (((rollout.get("spec") or {}).get("strategy") or {}).get("canary") or {}).get("steps") or []
    index = (rollout.get("status") or {}).get("currentStepIndex")
    if not steps:
        return "-"
    return f"{min(index if isinstance(index, int) else 0, len(steps))}/{len(steps)}"


def render_rollout(view: RolloutView) -> RenderableType:
    """The ``get`` screen: summary, then ReplicaSets newest first with their role, then AnalysisRuns."""
    rollout = view.rollout
    meta, spec, status = rollout["metadata"], rollout.get("spec") or {}, rollout.get("status") or {}
    strategy = "BlueGreen" if "blueGreen" in (spec.get("strategy") or {}) else "Canary"
    phase, message = rollout_phase(rollout)  # as Argo's plugin reads it: an unobserved spec is still Progressing
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("Name:", str(meta["name"]))
    summary.add_row("Namespace:", str(meta["namespace"]))
    summary.add_row("Status:", Text(phase, style=_PHASE_STYLE.get(phase, "")))
    if message:
        summary.add_row("Message:", message)
    summary.add_row("Strategy:", strategy)
    if strategy == "Canary":
        summary.add_row("Step:", _step_text(rollout))
        weights = (status.get("canary") or {}).get("weights") or {}
        if weights:
            summary.add_row("Weight:", f"canary {weights.get('canary', {}).get('weight', 0)}%")
    summary.add_row(
        "Replicas:",
        f"desired {spec.get('replicas', 1)}  current {status.get('replicas', 0)}  "
        f"updated {status.get('updatedReplicas', 0)}  ready {status.get('readyReplicas', 0)}  "
        f"available {status.get('availableReplicas', 0)}",
    )
    stable_hash = status.get("stableRS")
    current_hash = status.get("currentPodHash")
    blue_green = status.get("blueGreen") or {}
    table = Table(title="ReplicaSets", title_justify="left")
    for column in ("revision", "name", "role", "images", "desired", "ready", "available"):
        table.add_column(column)
    for rs in sorted(
        view.replica_sets,
        key=lambda r: -int((r["metadata"].get("annotations") or {}).get(view.mode.revision_annotation, 0)),
    ):
        pod_hash = (rs["metadata"].get("labels") or {}).get(POD_TEMPLATE_HASH_LABEL)
        roles = []
        if pod_hash == stable_hash:
            roles.append("stable")
        if pod_hash == current_hash and pod_hash != stable_hash:
            roles.append("canary" if strategy == "Canary" else "preview")
        if blue_green.get("activeSelector") == pod_hash:
            roles.append("active")
        images = ",".join(
            c.get("image", "") for c in ((rs["spec"].get("template") or {}).get("spec") or {}).get("containers") or []
        )
        rs_status = rs.get("status") or {}
        table.add_row(
            str((rs["metadata"].get("annotations") or {}).get(view.mode.revision_annotation, "?")),
            rs["metadata"]["name"],
            ",".join(roles) or "old",
            images,
            str(rs["spec"].get("replicas", 0)),
            str(rs_status.get("readyReplicas", 0)),
            str(rs_status.get("availableReplicas", 0)),
        )
    parts: list[RenderableType] = [summary, table]
    if view.analysis_runs:
        runs = Table(title="AnalysisRuns", title_justify="left")
        for column in ("name", "kind", "phase", "message"):
            runs.add_column(column)
        for run in sorted(view.analysis_runs, key=lambda r: r["metadata"].get("creationTimestamp", "")):
            run_phase = str((run.get("status") or {}).get("phase") or "Pending")
            runs.add_row(
                run["metadata"]["name"],
                str((run["metadata"].get("labels") or {}).get(view.mode.analysis_kind_label, "")),
                Text(run_phase, style={"Successful": "green", "Failed": "red", "Error": "red"}.get(run_phase, "")),
                str((run.get("status") or {}).get("message") or ""),
            )
        parts.append(runs)
    return Group(*parts)
