"""Programmatic DAGs: what ``analysis`` uses to run metrics (and anyone to run code-built graphs) on the executor.

The builder produces the same :class:`~workflows.model.plan.Plan` as a manifest, through the same compiler, so depends,
retries, timeouts, failFast and parallelism behave identically. Payloads are passed to runners untouched (no
``{{...}}`` substitution): they come from code, not from users' YAML.

Example::

    dag = DagBuilder("analysis-run-1", namespace="prod")
    dag.add("smoke", kind="http", payload={"url": "http://svc/health"})
    dag.add("error-rate", kind="metric", payload=metric, depends="smoke", pool="prometheus")
    plan = dag.build()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workflows.errors import SpecError
from workflows.model.compiler import compile_workflow
from workflows.model.depends import from_dependencies, parse_depends
from workflows.model.plan import Plan
from workflows.model.spec import Dag, DagTask, RetryStrategy, Template, WorkflowSpec


class DagBuilder:
    def __init__(
        self,
        name: str,
        *,
        namespace: str = "default",
        uid: str = "",
        fail_fast: bool = True,
        parallelism: int | None = None,
        active_deadline_seconds: float | None = None,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.fail_fast = fail_fast
        self.parallelism = parallelism
        self.active_deadline_seconds = active_deadline_seconds
        self._nodes: list[tuple[str, Template, str | Sequence[str] | None, bool, bool]] = []
        self._names: set[str] = set()

    def add(
        self,
        name: str,
        *,
        kind: str,
        payload: Any = None,
        depends: str | Sequence[str] | None = None,
        retry: RetryStrategy | None = None,
        timeout: float | None = None,
        pool: str | None = None,
        continue_on_failed: bool = False,
        continue_on_error: bool = False,
    ) -> None:
        """Add a node; ``depends`` is an expression (``"a && b.Failed"``) or a list meaning ``dependencies``."""
        if name in self._names or "." in name or not name:
            raise SpecError.at(f"nodes[{name}]", "node names must be unique, non-empty and contain no '.'")
        self._names.add(name)
        template = Template(
            name=f"node:{name}",
            path=f"nodes[{len(self._nodes)}]",
            kind=kind,
            body={"payload": payload},
            retry=retry,
            timeout=timeout,
            pool=pool,
            templated=False,
        )
        self._nodes.append((name, template, depends, continue_on_failed, continue_on_error))

    def build(self) -> Plan:
        if not self._nodes:
            raise SpecError.at("nodes", "a DAG needs at least one node")
        names = [name for name, *_ in self._nodes]
        known = set(names)
        tasks = []
        for index, (name, template, depends, continue_failed, continue_error) in enumerate(self._nodes):
            path = f"nodes[{index}].depends"
            if depends is None:
                expr = None
            elif isinstance(depends, str):
                expr = parse_depends(depends, path=path, known_tasks=known)
            else:
                for dep in depends:
                    if dep not in known:
                        raise SpecError.at(path, f"unknown node {dep!r}")
                expr = from_dependencies(list(depends), path=path) if depends else None
            tasks.append(
                DagTask(
                    name=name,
                    path=f"nodes[{index}]",
                    template=template.name,
                    template_ref=None,
                    depends=expr,
                    continue_failed=continue_failed,
                    continue_error=continue_error,
                )
            )
        root = Template(name="main", path="dag", kind="dag", dag=Dag(tasks=tuple(tasks), fail_fast=self.fail_fast))
        templates = {"main": root} | {template.name: template for _, template, *_ in self._nodes}
        spec = WorkflowSpec(
            kind="Workflow",
            name=self.name,
            namespace=self.namespace,
            uid=self.uid,
            entrypoint="main",
            arguments=(),
            templates=templates,
            parallelism=self.parallelism,
            active_deadline_seconds=self.active_deadline_seconds,
        )
        return compile_workflow(spec)
