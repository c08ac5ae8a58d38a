"""Status writes encode a snapshot off the event loop: same body as ``Run.status()``, isolated from later events."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from workflows import (
    DagBuilder,
    Executor,
    ExecutorConfig,
    NodeContext,
    NodeResult,
    NoopRunner,
    Run,
    RunnerRegistry,
    decode_nodes,
)
from workflows.model.status import NodeIds, node_id, status_from_snapshot


def _chain(name: str, count: int, kind: str) -> Any:
    builder = DagBuilder(name)
    for i in range(count):
        builder.add(f"s{i}", kind=kind, depends=[f"s{i - 1}"] if i else None)
    return builder.build()


class _Gate:
    """Holds ``s1`` until released, so the test can snapshot a run in the middle."""

    uses_slot = True

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def run(self, node: NodeContext) -> NodeResult:
        if node.display_name == "s1":
            self.entered.set()
            await self.release.wait()
        return NodeResult.succeeded()


async def test_snapshot_is_isolated_from_later_node_events() -> None:
    gate = _Gate()
    executor = Executor(registry=RunnerRegistry({"noop": gate}), config=ExecutorConfig(status_interval=0))
    run = executor.submit(_chain("iso", 4, "noop"))
    await asyncio.wait_for(gate.entered.wait(), timeout=5)
    snap = run.scheduler.snapshot()
    before = run.status()
    gate.release.set()
    await run.wait()
    await executor.close()
    frozen = status_from_snapshot(snap, budget_bytes=256 * 1024)
    assert frozen == before  # later events did not leak into the copy
    assert frozen["phase"] == "Running"
    assert {r.display_name: r.phase.value for r in decode_nodes(frozen)}["s1"] == "Running"
    assert run.status()["phase"] == "Succeeded"


async def test_snapshot_status_matches_status_and_encodes_on_another_thread() -> None:
    seen: list[str] = []
    executor = Executor(
        registry=RunnerRegistry({"noop": NoopRunner()}),
        config=ExecutorConfig(status_interval=0, status_budget_bytes=1024),  # force the compressed form
    )
    run = executor.submit(_chain("thread", 30, "noop"))
    await run.wait()
    import workflows.model.status as status_module

    original = status_module.NodeTable.from_snapshot

    def spy(snap: Any) -> Any:
        seen.append(threading.current_thread().name)
        return original(snap)

    status_module.NodeTable.from_snapshot = spy  # type: ignore[method-assign]
    try:
        off_loop = await run.snapshot_status()
    finally:
        status_module.NodeTable.from_snapshot = original  # type: ignore[method-assign]
    await executor.close()
    assert "compressedNodes" in off_loop
    assert off_loop == run.status()
    assert seen == [seen[0]]
    assert seen[0].startswith("workflows-status")


class _Sink:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    async def write_status(self, run: Run, status: dict[str, Any]) -> None:
        self.bodies.append(status)


async def test_the_final_write_carries_the_finished_table() -> None:
    sink = _Sink()
    executor = Executor(registry=RunnerRegistry({"noop": NoopRunner()}), config=ExecutorConfig(status_interval=0))
    run = executor.submit(_chain("sink", 5, "noop"), sink=sink)
    result = await run.wait()
    await executor.close()
    assert result.phase.value == "Succeeded"
    last = sink.bodies[-1]
    assert last == run.status()
    assert [r.phase.value for r in decode_nodes(last)] == ["Succeeded"] * 6


async def test_a_write_racing_close_still_completes_the_run() -> None:
    sink = _Sink()
    executor = Executor(registry=RunnerRegistry({"noop": NoopRunner()}), config=ExecutorConfig(status_interval=0))
    executor.status_thread().shutdown()  # the encoder is gone: the writer falls back to encoding on the loop
    run = executor.submit(_chain("closed", 3, "noop"), sink=sink)
    result = await asyncio.wait_for(run.wait(), timeout=5)
    await executor.close()
    assert result.phase.value == "Succeeded"
    assert sink.bodies[-1]["progress"] == "3/3"


@settings(max_examples=300, deadline=None)
@given(
    workflow_name=st.text(min_size=1, max_size=8),
    names=st.lists(st.lists(st.text(max_size=6), min_size=1, max_size=4).map(".".join), max_size=12),
)
def test_prefix_cached_node_ids_equal_argo_node_ids(workflow_name: str, names: list[str]) -> None:
    ids = NodeIds(workflow_name)
    for name in [*names, *names, workflow_name]:  # repeats hit the prefix cache
        assert ids(name) == node_id(workflow_name, name)
