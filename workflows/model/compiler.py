"""Spec + arguments -> :class:`~workflows.model.plan.Plan`: every check that needs the whole graph happens here.

Before anything runs this module rejects: unknown templates and WorkflowTemplates (with the task's field path),
dependency cycles (naming the cycle), templates that call themselves, missing input parameters, and ``{{...}}``
references that are out of scope (``{{tasks.X...}}`` from a task that does not depend on X, ``{{item}}`` outside a
loop, ``{{workflow.status}}`` outside ``onExit``). ``templateRef`` targets are copied into the plan, so editing a
WorkflowTemplate later does not change a running workflow (Argo's "snapshot at start").

Nested DAGs and ``withItems`` are expanded here, into integer-indexed nodes; ``withParam`` keeps an expander that
the executor calls with the items once they are known. Both stop at :data:`MAX_NODES` nodes per run, checked before
the nodes are built: nested loops multiply (1,000 items calling a DAG with a 1,000-item loop is a million steps), and
a run's memory and status grow with its node table.
"""

from __future__ import annotations

import graphlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from workflows.errors import CycleError, Issues, IssuesError, SpecError
from workflows.model import collector
from workflows.model.phases import NodeType
from workflows.model.plan import NodeSpec, Plan, Step
from workflows.model.spec import DagTask, Template, TemplateKind, WorkflowSpec
from workflows.model.substitution import Renderer, Scope, Text, compile_payload, item_label, parse_text

#: Most nodes one run may have (DAGs, loop groups, steps, withParam expansions and hooks all count): twice the
#: 50,000-node runs the engine and the compressed status are built and measured for (docs/security.md).
MAX_NODES = 100_000

_LEAF_TYPES = {
    TemplateKind.HTTP.value: NodeType.HTTP,
    TemplateKind.CONTAINER.value: NodeType.POD,
    TemplateKind.SUSPEND.value: NodeType.SUSPEND,
    "metric": NodeType.METRIC,
}

Draft = dict[str, Any]


def _find_cycle(tasks: Sequence[DagTask]) -> tuple[str, ...] | None:
    """The first dependency cycle among ``tasks`` (first == last), as :mod:`graphlib` finds it; None when acyclic.

    Whether there is a cycle at all is decided first by Kahn's algorithm over task positions (integer lists, a few
    operations per edge): building graphlib's per-node records cost ~20% of a 1,000-task compile. Only a graph that
    has a cycle goes to graphlib, so the cycle reported is exactly graphlib's.
    """
    position = {task.name: index for index, task in enumerate(tasks)}
    unfinished = [0] * len(tasks)
    dependents: list[list[int]] = [[] for _ in tasks]
    for index, task in enumerate(tasks):
        for name in task.depends.tasks if task.depends else ():
            dependency = position.get(name)  # unknown names are reported elsewhere; they cannot close a cycle
            if dependency is not None:
                unfinished[index] += 1
                dependents[dependency].append(index)
    ready = [index for index, count in enumerate(unfinished) if count == 0]
    sorted_count = 0
    while ready:
        sorted_count += 1
        for dependent in dependents[ready.pop()]:
            unfinished[dependent] -= 1
            if unfinished[dependent] == 0:
                ready.append(dependent)
    if sorted_count == len(tasks):
        return None
    graph = {task.name: task.depends.tasks if task.depends else () for task in tasks}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        return tuple(error.args[1])
    return None


class _Compiler:
    def __init__(
        self, spec: WorkflowSpec, store: Mapping[str, WorkflowSpec], params: Mapping[str, str], name: str
    ) -> None:
        self.spec = spec
        self.store = store
        self.params = params
        self.name = name
        self.checked: set[tuple[str, str, bool]] = set()
        self.renderers: dict[tuple[str, str], Renderer] = {}
        self.timeouts: dict[tuple[str, str], Text | float | None] = {}
        self.leaves: dict[tuple[str, str], tuple[NodeType, Step]] = {}
        self.defaults: dict[tuple[str, str], Mapping[str, str]] = {}

    # -- template resolution ------------------------------------------------------------------------------------
    def source(self, key: str) -> WorkflowSpec:
        return self.spec if key == "" else self.store[key]

    def resolve(self, source: str, task: DagTask) -> tuple[str, Template]:
        if task.template_ref is not None:
            ref = task.template_ref
            other = self.store.get(ref.name)
            if other is None:
                raise SpecError.at(f"{task.path}.templateRef.name", f"unknown WorkflowTemplate {ref.name!r}")
            template = other.templates.get(ref.template)
            if template is None:
                raise SpecError.at(
                    f"{task.path}.templateRef.template",
                    f"WorkflowTemplate {ref.name!r} has no template {ref.template!r}",
                )
            return ref.name, template
        assert task.template is not None
        template = self.source(source).templates.get(task.template)
        if template is None:
            raise SpecError.at(f"{task.path}.template", f"unknown template {task.template!r}")
        return source, template

    # -- validation (once per template and context) -------------------------------------------------------------
    def check(self, source: str, template: Template, in_exit: bool) -> None:
        if template.dag is None and not template.templated:
            return  # a programmatic (DagBuilder) leaf: its payload is never substituted, nothing to validate
        key = (source, template.name, in_exit)
        if key in self.checked:
            return
        self.checked.add(key)
        inputs = frozenset(p.name for p in template.inputs)
        params = frozenset(self.params)
        if template.dag is None:
            if template.templated:
                scope = Scope(workflow_parameters=params, inputs=inputs, retries=True, status=in_exit)
                self.renderer(source, template).validate(scope)
                timeout = self.timeout(source, template)
                if isinstance(timeout, Text):
                    for ref in timeout.refs:
                        scope.check(ref, f"{template.path}.timeout")
            return
        tasks = template.dag.tasks
        cycle = _find_cycle(tasks)
        if cycle is not None:
            raise CycleError(f"{template.path}.dag.tasks", cycle)
        by_name = {task.name: task for task in tasks}
        issues = Issues()
        for task in tasks:
            try:  # not a collecting() block per task: entering one costs more than checking a plain task
                self.check_task(source, task, by_name, inputs=inputs, params=params, in_exit=in_exit)
            except IssuesError:
                with issues.collecting():  # recorded exactly as collecting() records it
                    raise
        issues.raise_if_any(SpecError)

    def check_task(
        self,
        source: str,
        task: DagTask,
        by_name: Mapping[str, DagTask],
        *,
        inputs: frozenset[str],
        params: frozenset[str],
        in_exit: bool,
    ) -> None:
        """Every problem of one task (raised together): inputs it must supply, references out of scope."""
        _callee_source, callee = self.resolve(source, task)
        if not (callee.inputs or task.arguments or task.on_exit is not None or task.when or task.with_param):
            return  # nothing to check: no inputs to supply, no strings that could reference anything
        issues = Issues()
        given = {p.name for p in task.arguments}
        for declared in callee.inputs:
            if declared.value is None and declared.name not in given:
                issues.add(
                    f"{task.path}.arguments",
                    f"template {callee.name!r} needs input parameter {declared.name!r}",
                )
        if task.on_exit is not None and task.on_exit not in self.source(source).templates:
            issues.add(f"{task.path}.onExit", f"unknown template {task.on_exit!r}")
        texts: list[tuple[str, str | None]] = [
            (f"{task.path}.arguments.parameters[{index}].value", argument.value)
            for index, argument in enumerate(task.arguments)
            if argument.value is not None
        ]
        texts += [
            (f"{task.path}.{name}", value) for name, value in (("when", task.when), ("withParam", task.with_param))
        ]
        refs = [(where, ref) for where, value in texts if value is not None for ref in parse_text(value, where).refs]
        if not refs:
            issues.raise_if_any(SpecError)
            return
        # ancestors only when a string mentions tasks.X: computing them for every task would be O(n^2)
        ancestors = self.ancestors(task, by_name) if any(ref[0] == "tasks" for _, ref in refs) else set()
        hints = {
            ref[1]: f"{ref[1]!r} is not an ancestor of {task.name!r}; add it to depends"
            for _, ref in refs
            if ref[0] == "tasks" and ref[1] in by_name and ref[1] not in ancestors
        }
        scope = Scope(
            workflow_parameters=params,
            inputs=inputs,
            tasks=frozenset(ancestors),
            item=task.with_items is not None or task.with_param is not None,
            status=in_exit,
            tasks_hint=hints,
        )
        for where, ref in refs:
            with issues.collecting():
                scope.check(ref, where)
        issues.raise_if_any(SpecError)

    @staticmethod
    def ancestors(task: DagTask, by_name: Mapping[str, DagTask]) -> set[str]:
        seen: set[str] = set()
        stack = list(task.depends.tasks if task.depends else ())
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            dep = by_name[name].depends
            stack.extend(dep.tasks if dep else ())
        return seen

    def renderer(self, source: str, template: Template) -> Renderer:
        key = (source, template.name)
        renderer = self.renderers.get(key)
        if renderer is None:
            if template.templated:
                renderer = compile_payload(dict(template.body), f"{template.path}.{template.kind}")
            else:  # programmatic (DagBuilder): the payload goes to the runner as given
                raw = template.body.get("payload")
                renderer = Renderer(payload=raw, texts=(), _render=lambda lookup: raw)
            self.renderers[key] = renderer
        return renderer

    def timeout(self, source: str, template: Template) -> Text | float | None:
        value = template.timeout
        if not isinstance(value, str):
            return value  # None or seconds already: nothing to parse or cache
        key = (source, template.name)
        if key not in self.timeouts:
            text = parse_text(value, f"{template.path}.timeout")
            self.timeouts[key] = text if text.refs else float(_duration(value, f"{template.path}.timeout"))
        return self.timeouts[key]

    def input_defaults(self, source: str, template: Template) -> Mapping[str, str]:
        """Shared by every instance of the template (NodeSpec fields are read-only; the executor copies)."""
        key = (source, template.name)
        defaults = self.defaults.get(key)
        if defaults is None:
            defaults = self.defaults[key] = {p.name: p.value for p in template.inputs if p.value is not None}
        return defaults

    def leaf(self, source: str, template: Template) -> tuple[NodeType, Step]:
        """A leaf template's node type and :class:`Step`, built once and shared by every task that calls it."""
        key = (source, template.name)
        cached = self.leaves.get(key)
        if cached is None:
            step = Step(
                kind=template.kind,
                template_name=template.name,
                payload=self.renderer(source, template),
                retry=template.retry,
                timeout=self.timeout(source, template),
                attempt_deadline=template.attempt_deadline,
                pool=template.pool or template.kind,
                pod=template.pod,
            )
            cached = self.leaves[key] = (_LEAF_TYPES.get(template.kind, NodeType.TASK), step)
        return cached

    # -- instantiation ------------------------------------------------------------------------------------------
    def hook(
        self,
        out: list[Draft],
        base: int,
        dag_index: int,
        task_draft: Draft,
        *,
        source: str,
        task: DagTask,
        stack: tuple[tuple[str, str], ...],
    ) -> int:
        """Add the task-level ``onExit`` node of ``task_draft`` (run after the task, before its dependents)."""
        assert task.on_exit is not None
        node = task_draft["index"]
        hook = base + len(out)
        _make_room(out, base, 1, f"{task.path}.onExit")
        out.append(_draft(hook))
        out[hook - base]["hook_of"] = node
        task_draft["hook"] = hook
        dag_draft = out[dag_index - base]
        self.fill(
            out,
            base,
            hook,
            source=source,
            template=self.source(source).templates[task.on_exit],
            name=f"{task_draft['name']}.onExit",
            display=f"{task.name}.onExit",
            boundary=dag_index,
            owner=dag_index,
            in_exit=dag_draft["in_exit_handler"],
            stack=stack,
        )
        return hook

    def fill(  # noqa: PLR0915 -- one pass that wires a dag: ids, edges, loops, hooks
        self,
        out: list[Draft],
        base: int,
        index: int,
        *,
        source: str,
        template: Template,
        name: str,
        display: str,
        boundary: int,
        owner: int,
        in_exit: bool,
        stack: tuple[tuple[str, str], ...],
    ) -> None:
        self.check(source, template, in_exit)
        draft = out[index - base]
        draft.update(
            name=name,
            display_name=display,
            boundary=boundary,
            owner=owner,
            template_name=template.name,
            in_exit_handler=in_exit,
            input_defaults=self.input_defaults(source, template),
        )
        if template.dag is None:
            draft["type"], draft["step"] = self.leaf(source, template)
            return
        key = (source, template.name)
        if key in stack:
            cycle = [f"{s or 'spec'}:{t}" for s, t in stack[stack.index(key) :]] + [
                f"{source or 'spec'}:{template.name}"
            ]
            raise CycleError(template.path, tuple(cycle))
        stack = (*stack, key)
        dag = template.dag
        draft.update(type=NodeType.DAG, fail_fast=dag.fail_fast, parallelism=template.parallelism)
        ids: dict[str, int] = {}
        _make_room(out, base, len(dag.tasks), f"{template.path}.dag.tasks")
        for task in dag.tasks:
            ids[task.name] = base + len(out)
            out.append(_draft(base + len(out)))
        continue_on = {task.name: (task.continue_failed, task.continue_error) for task in dag.tasks}
        dependents: dict[str, list[int]] = {task.name: [] for task in dag.tasks}
        handled: set[str] = set()
        for task in dag.tasks:
            if task.depends is not None:
                for dep in task.depends.tasks:
                    dependents[dep].append(ids[task.name])
                if task.depends.failure_handled:  # the tasks whose failure this expression names explicitly
                    handled.update(task.depends.failure_handled)
        hooks: list[int] = []
        for task in dag.tasks:
            node = ids[task.name]
            task_draft = out[node - base]
            task_name = f"{name}.{task.name}"
            callee_source, callee = self.resolve(source, task)
            arguments = (
                tuple(
                    (p.name, parse_text(p.value, f"{task.path}.arguments"))
                    for p in task.arguments
                    if p.value is not None
                )
                if task.arguments
                else ()
            )
            when = None if task.when is None else parse_text(task.when, f"{task.path}.when")
            depends = task.depends
            if task.with_items is None and task.with_param is None and callee.dag is None:
                # a plain leaf task, the bulk of any large DAG: one dict literal, not the general recursion
                self.check(callee_source, callee, in_exit)
                leaf_type, step = self.leaf(callee_source, callee)
                out[node - base] = task_draft = {
                    "index": node,
                    "name": task_name,
                    "display_name": task.name,
                    "type": leaf_type,
                    "boundary": index,
                    "owner": index,
                    "task_name": task.name,
                    "template_name": callee.name,
                    "deps": tuple([ids[d] for d in depends.tasks]) if depends else (),
                    "dependents": tuple(dependents[task.name]),
                    "depends": None if depends is None else depends.bind(ids, continue_on=continue_on),
                    "handled_failure": task.name in handled,
                    "continue_failed": task.continue_failed,
                    "continue_error": task.continue_error,
                    "arguments": arguments,
                    "input_defaults": self.input_defaults(callee_source, callee),
                    "when": when,
                    "step": step,
                    "in_exit_handler": in_exit,
                }
                if task.on_exit is not None:
                    hooks.append(self.hook(out, base, index, task_draft, source=source, task=task, stack=stack))
                continue
            task_draft.update(
                task_name=task.name,
                deps=tuple([ids[d] for d in depends.tasks]) if depends else (),
                dependents=tuple(dependents[task.name]),
                depends=None if depends is None else depends.bind(ids, continue_on=continue_on),
                handled_failure=task.name in handled,
                continue_failed=task.continue_failed,
                continue_error=task.continue_error,
            )
            if task.with_items is None and task.with_param is None:
                task_draft.update(arguments=arguments, when=when)
                self.fill(
                    out,
                    base,
                    node,
                    source=callee_source,
                    template=callee,
                    name=task_name,
                    display=task.name,
                    boundary=index,
                    owner=index,
                    in_exit=in_exit,
                    stack=stack,
                )
            else:
                task_draft.update(
                    name=task_name,
                    display_name=task.name,
                    type=NodeType.TASK_GROUP,
                    boundary=index,
                    owner=index,
                    template_name=callee.name,
                    in_exit_handler=in_exit,
                )

                def make_children(
                    out2: list[Draft],
                    base2: int,
                    items: Sequence[Any],
                    *,
                    group: int,
                    task: DagTask = task,
                    callee: Template = callee,
                    callee_source: str = callee_source,
                    arguments: tuple[tuple[str, Text], ...] = arguments,
                    when: Text | None = when,
                    boundary: int = index,
                    stack: tuple[tuple[str, str], ...] = stack,
                ) -> list[int]:
                    loop = "withItems" if task.with_items is not None else "withParam"
                    _make_room(out2, base2, len(items), f"{task.path}.{loop}")
                    children = []
                    for position, item in enumerate(items):
                        child = base2 + len(out2)
                        out2.append(_draft(child))
                        label = f"{task.name}({position}:{item_label(item)})"
                        out2[child - base2].update(
                            task_name=task.name, arguments=arguments, when=when, item=item, has_item=True
                        )
                        self.fill(
                            out2,
                            base2,
                            child,
                            source=callee_source,
                            template=callee,
                            name=f"{name}.{label}",
                            display=label,
                            boundary=boundary,
                            owner=group,
                            in_exit=in_exit,
                            stack=stack,
                        )
                        children.append(child)
                    return children

                if task.with_items is not None:
                    task_draft["children"] = tuple(make_children(out, base, task.with_items, group=node))
                else:
                    assert task.with_param is not None
                    task_draft["with_param"] = parse_text(task.with_param, f"{task.path}.withParam")

                    def expand(
                        first: int, items: Sequence[Any], *, group: int = node, make: Any = make_children
                    ) -> tuple[list[NodeSpec], list[int]]:
                        produced: list[Draft] = []
                        children = make(produced, first, items, group=group)
                        return [NodeSpec(**d) for d in produced], children

                    task_draft["expand"] = expand
            if task.on_exit is not None:
                hooks.append(self.hook(out, base, index, task_draft, source=source, task=task, stack=stack))
        has_dependents = {dep for task in dag.tasks if task.depends for dep in task.depends.tasks}
        draft.update(
            children=tuple(ids[t.name] for t in dag.tasks) + tuple(hooks),
            roots=tuple(ids[t.name] for t in dag.tasks if t.depends is None),
            targets=tuple(ids[t.name] for t in sorted(dag.tasks, key=lambda t: t.name) if t.name not in has_dependents),
            task_ids=ids,
        )


def _make_room(out: list[Draft], base: int, more: int, path: str) -> None:
    """Refuse, before building them, ``more`` nodes that would take the run past :data:`MAX_NODES`."""
    total = base + len(out) + more
    if total > MAX_NODES:
        raise SpecError.at(
            path,
            f"the run would have more than {MAX_NODES:,} nodes (at least {total:,}); "
            "use fewer items, or split the work into several Workflows",
        )


def _duration(value: str, path: str) -> float:
    from workflows.model.durations import parse_seconds

    try:
        return parse_seconds(value)
    except ValueError as exc:
        raise SpecError.at(path, str(exc)) from None


def _draft(index: int) -> Draft:
    return {"index": index, "name": "", "display_name": "", "type": NodeType.TASK, "boundary": -1, "owner": -1}


def compile_workflow(
    spec: WorkflowSpec,
    *,
    arguments: Mapping[str, str] | None = None,
    workflow_templates: Mapping[str, WorkflowSpec] | None = None,
    name: str | None = None,
) -> Plan:
    """Compile a parsed Workflow (or a submittable WorkflowTemplate) with ``-p``-style argument overrides."""
    with collector.young_only():  # see workflows.model.collector: the old heap is not walked during a compile
        return _compile(spec, arguments=arguments, workflow_templates=workflow_templates, name=name)


def _compile(
    spec: WorkflowSpec,
    *,
    arguments: Mapping[str, str] | None,
    workflow_templates: Mapping[str, WorkflowSpec] | None,
    name: str | None,
) -> Plan:
    issues = Issues()
    params = {p.name: p.value or "" for p in spec.arguments}
    declared = {p.name: p for p in spec.arguments}
    for key, value in (arguments or {}).items():
        if key not in params:
            issues.add("spec.arguments.parameters", f"unknown parameter {key!r} (declared: {sorted(params)})")
            continue
        enum = declared[key].enum
        if enum and value not in enum:
            issues.add("spec.arguments.parameters", f"{key}={value!r} is not one of {list(enum)}")
        params[key] = value
    if spec.entrypoint is None:
        issues.add("spec.entrypoint", "nothing to run: no entrypoint")
        issues.raise_if_any(SpecError)
    assert spec.entrypoint is not None
    run_name = name or spec.name
    compiler = _Compiler(spec, workflow_templates or {}, params, run_name)
    entry = spec.templates[spec.entrypoint]
    for declared_input in entry.inputs:
        if declared_input.value is None and declared_input.name not in params:
            issues.add(
                "spec.arguments.parameters",
                f"entrypoint {entry.name!r} needs input parameter {declared_input.name!r}",
            )
    # validate every template, reachable or not, before anything is built: all errors at once, before anything runs
    for template in spec.templates.values():
        with issues.collecting():
            compiler.check("", template, in_exit=template.name == spec.on_exit)
    issues.raise_if_any(SpecError)
    out: list[Draft] = [_draft(0)]
    out[0]["arguments"] = tuple(
        (p.name, Text(source=params[p.name], parts=(params[p.name],))) for p in entry.inputs if p.name in params
    )
    compiler.fill(
        out,
        0,
        0,
        source="",
        template=entry,
        name=run_name,
        display=run_name,
        boundary=-1,
        owner=-1,
        in_exit=False,
        stack=(),
    )
    exit_index = -1
    if spec.on_exit is not None:
        exit_index = len(out)
        out.append(_draft(exit_index))
        compiler.fill(
            out,
            0,
            exit_index,
            source="",
            template=spec.templates[spec.on_exit],
            name=f"{run_name}.onExit",
            display=f"{run_name}.onExit",
            boundary=-1,
            owner=-1,
            in_exit=True,
            stack=(),
        )
    return Plan(
        name=run_name,
        namespace=spec.namespace,
        uid=spec.uid,
        nodes=tuple(NodeSpec(**d) for d in out),
        root=0,
        exit_handler=exit_index,
        parameters=params,
        parallelism=spec.parallelism,
        active_deadline_seconds=spec.active_deadline_seconds,
        service_account_name=spec.service_account_name,
    )


def parse_items(text: str) -> list[Any]:
    """``withParam`` must render to a JSON list (Argo's rule); anything else is an error for the group."""
    try:
        items = json.loads(text)
    except ValueError:
        raise ValueError(f"withParam value could not be parsed as a JSON list: {text.strip()[:200]}") from None
    if not isinstance(items, list):
        raise ValueError(f"withParam value is not a JSON list: {text.strip()[:200]}")  # noqa: TRY004
    return items
