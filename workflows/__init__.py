"""Argo-Workflows-shaped DAG engine: one shared, parallel executor for Workflows and AnalysisRuns.

Layering: this package depends on nothing else of ours. ``runtime.kube`` is the product's only importer of
``kubernetes`` (every other module of every package reaches the API through its ``Kube``) and ``runtime.controller``
is this package's only kopf shell; the model, the compiler and the executor are pure Python.

Where things live (one hop from here):

- ``spec``: manifest dict -> frozen dataclasses; unsupported fields refused with their path.
- ``depends``: the depends algebra, parsed once, bound to node ids as closures.
- ``substitution``: ``{{...}}`` parsing, scope validation, rendering.
- ``compiler`` / ``builder``: spec (or code) -> immutable ``Plan`` (``plan``).
- ``model.scheduler``: one run's node state and every scheduling decision, pure (takes ``now``, no asyncio).
- ``runtime.executor``: the shared asyncio driver -- admission, runners, timers, periodic nodes, status coalescing.
- ``runners`` / ``http``: the runner Protocol, registry, http/suspend/noop runners.
- ``status``: node table encoding (plain or zstd-compressed columns) and decoding.
- ``local``: ``rollouts workflow run FILE``.
"""

from workflows.errors import (
    CycleError,
    DependsSyntaxError,
    ExpressionError,
    RunNotFoundError,
    SpecError,
    SubstitutionError,
    UnsupportedFieldError,
    WorkflowError,
)
from workflows.model.builder import DagBuilder
from workflows.model.compiler import compile_workflow
from workflows.model.phases import NodePhase, NodeType, WorkflowPhase
from workflows.model.plan import NodeSpec, Plan, PreviousNode
from workflows.model.spec import Backoff, RetryPolicy, RetryStrategy, WorkflowSpec, parse_workflow
from workflows.model.status import NodeRecord, decode_nodes, encode_nodes, node_id, previous_from_status
from workflows.runtime.executor import ComposingStatusSink, Executor, ExecutorConfig, Run, RunResult, StatusSink
from workflows.runtime.runners import (
    NodeContext,
    NodeResult,
    NoopRunner,
    RunnerRegistry,
    StepRunner,
    SuspendRunner,
    default_registry,
)

__all__ = [
    "Backoff",
    "ComposingStatusSink",
    "CycleError",
    "DagBuilder",
    "DependsSyntaxError",
    "Executor",
    "ExecutorConfig",
    "ExpressionError",
    "NodeContext",
    "NodePhase",
    "NodeRecord",
    "NodeResult",
    "NodeSpec",
    "NodeType",
    "NoopRunner",
    "Plan",
    "PreviousNode",
    "RetryPolicy",
    "RetryStrategy",
    "Run",
    "RunNotFoundError",
    "RunResult",
    "RunnerRegistry",
    "SpecError",
    "StatusSink",
    "StepRunner",
    "SubstitutionError",
    "SuspendRunner",
    "UnsupportedFieldError",
    "WorkflowError",
    "WorkflowPhase",
    "WorkflowSpec",
    "compile_workflow",
    "decode_nodes",
    "default_registry",
    "encode_nodes",
    "node_id",
    "parse_workflow",
    "previous_from_status",
]
