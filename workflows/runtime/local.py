"""``rollouts workflow run FILE``: run a Workflow on this machine, no cluster, with live progress.

http and suspend steps run for real; container steps need the cluster's Job runner, so a file that uses them is
refused up front (exit code 2) instead of failing half-way. Suspend steps without a duration wait for Enter on a
terminal, or resume at once with ``resume_all=True`` (the CLI's ``--resume-all``); with a duration they resume by
themselves. Exit codes: 0 Succeeded, 1 Failed, 2 Error (including invalid manifests).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import yaml
from rich.console import Console
from rich.live import Live
from rich.table import Table

from workflows.errors import WorkflowError
from workflows.model.compiler import compile_workflow
from workflows.model.phases import WorkflowPhase
from workflows.model.spec import WorkflowSpec, parse_workflow
from workflows.model.status import NodeRecord
from workflows.runtime.executor import Executor, ExecutorConfig, Run
from workflows.runtime.runners import RunnerRegistry, default_registry

EXIT_CODES = {WorkflowPhase.SUCCEEDED: 0, WorkflowPhase.FAILED: 1, WorkflowPhase.ERROR: 2}
_STYLE = {
    "Succeeded": "green",
    "Failed": "red",
    "Error": "red",
    "Running": "yellow",
    "Omitted": "dim",
    "Skipped": "dim",
}


def load_documents(path: Path) -> tuple[WorkflowSpec, dict[str, WorkflowSpec]]:
    """The first Workflow in the file runs; WorkflowTemplates in the same file serve its templateRefs."""
    docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    templates: dict[str, WorkflowSpec] = {}
    workflow: WorkflowSpec | None = None
    for doc in docs:
        spec = parse_workflow(doc)
        if spec.kind == "WorkflowTemplate":
            templates[spec.name] = spec
        elif workflow is None:
            workflow = spec
    if workflow is None:
        submittable = [spec for spec in templates.values() if spec.entrypoint]
        if not submittable:
            raise WorkflowError(f"{path}: no Workflow (or WorkflowTemplate with an entrypoint) to run")
        workflow = submittable[0]
    return workflow, templates


def node_table(records: list[NodeRecord]) -> Table:
    table = Table(show_edge=False)
    for column in ("NODE", "TYPE", "PHASE", "RETRIES", "MESSAGE"):
        table.add_column(column)
    for record in records:
        table.add_row(
            record.name,
            record.type.value,
            f"[{_STYLE.get(record.phase.value, 'white')}]{record.phase.value}",
            str(record.retries or ""),
            record.message,
        )
    return table


def _progress_line(run: Run) -> str:
    done, total = run.progress
    waiting = run.suspended_nodes()
    hint = f"  suspended: {', '.join(waiting)} (press Enter to resume)" if waiting else ""
    return f"{run.name}: {run.workflow_phase.value} {done}/{total}{hint}"


async def run_workflow(
    path: Path,
    params: Mapping[str, str],
    *,
    console: Console,
    resume_all: bool = False,
    registry: RunnerRegistry | None = None,
) -> int:
    try:
        workflow, templates = load_documents(path)
        plan = compile_workflow(workflow, arguments=params, workflow_templates=templates)
    except (WorkflowError, yaml.YAMLError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    registry = registry or default_registry()
    missing = sorted(plan.kinds() - registry.kinds())
    if missing:
        console.print(f"[red]error:[/red] steps of kind {', '.join(missing)} need a cluster (rollouts controller)")
        return 2
    executor = Executor(registry=registry, config=ExecutorConfig(status_interval=0))
    run = executor.submit(plan)
    if resume_all:
        run.resume()
    loop = asyncio.get_running_loop()
    stdin_reader = _watch_stdin(loop, run)
    try:
        with Live(_progress_line(run), console=console, refresh_per_second=8, transient=True) as live:
            while not run.done.done():
                await asyncio.wait([run.done], timeout=0.125)
                live.update(_progress_line(run))
        result = await run.wait()
    finally:
        if stdin_reader:
            loop.remove_reader(sys.stdin.fileno())
        await executor.close()
    console.print(node_table(run.node_table().records()))
    console.print(f"{run.name}: [bold]{result.phase.value}[/bold] {result.message}")
    return EXIT_CODES.get(result.phase, 2)


def _watch_stdin(loop: asyncio.AbstractEventLoop, run: Run) -> bool:
    try:
        if not sys.stdin.isatty():
            return False
        fileno = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return False

    def on_line() -> None:
        sys.stdin.readline()
        run.resume()

    loop.add_reader(fileno, on_line)
    return True


def run_workflow_file(
    path: str | Path, params: Mapping[str, str], *, out: IO[str] | None = None, resume_all: bool = False
) -> int:
    """Entry point for ``rollouts workflow run FILE [-p k=v] [--resume-all]``; returns the exit code."""
    console = Console(file=out or sys.stdout)
    return asyncio.run(run_workflow(Path(path), params, console=console, resume_all=resume_all))
