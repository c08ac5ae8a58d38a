"""Periodic nodes (``NodeResult.again``), ``stop_run`` and sinks that compose their own status, on a virtual clock.

A periodic node is what an analysis metric becomes: one attempt takes one measurement, then asks to run again at the
next due time, carrying its state. Times below are exact virtual seconds (``VirtualTimeLoop``), not timings.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable, Mapping
from typing import Any

from tests.support.virtual_time import VirtualTimeLoop, run_virtual
from workflows import (
    DagBuilder,
    Executor,
    ExecutorConfig,
    NodeContext,
    NodePhase,
    NodeResult,
    Plan,
    RetryStrategy,
    Run,
    RunnerRegistry,
    WorkflowPhase,
)

Script = Callable[[NodeContext, float], NodeResult]


class Clocked:
    """Runs each node's script; records (virtual time, node, state, attempt) of every attempt."""

    uses_slot = True

    def __init__(self, loop: VirtualTimeLoop, scripts: Mapping[str, Script], *, inline: bool = False) -> None:
        self.loop = loop
        self.scripts = scripts
        self.inline = inline
        self.attempts: list[tuple[float, str, object, int]] = []

    def _attempt(self, node: NodeContext) -> NodeResult:
        self.attempts.append((self.loop.time(), node.display_name, node.state, node.attempt))
        return self.scripts[node.display_name](node, self.loop.time())

    def run_inline(self, node: NodeContext) -> NodeResult | None:
        return self._attempt(node) if self.inline else None

    async def run(self, node: NodeContext) -> NodeResult:
        payload = node.payload if isinstance(node.payload, Mapping) else {}
        if payload.get("takes"):
            await asyncio.sleep(float(payload["takes"]))
        return self._attempt(node)

    def times_of(self, name: str) -> list[float]:
        return [at for at, node, _, _ in self.attempts if node == name]


def count_to(limit: int, *, every: float) -> Script:
    """A periodic script: state 0, 1, 2 ... one per attempt, finished (with its last state) at ``limit``."""

    def script(node: NodeContext, now: float) -> NodeResult:
        count = int(node.state or 0) + 1  # type: ignore[call-overload]
        if count >= limit:
            return NodeResult(phase=NodePhase.SUCCEEDED, state=count, message=f"counted to {count}")
        return NodeResult.again(every, state=count, message=f"{count} so far")

    return script


def forever(*, every: float) -> Script:
    return count_to(10**9, every=every)


def succeed(node: NodeContext, now: float) -> NodeResult:
    return NodeResult.succeeded()


def plan(*nodes: tuple[str, dict[str, Any]]) -> Plan:
    builder = DagBuilder("periodic")
    for name, options in nodes:
        builder.add(name, kind="clocked", **options)
    return builder.build()


def executor_for(loop: VirtualTimeLoop, runner: Clocked, **config: Any) -> Executor:
    return Executor(
        registry=RunnerRegistry({"clocked": runner}),  # type: ignore[dict-item]
        config=ExecutorConfig(status_interval=0, **config),
        clock=loop.time,
    )


# -- requeue timing and state hand-over ---------------------------------------------------------------------------
def test_a_periodic_node_runs_again_after_its_delay_with_the_state_it_left() -> None:
    for inline in (False, True):

        async def main(loop: VirtualTimeLoop, inline: bool = inline) -> tuple[Run, Clocked]:
            runner = Clocked(loop, {"poll": count_to(4, every=10)}, inline=inline)
            executor = executor_for(loop, runner)
            run = executor.submit(plan(("poll", {})))
            await run.wait()
            await executor.close()
            return run, runner

        run, runner = run_virtual(main)
        assert runner.attempts == [
            (0.0, "poll", None, 0),
            (10.0, "poll", 1, 0),  # not a retry: the attempt number stays 0
            (20.0, "poll", 2, 0),
            (30.0, "poll", 3, 0),
        ]
        assert run.workflow_phase is WorkflowPhase.SUCCEEDED
        assert run.state_of("poll") == 4  # a final result's state is kept too
        assert run.states() == {run.nodes[1].name: 4}
        assert run.node_table().records()[1].retries == 0


def test_a_periodic_node_is_running_while_it_waits_and_its_message_is_the_last_one() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[NodePhase | None, object, str]:
        runner = Clocked(loop, {"poll": forever(every=10)})
        executor = executor_for(loop, runner)
        run = executor.submit(plan(("poll", {})))
        await asyncio.sleep(25)
        seen = run.phase_of("poll"), run.state_of("poll"), run.node_table().records()[1].message
        await executor.close()
        return seen

    assert run_virtual(main) == (NodePhase.RUNNING, 3, "3 so far")


def test_seeded_states_reach_the_first_attempt() -> None:
    async def main(loop: VirtualTimeLoop) -> Clocked:
        runner = Clocked(loop, {"a": count_to(3, every=1), "b": count_to(3, every=1)})
        executor = executor_for(loop, runner)
        run = executor.submit(plan(("a", {}), ("b", {})), states={"a": 1, "periodic.b": 2})  # task or full name
        await run.wait()
        await executor.close()
        return runner

    runner = run_virtual(main)
    assert [(node, state) for _, node, state, _ in runner.attempts] == [("a", 1), ("b", 2), ("a", 2)]


def test_a_waiting_node_holds_no_slot_and_needs_one_to_run_again() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[Clocked, int]:
        runner = Clocked(loop, {"poll": count_to(3, every=5), "slow": succeed})
        executor = executor_for(loop, runner, max_running=1)
        run = executor.submit(plan(("poll", {}), ("slow", {"payload": {"takes": 7}})))
        await run.wait()
        await executor.close()
        return runner, executor.max_observed_running

    runner, most = run_virtual(main)
    # "slow" got the single slot while "poll" waited (t=0..5); poll was due at 5 but had to wait for the slot (7)
    assert runner.times_of("slow") == [7.0]  # recorded when its 7 s of work ended
    assert runner.times_of("poll") == [0.0, 7.0, 12.0]
    assert most == 1


def test_periodic_waits_and_retries_are_independent() -> None:
    calls = {"n": 0}

    def flaky_then_periodic(node: NodeContext, now: float) -> NodeResult:
        calls["n"] += 1
        if calls["n"] == 2:
            return NodeResult.failed("blip")  # retried after its backoff (0 s here), counted as a retry
        return count_to(3, every=10)(node, now)

    async def main(loop: VirtualTimeLoop) -> tuple[Clocked, Run]:
        runner = Clocked(loop, {"poll": flaky_then_periodic})
        executor = executor_for(loop, runner)
        run = executor.submit(plan(("poll", {"retry": RetryStrategy(limit=1)})))
        await run.wait()
        await executor.close()
        return runner, run

    runner, run = run_virtual(main)
    assert [(at, state, attempt) for at, _, state, attempt in runner.attempts] == [
        (0.0, None, 0),
        (10.0, 1, 0),  # this attempt failed: retried at once, with the same state
        (10.0, 1, 1),
        (20.0, 2, 1),
    ]
    assert run.workflow_phase is WorkflowPhase.SUCCEEDED


def test_a_template_timeout_fails_a_periodic_node_while_it_waits() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[Run, float]:
        runner = Clocked(loop, {"poll": forever(every=10)})
        executor = executor_for(loop, runner)
        run = executor.submit(plan(("poll", {"timeout": 25.0})))
        await run.wait()
        await executor.close()
        return run, loop.time()

    run, ended = run_virtual(main)
    record = run.node_table().records()[1]
    assert record.phase is NodePhase.FAILED
    assert "timeout" in record.message
    assert ended == 25.0
    assert run.state_of("poll") == 3  # the state it had when it was stopped


def test_a_result_that_is_not_final_and_not_again_is_an_error() -> None:
    async def main(loop: VirtualTimeLoop) -> Run:
        runner = Clocked(loop, {"x": lambda node, now: NodeResult(phase=NodePhase.RUNNING)})
        executor = executor_for(loop, runner)
        run = executor.submit(plan(("x", {})))
        await run.wait()
        await executor.close()
        return run

    run = run_virtual(main)
    assert run.phase_of("x") is NodePhase.ERROR
    assert run.workflow_phase is WorkflowPhase.ERROR


# -- termination and stop_run ---------------------------------------------------------------------------------------
def test_termination_ends_waiting_nodes_cleanly_and_cancels_running_ones() -> None:
    async def main(loop: VirtualTimeLoop) -> tuple[Run, Clocked, float]:
        runner = Clocked(loop, {"poll": forever(every=100), "busy": succeed, "later": succeed})
        executor = executor_for(loop, runner)
        run = executor.submit(
            plan(("poll", {}), ("busy", {"payload": {"takes": 1000}}), ("later", {"depends": ["busy"]}))
        )
        loop.call_later(30, run.cancel, "stopped by the user")
        result = await run.wait()
        assert result.message == "stopped by the user"
        await executor.close()
        return run, runner, loop.time()

    run, runner, ended = run_virtual(main)
    assert ended == 30.0  # the waiting node did not delay the end until its next period
    phases = {r.display_name: (r.phase, r.message) for r in run.node_table().records()}
    assert phases["poll"] == (NodePhase.SUCCEEDED, "stopped by the user")  # cleanly: it was not working
    assert phases["busy"] == (NodePhase.FAILED, "stopped by the user")  # its attempt was cancelled
    assert phases["later"] == (NodePhase.OMITTED, "not started: stopped by the user")
    assert run.state_of("poll") == 1  # last state kept
    assert run.workflow_phase is WorkflowPhase.FAILED
    assert runner.times_of("poll") == [0.0]


def test_stop_run_cancels_the_others_and_starts_nothing_new() -> None:
    def judge(node: NodeContext, now: float) -> NodeResult:
        return NodeResult(phase=NodePhase.FAILED, message='metric "errors" assessed Failed', stop_run=True)

    async def main(loop: VirtualTimeLoop) -> tuple[Run, Clocked, float]:
        runner = Clocked(loop, {"poll": forever(every=10), "busy": succeed, "judge": judge, "after": succeed})
        executor = executor_for(loop, runner)
        builder = (
            ("poll", {}),
            ("busy", {"payload": {"takes": 1000}}),
            ("judge", {"payload": {"takes": 15}, "retry": RetryStrategy(limit=5)}),
            ("after", {"depends": ["judge"], "continue_on_failed": False}),
        )
        run = executor.submit(plan(*builder))
        await run.wait()
        await executor.close()
        return run, runner, loop.time()

    run, runner, ended = run_virtual(main)
    assert ended == 15.0
    phases = {r.display_name: (r.phase, r.message) for r in run.node_table().records()}
    reason = 'metric "errors" assessed Failed'
    assert phases["judge"] == (NodePhase.FAILED, reason)  # final: stop_run is never retried
    assert phases["busy"] == (NodePhase.FAILED, reason)
    assert phases["poll"] == (NodePhase.SUCCEEDED, reason)
    assert phases["after"][0] is NodePhase.OMITTED
    assert run.workflow_phase is WorkflowPhase.FAILED
    assert run.message == reason
    assert runner.times_of("judge") == [15.0]
    assert runner.times_of("poll") == [0.0, 10.0]


# -- sinks that compose their own status ---------------------------------------------------------------------------
class ComposingSink:
    """Composes an analysis-like body from the run's node states; records bodies with the virtual time of writing."""

    def __init__(self, loop: VirtualTimeLoop, *, hold_first: asyncio.Event | None = None) -> None:
        self.loop = loop
        self.composed_on: set[str] = set()
        self.writes: list[tuple[float, dict[str, Any]]] = []
        self.hold_first = hold_first
        self.in_flight = 0
        self.most_in_flight = 0

    def compose(self, run: Run) -> Mapping[str, Any]:
        self.composed_on.add(threading.current_thread().name)
        return {"phase": run.workflow_phase.value, "count": run.state_of("poll")}

    async def write_status(self, run: Run, status: dict[str, Any]) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.hold_first is not None and not self.writes:
                await self.hold_first.wait()
            self.writes.append((self.loop.time(), status))
        finally:
            self.in_flight -= 1


def test_a_composing_sink_writes_its_own_body_at_most_once_per_interval() -> None:
    async def main(loop: VirtualTimeLoop) -> ComposingSink:
        sink = ComposingSink(loop)
        runner = Clocked(loop, {"poll": count_to(20, every=1)})
        executor = Executor(
            registry=RunnerRegistry({"clocked": runner}),  # type: ignore[dict-item]
            config=ExecutorConfig(status_interval=5),
            clock=loop.time,
        )
        run = executor.submit(plan(("poll", {})), sink=sink)
        await run.wait()
        await executor.close()
        return sink

    sink = run_virtual(main)
    assert sink.composed_on == {threading.main_thread().name}  # composed on the loop, never on a worker thread
    assert all("nodes" not in body and "compressedNodes" not in body for _, body in sink.writes)
    times = [at for at, _ in sink.writes]
    intermediate = times[:-1]
    assert all(later - earlier >= 5 for earlier, later in itertools.pairwise(intermediate))
    assert len(sink.writes) <= 19 // 5 + 2  # 20 attempts over 19 s: a handful of writes, not one per event
    assert sink.writes[-1] == (19.0, {"phase": "Succeeded", "count": 20})  # the final write: immediate and newest


def test_the_final_write_waits_for_the_one_in_flight_and_lands_last() -> None:
    async def main(loop: VirtualTimeLoop) -> ComposingSink:
        release = asyncio.Event()
        sink = ComposingSink(loop, hold_first=release)
        runner = Clocked(loop, {"poll": count_to(3, every=1)})
        executor = Executor(
            registry=RunnerRegistry({"clocked": runner}),  # type: ignore[dict-item]
            config=ExecutorConfig(status_interval=0),
            clock=loop.time,
        )
        run = executor.submit(plan(("poll", {})), sink=sink)
        loop.call_later(10, release.set)  # the first write is stuck until t=10; the run ends at t=2
        await run.wait()
        await executor.close()
        return sink

    sink = run_virtual(main)
    assert sink.most_in_flight == 1
    assert [body for _, body in sink.writes][-1] == {"phase": "Succeeded", "count": 3}
    assert sink.writes[0][1]["phase"] == "Running"
    assert sink.writes[-1][0] == 10.0  # written as soon as the stuck write finished, not before it
