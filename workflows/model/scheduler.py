"""The scheduler of one run: the node state of a :class:`~workflows.model.plan.Plan` and every decision about it.

Why it exists: deciding what runs next (``depends``, ``when``, failFast, DAG ``parallelism``, loops, hooks, the exit
handler, restarts, termination, phases) is the engine's semantics, and semantics belong in pure code that a unit
test or a hypothesis property can drive node by node with any clock. The asyncio driver
(:mod:`workflows.runtime.executor`) only admits, launches, times and cancels; it asks this class what to do.

The shape is :class:`graphlib.TopologicalSorter`'s, built for a parallel driver that lives elsewhere::

    scheduler = Scheduler(plan, previous=records)   # restart: finished nodes are restored, never re-run
    scheduler.start(now)                            # decides the entry template
    while scheduler.is_active():
        index = scheduler.ready().popleft()         # a leaf step, ready for admission
        payload = scheduler.begin(index, now)       # rendered for this attempt (or NOT_STARTED: already ended)
        ...                                         # the driver runs it
        delay = scheduler.done(index, P_SUCCEEDED, result="42", now=now)   # None, or the retry backoff
        ...                                         # after a backoff: scheduler.requeue(index)

How it stays cheap (50,000-node runs): each node has a counter of unfinished dependencies and each DAG/loop group a
counter of unfinished children; fulfilling a node decrements its dependents and its owner, and a node whose counter
reaches zero is decided once (its compiled ``depends`` closure reads the ``phase`` list directly). Work per node is
O(its edges); nothing is ever rescanned. Decisions cascade through a queue, not recursion, so a failure that omits a
long chain cannot overflow the stack.

What it must never do: read a clock (every mutating call takes ``now``), sleep, start threads, touch asyncio or import
anything of :mod:`workflows.runtime`. It never runs a step either: it says which leaf is ready and records outcomes.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping
from functools import partial
from typing import Any, Final

from workflows.errors import ExpressionError, SpecError, SubstitutionError
from workflows.model.compiler import parse_items
from workflows.model.durations import parse_seconds
from workflows.model.expr import evaluate_when
from workflows.model.phases import (
    CODE_OF,
    P_ERROR,
    P_FAILED,
    P_NONE,
    P_OMITTED,
    P_PENDING,
    P_RUNNING,
    P_SKIPPED,
    P_SUCCEEDED,
    PHASE_OF,
    NodePhase,
    NodeType,
    WorkflowPhase,
)
from workflows.model.plan import NodeSpec, Plan, PreviousNode
from workflows.model.spec import RetryPolicy, RetryStrategy
from workflows.model.status import RunSnapshot
from workflows.model.substitution import RefKey, item_lookup

__all__ = ["NOT_STARTED", "Scheduler", "retry_delay", "workflow_phase_for"]

_FAILED_OR_ERROR: Final = (P_FAILED, P_ERROR)


class _NotStarted:
    """The type of :data:`NOT_STARTED`; one instance, compared by identity."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_STARTED"


#: What :meth:`Scheduler.begin` returns instead of a payload when it ended the node rather than starting it.
NOT_STARTED: Final = _NotStarted()


def retry_delay(
    retry: RetryStrategy | None, *, retries_done: int, phase: int, transient: bool, elapsed: float
) -> float | None:
    """Seconds to wait before the next attempt, or None when the node should not be retried.

    ``limit`` counts retries (attempts = limit + 1); the policy picks which outcomes retry; the delay is
    ``duration * factor**retries_done`` capped by ``cap``, and no retry starts once ``elapsed + delay`` would pass
    ``maxDuration``. Worked example: duration 1s, factor 2, cap 5s -> delays 1, 2, 4, 5, 5.
    """
    if retry is None or phase not in _FAILED_OR_ERROR:
        return None
    if retry.limit is not None and retries_done >= retry.limit:
        return None
    policy = retry.policy
    if policy is RetryPolicy.ON_FAILURE and phase != P_FAILED:
        return None
    if policy is RetryPolicy.ON_ERROR and phase != P_ERROR:
        return None
    if policy is RetryPolicy.ON_TRANSIENT_ERROR and not transient:
        return None
    backoff = retry.backoff
    if backoff is None:
        return 0.0
    delay = backoff.duration * backoff.factor**retries_done
    if backoff.cap is not None:
        delay = min(delay, backoff.cap)
    if backoff.max_duration is not None and elapsed + delay > backoff.max_duration:
        return None
    return delay


def workflow_phase_for(phase: NodePhase | None) -> WorkflowPhase:
    """The run phase a finished entry node implies (Skipped counts as success, Omitted as failure)."""
    if phase is NodePhase.SUCCEEDED or phase is NodePhase.SKIPPED:
        return WorkflowPhase.SUCCEEDED
    if phase is NodePhase.ERROR:
        return WorkflowPhase.ERROR
    if phase in (NodePhase.FAILED, NodePhase.OMITTED):
        return WorkflowPhase.FAILED
    return WorkflowPhase.RUNNING


class Scheduler:
    """The state of one run and every decision about it; see the module docstring.

    Public attributes are the run's state, for drivers and status encoding to *read* (never write): ``nodes`` (the
    plan's node specs, extended in place when a ``withParam`` group expands), ``phase`` (phase codes from
    :mod:`workflows.model.phases`, ``P_NONE`` for nodes not created yet), ``started``/``finished`` (epoch seconds,
    0 = not yet), ``messages``, ``results``, ``inputs``, ``retries``, ``states`` (by node index), ``previous``
    (restart records by node name), ``terminated`` (the reason, once terminated), ``run_phase``, ``message``,
    ``started_at``, ``finished_at``, ``done_leaves``, ``total_leaves``.
    """

    __slots__ = (
        "_branch_phase",
        "_dag_queue",
        "_dag_running",
        "_dag_slot_holders",
        "_ended",
        "_failed_dags",
        "_now",
        "_ready",
        "_run_exit_handler",
        "_undecided",
        "_unfinished_children",
        "_unfinished_deps",
        "_unresolved_states",
        "_waiting",
        "all_failed",
        "any_succeeded",
        "done_leaves",
        "expanded_children",
        "finished",
        "finished_at",
        "inputs",
        "message",
        "messages",
        "nodes",
        "phase",
        "plan",
        "previous",
        "results",
        "retries",
        "run_phase",
        "started",
        "started_at",
        "states",
        "terminated",
        "timeouts",
        "total_leaves",
    )

    def __init__(
        self,
        plan: Plan,
        *,
        previous: Mapping[str, PreviousNode] | None = None,
        states: Mapping[str, object] | None = None,
    ) -> None:
        """``previous``: node name -> what a previous controller recorded (finished nodes are restored, not re-run;
        unfinished leaves continue their retry count). ``states``: node name (or top-level task name) -> the
        initial state of a periodic node (see :meth:`again`).
        """
        self.plan = plan
        self.previous: dict[str, PreviousNode] = dict(previous or {})
        self.nodes: list[NodeSpec] = list(plan.nodes)
        count = len(self.nodes)
        self.phase: list[int] = [P_NONE] * count
        self.any_succeeded = bytearray(count)  # loop groups, for ``.AnySucceeded`` in depends
        self.all_failed = bytearray(count)  # loop groups, for ``.AllFailed``
        self._unfinished_deps: list[int] = [len(spec.deps) for spec in self.nodes]
        self._unfinished_children: list[int] = [0] * count  # DAGs and loop groups
        # the phase a node passes on to its DAG's verdict: an omitted node inherits its dependencies' failure
        self._branch_phase: list[int] = [P_NONE] * count
        self.started: list[float] = [0.0] * count
        self.finished: list[float] = [0.0] * count
        self.messages: dict[int, str] = {}
        self.results: dict[int, str] = {}
        self.inputs: dict[int, dict[str, str]] = {}
        self.retries: dict[int, int] = {}
        self.timeouts: dict[int, float] = {}  # rendered templated ``timeout`` of leaves decided to run
        self.states: dict[int, object] = {}
        self.expanded_children: dict[int, list[int]] = {}  # withParam group -> its children, once expanded
        self._failed_dags: dict[int, int] = {}  # DAG -> the failing phase, once failFast stopped it
        self._dag_running: dict[int, int] = {}  # DAG with parallelism -> tasks holding one of its slots
        self._dag_queue: dict[int, deque[int]] = {}  # DAG with parallelism -> tasks waiting for a slot
        self._dag_slot_holders: set[int] = set()
        self._ready: deque[int] = deque()  # leaves decided to run, not yet handed to begin()
        self._undecided: deque[int] = deque()  # nodes whose dependencies are fulfilled, to be decided
        self._waiting: dict[int, bool] = {}  # leaf -> True: periodic (again), False: retry backoff
        self._unresolved_states: dict[str, object] = dict(states or {})
        self.terminated: str | None = None
        self._run_exit_handler = True
        self.run_phase = WorkflowPhase.PENDING
        self.message = ""
        self.started_at = 0.0
        self.finished_at = 0.0
        self.done_leaves = 0
        self.total_leaves = plan.leaf_count
        self._ended = False
        self._now = 0.0  # the ``now`` of the call being processed; decisions of one call share it
        if self._unresolved_states:
            self._resolve_states(0)

    # -- driving ------------------------------------------------------------------------------------------------
    def start(self, now: float) -> None:
        """Start the run: decide the entry template (and, on a restart, restore what already finished)."""
        if self.run_phase is not WorkflowPhase.PENDING:
            return
        self.run_phase = WorkflowPhase.RUNNING
        self.started_at = self._now = now
        self._undecided.append(self.plan.root)
        self._drain()

    def ready(self) -> deque[int]:
        """Leaves decided to run, in decision order: the driver's admission queue.

        The driver takes leaves from the left as it admits them (a leaf it must hold back, e.g. for a full pool, it
        keeps and hands to :meth:`begin` later, or puts back on the left). The same deque for the whole run.
        """
        return self._ready

    def begin(self, index: int, now: float) -> Any:
        """Start an attempt of leaf ``index``; returns its payload rendered for this attempt.

        Returns :data:`NOT_STARTED` when the node was ended instead: the run was terminated (Failed with the reason;
        exit-handler nodes still run) or the payload could not be rendered (Error).
        """
        spec = self.nodes[index]
        if self.terminated is not None and not spec.in_exit_handler:
            self._end(index, P_FAILED, self.terminated, now)
            return NOT_STARTED
        renderer = spec.step.payload  # type: ignore[union-attr]  # only leaves are ever ready
        if renderer.texts:
            try:
                payload = renderer.render(partial(self._body_scope, index))
            except (SubstitutionError, KeyError) as exc:
                self._end(index, P_ERROR, f"substitution failed: {exc}", now)
                return NOT_STARTED
        else:
            payload = renderer.payload
        self.phase[index] = P_RUNNING
        return payload

    def timeout_seconds(self, index: int) -> float | None:
        """The template ``timeout`` of leaf ``index`` in seconds (it bounds all attempts), or None without one."""
        step = self.nodes[index].step
        timeout = step.timeout if step is not None else None
        if timeout is None:
            return None
        return timeout if isinstance(timeout, float) else self.timeouts.get(index)

    def done(
        self,
        index: int,
        phase: int,
        *,
        message: str = "",
        result: str | None = None,
        now: float,
        transient: bool = False,
        final: bool = False,
        state: object = None,
    ) -> float | None:
        """An attempt of leaf ``index`` ended with ``phase`` (a final phase code: ``P_SUCCEEDED`` ... ``P_OMITTED``).

        Returns None when the node is now fulfilled (its dependents are decided and any leaves that became ready
        are in :meth:`ready`), or the seconds to wait before the next attempt when its ``retryStrategy`` retries
        this outcome: the node then stays Running, holds nothing, and goes back to the ready queue on
        :meth:`requeue`. ``transient`` marks an Error that ``OnTransientError`` retries; ``final`` forbids a retry
        (a template timeout, a cancelled attempt, a runner stopping the run). ``state`` (unless None) replaces the
        node's state. Ending a node that already ended does nothing: every node is fulfilled exactly once.
        """
        if self.phase[index] >= P_SUCCEEDED:
            return None
        if phase < P_SUCCEEDED:
            raise ValueError(f"done() needs a final phase, not {PHASE_OF[phase]}")
        if result is not None:
            self.results[index] = result
        if state is not None:
            self.states[index] = state
        if phase in _FAILED_OR_ERROR and not final and self.terminated is None:
            step = self.nodes[index].step
            if step is not None and step.retry is not None:
                retries = self.retries.get(index, 0)
                delay = retry_delay(
                    step.retry,
                    retries_done=retries,
                    phase=phase,
                    transient=transient,
                    elapsed=now - self.started[index],
                )
                if delay is not None:
                    self.retries[index] = retries + 1
                    if message:
                        self.messages[index] = message
                    self._waiting[index] = False
                    return delay
        self._now = now
        self._fulfil(index, phase, message)
        undecided = self._undecided
        if undecided:  # _drain(), inlined: this is the per-node hot path
            decide = self._decide
            while undecided:
                dependent = undecided.popleft()
                if not self._ended:
                    decide(dependent)
        return None

    def again(self, index: int, *, state: object = None, message: str = "", now: float) -> bool:
        """Attempt of periodic leaf ``index`` ended "not finished, run me again later" (not a retry).

        Records ``state`` (unless None) and ``message``; the node stays Running and holds nothing until
        :meth:`requeue`. Returns False when the node was ended instead, cleanly (Succeeded, state kept), because the
        run was terminated meanwhile and it is not part of the exit handler.
        """
        if self.phase[index] >= P_SUCCEEDED:
            return False
        if state is not None:
            self.states[index] = state
        if message:
            self.messages[index] = message
        if self.terminated is not None and not self.nodes[index].in_exit_handler:
            self._end(index, P_SUCCEEDED, self.terminated, now)
            return False
        self._waiting[index] = True
        return True

    def requeue(self, index: int) -> bool:
        """A waiting leaf (retry backoff or periodic) may run again: back to the ready queue. False if it ended."""
        if self._waiting.pop(index, None) is None:
            return False
        self._ready.append(index)
        return True

    def is_waiting(self, index: int) -> bool:
        """Leaf ``index`` waits for a retry or for its next period (and needs :meth:`requeue` to run again)."""
        return index in self._waiting

    def terminate(self, reason: str, now: float, *, run_exit_handler: bool = True) -> None:
        """Stop the run: nothing new starts (not-started tasks become Omitted, ready leaves fail at :meth:`begin`).

        Leaves waiting for a retry end Failed with ``reason``; periodic leaves waiting for their next run end
        cleanly (Succeeded, ``reason`` as the message, state kept). Running attempts are the driver's to cancel; it
        reports them through :meth:`done`. The exit handler still runs unless ``run_exit_handler`` is False. The
        run ends Failed with ``reason``.
        """
        if self._ended or self.terminated is not None:
            return
        self.terminated = reason
        self._run_exit_handler = run_exit_handler
        self._now = now
        not_started = f"not started: {reason}"
        for queue in self._dag_queue.values():
            while queue:
                self._fulfil(queue.popleft(), P_OMITTED, not_started)
        for index, periodic in list(self._waiting.items()):
            if index in self._waiting:
                self._fulfil(index, P_SUCCEEDED if periodic else P_FAILED, reason)
        self._drain()

    def is_active(self) -> bool:
        """True until the run has ended (the entry template and the exit handler, if any, are fulfilled)."""
        return not self._ended

    # -- read accessors ---------------------------------------------------------------------------------------
    def index_of(self, name: str) -> int | None:
        """The node named ``name`` (full name, or the task name of a top-level task); O(nodes)."""
        root = self.plan.root
        for index, spec in enumerate(self.nodes):
            if spec.name == name or (spec.display_name == name and spec.boundary == root):
                return index
        return None

    def phase_of(self, name: str) -> NodePhase | None:
        index = self.index_of(name)
        return None if index is None else PHASE_OF[self.phase[index]]

    def state_of(self, name: str) -> object:
        """The last state of the node named ``name`` (seeded, or recorded by :meth:`again`/:meth:`done`)."""
        index = self.index_of(name)
        if index is None:
            return self._unresolved_states.get(name)
        return self.states.get(index)

    def record_state(self, name: str, state: object) -> bool:
        """Record the state of the running node ``name`` before its attempt ends (a checkpoint); False if it ended."""
        index = self.index_of(name)
        if index is None or self.phase[index] >= P_SUCCEEDED:
            return False
        self.states[index] = state
        return True

    def states_by_name(self) -> dict[str, object]:
        return {self.nodes[index].name: state for index, state in self.states.items()}

    def snapshot(self) -> RunSnapshot:
        """The run's flat state for status encoding: O(nodes) pointer copies, no per-node Python work.

        The lists are copied because the scheduler keeps mutating them; node specs are immutable and shared. The
        snapshot can then be encoded on another thread.
        """
        return RunSnapshot(
            workflow_name=self.plan.name,
            workflow_phase=self.run_phase.value,
            message=self.message,
            started_at=self.started_at,
            finished_at=self.finished_at,
            done_leaves=self.done_leaves,
            total_leaves=self.total_leaves,
            nodes=self.nodes.copy(),
            phase=self.phase.copy(),
            started=self.started.copy(),
            finished=self.finished.copy(),
            messages=self.messages.copy(),
            results=self.results.copy(),
            attempts=self.retries.copy(),
            children_of=self.expanded_children.copy(),  # values are assigned once, never mutated
        )

    # -- deciding -----------------------------------------------------------------------------------------------
    def _drain(self) -> None:
        undecided = self._undecided
        decide = self._decide
        while undecided:
            index = undecided.popleft()
            if not self._ended:
                decide(index)

    def _end(self, index: int, code: int, message: str, now: float) -> None:
        self._now = now
        self._fulfil(index, code, message)
        self._drain()

    def _decide(self, index: int) -> None:
        """All of ``index``'s dependencies are fulfilled: omit, skip, restore, hold or start it."""
        spec = self.nodes[index]
        if self.previous:
            previous = self.previous.get(spec.name)
            if previous is not None and _restorable(spec, previous):
                self._restore(index, previous)  # what a previous controller recorded is the truth: never re-decided
                return
        if self.terminated is not None and not spec.in_exit_handler:
            self._fulfil(index, P_OMITTED, f"not started: {self.terminated}")
            return
        boundary = spec.boundary
        if boundary >= 0 and boundary in self._failed_dags:
            self._fulfil(index, P_OMITTED, "not started: failFast after a failure in this dag", failed=True)
            return
        if spec.depends is not None and not spec.depends(self):
            self._fulfil(index, P_OMITTED, "omitted: depends condition not met")
            return
        if spec.step is not None and self.previous:
            previous = self.previous.get(spec.name)
            if previous is not None and previous.retries:
                self.retries[index] = previous.retries  # re-attach: continue the attempt count
        if spec.arguments or spec.input_defaults:
            try:
                inputs = dict(spec.input_defaults)
                for param, text in spec.arguments:
                    inputs[param] = text.render(partial(self._task_scope, spec))
            except (SubstitutionError, KeyError) as exc:
                self._fulfil(index, P_ERROR, f"argument substitution failed: {exc}")
                return
            self.inputs[index] = inputs
        if spec.when is not None:
            try:
                rendered = spec.when.render(partial(self._task_scope, spec))
                proceed = evaluate_when(rendered)
            except (SubstitutionError, ExpressionError, KeyError) as exc:
                self._fulfil(index, P_ERROR, f"when: {exc}")
                return
            if not proceed:
                self._fulfil(index, P_SKIPPED, f"when '{rendered}' evaluated false")
                return
        step = spec.step
        if step is not None and step.timeout is not None and not isinstance(step.timeout, float):
            try:
                self.timeouts[index] = parse_seconds(step.timeout.render(partial(self._body_scope, index)))
            except (ValueError, SubstitutionError, KeyError) as exc:
                self._fulfil(index, P_ERROR, f"timeout: {exc}")
                return
        if boundary >= 0 and spec.type is not NodeType.TASK_GROUP and spec.hook_of < 0:
            limit = self.nodes[boundary].parallelism
            if limit is not None:
                running = self._dag_running.get(boundary, 0)
                if running >= limit:
                    self.phase[index] = P_PENDING
                    self._dag_queue.setdefault(boundary, deque()).append(index)
                    return
                self._dag_running[boundary] = running + 1
                self._dag_slot_holders.add(index)
        self._start(index)

    def _restore(self, index: int, previous: PreviousNode) -> None:
        self.started[index] = previous.started_at or self._now
        if previous.result is not None:
            self.results[index] = previous.result
        if previous.retries:
            self.retries[index] = previous.retries
        self._fulfil(index, CODE_OF[previous.phase], previous.message, at=previous.finished_at)

    def _start(self, index: int) -> None:
        spec = self.nodes[index]
        self.started[index] = self._now
        if spec.step is not None:  # a leaf: the driver admits it
            self.phase[index] = P_PENDING
            self._ready.append(index)
            return
        self.phase[index] = P_RUNNING
        if spec.type is NodeType.DAG:
            self._unfinished_children[index] = len(spec.children)
            self._undecided.extend(spec.roots)
            return
        children: list[int] | tuple[int, ...] = spec.children
        if spec.expand is not None:
            assert spec.with_param is not None
            try:
                items = parse_items(spec.with_param.render(partial(self._task_scope, spec)))
                specs, children = spec.expand(len(self.nodes), items)  # past MAX_NODES: a SpecError, nothing built
            except (ValueError, SpecError, KeyError) as exc:
                self._fulfil(index, P_ERROR, str(exc))
                return
            self._extend(specs)
            self.expanded_children[index] = children
        if not children:
            self._fulfil(index, P_SUCCEEDED, "no items")
            return
        self._unfinished_children[index] = len(children)
        self._undecided.extend(children)

    def _extend(self, specs: list[NodeSpec]) -> None:
        first = len(self.nodes)
        count = len(specs)
        self.nodes.extend(specs)
        self.phase.extend([P_NONE] * count)
        self.any_succeeded.extend(bytes(count))
        self.all_failed.extend(bytes(count))
        self._unfinished_deps.extend(len(s.deps) for s in specs)
        self._unfinished_children.extend([0] * count)
        self._branch_phase.extend([P_NONE] * count)
        self.started.extend([0.0] * count)
        self.finished.extend([0.0] * count)
        self.total_leaves += sum(1 for s in specs if s.step is not None)
        if self._unresolved_states:
            self._resolve_states(first)

    def _resolve_states(self, first: int) -> None:
        """Seeded states by node name -> by index, for nodes from ``first`` on (withParam children come later)."""
        root = self.plan.root
        seeds = self._unresolved_states
        for index in range(first, len(self.nodes)):
            spec = self.nodes[index]
            key = spec.name if spec.name in seeds else spec.display_name if spec.boundary == root else None
            if key is not None and key in seeds:
                self.states[index] = seeds.pop(key)

    # -- fulfilling ---------------------------------------------------------------------------------------------
    def _fulfil(
        self, index: int, code: int, message: str = "", *, failed: bool = False, at: float | None = None
    ) -> None:
        spec = self.nodes[index]
        now = at or self._now
        self.phase[index] = code
        self.finished[index] = now
        if not self.started[index]:
            self.started[index] = now
        if message:
            self.messages[index] = message
        if self._waiting:
            self._waiting.pop(index, None)
        if code == P_OMITTED:
            branch = P_FAILED if failed else P_SUCCEEDED
            if not failed:
                for dep in spec.deps:
                    if self._branch_phase[dep] in _FAILED_OR_ERROR:
                        branch = self._branch_phase[dep]
                        break
            self._branch_phase[index] = branch
        else:
            self._branch_phase[index] = code
        if spec.step is not None:
            self.done_leaves += 1
        boundary = spec.boundary
        if self._dag_slot_holders and index in self._dag_slot_holders:
            self._release_dag_slot(index, boundary)
        if (
            code in _FAILED_OR_ERROR
            and boundary >= 0
            and spec.owner == boundary
            and spec.hook_of < 0
            and not spec.handled_failure
            and not (code == P_FAILED and spec.continue_failed)
            and not (code == P_ERROR and spec.continue_error)
            and self.nodes[boundary].fail_fast
            and boundary not in self._failed_dags
        ):
            self._failed_dags[boundary] = code  # failFast: nothing new starts in this DAG
        if spec.hook >= 0:
            self._undecided.append(spec.hook)  # the task's onExit runs before its dependents proceed
            return
        if spec.hook_of >= 0:
            self._propagate(index)  # the hook itself counts toward its DAG
            self._propagate(spec.hook_of)
            return
        self._propagate(index)

    def _release_dag_slot(self, index: int, boundary: int) -> None:
        self._dag_slot_holders.discard(index)
        self._dag_running[boundary] -= 1
        waiters = self._dag_queue.get(boundary)
        if waiters:
            following = waiters.popleft()
            self._dag_running[boundary] += 1
            self._dag_slot_holders.add(following)
            self._start(following)

    def _propagate(self, index: int) -> None:
        spec = self.nodes[index]
        unfinished = self._unfinished_deps
        undecided = self._undecided
        for dependent in spec.dependents:
            unfinished[dependent] -= 1
            if unfinished[dependent] == 0:
                undecided.append(dependent)
        owner = spec.owner
        plan = self.plan
        if owner >= 0:
            self._unfinished_children[owner] -= 1
            if self._unfinished_children[owner] == 0:
                self._complete_container(owner)
        elif index == plan.root:
            if plan.exit_handler >= 0 and (self.terminated is None or self._run_exit_handler):
                undecided.append(plan.exit_handler)
            else:
                self._finish()
        elif index == plan.exit_handler:
            self._finish()

    def _complete_container(self, index: int) -> None:
        spec = self.nodes[index]
        if self.previous:
            previous = self.previous.get(spec.name)
            if previous is not None and previous.phase.fulfilled:  # it had finished: its verdict stands as recorded
                self._restore(index, previous)
                return
        if spec.type is NodeType.DAG:
            self._fulfil(index, *self._dag_verdict(index, spec))
            return
        children = self.expanded_children.get(index) or spec.children
        code = P_SUCCEEDED
        any_ok = False
        all_failed = True
        results = []
        for child in children:
            phase = self.phase[child]
            any_ok = any_ok or phase == P_SUCCEEDED
            all_failed = all_failed and phase == P_FAILED
            if phase in _FAILED_OR_ERROR:
                code = phase
            results.append(self.results.get(child))
        self.any_succeeded[index] = any_ok
        self.all_failed[index] = all_failed and bool(children)
        if any(r is not None for r in results):
            self.results[index] = json.dumps([_parse_json(r) for r in results])
        self._fulfil(index, code, "child failed" if code != P_SUCCEEDED else "")

    def _dag_verdict(self, index: int, spec: NodeSpec) -> tuple[int, str]:
        """Argo's ``assessDAGPhase``: failed by failFast, or by a target whose branch failed without continueOn."""
        stopped = self._failed_dags.get(index)
        if stopped is not None:
            return stopped, "failFast: a task failed, no new tasks were started"
        for target in spec.targets:
            branch = self._branch_phase[target]
            if branch not in _FAILED_OR_ERROR:
                continue
            target_spec = self.nodes[target]
            if (branch == P_FAILED and target_spec.continue_failed) or (
                branch == P_ERROR and target_spec.continue_error
            ):
                continue
            phase = PHASE_OF[branch]
            assert phase is not None
            return branch, f"child '{target_spec.name}' {phase.value.lower()}"
        return P_SUCCEEDED, ""

    def _finish(self) -> None:
        plan = self.plan
        run_phase = workflow_phase_for(PHASE_OF[self.phase[plan.root]])
        message = self.messages.get(plan.root, "")
        exit_index = plan.exit_handler
        if exit_index >= 0 and self.phase[exit_index] in _FAILED_OR_ERROR and run_phase is WorkflowPhase.SUCCEEDED:
            run_phase = WorkflowPhase.FAILED
            message = "exit handler failed"
        if self.terminated is not None:
            run_phase = WorkflowPhase.FAILED
            message = self.terminated
        self.run_phase = run_phase
        self.message = message
        self.finished_at = self._now
        self._ended = True

    # -- substitution scopes ------------------------------------------------------------------------------------
    def _workflow_ref(self, key: RefKey) -> str:
        plan = self.plan
        if key[0] == "workflow.parameters":
            return plan.parameters[key[1]]
        field_name = key[1]
        if field_name == "name":
            return plan.name
        if field_name == "namespace":
            return plan.namespace
        if field_name == "uid":
            return plan.uid
        return workflow_phase_for(PHASE_OF[self.phase[plan.root]]).value  # {{workflow.status}} (onExit)

    def _task_scope(self, spec: NodeSpec, key: RefKey) -> str:
        """References in a task's arguments, ``when`` and ``withParam``: rendered in its DAG's scope."""
        head = key[0]
        if head.startswith("workflow"):
            return self._workflow_ref(key)
        if head == "item":
            return item_lookup(spec.item, key)
        if head == "inputs":
            return self.inputs[spec.boundary][key[1]]
        if head == "tasks":
            target = self.nodes[spec.boundary].task_ids[key[1]]
            if key[2] == "status":
                phase = PHASE_OF[self.phase[target]]
                return phase.value if phase else ""
            return self.results.get(target, "")
        raise SubstitutionError.at("", f"'{{{{{'.'.join(key)}}}}}' is not available here")

    def _body_scope(self, index: int, key: RefKey) -> str:
        """References in a template body (payload, timeout): the node's own inputs, the workflow, ``retries``."""
        head = key[0]
        if head.startswith("workflow"):
            return self._workflow_ref(key)
        if head == "inputs":
            return self.inputs[index][key[1]]
        if head == "retries":
            return str(self.retries.get(index, 0))
        raise SubstitutionError.at("", f"'{{{{{'.'.join(key)}}}}}' is not available here")


def _restorable(spec: NodeSpec, previous: PreviousNode) -> bool:
    """A recorded outcome is restored as is for a leaf that finished, and for any node that never ran (Skipped,
    Omitted); a DAG or loop group that ran is recomputed from its restored children, so they appear in the table.
    """
    phase = previous.phase
    if spec.step is not None:
        return phase.fulfilled
    return phase is NodePhase.SKIPPED or phase is NodePhase.OMITTED


def _parse_json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
