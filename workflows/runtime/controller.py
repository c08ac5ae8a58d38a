"""The kopf shell of ``Workflow`` resources: observe the object, hand the run to the shared executor, write status.

Everything that decides lives elsewhere (spec parsing, compilation, scheduling, status encoding); this module only
translates between kopf events and the engine:

- create / operator resume -> compile and submit the run, seeded with the node table already in ``status`` (so a
  restarted controller continues where the previous one stopped: finished nodes are not re-run, running container
  steps re-attach to their Jobs);
- the executor's coalesced status snapshots -> one merge patch of the status subresource per write;
- ``status.resume`` (set by ``rollouts workflow resume`` or any status patch) -> resume suspended nodes;
- delete -> cancel the run (the Jobs go with their ownerReferences).

A Workflow whose spec cannot run (bad reference, cycle, unsupported field the schema could not catch) ends in phase
``Error`` with the field path in ``status.message`` and a Warning Event. Handlers never raise for bad input, so
nothing crash-loops.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import kopf

from workflows.api import GROUP, VERSION, owner_reference
from workflows.errors import WorkflowError
from workflows.model.compiler import compile_workflow
from workflows.model.spec import WorkflowSpec, parse_workflow
from workflows.model.status import previous_from_status
from workflows.runtime.executor import Executor, ExecutorConfig, Run
from workflows.runtime.httpio import ALLOW_ALL_HOSTS, HostAllowList
from workflows.runtime.jobs import JobIndex, JobRunner
from workflows.runtime.kube import WORKFLOW_TEMPLATES, WORKFLOWS, Kube, Resource
from workflows.runtime.runners import default_registry

__all__ = ["Engine", "WorkflowController", "WorkflowOperator", "register_workflow_handlers"]

logger = logging.getLogger(__name__)

TERMINAL_PHASES = frozenset({"Succeeded", "Failed", "Error"})
_MAX_TEMPLATE_DEPTH = 10


@dataclass(frozen=True, slots=True)
class Engine:
    """The process-wide executor with its Kubernetes-facing parts; shared by Workflows and AnalysisRuns.

    Built before the event loop runs (it is part of the operator's context); :meth:`start` binds the Job watch to the
    running loop, :meth:`stop` shuts down without cancelling anything in the cluster.
    """

    kube: Kube
    executor: Executor
    jobs: JobIndex
    job_runner: JobRunner
    namespaces: tuple[str, ...] = ()  # the namespaces the process serves (empty: the whole cluster)
    # where http steps and web metrics may send requests (--web-metric-allowed-hosts; empty: anywhere)
    allowed_hosts: HostAllowList = ALLOW_ALL_HOSTS

    @classmethod
    def create(
        cls,
        kube: Kube,
        *,
        config: ExecutorConfig | None = None,
        thread_pool: concurrent.futures.Executor | None = None,
        namespaces: Sequence[str] = (),
        allowed_hosts: HostAllowList = ALLOW_ALL_HOSTS,
    ) -> Engine:
        jobs = JobIndex(kube, namespaces=namespaces)
        runner = JobRunner(kube, jobs)
        registry = default_registry(allowed_hosts=allowed_hosts)
        registry.register("container", runner)
        executor = Executor(registry=registry, config=config or ExecutorConfig(), thread_pool=thread_pool)
        return cls(
            kube=kube,
            executor=executor,
            jobs=jobs,
            job_runner=runner,
            namespaces=tuple(namespaces),
            allowed_hosts=allowed_hosts,
        )

    def start(self) -> None:
        """Start the Job watch on the running loop (kopf's)."""
        self.jobs.start()

    async def stop(self) -> None:
        """Shutdown, not cancellation: running Jobs are left alone for the next controller to re-attach."""
        self.job_runner.shutting_down = True
        await self.executor.close()
        self.jobs.stop()


class _StatusWriter:
    """The executor's StatusSink for one Workflow: a merge patch of the status subresource per write."""

    def __init__(self, kube: Kube, *, namespace: str, name: str, resource: Resource = WORKFLOWS) -> None:
        self._kube = kube
        self._namespace = namespace
        self._name = name
        self._resource = resource
        self.extra: dict[str, Any] = {}

    async def write_status(self, run: Run, status: dict[str, Any]) -> None:
        body = dict(status)
        # Exactly one representation of the node table may remain after a merge patch.
        if "compressedNodes" in body:
            body.setdefault("nodes", None)
        else:
            body.setdefault("compressedNodes", None)
        body.update(self.extra)
        self.extra = {}
        await asyncio.get_running_loop().run_in_executor(run.executor.thread_pool, self._patch, body)

    def _patch(self, status: dict[str, Any]) -> None:
        # None (deleted meanwhile) needs nothing: there is nothing left to report to.
        self._kube.patch(self._resource, self._name, {"status": status}, self._namespace, subresource="status")


def _referenced_templates(spec: WorkflowSpec) -> set[str]:
    names: set[str] = set()
    for template in spec.templates.values():
        if template.dag is None:
            continue
        names.update(task.template_ref.name for task in template.dag.tasks if task.template_ref is not None)
    return names


def _snapshot_templates(kube: Kube, namespace: str, spec: WorkflowSpec) -> dict[str, Any]:
    """Read every WorkflowTemplate reachable through templateRef (transitively) -> {name: spec}."""
    snapshot: dict[str, Any] = {}
    pending = sorted(_referenced_templates(spec))
    depth = 0
    while pending and depth < _MAX_TEMPLATE_DEPTH:
        depth += 1
        following: set[str] = set()
        for name in pending:
            if name in snapshot:
                continue
            body = kube.get(WORKFLOW_TEMPLATES, name, namespace)
            if body is None:
                raise WorkflowError(f"templateRef: WorkflowTemplate {namespace}/{name} not found")
            snapshot[name] = body.get("spec") or {}
            following |= _referenced_templates(parse_workflow(_as_template_doc(name, namespace, snapshot[name])))
        pending = sorted(following - set(snapshot))
    return snapshot


def _as_template_doc(name: str, namespace: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": dict(spec),
    }


def _merge_workflow_template_ref(doc: dict[str, Any], kube: Kube, namespace: str) -> dict[str, Any]:
    """``spec.workflowTemplateRef``: run a WorkflowTemplate; the Workflow's own fields override the template's."""
    ref = (doc.get("spec") or {}).get("workflowTemplateRef")
    if not ref:
        return doc
    template = kube.get(WORKFLOW_TEMPLATES, str(ref.get("name")), namespace)
    if template is None:
        raise WorkflowError(f"spec.workflowTemplateRef.name: WorkflowTemplate {namespace}/{ref.get('name')} not found")
    merged = copy.deepcopy(doc)
    spec = {**(template.get("spec") or {}), **{k: v for k, v in doc["spec"].items() if k != "workflowTemplateRef"}}
    own_params = {p["name"]: p for p in ((doc["spec"].get("arguments") or {}).get("parameters") or [])}
    base_params = ((template.get("spec") or {}).get("arguments") or {}).get("parameters") or []
    params = [own_params.pop(p["name"], p) for p in base_params] + list(own_params.values())
    if params:
        spec["arguments"] = {"parameters": params}
    merged["spec"] = spec
    return merged


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WorkflowController:
    """The Workflow handlers' bodies and what they keep between events (one per operator, in its context)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._watchers: set[asyncio.Task[None]] = set()

    async def start(self, body: kopf.Body, patch: kopf.Patch, logger: kopf.Logger) -> None:
        engine = self.engine
        meta, status = body["metadata"], dict(body.get("status") or {})
        uid, name, namespace = meta["uid"], meta["name"], meta["namespace"]
        if status.get("phase") in TERMINAL_PHASES or uid in engine.executor.runs:
            return
        loop = asyncio.get_running_loop()
        pool = engine.executor.thread_pool
        try:
            doc = await loop.run_in_executor(pool, _merge_workflow_template_ref, dict(body), engine.kube, namespace)
            spec = parse_workflow(doc)
            stored: dict[str, Any] | None = status.get("storedTemplates")
            if stored is None:
                stored = await loop.run_in_executor(pool, _snapshot_templates, engine.kube, namespace, spec)
            templates = {n: parse_workflow(_as_template_doc(n, namespace, s)) for n, s in stored.items()}
            plan = compile_workflow(spec, workflow_templates=templates, name=name)
        except WorkflowError as error:
            message = f"invalid workflow: {error}"
            patch.status.update({"phase": "Error", "message": message, "finishedAt": _now()})
            kopf.warn(body, reason="InvalidSpec", message=message)
            logger.warning("%s", message)
            return
        writer = _StatusWriter(engine.kube, namespace=namespace, name=name)
        if "storedTemplates" not in status:
            writer.extra["storedTemplates"] = stored
        previous = previous_from_status(status) if status.get("nodes") or status.get("compressedNodes") else None
        run = engine.executor.submit(
            plan, run_id=uid, previous=previous, sink=writer, owner=owner_reference(body, kind="Workflow")
        )
        verb = "Resumed" if previous else "Started"
        kopf.info(body, reason=verb, message=f"{verb} workflow with {len(plan.nodes)} nodes")
        task = loop.create_task(self._report_end(run, body))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    @staticmethod
    async def _report_end(run: Run, body: kopf.Body) -> None:
        result = await run.wait()
        if result.interrupted:
            return
        if result.phase.value == "Succeeded":
            kopf.info(body, reason="Succeeded", message="Workflow succeeded")
        else:
            kopf.warn(body, reason=str(result.phase.value), message=result.message or str(result.phase.value))

    async def resume_requested(self, body: kopf.Body, event_type: str | None) -> None:
        requests = (body.get("status") or {}).get("resume") or []
        if not requests or event_type == "DELETED":
            return
        engine = self.engine
        run = engine.executor.runs.get(body["metadata"]["uid"])
        if run is None:
            return
        resumed = sum(run.resume(None if name == "*" else str(name)) for name in requests)
        kopf.info(body, reason="Resumed", message=f"resumed {resumed} suspended node(s): {', '.join(requests)}")
        meta = body["metadata"]
        await asyncio.get_running_loop().run_in_executor(
            engine.executor.thread_pool,
            lambda: engine.kube.patch(
                WORKFLOWS, meta["name"], {"status": {"resume": None}}, meta["namespace"], subresource="status"
            ),
        )

    def deleted(self, body: kopf.Body) -> None:
        with contextlib.suppress(WorkflowError):
            self.engine.executor.cancel(body["metadata"]["uid"], "workflow deleted")


class WorkflowOperator(Protocol):
    """What the Workflow handlers need from kopf's ``memo`` (the operator's context)."""

    @property
    def workflows(self) -> WorkflowController: ...


def register_workflow_handlers(registry: kopf.OperatorRegistry, *, labels: Mapping[str, Any] | None = None) -> None:
    """Register the Workflow handlers on ``registry`` (only Workflows matching ``labels``: the controller instance's
    filter); they find their controller in kopf's ``memo``."""
    only = dict(labels or {})

    @kopf.on.create(GROUP, VERSION, "workflows", registry=registry, labels=only)
    async def created(
        body: kopf.Body, patch: kopf.Patch, logger: kopf.Logger, memo: WorkflowOperator, **_: Any
    ) -> None:
        await memo.workflows.start(body, patch, logger)

    @kopf.on.resume(GROUP, VERSION, "workflows", registry=registry, labels=only)
    async def resumed(
        body: kopf.Body, patch: kopf.Patch, logger: kopf.Logger, memo: WorkflowOperator, **_: Any
    ) -> None:
        await memo.workflows.start(body, patch, logger)

    @kopf.on.event(GROUP, VERSION, "workflows", registry=registry, labels=only)
    async def resume_requested(body: kopf.Body, type: str | None, memo: WorkflowOperator, **_: Any) -> None:  # noqa: A002
        await memo.workflows.resume_requested(body, type)

    @kopf.on.delete(GROUP, VERSION, "workflows", registry=registry, labels=only, optional=True)
    async def deleted(body: kopf.Body, memo: WorkflowOperator, **_: Any) -> None:
        memo.workflows.deleted(body)
