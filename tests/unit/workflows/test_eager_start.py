"""A submitted run starts its first steps inside ``submit()`` (bounded, slots permitting), not after a burst drains."""

from __future__ import annotations

import asyncio

from tests.support.workflows import ScriptedRunner
from workflows import (
    DagBuilder,
    Executor,
    ExecutorConfig,
    NodeContext,
    NodeResult,
    Plan,
    RunnerRegistry,
    WorkflowPhase,
)


def _wide(name: str, count: int) -> Plan:
    builder = DagBuilder(name)
    for i in range(count):
        builder.add(f"n{i}", kind="noop")
    return builder.build()


async def test_first_steps_start_inside_submit() -> None:
    runner = ScriptedRunner(inline=True)
    executor = Executor(registry=RunnerRegistry({"noop": runner}), config=ExecutorConfig(status_interval=0))
    run = executor.submit(_wide("eager", 10))
    started_in_submit = list(runner.started)
    result = await run.wait()
    await executor.close()
    assert started_in_submit == ["n0", "n1", "n2", "n3"]  # eager_start=4, in plan order
    assert result.phase is WorkflowPhase.SUCCEEDED
    assert runner.started == [f"n{i}" for i in range(10)]


async def test_eager_start_zero_defers_everything_to_the_loop() -> None:
    runner = ScriptedRunner(inline=True)
    executor = Executor(
        registry=RunnerRegistry({"noop": runner}), config=ExecutorConfig(status_interval=0, eager_start=0)
    )
    run = executor.submit(_wide("lazy", 3))
    assert runner.started == []
    await run.wait()
    await executor.close()
    assert runner.started == ["n0", "n1", "n2"]


async def test_eager_start_respects_global_slots() -> None:
    runner = ScriptedRunner(delay=0.001)
    executor = Executor(
        registry=RunnerRegistry({"noop": runner}), config=ExecutorConfig(status_interval=0, max_running=2)
    )
    first = executor.submit(_wide("a", 3))
    second = executor.submit(_wide("b", 3))
    assert executor.dispatched == 2  # both slots taken by the first run; the second waits its turn
    assert [first.phase_of(f"n{i}") for i in range(3)] == ["Running", "Running", "Pending"]
    assert second.phase_of("n0") == "Pending"
    results = await asyncio.gather(first.wait(), second.wait())
    await executor.close()
    assert runner.max_running == 2
    assert all(r.phase is WorkflowPhase.SUCCEEDED for r in results)


async def test_a_burst_of_submits_starts_every_run_before_the_loop_turns() -> None:
    runner = ScriptedRunner(inline=True)
    executor = Executor(registry=RunnerRegistry({"noop": runner}), config=ExecutorConfig(status_interval=0))
    runs = [executor.submit(_wide(f"r{i}", 6), run_id=f"r{i}") for i in range(50)]
    assert {ctx.run_id for ctx in runner.contexts} == {f"r{i}" for i in range(50)}
    results = await asyncio.gather(*(run.wait() for run in runs))
    await executor.close()
    assert all(r.phase is WorkflowPhase.SUCCEEDED for r in results)
    assert len(runner.started) == 300


class _Exploding:
    uses_slot = True

    def run_inline(self, node: NodeContext) -> NodeResult | None:
        raise RuntimeError("bug")

    async def run(self, node: NodeContext) -> NodeResult:
        raise AssertionError("unreachable")


async def test_an_inline_runner_bug_fails_the_node_not_submit() -> None:
    executor = Executor(registry=RunnerRegistry({"noop": _Exploding()}), config=ExecutorConfig(status_interval=0))
    run = executor.submit(_wide("boom", 1))
    result = await run.wait()
    await executor.close()
    assert result.phase is WorkflowPhase.ERROR
    assert run.phase_of("n0") == "Error"
