"""The immutable execution plan: integer node ids, dependency counters and children lists.

A :class:`Plan` is what the compiler produces from a manifest (or the builder from code) and what the executor runs.
Everything here is decided before the run starts: node names, which node waits for which (``deps`` counts and
``dependents`` fan-out), each node's compiled ``depends`` predicate and its compiled payload renderer. The executor
copies the per-node arrays it mutates; the plan itself is never changed, so it is safe to share and to inspect.

The one dynamic part is ``withParam``: its items are known only at run time, so such a group carries an ``expand``
function (from the compiler) that produces the children's :class:`NodeSpec` s when the group starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workflows.model.depends import Predicate
from workflows.model.phases import NodePhase, NodeType
from workflows.model.spec import RetryStrategy
from workflows.model.substitution import Renderer, Text

# expand(first_index, items) -> specs of the new children (first one gets ``first_index``) and their ids
Expander = Callable[[int, Sequence[Any]], tuple[list["NodeSpec"], list[int]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """What a leaf node runs: the runner kind and its compiled payload."""

    kind: str
    template_name: str
    payload: Renderer
    retry: RetryStrategy | None = None
    timeout: Text | float | None = None  # total, across retries; may be templated
    attempt_deadline: float | None = None
    pool: str = ""
    pod: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSpec:
    """One node of the plan. ``owner`` is the node whose completion counter this node decrements."""

    index: int
    name: str
    display_name: str
    type: NodeType
    boundary: int  # the enclosing DAG node (-1 for the workflow root and its exit handler)
    owner: int  # boundary, or the TaskGroup for expanded children; -1 for top-level nodes
    task_name: str = ""  # the dag task this node instantiates ("" for the root)
    template_name: str = ""
    deps: tuple[int, ...] = ()
    dependents: tuple[int, ...] = ()
    depends: Predicate | None = None
    handled_failure: bool = False  # some dependent's depends names this task's failure explicitly
    continue_failed: bool = False
    continue_error: bool = False
    arguments: tuple[tuple[str, Text], ...] = ()  # rendered in the boundary's scope when the node is ready
    input_defaults: Mapping[str, str] = field(default_factory=dict)
    when: Text | None = None
    item: Any = None
    has_item: bool = False
    step: Step | None = None
    children: tuple[int, ...] = ()  # DAG: its tasks; static TaskGroup: its expanded children
    roots: tuple[int, ...] = ()
    targets: tuple[int, ...] = ()  # DAG: tasks nobody depends on; they decide the DAG's phase
    task_ids: Mapping[str, int] = field(default_factory=dict)  # DAG: task name -> node id, for {{tasks.X}}
    fail_fast: bool = True
    parallelism: int | None = None
    expand: Expander | None = None  # dynamic TaskGroup (withParam)
    with_param: Text | None = None
    hook: int = -1  # task-level onExit node, run after this node and before its dependents
    hook_of: int = -1
    in_exit_handler: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A compiled workflow: run it with :meth:`workflows.runtime.executor.Executor.submit`."""

    name: str
    namespace: str
    uid: str
    nodes: tuple[NodeSpec, ...]
    root: int
    exit_handler: int  # -1 when there is no spec.onExit
    parameters: Mapping[str, str]
    parallelism: int | None = None
    active_deadline_seconds: float | None = None
    service_account_name: str | None = None

    @property
    def leaf_count(self) -> int:
        return sum(1 for node in self.nodes if node.step is not None)

    def kinds(self) -> frozenset[str]:
        """Runner kinds this plan needs (dynamic withParam children may add none: they reuse templates)."""
        return frozenset(node.step.kind for node in self.nodes if node.step is not None)


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviousNode:
    """What a previous controller recorded for this node (restart seam): re-attach instead of re-creating."""

    phase: NodePhase
    started_at: float | None = None
    finished_at: float | None = None
    message: str = ""
    result: str | None = None
    retries: int = 0
