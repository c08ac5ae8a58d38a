"""``kubectl rollouts list rollouts``: one line per Rollout, in the columns and layout of Argo's plugin.

Scripts parse this table with ``awk``/``column``, so the columns, their order and the values are Argo's:
``NAME STRATEGY STATUS STEP SET-WEIGHT READY DESIRED UP-TO-DATE AVAILABLE`` (``NAMESPACE`` first with ``-A``).
``SET-WEIGHT`` is the weight the current step asks for (Argo's ``GetCurrentSetWeight``), not the measured one. The
layout reproduces Go's ``tabwriter`` with Argo's padding, so the output matches byte for byte. Pure functions of
plain dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rollouts.commands.status import rollout_phase

__all__ = ["RolloutRow", "format_rollout_table", "rollout_row", "set_weight"]

_HEADER = ("NAME", "STRATEGY", "STATUS", "STEP", "SET-WEIGHT", "READY", "DESIRED", "UP-TO-DATE", "AVAILABLE")
# Argo pads each value to about its header's width before the tabwriter aligns the columns (``columnFmtString``).
_MIN_WIDTHS = (10, 9, 12, 4, 10, 5, 7, 10, 9)
_NAMESPACE_WIDTH = 9
_PADDING = 2  # tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)


def _canary(rollout: Mapping[str, Any]) -> Mapping[str, Any] | None:
    canary = ((rollout.get("spec") or {}).get("strategy") or {}).get("canary")
    return canary if isinstance(canary, Mapping) else None


def set_weight(rollout: Mapping[str, Any]) -> int:
    """The weight the current canary step sets: 0 when aborted, the maximum past the last step, else the nearest
    ``setWeight`` at or before the current step (0 when none)."""
    canary = _canary(rollout) or {}
    status = rollout.get("status") or {}
    if status.get("abort"):
        return 0
    steps = canary.get("steps") or []
    index = status.get("currentStepIndex")
    index = index if isinstance(index, int) else 0
    if not steps or index >= len(steps):
        routing = canary.get("trafficRouting") or {}
        maximum = routing.get("maxTrafficWeight")
        return maximum if isinstance(maximum, int) else 100
    for step in reversed(steps[: index + 1]):
        weight = (step or {}).get("setWeight")
        if isinstance(weight, int):
            return weight
    return 0


@dataclass(frozen=True, slots=True)
class RolloutRow:
    namespace: str
    name: str
    strategy: str
    status: str
    step: str
    set_weight: str
    ready: str
    desired: int
    up_to_date: int
    available: int

    def cells(self, *, all_namespaces: bool) -> tuple[str, ...]:
        values = (
            self.name,
            self.strategy,
            self.status,
            self.step,
            self.set_weight,
            self.ready,
            str(self.desired),
            str(self.up_to_date),
            str(self.available),
        )
        cells = tuple(value.ljust(width) for value, width in zip(values, _MIN_WIDTHS, strict=True))
        return (self.namespace.ljust(_NAMESPACE_WIDTH), *cells) if all_namespaces else cells


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0


def rollout_row(rollout: Mapping[str, Any]) -> RolloutRow:
    """The columns of one Rollout (Argo's ``newRolloutInfo``)."""
    metadata, spec, status = rollout.get("metadata") or {}, rollout.get("spec") or {}, rollout.get("status") or {}
    canary = _canary(rollout)
    strategy, step, weight = "unknown", "-", "-"
    if canary is not None:
        strategy = "Canary"
        steps = canary.get("steps") or []
        index = status.get("currentStepIndex")
        if isinstance(index, int) and steps:
            step = f"{index}/{len(steps)}"
        weight = str(set_weight(rollout))
    elif isinstance((spec.get("strategy") or {}).get("blueGreen"), Mapping):
        strategy = "BlueGreen"
    replicas = spec.get("replicas")
    return RolloutRow(
        namespace=str(metadata.get("namespace", "")),
        name=str(metadata.get("name", "")),
        strategy=strategy,
        status=rollout_phase(rollout)[0],
        step=step,
        set_weight=weight,
        ready=f"{_count(status.get('readyReplicas'))}/{_count(status.get('replicas'))}",
        desired=replicas if isinstance(replicas, int) else 1,
        up_to_date=_count(status.get("updatedReplicas")),
        available=_count(status.get("availableReplicas")),
    )


def _tabwriter(lines: Sequence[Sequence[str]]) -> str:
    """Go's ``text/tabwriter`` for these lines: every cell but a line's last is padded to its column's widest + 2."""
    widths: list[int] = []
    for cells in lines:
        for column, cell in enumerate(cells[:-1]):
            if column == len(widths):
                widths.append(0)
            widths[column] = max(widths[column], len(cell) + _PADDING)
    return "".join(
        "".join(cell.ljust(widths[column]) for column, cell in enumerate(cells[:-1])) + cells[-1] + "\n"
        for cells in lines
    )


def format_rollout_table(rollouts: Iterable[Mapping[str, Any]], *, all_namespaces: bool = False) -> str:
    """The whole table, header first, one Rollout per line in the order given (the API's: namespace, name)."""
    header = (("NAMESPACE", *_HEADER) if all_namespaces else _HEADER,)
    rows = tuple(rollout_row(rollout).cells(all_namespaces=all_namespaces) for rollout in rollouts)
    return _tabwriter((*header, *rows))
