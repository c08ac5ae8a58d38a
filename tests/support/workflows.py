"""Shared fixtures-as-functions for the workflow engine tests: scripted runners and tiny manifest builders."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, TypeVar

from workflows import Executor, ExecutorConfig, NodeContext, NodeResult, Plan, RunnerRegistry, RunResult
from workflows.model.compiler import compile_workflow
from workflows.model.spec import parse_workflow

T = TypeVar("T")


class ScriptedRunner:
    """Outcome per display name (a list is consumed attempt by attempt); records the order of starts/ends."""

    uses_slot = True

    def __init__(self, script: Mapping[str, Any] | None = None, *, delay: float = 0.0, inline: bool = False) -> None:
        self.script = {k: (list(v) if isinstance(v, list) else v) for k, v in (script or {}).items()}
        self.delay = delay
        self.inline = inline
        self.started: list[str] = []
        self.finished: list[str] = []
        self.contexts: list[NodeContext] = []
        self.running = 0
        self.max_running = 0

    def outcome(self, node: NodeContext) -> NodeResult:
        entry = self.script.get(node.display_name, self.script.get(node.template_name, "ok"))
        if isinstance(entry, list):
            entry = entry.pop(0) if len(entry) > 1 else entry[0]
        if entry == "ok":
            return NodeResult.succeeded(result=f"out-{node.display_name}")
        if entry == "fail":
            return NodeResult.failed("scripted failure")
        if entry == "error":
            return NodeResult.error("scripted error")
        if entry == "transient":
            return NodeResult.error("scripted transient error", transient=True)
        return NodeResult.succeeded(result=str(entry))

    def run_inline(self, node: NodeContext) -> NodeResult | None:
        if not self.inline:
            return None
        self.started.append(node.display_name)
        self.contexts.append(node)
        self.finished.append(node.display_name)
        return self.outcome(node)

    async def run(self, node: NodeContext) -> NodeResult:
        self.started.append(node.display_name)
        self.contexts.append(node)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            sleep = node.payload.get("sleep", self.delay) if isinstance(node.payload, Mapping) else self.delay
            await asyncio.sleep(float(sleep))
        finally:
            self.running -= 1
        self.finished.append(node.display_name)
        return self.outcome(node)


def workflow(templates: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "wf"},
        "spec": {"entrypoint": templates[0]["name"], "templates": templates, **spec},
    }


def dag(name: str, tasks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": name, "dag": {"tasks": tasks}, **extra}


def leaf(name: str = "work", **extra: Any) -> dict[str, Any]:
    return {"name": name, "container": {"image": "busybox"}, **extra}


def plan_of(doc: dict[str, Any], **kwargs: Any) -> Plan:
    return compile_workflow(parse_workflow(doc), **kwargs)


async def execute(
    plan: Plan, runner: ScriptedRunner, *, config: ExecutorConfig | None = None, **submit: Any
) -> tuple[RunResult, Any]:
    executor = Executor(
        registry=RunnerRegistry({"container": runner, "noop": runner, "suspend": _suspend()}),
        config=config or ExecutorConfig(status_interval=0),
    )
    try:
        run = executor.submit(plan, **submit)
        result = await asyncio.wait_for(run.wait(), timeout=10)
        return result, run
    finally:
        await executor.close()


def _suspend() -> Any:
    from workflows import SuspendRunner

    return SuspendRunner()


def phases(run: Any) -> dict[str, str]:
    return {record.display_name: record.phase.value for record in run.node_table().records()}
