"""An ``http`` step against an endpoint that hangs is given up the moment its step ends: the template's ``timeout``,
the run's termination and the executor's shutdown each close the request's connection, so nothing -- no task, no
thread -- keeps waiting on the endpoint after the step is over.

The endpoint (:mod:`tests.support.hung`) answers after 5 s unless the client closes the connection first; each test
asserts that it saw the request *abandoned* and never *answered*, not how long anything took.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.hung import HUNG_WORKFLOW, HungServer, hung_server
from workflows import DagBuilder, Executor, ExecutorConfig, Run, WorkflowPhase, default_registry
from workflows.runtime.local import run_workflow_file

HANG = 5.0
NOTICE = 3.0  # how long the server may take to notice a closed connection (it notices in milliseconds)


@pytest.fixture
def hung() -> Iterator[HungServer]:
    with hung_server(hang=HANG) as server:
        yield server


def _abandoned_not_answered(server: HungServer, requests: int = 1) -> None:
    assert server.wait_until(lambda s: s.abandoned >= requests, timeout=NOTICE), (
        f"received {server.received}, abandoned {server.abandoned}, answered {server.answered}"
    )
    assert server.answered == 0
    assert server.received == requests


def test_workflow_run_with_a_1s_timeout_gives_up_a_5s_hang(hung: HungServer, tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(HUNG_WORKFLOW.format(url=hung.url))
    out = io.StringIO()
    code = run_workflow_file(path, {}, out=out)
    assert code == 1, out.getvalue()
    assert "timeout: node did not finish within 1s" in out.getvalue()
    _abandoned_not_answered(hung)


def _cancel(run: Run) -> None:
    run.cancel("stopped by the test")


async def _step_against(url: str, *, step_timeout: float | None, end: Callable[[Run], None] | None) -> tuple[Run, str]:
    executor = Executor(registry=default_registry(), config=ExecutorConfig(status_interval=0))
    builder = DagBuilder("hung")
    builder.add("call", kind="http", payload={"url": f"{url}/hang", "timeoutSeconds": 30}, timeout=step_timeout)
    run = executor.submit(builder.build())
    try:
        if end is not None:
            await asyncio.sleep(0.2)  # let the request reach the server
            end(run)
        result = await run.wait()
        return run, f"{result.phase.value}: {run.node_table().records()[1].message}"
    finally:
        await executor.close()


def test_a_step_timeout_closes_the_connection(hung: HungServer) -> None:
    run, outcome = asyncio.run(_step_against(hung.url, step_timeout=0.5, end=None))
    assert run.workflow_phase is WorkflowPhase.FAILED, outcome
    assert "did not finish within 0.5s" in outcome
    _abandoned_not_answered(hung)


def test_terminating_the_run_closes_the_connection(hung: HungServer) -> None:
    run, outcome = asyncio.run(_step_against(hung.url, step_timeout=None, end=_cancel))
    assert run.workflow_phase is WorkflowPhase.FAILED, outcome
    assert "stopped by the test" in outcome
    _abandoned_not_answered(hung)


def test_closing_the_executor_closes_the_connection(hung: HungServer) -> None:
    async def scenario() -> bool:
        executor = Executor(registry=default_registry(), config=ExecutorConfig(status_interval=0))
        builder = DagBuilder("hung")
        builder.add("call", kind="http", payload={"url": f"{hung.url}/hang"})
        run = executor.submit(builder.build())
        await asyncio.to_thread(hung.wait_until, lambda s: s.received >= 1, NOTICE)
        await executor.close()
        return (await run.wait()).interrupted

    assert asyncio.run(scenario())
    _abandoned_not_answered(hung)


def test_the_request_timeout_bounds_the_whole_exchange(hung: HungServer) -> None:
    """``timeoutSeconds`` alone (no template timeout) gives the request up too: a transient Error."""
    executor_outcome = asyncio.run(
        _step_against_payload({"url": f"{hung.url}/hang", "timeoutSeconds": 0.3}),
    )
    assert executor_outcome == (WorkflowPhase.ERROR, "request failed: timed out after 0.3s")
    _abandoned_not_answered(hung)


async def _step_against_payload(payload: dict[str, object]) -> tuple[WorkflowPhase, str]:
    executor = Executor(registry=default_registry(), config=ExecutorConfig(status_interval=0))
    builder = DagBuilder("hung")
    builder.add("call", kind="http", payload=payload)
    run = executor.submit(builder.build())
    try:
        result = await run.wait()
        return result.phase, run.node_table().records()[1].message
    finally:
        await executor.close()
