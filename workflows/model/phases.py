"""Node phases and node types: str enums at the edges, small integers in the hot path.

The executor keeps one ``list[int]`` of phase codes per run so that compiled ``depends`` closures and completion
bookkeeping never touch strings or enums; :data:`PHASE_OF` converts back at the status boundary.
"""

from __future__ import annotations

from enum import StrEnum


class NodePhase(StrEnum):
    """Argo's node phases; ``Omitted`` is a task whose ``depends`` could not be satisfied."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"
    SKIPPED = "Skipped"
    OMITTED = "Omitted"

    @property
    def fulfilled(self) -> bool:
        return self not in (NodePhase.PENDING, NodePhase.RUNNING)


class NodeType(StrEnum):
    """Argo's node types plus ``Metric`` (analysis measurements) and ``Task`` (programmatic custom kinds)."""

    DAG = "DAG"
    TASK_GROUP = "TaskGroup"
    POD = "Pod"
    HTTP = "HTTP"
    SUSPEND = "Suspend"
    SKIPPED = "Skipped"
    METRIC = "Metric"
    TASK = "Task"


class WorkflowPhase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"


P_NONE = 0  # not created yet: not in the node table
P_PENDING = 1
P_RUNNING = 2
P_SUCCEEDED = 3
P_FAILED = 4
P_ERROR = 5
P_SKIPPED = 6
P_OMITTED = 7

PHASE_OF: tuple[NodePhase | None, ...] = (
    None,
    NodePhase.PENDING,
    NodePhase.RUNNING,
    NodePhase.SUCCEEDED,
    NodePhase.FAILED,
    NodePhase.ERROR,
    NodePhase.SKIPPED,
    NodePhase.OMITTED,
)
CODE_OF: dict[NodePhase, int] = {phase: code for code, phase in enumerate(PHASE_OF) if phase is not None}
