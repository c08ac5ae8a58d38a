"""``provider.workflow`` runs a WorkflowTemplate on a real executor; its phase is the measurement."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from analysis.args import RenderedProvider
from analysis.assess import AnalysisPhase, Measurement
from analysis.providers.base import MeasurementContext
from analysis.providers.workflow import TemplateNotFoundError, WorkflowTemplateProvider
from analysis.spec import Metric, Provider, ProviderKind
from workflows import Executor, ExecutorConfig, NodeContext, NodeResult, RunnerRegistry, default_registry

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class ScriptedContainers:
    """The ``container`` runner: succeeds unless the step's args say ``fail``; records what ran."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, tuple[str, ...]]] = []

    async def run(self, node: NodeContext) -> NodeResult:
        args = tuple(node.payload.get("args") or ())
        self.ran.append((node.display_name, args))
        return NodeResult.failed("exit code 1") if "fail" in args else NodeResult.succeeded()


def smoke_template(name: str, *, nested: str | None = None) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = [{"name": "check", "template": "check"}]
    if nested:
        tasks.append({"name": "more", "templateRef": {"name": nested, "template": "check"}, "dependencies": ["check"]})
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name},
        "spec": {
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "mode", "value": "ok"}]},
            "templates": [
                {"name": "main", "dag": {"tasks": tasks}},
                {"name": "check", "container": {"image": "busybox", "args": ["{{workflow.parameters.mode}}"]}},
            ],
        },
    }


def provider_for(templates: Mapping[str, dict[str, Any]]) -> tuple[WorkflowTemplateProvider, ScriptedContainers]:
    containers = ScriptedContainers()
    registry: RunnerRegistry = default_registry()
    registry.register("container", containers)
    executor = Executor(registry=registry, config=ExecutorConfig(status_interval=0))

    def fetch(namespace: str, name: str) -> Mapping[str, Any]:
        if name not in templates:
            raise TemplateNotFoundError(f"WorkflowTemplate {namespace}/{name} not found")
        return templates[name]

    return WorkflowTemplateProvider(executor=executor, fetch_template=fetch, clock=lambda: NOW), containers


async def measure(provider: WorkflowTemplateProvider, body: dict[str, Any]) -> tuple[Measurement, list[Measurement]]:
    started: list[Measurement] = []
    metric = Metric(name="smoke", provider=Provider(kind=ProviderKind.WORKFLOW, body=body))
    context = MeasurementContext(run_name="run", namespace="ns", metric=metric, sequence=1, started=started.append)

    async def run_blocking(fn: Any, *args: Any) -> Any:
        return fn(*args)

    rendered = RenderedProvider(body=body, redacted=body, secret_values=frozenset())
    result = await provider.measure_async(rendered, context=context, now=NOW, run_blocking=run_blocking)
    await provider.executor.close()
    return result, started


def ref(name: str, mode: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"templateRef": {"name": name}}
    if mode is not None:
        body["arguments"] = {"parameters": [{"name": "mode", "value": mode}]}
    return body


async def test_succeeded_workflow_is_a_successful_measurement() -> None:
    provider, containers = provider_for(
        {"smoke": smoke_template("smoke", nested="extra"), "extra": smoke_template("extra")}
    )
    result, started = await measure(provider, ref("smoke"))
    assert result.phase is AnalysisPhase.SUCCESSFUL
    assert result.value == "Succeeded"
    assert [m.phase for m in started] == [AnalysisPhase.RUNNING]  # recorded Running before the outcome
    assert [name for name, _ in containers.ran] == ["check", "more"]  # the nested templateRef ran too


async def test_arguments_reach_the_steps_and_a_failing_step_fails_the_measurement() -> None:
    provider, containers = provider_for({"smoke": smoke_template("smoke")})
    result, _ = await measure(provider, ref("smoke", mode="fail"))
    assert result.phase is AnalysisPhase.FAILED
    assert result.value == "Failed"
    assert containers.ran == [("check", ("fail",))]


@pytest.mark.parametrize(
    ("templates", "body", "needle"),
    [
        ({}, ref("absent"), "absent not found"),
        (
            {"smoke": smoke_template("smoke")},
            ref("smoke", mode="x") | {"arguments": {"parameters": [{"name": "nope", "value": "1"}]}},
            "nope",
        ),
    ],
)
async def test_missing_or_invalid_templates_are_error_measurements(
    templates: dict[str, Any], body: dict[str, Any], needle: str
) -> None:
    provider, containers = provider_for(templates)
    result, started = await measure(provider, body)
    assert result.phase is AnalysisPhase.ERROR
    assert needle in result.message
    assert not started
    assert not containers.ran
