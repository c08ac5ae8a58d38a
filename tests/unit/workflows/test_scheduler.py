"""The pure scheduler, driven node by node without an event loop: table tests and hypothesis properties.

The properties drive random DAGs (depends expressions, when, continueOn, failFast, DAG parallelism, loops, task
hooks, an exit handler, retries) with a random interleaving of admissions, completions and retry wake-ups, as a
parallel driver would, and check:

- every node is fulfilled exactly once (a fulfilled node never changes again) and the run always ends;
- no node is created before all of its dependencies are fulfilled;
- depends / when / continueOn / failFast outcomes agree with a small reference model written from Argo's rules;
- a restart from the recorded node table never re-runs a finished node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.workflows import dag, leaf, plan_of, workflow
from workflows import DagBuilder, NodePhase, Plan, RetryStrategy, WorkflowPhase, previous_from_status
from workflows.model.phases import (
    P_ERROR,
    P_FAILED,
    P_NONE,
    P_OMITTED,
    P_PENDING,
    P_RUNNING,
    P_SKIPPED,
    P_SUCCEEDED,
    PHASE_OF,
)
from workflows.model.scheduler import NOT_STARTED, Scheduler
from workflows.model.status import status_from_snapshot

EPOCH = 1_700_000_000.0  # status records keep whole seconds, and 0 means "not recorded"
OUTCOMES = {"ok": P_SUCCEEDED, "fail": P_FAILED, "error": P_ERROR}


# -- a pure driver ----------------------------------------------------------------------------------------------------
@dataclass
class Trace:
    """What a driver saw: leaves in the order they became ready, and failures in the order they were reported."""

    became_ready: list[int] = field(default_factory=list)
    begun: list[int] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    failed_dag_before_ready: dict[int, set[int]] = field(default_factory=dict)


def drive(
    scheduler: Scheduler,
    *,
    choose: Callable[[int], int],
    outcome: Callable[[int], int],
    stop_after: int | None = None,
    start_at: float = 0.0,
) -> Trace:
    """Run ``scheduler`` like a parallel driver: each step admits a ready leaf, completes a running one or wakes a
    retry, as ``choose(options)`` picks. ``now`` is the step number. Checks the invariants after every step.
    """
    trace = Trace()
    now = start_at
    scheduler.start(now)
    running: list[int] = []
    backing_off: list[int] = []
    seen_ready: set[int] = set()
    fulfilled: dict[int, tuple[int, float]] = {}
    steps = 0

    def check() -> None:
        for index, phase in enumerate(scheduler.phase):
            if index in fulfilled:
                assert (phase, scheduler.finished[index]) == fulfilled[index], "a fulfilled node changed"
            elif phase >= P_SUCCEEDED:
                fulfilled[index] = (phase, scheduler.finished[index])
            if phase != P_NONE:
                for dep in scheduler.nodes[index].deps:
                    assert scheduler.phase[dep] >= P_SUCCEEDED, "created before a dependency was fulfilled"
                    if scheduler.started[index]:  # (0: created, but queued for a slot of its DAG's parallelism)
                        assert scheduler.started[index] >= scheduler.finished[dep]
        for index in scheduler.ready():
            if index not in seen_ready:
                seen_ready.add(index)
                trace.became_ready.append(index)
                trace.failed_dag_before_ready[index] = {
                    scheduler.nodes[failure].boundary for failure in trace.failures if _unhandled(scheduler, failure)
                }

    check()
    while scheduler.is_active():
        if stop_after is not None and steps >= stop_after:
            return trace
        ready = scheduler.ready()
        options = len(ready) + len(running) + len(backing_off)
        assert options > 0, "the run is active but nothing can make progress"
        pick = choose(options)
        now += 1
        steps += 1
        if pick < len(ready):
            index = ready[pick]
            del ready[pick]
            if scheduler.begin(index, now) is not NOT_STARTED:
                assert scheduler.phase[index] == P_RUNNING
                trace.begun.append(index)
                running.append(index)
        elif pick < len(ready) + len(running):
            index = running.pop(pick - len(ready))
            code = outcome(index)
            if code in (P_FAILED, P_ERROR):
                trace.failures.append(index)
            delay = scheduler.done(index, code, result=f"r{index}", now=now)
            if delay is not None:
                assert scheduler.phase[index] == P_RUNNING
                backing_off.append(index)
        else:
            index = backing_off.pop(pick - len(ready) - len(running))
            assert scheduler.requeue(index)
        check()
    assert not running
    assert not backing_off
    assert not scheduler.ready()
    return trace


def _unhandled(scheduler: Scheduler, index: int) -> bool:
    spec = scheduler.nodes[index]
    phase = scheduler.phase[index]
    return (
        phase in (P_FAILED, P_ERROR)
        and not spec.handled_failure
        and not (phase == P_FAILED and spec.continue_failed)
        and not (phase == P_ERROR and spec.continue_error)
    )


def serial(options: int) -> int:
    """The simplest driver: the oldest ready leaf, completed before anything else starts."""
    return 0


# -- random manifests -------------------------------------------------------------------------------------------------
RESULTS = (None, "Succeeded", "Failed", "Errored", "Skipped", "Omitted", "AnySucceeded", "AllFailed")
Tree = tuple[Any, ...]


def depends_trees(before: int) -> st.SearchStrategy[Tree]:
    refs = st.tuples(st.just("ref"), st.integers(0, before - 1).map(lambda i: f"t{i}"), st.sampled_from(RESULTS))
    return st.recursive(
        refs,
        lambda inner: st.one_of(
            st.tuples(st.just("not"), inner),
            st.tuples(st.sampled_from(["&&", "||"]), inner, inner),
        ),
        max_leaves=4,
    )


def text_of(tree: Tree) -> str:
    if tree[0] == "ref":
        return tree[1] if tree[2] is None else f"{tree[1]}.{tree[2]}"
    if tree[0] == "not":
        return f"!({text_of(tree[1])})"
    return f"({text_of(tree[1])} {tree[0]} {text_of(tree[2])})"


def names_in(tree: Tree) -> list[str]:
    if tree[0] == "ref":
        return [tree[1]]
    return [name for operand in tree[1:] for name in names_in(operand)]


@dataclass(frozen=True)
class Task:
    name: str
    depends: Tree | None
    when: bool | None
    continue_failed: bool
    continue_error: bool
    outcome: str

    def manifest(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "template": "work"}
        if self.depends is not None:
            out["depends"] = text_of(self.depends)
        if self.when is not None:
            out["when"] = "yes == yes" if self.when else "yes == no"
        continue_on = {k: True for k, on in (("failed", self.continue_failed), ("error", self.continue_error)) if on}
        if continue_on:
            out["continueOn"] = continue_on
        return out


@st.composite
def task_lists(draw: st.DrawFn, *, max_tasks: int = 7) -> list[Task]:
    count = draw(st.integers(1, max_tasks))
    return [
        Task(
            name=f"t{i}",
            depends=draw(st.none() | depends_trees(i)) if i else None,
            when=draw(st.sampled_from([None, None, True, False])),
            continue_failed=draw(st.booleans()),
            continue_error=draw(st.booleans()),
            outcome=draw(st.sampled_from(["ok", "ok", "fail", "error"])),
        )
        for i in range(count)
    ]


def manifest_plan(tasks: list[Task], *, fail_fast: bool, **dag_extra: Any) -> Plan:
    main = dag("main", [task.manifest() for task in tasks], **dag_extra)
    main["dag"]["failFast"] = fail_fast
    return plan_of(workflow([main, leaf()]))


def scripted(scheduler: Scheduler, tasks: list[Task]) -> Callable[[int], int]:
    outcomes = {task.name: OUTCOMES[task.outcome] for task in tasks}
    return lambda index: outcomes[scheduler.nodes[index].display_name]


# -- the reference model (Argo's rules, written plainly) --------------------------------------------------------------
_NAMED = {"Succeeded": "Succeeded", "Failed": "Failed", "Errored": "Error", "Skipped": "Skipped", "Omitted": "Omitted"}


def holds(tree: Tree, phases: dict[str, str], tasks: dict[str, Task]) -> bool:
    if tree[0] == "ref":
        _, name, result = tree
        phase = phases[name]
        if result is None:  # bare name: succeeded or skipped, widened by the task's own continueOn
            task = tasks[name]
            return phase in {"Succeeded", "Skipped"} or (
                (phase == "Failed" and task.continue_failed) or (phase == "Error" and task.continue_error)
            )
        if result in ("AnySucceeded", "AllFailed"):  # describe loop groups: false for plain tasks
            return False
        return phase == _NAMED[result]
    if tree[0] == "not":
        return not holds(tree[1], phases, tasks)
    left, right = holds(tree[1], phases, tasks), holds(tree[2], phases, tasks)
    return (left and right) if tree[0] == "&&" else (left or right)


def reference(tasks: list[Task]) -> tuple[dict[str, str], str]:
    """Task phases and the DAG phase without failFast: a pure function of the graph and the outcomes."""
    by_name = {task.name: task for task in tasks}
    phases: dict[str, str] = {}
    branch: dict[str, str] = {}  # what the task passes on to the DAG's verdict
    for task in tasks:
        deps = list(dict.fromkeys(names_in(task.depends))) if task.depends else []
        if task.depends is not None and not holds(task.depends, phases, by_name):
            phases[task.name] = "Omitted"  # inherits the first failed branch among its dependencies
            branch[task.name] = next((branch[d] for d in deps if branch[d] in ("Failed", "Error")), "Succeeded")
        elif task.when is False:
            phases[task.name] = branch[task.name] = "Skipped"
        else:
            phases[task.name] = branch[task.name] = {"ok": "Succeeded", "fail": "Failed", "error": "Error"}[
                task.outcome
            ]
    depended_on = {name for task in tasks if task.depends for name in names_in(task.depends)}
    verdict = "Succeeded"
    for target in sorted(set(by_name) - depended_on):  # the targets decide the DAG (Argo's assessDAGPhase)
        phase, task = branch[target], by_name[target]
        if (phase == "Failed" and not task.continue_failed) or (phase == "Error" and not task.continue_error):
            verdict = phase
            break
    return phases, verdict


def task_phases(scheduler: Scheduler) -> dict[str, str]:
    return {
        spec.display_name: PHASE_OF[scheduler.phase[spec.index]].value  # type: ignore[union-attr]
        for spec in scheduler.nodes
        if spec.boundary == scheduler.plan.root
    }


RUN_PHASE = {"Succeeded": WorkflowPhase.SUCCEEDED, "Failed": WorkflowPhase.FAILED, "Error": WorkflowPhase.ERROR}


# -- properties -------------------------------------------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(tasks=task_lists(), data=st.data())
def test_without_fail_fast_outcomes_agree_with_the_reference_model(tasks: list[Task], data: st.DataObject) -> None:
    scheduler = Scheduler(manifest_plan(tasks, fail_fast=False))
    drive(scheduler, choose=lambda n: data.draw(st.integers(0, n - 1)), outcome=scripted(scheduler, tasks))
    phases, verdict = reference(tasks)
    assert task_phases(scheduler) == phases
    assert scheduler.run_phase is RUN_PHASE[verdict]


@settings(max_examples=100, deadline=None)
@given(tasks=task_lists(), data=st.data())
def test_fail_fast_only_stops_new_tasks_after_an_unplanned_failure(tasks: list[Task], data: st.DataObject) -> None:
    scheduler = Scheduler(manifest_plan(tasks, fail_fast=True))
    trace = drive(scheduler, choose=lambda n: data.draw(st.integers(0, n - 1)), outcome=scripted(scheduler, tasks))
    phases, verdict = reference(tasks)
    unplanned = [index for index in trace.failures if _unhandled(scheduler, index)]
    dag_index = scheduler.nodes[scheduler.plan.root].index
    for name, phase in task_phases(scheduler).items():
        assert phase in (phases[name], "Omitted")  # ran as without failFast, or was not started
    for index in trace.became_ready:  # no task was decided to run after an unplanned failure in its DAG
        assert dag_index not in trace.failed_dag_before_ready[index]
    if unplanned:
        first = PHASE_OF[scheduler.phase[unplanned[0]]]
        assert first is not None
        assert scheduler.run_phase is RUN_PHASE[first.value]
    else:
        assert task_phases(scheduler) == phases
        assert scheduler.run_phase is RUN_PHASE[verdict]


@st.composite
def rich_plans(draw: st.DrawFn) -> Plan:
    """Manifests using every scheduling feature at once: loops, hooks, parallelism, exit handler, retries."""
    tasks = [task.manifest() for task in draw(task_lists(max_tasks=6))]
    for task in tasks:
        if draw(st.integers(0, 3)) == 0:
            task["withItems"] = draw(st.lists(st.integers(0, 9), min_size=0, max_size=3))
        if draw(st.integers(0, 4)) == 0:
            task["onExit"] = "hook"
    main = dag("main", tasks)
    main["dag"]["failFast"] = draw(st.booleans())
    if draw(st.booleans()):
        main["parallelism"] = draw(st.integers(1, 3))
    retry = {"retryStrategy": {"limit": draw(st.integers(0, 2))}} if draw(st.booleans()) else {}
    spec = {"onExit": "hook"} if draw(st.booleans()) else {}
    return plan_of(workflow([main, leaf(**retry), leaf("hook")], **spec))


@settings(max_examples=100, deadline=None)
@given(plan=rich_plans(), data=st.data())
def test_every_node_is_fulfilled_exactly_once_and_never_before_its_dependencies(
    plan: Plan, data: st.DataObject
) -> None:
    scheduler = Scheduler(plan)
    trace = drive(
        scheduler,
        choose=lambda n: data.draw(st.integers(0, n - 1)),
        outcome=lambda index: data.draw(st.sampled_from([P_SUCCEEDED, P_SUCCEEDED, P_FAILED, P_ERROR])),
    )
    created = [phase for phase in scheduler.phase if phase != P_NONE]
    assert all(phase >= P_SUCCEEDED for phase in created)  # (the drive checked: and never changed afterwards)
    assert scheduler.done_leaves == sum(
        1
        for spec, phase in zip(scheduler.nodes, scheduler.phase, strict=True)
        if spec.step is not None and phase != P_NONE
    )
    assert len(trace.became_ready) == len(set(trace.became_ready))  # a leaf is decided once (retries requeue it)
    assert scheduler.run_phase in (WorkflowPhase.SUCCEEDED, WorkflowPhase.FAILED, WorkflowPhase.ERROR)


@settings(max_examples=100, deadline=None)
@given(tasks=task_lists(), fail_fast=st.booleans(), stop_after=st.integers(0, 12), data=st.data())
def test_a_restart_never_reruns_a_finished_node(
    tasks: list[Task], fail_fast: bool, stop_after: int, data: st.DataObject
) -> None:
    plan = manifest_plan(tasks, fail_fast=fail_fast)
    first = Scheduler(plan)
    choose = lambda n: data.draw(st.integers(0, n - 1))  # noqa: E731
    drive(first, choose=choose, outcome=scripted(first, tasks), stop_after=stop_after, start_at=EPOCH)
    recorded = status_from_snapshot(first.snapshot(), budget_bytes=256 * 1024)  # through the real status encoding
    finished = {spec.name for spec, phase in zip(first.nodes, first.phase, strict=True) if phase >= P_SUCCEEDED}
    second = Scheduler(plan, previous=previous_from_status(recorded))
    restarted_at = max(first.finished, default=0.0) + 100  # a later controller
    trace = drive(second, choose=serial, outcome=scripted(second, tasks), start_at=restarted_at)
    assert not finished & {second.nodes[index].name for index in trace.begun}
    for spec in second.nodes:
        if spec.name in finished:
            assert second.phase[spec.index] == first.phase[spec.index]
            assert second.results.get(spec.index) == first.results.get(spec.index)
    if not fail_fast:  # failFast depends on what was running when a failure happened; without it: same outcome
        phases, verdict = reference(tasks)
        assert task_phases(second) == phases
        assert second.run_phase is RUN_PHASE[verdict]


# -- table tests ------------------------------------------------------------------------------------------------------
def _chain(*names: str, retry: RetryStrategy | None = None) -> Plan:
    builder = DagBuilder("s")
    for position, name in enumerate(names):
        builder.add(name, kind="noop", depends=[names[position - 1]] if position else None, retry=retry)
    return builder.build()


def _index(scheduler: Scheduler, name: str) -> int:
    index = scheduler.index_of(name)
    assert index is not None
    return index


def test_start_decides_the_roots_and_done_readies_the_dependents() -> None:
    scheduler = Scheduler(_chain("a", "b"))
    scheduler.start(100.0)
    a, b = _index(scheduler, "a"), _index(scheduler, "b")
    assert list(scheduler.ready()) == [a]
    assert scheduler.phase[a] == P_PENDING
    assert scheduler.ready().popleft() == a
    assert scheduler.begin(a, 101.0) is None  # DagBuilder payload
    assert scheduler.done(a, P_SUCCEEDED, result="x", now=102.0) is None
    assert list(scheduler.ready()) == [b]
    assert scheduler.started[b] == 102.0
    assert scheduler.results[a] == "x"
    scheduler.ready().popleft()
    scheduler.begin(b, 103.0)
    scheduler.done(b, P_SUCCEEDED, now=104.0)
    assert not scheduler.is_active()
    assert (scheduler.run_phase, scheduler.started_at, scheduler.finished_at) == (WorkflowPhase.SUCCEEDED, 100.0, 104.0)
    assert (scheduler.done_leaves, scheduler.total_leaves) == (2, 2)


def test_a_retried_failure_returns_the_backoff_and_keeps_the_node_running() -> None:
    scheduler = Scheduler(_chain("a", retry=RetryStrategy(limit=1)))
    scheduler.start(0.0)
    a = scheduler.ready().popleft()
    scheduler.begin(a, 0.0)
    assert scheduler.done(a, P_FAILED, message="boom", now=1.0) == 0.0
    assert (scheduler.phase[a], scheduler.retries[a], scheduler.messages[a]) == (P_RUNNING, 1, "boom")
    assert scheduler.is_waiting(a)
    assert scheduler.requeue(a)
    assert not scheduler.requeue(a)  # only a waiting node goes back
    assert scheduler.ready().popleft() == a
    scheduler.begin(a, 2.0)
    assert scheduler.done(a, P_FAILED, now=3.0) is None  # the limit is spent
    assert scheduler.run_phase is WorkflowPhase.FAILED


def test_final_outcomes_are_never_retried() -> None:
    scheduler = Scheduler(_chain("a", retry=RetryStrategy(limit=3)))
    scheduler.start(0.0)
    a = scheduler.ready().popleft()
    scheduler.begin(a, 0.0)
    assert scheduler.done(a, P_FAILED, message="timeout", now=1.0, final=True) is None
    assert scheduler.phase[a] == P_FAILED


def test_terminate_fails_ready_leaves_at_begin_and_omits_the_rest() -> None:
    scheduler = Scheduler(_chain("a", "b"))
    scheduler.start(0.0)
    a = scheduler.ready().popleft()
    scheduler.terminate("stop", 5.0)
    assert scheduler.begin(a, 6.0) is NOT_STARTED
    assert (scheduler.phase[a], scheduler.messages[a]) == (P_FAILED, "stop")
    b = _index(scheduler, "b")
    assert (scheduler.phase[b], scheduler.messages[b]) == (P_OMITTED, "not started: stop")
    assert (scheduler.run_phase, scheduler.message, scheduler.finished_at) == (WorkflowPhase.FAILED, "stop", 6.0)


def test_terminate_ends_waiting_nodes_retry_failed_and_periodic_cleanly() -> None:
    builder = DagBuilder("w")
    builder.add("retrying", kind="noop", retry=RetryStrategy(limit=5))
    builder.add("periodic", kind="noop")
    scheduler = Scheduler(builder.build(), states={"periodic": "seed"})
    scheduler.start(0.0)
    retrying, periodic = scheduler.ready().popleft(), scheduler.ready().popleft()
    scheduler.begin(retrying, 0.0)
    scheduler.begin(periodic, 0.0)
    assert scheduler.states[periodic] == "seed"
    assert scheduler.done(retrying, P_FAILED, now=1.0) == 0.0
    assert scheduler.again(periodic, state="after one", message="1 measurement", now=1.0)
    scheduler.terminate("Run Terminated", 2.0)
    assert (scheduler.phase[retrying], scheduler.messages[retrying]) == (P_FAILED, "Run Terminated")
    assert (scheduler.phase[periodic], scheduler.messages[periodic]) == (P_SUCCEEDED, "Run Terminated")
    assert scheduler.state_of("periodic") == "after one"
    assert not scheduler.is_active()
    assert not scheduler.requeue(periodic)


def test_again_after_termination_ends_the_node_cleanly() -> None:
    scheduler = Scheduler(_chain("p"))
    scheduler.start(0.0)
    p = scheduler.ready().popleft()
    scheduler.begin(p, 0.0)
    scheduler.terminate("stop", 1.0)
    assert not scheduler.again(p, state=7, now=2.0)
    assert scheduler.phase[p] == P_SUCCEEDED
    assert scheduler.states[p] == 7


def test_ending_a_node_twice_changes_nothing() -> None:
    scheduler = Scheduler(_chain("a", "b"))
    scheduler.start(0.0)
    a = scheduler.ready().popleft()
    scheduler.begin(a, 0.0)
    scheduler.done(a, P_SUCCEEDED, now=1.0)
    assert scheduler.done(a, P_FAILED, message="late", now=2.0) is None
    assert (scheduler.phase[a], scheduler.finished[a]) == (P_SUCCEEDED, 1.0)
    with pytest.raises(ValueError, match="final phase"):
        scheduler.done(_index(scheduler, "b"), P_RUNNING, now=3.0)


def test_restored_nodes_keep_their_record_and_unfinished_ones_continue_their_retry_count() -> None:
    from workflows import PreviousNode

    plan = _chain("a", "b")
    previous = {
        "s.a": PreviousNode(phase=NodePhase.SUCCEEDED, started_at=1.0, finished_at=2.0, result="kept", message="m"),
        "s.b": PreviousNode(phase=NodePhase.RUNNING, started_at=2.0, retries=2),
    }
    scheduler = Scheduler(plan, previous=previous)
    scheduler.start(50.0)
    a, b = _index(scheduler, "a"), _index(scheduler, "b")
    assert (scheduler.phase[a], scheduler.started[a], scheduler.finished[a]) == (P_SUCCEEDED, 1.0, 2.0)
    assert (scheduler.results[a], scheduler.messages[a]) == ("kept", "m")
    assert list(scheduler.ready()) == [b]
    assert scheduler.retries[b] == 2


def test_when_is_judged_through_evaluate_when(monkeypatch: pytest.MonkeyPatch) -> None:
    import workflows.model.scheduler as scheduler_module

    judged: list[str] = []

    def fake(text: str) -> bool:
        judged.append(text)
        return False

    monkeypatch.setattr(scheduler_module, "evaluate_when", fake)
    plan = plan_of(
        workflow([dag("main", [{"name": "x", "template": "work", "when": "{{workflow.name}} == wf"}]), leaf()])
    )
    scheduler = Scheduler(plan)
    scheduler.start(0.0)
    assert judged == ["wf == wf"]
    assert scheduler.phase_of("x") is NodePhase.SKIPPED


def test_a_when_that_cannot_be_parsed_errors_the_task() -> None:
    plan = plan_of(workflow([dag("main", [{"name": "x", "template": "work", "when": "a == (b"}]), leaf()]))
    scheduler = Scheduler(plan)
    scheduler.start(0.0)
    assert scheduler.phase_of("x") is NodePhase.ERROR
    assert scheduler.run_phase is WorkflowPhase.ERROR


def test_the_snapshot_is_a_copy() -> None:
    scheduler = Scheduler(_chain("a"))
    scheduler.start(0.0)
    snap = scheduler.snapshot()
    a = scheduler.ready().popleft()
    scheduler.begin(a, 1.0)
    scheduler.done(a, P_SKIPPED, now=2.0)
    assert snap.phase[a] == P_PENDING
    assert snap.workflow_phase == "Running"
    assert scheduler.snapshot().workflow_phase == "Succeeded"
