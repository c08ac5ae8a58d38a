"""Executor behaviour: ordering, Argo phase rules, failFast/continueOn, loops, retries, timeouts, limits, cancel."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.workflows import ScriptedRunner, dag, execute, leaf, phases, plan_of, workflow
from workflows import (
    Backoff,
    DagBuilder,
    Executor,
    ExecutorConfig,
    PreviousNode,
    RetryPolicy,
    RetryStrategy,
    RunnerRegistry,
    WorkflowPhase,
)
from workflows.model.phases import P_ERROR, P_FAILED, NodePhase
from workflows.model.scheduler import retry_delay

DIAMOND = [
    {"name": "A", "template": "work"},
    {"name": "B", "template": "work", "depends": "A"},
    {"name": "C", "template": "work", "depends": "A"},
    {"name": "D", "template": "work", "depends": "B && C"},
]


async def test_diamond_runs_in_dependency_order() -> None:
    runner = ScriptedRunner()
    result, run = await execute(plan_of(workflow([dag("main", DIAMOND), leaf()])), runner)
    assert result.phase is WorkflowPhase.SUCCEEDED
    assert runner.started[0] == "A"
    assert runner.started[-1] == "D"
    assert runner.finished.index("B") < runner.started.index("D")
    assert run.status()["progress"] == "4/4"


async def test_failed_dependency_omits_dependents_and_fails_the_dag() -> None:
    runner = ScriptedRunner({"B": "fail"})
    result, run = await execute(plan_of(workflow([dag("main", DIAMOND), leaf()])), runner)
    assert result.phase is WorkflowPhase.FAILED
    assert phases(run)["D"] == "Omitted"


async def test_enhanced_depends_runs_failure_branches_and_succeeds() -> None:
    tasks = [
        {"name": "A", "template": "work"},
        {"name": "B", "template": "work", "depends": "A"},
        {"name": "C", "template": "work", "depends": "A"},
        {"name": "on-fail", "template": "work", "depends": "A && (C.Succeeded || C.Failed)"},
        {"name": "either", "template": "work", "depends": "B || C"},
        {"name": "both", "template": "work", "depends": "B && C"},
        {"name": "last", "template": "work", "depends": "either.Succeeded || both"},
    ]
    result, run = await execute(plan_of(workflow([dag("main", tasks), leaf()])), ScriptedRunner({"C": "fail"}))
    seen = phases(run)
    assert seen["on-fail"] == "Succeeded"
    assert seen["both"] == "Omitted"
    assert seen["last"] == "Succeeded"
    # the targets (on-fail, last) succeeded and C's failure was handled explicitly: Argo's DAG rule says Succeeded
    assert result.phase is WorkflowPhase.SUCCEEDED


async def test_fail_fast_stops_new_tasks_but_lets_running_finish() -> None:
    tasks = [
        {"name": "fails", "template": "work"},
        {"name": "slow", "template": "slow"},
        {"name": "after-slow", "template": "work", "depends": "slow"},
    ]
    doc = workflow([dag("main", tasks), leaf(), leaf("slow")])
    runner = ScriptedRunner({"fails": "fail", "slow": "ok"})
    runner.script["slow"] = "ok"
    plan = plan_of(doc)
    result, run = await execute(plan, _DelayOnly(runner, {"slow": 0.05}))
    seen = phases(run)
    assert seen["slow"] == "Succeeded"  # already running: allowed to finish
    assert seen["after-slow"] == "Omitted"  # not started after the failure
    assert result.phase is WorkflowPhase.FAILED


async def test_fail_fast_false_runs_every_branch() -> None:
    tasks = [
        {"name": "fails", "template": "work"},
        {"name": "slow", "template": "slow"},
        {"name": "after-slow", "template": "work", "depends": "slow"},
    ]
    doc = workflow([{"name": "main", "dag": {"tasks": tasks, "failFast": False}}, leaf(), leaf("slow")])
    runner = ScriptedRunner({"fails": "fail"})
    result, run = await execute(plan_of(doc), _DelayOnly(runner, {"slow": 0.05}))
    assert phases(run)["after-slow"] == "Succeeded"
    assert result.phase is WorkflowPhase.FAILED  # the leaf "fails" failed


async def test_continue_on_failed_lets_dependents_run_and_the_dag_succeed() -> None:
    tasks = [
        {"name": "A", "template": "work", "continueOn": {"failed": True}},
        {"name": "B", "template": "work", "dependencies": ["A"]},
    ]
    result, run = await execute(plan_of(workflow([dag("main", tasks), leaf()])), ScriptedRunner({"A": "fail"}))
    assert phases(run) == {"wf": "Succeeded", "A": "Failed", "B": "Succeeded"}
    assert result.phase is WorkflowPhase.SUCCEEDED


async def test_continue_on_failed_leaf_does_not_fail_the_dag() -> None:
    tasks = [{"name": "A", "template": "work", "continueOn": {"failed": True}}]
    result, _ = await execute(plan_of(workflow([dag("main", tasks), leaf()])), ScriptedRunner({"A": "fail"}))
    assert result.phase is WorkflowPhase.SUCCEEDED


async def test_when_false_skips_and_skipped_satisfies_bare_dependents() -> None:
    tasks = [
        {"name": "flip", "template": "work"},
        {"name": "heads", "template": "work", "depends": "flip", "when": "{{tasks.flip.outputs.result}} == heads"},
        {"name": "tails", "template": "work", "depends": "flip", "when": "{{tasks.flip.outputs.result}} == tails"},
        {"name": "after", "template": "work", "depends": "heads && tails"},
    ]
    runner = ScriptedRunner({"flip": "heads"})
    result, run = await execute(plan_of(workflow([dag("main", tasks), leaf()])), runner)
    seen = phases(run)
    assert seen["heads"] == "Succeeded"
    assert seen["tails"] == "Skipped"
    assert seen["after"] == "Succeeded"
    assert result.phase is WorkflowPhase.SUCCEEDED


async def test_with_items_expands_named_children_with_item_substitution() -> None:
    tasks = [
        {
            "name": "B",
            "template": "echo",
            "arguments": {"parameters": [{"name": "msg", "value": "{{item.os}}-{{item.v}}"}]},
            "withItems": [{"os": "debian", "v": 9}, {"os": "alpine", "v": 3}],
        },
        {"name": "C", "template": "work", "depends": "B"},
    ]
    echo = {
        "name": "echo",
        "inputs": {"parameters": [{"name": "msg"}]},
        "container": {"image": "x", "args": ["{{inputs.parameters.msg}}"]},
    }
    runner = ScriptedRunner()
    result, run = await execute(plan_of(workflow([dag("main", tasks), echo, leaf()])), runner)
    names = [r.name for r in run.node_table().records()]
    assert "wf.B(0:os:debian,v:9)" in names
    assert "wf.B(1:os:alpine,v:3)" in names
    args = sorted(c.payload["args"][0] for c in runner.contexts if c.template_name == "echo")
    assert args == ["alpine-3", "debian-9"]
    assert result.phase is WorkflowPhase.SUCCEEDED


async def test_with_param_expands_from_a_previous_result() -> None:
    tasks = [
        {"name": "gen", "template": "work"},
        {
            "name": "fan",
            "template": "echo",
            "depends": "gen",
            "withParam": "{{tasks.gen.outputs.result}}",
            "arguments": {"parameters": [{"name": "msg", "value": "{{item}}"}]},
        },
        {
            "name": "sum",
            "template": "work",
            "depends": "fan",
            "arguments": {"parameters": [{"name": "x", "value": "{{tasks.fan.outputs.result}}"}]},
        },
    ]
    echo = {
        "name": "echo",
        "inputs": {"parameters": [{"name": "msg"}]},
        "container": {"image": "x", "args": ["{{inputs.parameters.msg}}"]},
    }
    runner = ScriptedRunner({"gen": json.dumps([1, 2, 3])})
    result, run = await execute(plan_of(workflow([dag("main", tasks), echo, leaf()])), runner)
    assert result.phase is WorkflowPhase.SUCCEEDED
    assert sorted(c.payload["args"][0] for c in runner.contexts if c.template_name == "echo") == ["1", "2", "3"]
    assert run.status()["progress"] == "5/5"


async def test_with_param_that_is_not_a_list_errors_the_group() -> None:
    tasks = [
        {"name": "gen", "template": "work"},
        {"name": "fan", "template": "work", "depends": "gen", "withParam": "{{tasks.gen.outputs.result}}"},
    ]
    result, run = await execute(plan_of(workflow([dag("main", tasks), leaf()])), ScriptedRunner({"gen": "not json"}))
    assert phases(run)["fan"] == "Error"
    assert result.phase is WorkflowPhase.ERROR


async def test_nested_dag_passes_inputs_down() -> None:
    inner = {
        "name": "inner",
        "inputs": {"parameters": [{"name": "m"}]},
        "dag": {
            "tasks": [
                {
                    "name": "x",
                    "template": "echo",
                    "arguments": {"parameters": [{"name": "msg", "value": "{{inputs.parameters.m}}!"}]},
                }
            ]
        },
    }
    echo = {
        "name": "echo",
        "inputs": {"parameters": [{"name": "msg"}]},
        "container": {"image": "x", "args": ["{{inputs.parameters.msg}}"]},
    }
    outer = dag(
        "main",
        [
            {
                "name": "a",
                "template": "inner",
                "arguments": {"parameters": [{"name": "m", "value": "{{workflow.parameters.p}}"}]},
            }
        ],
    )
    doc = workflow([outer, inner, echo], arguments={"parameters": [{"name": "p", "value": "hi"}]})
    runner = ScriptedRunner()
    result, _ = await execute(plan_of(doc, arguments={"p": "yo"}), runner)
    assert result.phase is WorkflowPhase.SUCCEEDED
    assert runner.contexts[0].payload["args"] == ["yo!"]
    assert runner.contexts[0].node_name == "wf.a.x"


def test_retry_delay_follows_backoff_cap_and_max_duration() -> None:
    retry = RetryStrategy(limit=5, backoff=Backoff(duration=1, factor=2, cap=5, max_duration=10))
    delays = [retry_delay(retry, retries_done=n, phase=P_FAILED, transient=False, elapsed=0) for n in range(6)]
    assert delays == [1, 2, 4, 5, 5, None]
    assert retry_delay(retry, retries_done=0, phase=P_FAILED, transient=False, elapsed=9.5) is None


@pytest.mark.parametrize(
    ("policy", "phase", "transient", "retried"),
    [
        (RetryPolicy.ON_FAILURE, P_FAILED, False, True),
        (RetryPolicy.ON_FAILURE, P_ERROR, False, False),
        (RetryPolicy.ON_ERROR, P_ERROR, False, True),
        (RetryPolicy.ON_ERROR, P_FAILED, False, False),
        (RetryPolicy.ALWAYS, P_ERROR, False, True),
        (RetryPolicy.ALWAYS, P_FAILED, False, True),
        (RetryPolicy.ON_TRANSIENT_ERROR, P_ERROR, True, True),
        (RetryPolicy.ON_TRANSIENT_ERROR, P_ERROR, False, False),
    ],
)
def test_retry_policy_decides_which_outcomes_retry(
    policy: RetryPolicy, phase: int, transient: bool, retried: bool
) -> None:
    retry = RetryStrategy(limit=1, policy=policy)
    assert (retry_delay(retry, retries_done=0, phase=phase, transient=transient, elapsed=0) is not None) is retried


async def test_retries_until_success_and_record_the_count() -> None:
    doc = workflow([leaf("main", retryStrategy={"limit": 3, "backoff": {"duration": "10ms", "factor": 2}})])
    runner = ScriptedRunner({"wf": ["fail", "fail", "ok"]})
    result, run = await execute(plan_of(doc), runner)
    assert result.phase is WorkflowPhase.SUCCEEDED
    assert runner.started == ["wf", "wf", "wf"]
    assert [c.attempt for c in runner.contexts] == [0, 1, 2]
    assert run.node_table().records()[0].retries == 2


async def test_retry_limit_exhausted_fails() -> None:
    doc = workflow([leaf("main", retryStrategy={"limit": "2"})])
    runner = ScriptedRunner({"wf": "fail"})
    result, _ = await execute(plan_of(doc), runner)
    assert result.phase is WorkflowPhase.FAILED
    assert len(runner.started) == 3


async def test_backoff_wait_holds_no_slot() -> None:
    builder = DagBuilder("slots")
    builder.add("flaky", kind="noop", retry=RetryStrategy(limit=1, backoff=Backoff(duration=0.05)))
    builder.add("other", kind="noop")
    runner = ScriptedRunner({"flaky": ["fail", "ok"], "other": "ok"}, delay=0.01)
    result, _ = await execute(builder.build(), runner, config=ExecutorConfig(status_interval=0, max_running=1))
    assert result.phase is WorkflowPhase.SUCCEEDED
    # "other" ran while "flaky" waited out its backoff, although there is a single slot
    assert runner.started == ["flaky", "other", "flaky"]


async def test_template_timeout_fails_the_node_without_retrying() -> None:
    doc = workflow(
        [dag("main", [{"name": "t", "template": "slow"}]), leaf("slow", timeout="0.05s", retryStrategy={"limit": 3})]
    )
    runner = ScriptedRunner(delay=5)
    result, run = await asyncio.wait_for(execute(plan_of(doc), runner), timeout=3)
    assert result.phase is WorkflowPhase.FAILED
    assert "timeout" in run.node_table().records()[1].message
    assert len(runner.started) == 1


async def test_templated_timeout_comes_from_inputs() -> None:
    slow = leaf("slow", timeout="{{inputs.parameters.t}}", inputs={"parameters": [{"name": "t"}]})
    tasks = [
        {"name": "quick", "template": "slow", "arguments": {"parameters": [{"name": "t", "value": "5s"}]}},
        {"name": "late", "template": "slow", "arguments": {"parameters": [{"name": "t", "value": "20ms"}]}},
    ]
    doc = workflow([{"name": "main", "dag": {"tasks": tasks, "failFast": False}}, slow])
    runner = _DelayOnly(ScriptedRunner(), {"quick": 0.01, "late": 2})
    result, run = await execute(plan_of(doc), runner)
    assert phases(run)["quick"] == "Succeeded"
    assert phases(run)["late"] == "Failed"
    assert result.phase is WorkflowPhase.FAILED


async def test_active_deadline_terminates_the_run_and_still_runs_on_exit() -> None:
    doc = workflow(
        [
            dag("main", [{"name": "a", "template": "slow"}, {"name": "b", "template": "slow", "depends": "a"}]),
            leaf("slow"),
            leaf("bye"),
        ],
        activeDeadlineSeconds=0.05,
        onExit="bye",
    )
    runner = _DelayOnly(ScriptedRunner(), {"a": 5, "wf.onExit": 0})
    result, run = await execute(plan_of(doc), runner)
    assert result.phase is WorkflowPhase.FAILED
    assert "Max duration" in result.message
    seen = phases(run)
    assert seen["a"] == "Failed"
    assert seen["wf.onExit"] == "Succeeded"
    assert "b" not in seen or seen["b"] == "Omitted"


@pytest.mark.parametrize(("limit", "where"), [(2, "workflow"), (3, "template")])
async def test_parallelism_limits_concurrent_steps(limit: int, where: str) -> None:
    tasks = [{"name": f"t{i}", "template": "work"} for i in range(10)]
    main = dag("main", tasks, **({"parallelism": limit} if where == "template" else {}))
    doc = workflow([main, leaf()], **({"parallelism": limit} if where == "workflow" else {}))
    runner = ScriptedRunner(delay=0.005)
    result, _ = await execute(plan_of(doc), runner)
    assert result.phase is WorkflowPhase.SUCCEEDED
    assert runner.max_running == limit
    assert len(runner.finished) == 10


async def test_template_parallelism_limits_nested_dags() -> None:
    inner = dag("inner", [{"name": "c1", "template": "work"}, {"name": "c2", "template": "work", "depends": "c1"}])
    outer = dag("main", [{"name": f"b{i}", "template": "inner"} for i in range(4)], parallelism=2)
    runner = ScriptedRunner(delay=0.005)
    result, _ = await execute(plan_of(workflow([outer, inner, leaf()])), runner)
    assert result.phase is WorkflowPhase.SUCCEEDED
    assert runner.max_running <= 2


async def test_global_and_pool_limits_hold_across_runs() -> None:
    runner = ScriptedRunner(delay=0.005)
    executor = Executor(
        registry=RunnerRegistry({"noop": runner}),
        config=ExecutorConfig(status_interval=0, max_running=8, pools={"noop": 3}),
    )
    plans = []
    for r in range(4):
        builder = DagBuilder(f"r{r}")
        for i in range(6):
            builder.add(f"n{i}", kind="noop")
        plans.append(builder.build())
    runs = [executor.submit(plan) for plan in plans]
    results = await asyncio.gather(*(run.wait() for run in runs))
    await executor.close()
    assert all(r.phase is WorkflowPhase.SUCCEEDED for r in results)
    assert runner.max_running == 3


async def test_admission_is_fair_across_runs() -> None:
    runner = ScriptedRunner(delay=0.001)
    executor = Executor(
        registry=RunnerRegistry({"noop": runner}), config=ExecutorConfig(status_interval=0, max_running=2)
    )
    order: list[str] = []
    plans = []
    for name in ("big", "small"):
        builder = DagBuilder(name)
        for i in range(20 if name == "big" else 2):
            builder.add(f"{name}{i}", kind="noop")
        plans.append(builder.build())
    runs = [executor.submit(plan) for plan in plans]
    await asyncio.gather(*(run.wait() for run in runs))
    await executor.close()
    order = runner.started
    # the small run does not wait behind all of the big run's ready nodes
    assert order.index("small1") < 6


async def test_cancel_is_prompt_and_fails_running_steps() -> None:
    runner = ScriptedRunner(delay=30)
    executor = Executor(registry=RunnerRegistry({"container": runner}), config=ExecutorConfig(status_interval=0))
    run = executor.submit(plan_of(workflow([dag("main", DIAMOND), leaf()])))
    await asyncio.sleep(0.01)
    run.cancel("stopped by user")
    result = await asyncio.wait_for(run.wait(), timeout=1)
    await executor.close()
    assert result.phase is WorkflowPhase.FAILED
    assert result.message == "stopped by user"
    assert phases(run)["A"] == "Failed"


async def test_executor_close_interrupts_runs_promptly() -> None:
    runner = ScriptedRunner(delay=30)
    executor = Executor(registry=RunnerRegistry({"container": runner}), config=ExecutorConfig(status_interval=0))
    run = executor.submit(plan_of(workflow([dag("main", DIAMOND), leaf()])))
    await asyncio.sleep(0.01)
    await asyncio.wait_for(executor.close(), timeout=1)
    result = await run.wait()
    assert result.interrupted


async def test_exit_handler_sees_workflow_status_and_its_failure_fails_the_run() -> None:
    bye = {"name": "bye", "container": {"image": "x", "args": ["{{workflow.status}}"]}}
    doc = workflow([dag("main", [{"name": "a", "template": "work"}]), leaf(), bye], onExit="bye")
    runner = ScriptedRunner({"a": "fail"})
    result, _ = await execute(plan_of(doc), runner)
    assert runner.contexts[-1].payload["args"] == ["Failed"]
    assert result.phase is WorkflowPhase.FAILED
    runner = ScriptedRunner({"wf.onExit": "fail"})
    result, _ = await execute(plan_of(doc), runner)
    assert result.phase is WorkflowPhase.FAILED
    assert result.message == "exit handler failed"


async def test_task_on_exit_runs_before_dependents() -> None:
    tasks = [{"name": "a", "template": "work", "onExit": "hook"}, {"name": "b", "template": "work", "depends": "a"}]
    runner = ScriptedRunner()
    result, _ = await execute(plan_of(workflow([dag("main", tasks), leaf(), leaf("hook")])), runner)
    assert result.phase is WorkflowPhase.SUCCEEDED
    assert runner.started == ["a", "a.onExit", "b"]


async def test_suspend_waits_for_resume() -> None:
    tasks = [{"name": "approve", "template": "gate"}, {"name": "release", "template": "work", "depends": "approve"}]
    doc = workflow([dag("main", tasks), {"name": "gate", "suspend": {}}, leaf()])
    runner = ScriptedRunner()
    executor = Executor(
        registry=RunnerRegistry({"container": runner, "suspend": __import__("workflows").SuspendRunner()}),
        config=ExecutorConfig(status_interval=0),
    )
    run = executor.submit(plan_of(doc))
    await asyncio.sleep(0.02)
    assert run.suspended_nodes() == ["wf.approve"]
    assert runner.started == []
    assert run.resume("approve") == 1
    result = await asyncio.wait_for(run.wait(), timeout=1)
    await executor.close()
    assert result.phase is WorkflowPhase.SUCCEEDED
    assert runner.started == ["release"]


async def test_suspend_with_duration_resumes_itself() -> None:
    doc = workflow(
        [dag("main", [{"name": "wait", "template": "gate"}]), {"name": "gate", "suspend": {"duration": "20ms"}}]
    )
    result, _ = await execute(plan_of(doc), ScriptedRunner())
    assert result.phase is WorkflowPhase.SUCCEEDED


async def test_restart_keeps_finished_nodes_and_reattaches_running_ones() -> None:
    plan = plan_of(workflow([dag("main", DIAMOND), leaf()]))
    previous = {
        "wf.A": PreviousNode(phase=NodePhase.SUCCEEDED, started_at=1.0, finished_at=2.0, result="kept"),
        "wf.B": PreviousNode(phase=NodePhase.RUNNING, started_at=1.0, retries=1),
    }
    runner = ScriptedRunner()
    result, run = await execute(plan, runner, previous=previous)
    assert result.phase is WorkflowPhase.SUCCEEDED
    assert "A" not in runner.started
    b = next(c for c in runner.contexts if c.display_name == "B")
    assert b.previous is not None
    assert b.attempt == 1
    assert b.node_id == run.node_table().records()[2].id


async def test_runner_crash_is_an_error_not_an_executor_failure() -> None:
    class Broken:
        async def run(self, node: object) -> object:
            raise RuntimeError("bug")

    executor = Executor(registry=RunnerRegistry({"noop": Broken()}), config=ExecutorConfig(status_interval=0))  # type: ignore[dict-item]
    builder = DagBuilder("crash")
    builder.add("x", kind="noop")
    run = executor.submit(builder.build())
    result = await run.wait()
    await executor.close()
    assert result.phase is WorkflowPhase.ERROR


async def test_status_writes_are_coalesced() -> None:
    class Sink:
        def __init__(self) -> None:
            self.writes: list[dict[str, object]] = []

        async def write_status(self, run: object, status: dict[str, object]) -> None:
            self.writes.append(status)

    sink = Sink()
    builder = DagBuilder("coalesce")
    for i in range(200):
        builder.add(f"n{i}", kind="noop", depends=[f"n{i - 1}"] if i else None)
    runner = ScriptedRunner(inline=True)
    result, _ = await execute(builder.build(), runner, config=ExecutorConfig(status_interval=0.05), sink=sink)
    assert result.phase is WorkflowPhase.SUCCEEDED
    assert 1 <= len(sink.writes) <= 3  # 400 node events, a handful of writes
    assert sink.writes[-1]["phase"] == "Succeeded"
    assert sink.writes[-1]["progress"] == "200/200"


class _DelayOnly:
    """Wraps a ScriptedRunner to give named nodes their own sleep."""

    uses_slot = True

    def __init__(self, inner: ScriptedRunner, delays: dict[str, float]) -> None:
        self.inner = inner
        self.delays = delays

    async def run(self, node: object) -> object:
        delay = self.delays.get(node.display_name, 0)  # type: ignore[attr-defined]
        await asyncio.sleep(delay)
        return self.inner.outcome(node)  # type: ignore[arg-type]


# -- property: random DAGs run every node exactly once, never before its dependencies ------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edges=st.lists(st.lists(st.integers(min_value=0, max_value=30), max_size=3), min_size=1, max_size=30),
    inline=st.booleans(),
)
def test_random_dags_respect_dependencies(edges: list[list[int]], inline: bool) -> None:
    deps = [sorted({d for d in ds if d < i}) for i, ds in enumerate(edges)]
    builder = DagBuilder("prop")
    for i, ds in enumerate(deps):
        builder.add(f"n{i}", kind="noop", depends=[f"n{d}" for d in ds] or None)
    runner = ScriptedRunner(inline=inline)
    result, _ = asyncio.run(execute(builder.build(), runner, config=ExecutorConfig(status_interval=0, max_running=3)))
    assert result.phase is WorkflowPhase.SUCCEEDED
    assert sorted(runner.started) == sorted(f"n{i}" for i in range(len(deps)))
    for i, ds in enumerate(deps):
        for d in ds:
            assert runner.finished.index(f"n{d}") < runner.started.index(f"n{i}")
