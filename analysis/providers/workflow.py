"""``provider.workflow`` (beyond Argo): a measurement that runs a WorkflowTemplate on the shared executor.

A metric such as "smoke tests pass" is naturally a small DAG (deploy a fixture, call three endpoints, check a
queue), not a single query. The template runs as a nested run on the same executor as everything else, so its
container steps are Jobs learned from the shared watch and its HTTP steps use the executor's thread pool. The
measurement is Successful when the workflow Succeeded, Failed when it Failed, Error when it errored or could not
be compiled; ``value`` is the workflow phase.

The run id is derived from the AnalysisRun, the metric and the measurement's sequence number, so the Jobs of a
restarted controller's re-run are found again (same node ids) instead of duplicated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from analysis.args import RenderedProvider
from analysis.assess import AnalysisPhase, Measurement
from analysis.providers.base import MeasurementContext, error_measurement
from workflows.errors import WorkflowError
from workflows.model.compiler import compile_workflow
from workflows.model.phases import WorkflowPhase
from workflows.model.spec import parse_workflow
from workflows.runtime.executor import Executor

__all__ = ["TemplateNotFoundError", "WorkflowTemplateProvider", "workflow_run_id"]

WORKFLOW_RUN_KEY = "workflow-run"
TemplateFetcher = Callable[[str, str], Mapping[str, Any]]


class TemplateNotFoundError(LookupError):
    """The named WorkflowTemplate does not exist (raised by the fetcher)."""


def workflow_run_id(namespace: str, run_name: str, metric: str, sequence: int) -> str:
    return f"{namespace}/{run_name}/{metric}/{sequence}"


class WorkflowTemplateProvider:
    """Runs ``provider.workflow.templateRef.name`` with ``provider.workflow.arguments.parameters``."""

    def __init__(
        self,
        *,
        executor: Executor,
        fetch_template: TemplateFetcher,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.executor = executor
        self.fetch_template = fetch_template
        self.clock = clock

    def _load(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Fetch the template and every template it references through ``templateRef`` (blocking)."""
        name = str(body["templateRef"]["name"])
        root = dict(self.fetch_template(namespace, name))
        loaded = {name: root}
        pending = [root]
        while pending:
            spec = parse_workflow(pending.pop())
            for template in spec.templates.values():
                for task in template.dag.tasks if template.dag else ():
                    ref = task.template_ref
                    if ref is not None and ref.name not in loaded:
                        loaded[ref.name] = dict(self.fetch_template(namespace, ref.name))
                        pending.append(loaded[ref.name])
        return loaded

    async def measure_async(
        self,
        rendered: RenderedProvider,
        *,
        context: MeasurementContext,
        now: datetime,
        run_blocking: Callable[..., Awaitable[object]],
    ) -> Measurement:
        body: Mapping[str, Any] = rendered.body if isinstance(rendered.body, Mapping) else {}
        name = str((body.get("templateRef") or {}).get("name", ""))
        run_id = workflow_run_id(context.namespace, context.run_name, context.metric.name, context.sequence)
        metadata = {WORKFLOW_RUN_KEY: run_id}
        started_at = context.in_flight.started_at if context.in_flight is not None else now
        try:
            loaded: Any = await run_blocking(self._load, context.namespace, body)
            templates = {key: parse_workflow(doc) for key, doc in loaded.items()}
            params = {
                str(p["name"]): str(p.get("value", ""))
                for p in ((body.get("arguments") or {}).get("parameters") or [])
                if isinstance(p, Mapping) and "name" in p
            }
            run_name = f"{context.run_name}-{context.metric.name}-{context.sequence}"
            plan = compile_workflow(templates[name], arguments=params, workflow_templates=templates, name=run_name)
        except TemplateNotFoundError as error:
            return error_measurement(rendered.redact(str(error)), now=started_at, metadata=metadata)
        except WorkflowError as error:
            message = f"WorkflowTemplate {name}: {error}"
            return error_measurement(rendered.redact(message), now=started_at, metadata=metadata)
        except Exception as error:  # noqa: BLE001 -- an API failure is an Error measurement, retried by the runner
            text = rendered.redact(str(getattr(error, "reason", "") or error)) or type(error).__name__
            return error_measurement(f"cannot read WorkflowTemplate {name}: {text}", now=started_at, metadata=metadata)
        if context.in_flight is None:
            context.started(Measurement(phase=AnalysisPhase.RUNNING, started_at=started_at, metadata=metadata))
        # the template's container steps run as Jobs owned by the AnalysisRun
        run = self.executor.submit(plan, run_id=run_id, owner=context.owner)
        try:
            result = await run.wait()
        except asyncio.CancelledError:
            run.cancel("analysis run terminated")
            raise
        finished = max(self.clock(), started_at)
        value = str(result.phase.value)
        if result.phase is WorkflowPhase.SUCCEEDED:
            return Measurement(
                phase=AnalysisPhase.SUCCESSFUL,
                started_at=started_at,
                finished_at=finished,
                value=value,
                metadata=metadata,
            )
        phase = AnalysisPhase.FAILED if result.phase is WorkflowPhase.FAILED else AnalysisPhase.ERROR
        message = f"workflow {name} {value.lower()}" + (f": {result.message}" if result.message else "")
        return Measurement(
            phase=phase,
            started_at=started_at,
            finished_at=finished,
            value=value,
            message=rendered.redact(message),
            metadata=metadata,
        )
