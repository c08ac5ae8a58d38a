"""The shared executor: one asyncio loop owns the state of every run; completions drive everything.

Why it is shaped like this:

- **No rescans.** Each node has a counter of unfinished dependencies. When a node is fulfilled the executor
  decrements its dependents' counters and its owner's (DAG or loop group) outstanding count; a node whose counter
  reaches zero is decided once (``depends`` closure, ``when``), then started. Work per node is O(its edges).
- **No task per trivial step.** A runner offering ``run_inline`` completes inside the scheduling loop; only real
  waiting (HTTP, Jobs, suspend) creates an asyncio Task. Inline work is processed in batches, then the loop yields,
  so one 50,000-node run cannot starve the others.
- **Admission is one place** (:meth:`Executor._dispatch`): runs with ready leaves are served round-robin (fair), bounded
  by a global slot count, the run's ``parallelism``, the DAG template's ``parallelism`` and named pools. Retry
  backoff and timeouts are loop timers, not sleeping tasks, and a node waiting for a retry holds no slot.
- **Status is coalesced.** Node events only mark a run dirty; the status (with the node table encoded once) is built
  at most every ``status_interval`` seconds per run and handed to the :class:`StatusSink` the controller provides.
- **Restart-safe.** A run can start from a previous node table: finished nodes keep their outcome and are not run
  again; unfinished leaves get ``NodeContext.previous`` and a stable ``node_id`` so the runner can re-attach.

The executor never imports kubernetes or kopf; blocking work goes to the thread pool it is given (or owns).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from workflows.errors import ExpressionError, RunNotFoundError, SubstitutionError, WorkflowError
from workflows.model.compiler import parse_items
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
from workflows.model.status import NodeIds, NodeTable, build_status, snapshot_run, status_from_snapshot
from workflows.model.substitution import RefKey, item_lookup
from workflows.runtime.runners import (
    NodeContext,
    NodeResult,
    RunnerRegistry,
    StepRunner,
    default_registry,
)

logger = logging.getLogger(__name__)

_READY = 0
_FAILED_OR_ERROR = (P_FAILED, P_ERROR)


class StatusSink(Protocol):
    """Implemented by the controller: persist ``status`` (already encoded) for ``run``. Called <= 1/interval."""

    async def write_status(self, run: Run, status: dict[str, Any]) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorConfig:
    max_running: int = 512  # global slots for leaf steps, across all runs
    pools: Mapping[str, int] = field(default_factory=dict)  # e.g. {"http": 64, "container": 200}
    status_interval: float = 1.0  # seconds between status writes per run; 0 in tests
    status_budget_bytes: int = 256 * 1024  # plain node list up to this size, compressed beyond
    inline_batch: int = 4096  # inline completions per loop turn before yielding to other work
    # steps a new run may start inside submit() (slots permitting), so a burst of submits does not delay every run's
    # first step until the loop turns; 0 defers everything to the pump
    eager_start: int = 4
    max_threads: int = 16  # size of the executor-owned thread pool when none is injected


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    phase: WorkflowPhase
    message: str = ""
    interrupted: bool = False  # the executor shut down before the run finished; resume it from its status


def retry_delay(
    retry: RetryStrategy | None, *, retries_done: int, phase: int, transient: bool, elapsed: float
) -> float | None:
    """Seconds to wait before the next attempt, or None when the node should not be retried (pure)."""
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


class Run:
    """One running plan: ``run_id``, ``plan``, ``wait()``, ``cancel()``, ``resume()``, ``status()``."""

    def __init__(  # noqa: PLR0915 -- flat per-run arrays, one line each
        self,
        executor: Executor,
        plan: Plan,
        run_id: str,
        previous: Mapping[str, PreviousNode] | None,
        sink: StatusSink | None,
    ) -> None:
        self.executor = executor
        self.plan = plan
        self.run_id = run_id
        self.sink = sink
        self.previous = dict(previous or {})
        self.nodes: list[NodeSpec] = list(plan.nodes)
        count = len(self.nodes)
        self.phase: list[int] = [P_NONE] * count
        self.any_succeeded = bytearray(count)
        self.all_failed = bytearray(count)
        self.waiting: list[int] = [len(spec.deps) for spec in self.nodes]
        self.outstanding: list[int] = [0] * count
        self.branch: list[int] = [P_NONE] * count
        self.started: list[float] = [0.0] * count
        self.finished: list[float] = [0.0] * count
        self.messages: dict[int, str] = {}
        self.results: dict[int, str] = {}
        self.inputs: dict[int, dict[str, str]] = {}
        self.attempts: dict[int, int] = {}
        self.children_of: dict[int, list[int]] = {}
        self.stopped: dict[int, int] = {}  # DAG boundary -> failing phase, once failFast triggered
        self.b_running: dict[int, int] = {}
        self.b_wait: dict[int, deque[int]] = {}
        self.b_counted: set[int] = set()
        self.ready: deque[int] = deque()
        self.queued = False
        self.blocked = False
        self.running_leaves = 0
        self.total_leaves = plan.leaf_count
        self.done_leaves = 0
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.timers: dict[int, asyncio.TimerHandle] = {}
        self.retry_timers: dict[int, asyncio.TimerHandle] = {}
        self.kill: dict[int, str] = {}
        self.no_retry: set[int] = set()
        self.suspended: dict[int, asyncio.Event] = {}
        self.resume_all = False
        self.resumed_names: set[str] = set()
        self.terminated: str | None = None
        self.run_exit_handler = True
        self.result: RunResult | None = None
        self.workflow_phase = WorkflowPhase.PENDING
        self.message = ""
        self.started_at = 0.0
        self.finished_at = 0.0
        self.done: asyncio.Future[RunResult] = executor.loop.create_future()
        self.dirty = False
        self.write_handle: asyncio.TimerHandle | None = None
        self.writing = False
        self.last_write = 0.0
        self.deadline_handle: asyncio.TimerHandle | None = None
        self.node_ids = NodeIds(plan.name)

    # -- public face ----------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def progress(self) -> tuple[int, int]:
        return self.done_leaves, self.total_leaves

    async def wait(self) -> RunResult:
        return await asyncio.shield(self.done)

    def cancel(self, reason: str = "cancelled", *, run_exit_handler: bool = False) -> None:
        """Terminate the run: running steps are cancelled and fail with ``reason``; nothing new starts."""
        self.executor._terminate(self, reason, run_exit_handler=run_exit_handler)

    def resume(self, node_name: str | None = None) -> int:
        """Resume suspended nodes (all, or the one named); remembered for nodes not suspended yet."""
        if node_name is None:
            self.resume_all = True
        else:
            self.resumed_names.add(node_name)
        count = 0
        for index, event in self.suspended.items():
            if node_name is None or self.nodes[index].name == node_name or self.nodes[index].display_name == node_name:
                event.set()
                count += 1
        return count

    def suspended_nodes(self) -> list[str]:
        return [self.nodes[i].name for i, event in self.suspended.items() if not event.is_set()]

    def node_table(self) -> NodeTable:
        """The created nodes as columns (what status encodes); O(nodes), call it per write, not per event."""
        return NodeTable.from_run(self)

    def status(self) -> dict[str, Any]:
        """The ``status`` body: phase, times, progress, counts, message and the node table (encoded once)."""
        return build_status(self, budget_bytes=self.executor.config.status_budget_bytes)

    async def snapshot_status(self) -> dict[str, Any]:
        """Same body as :meth:`status`, but only the snapshot (flat list copies, ~1 ms at 50k nodes) runs on the loop.

        Table building, JSON, zstd and base64 (~100 ms at 50k nodes) run on the executor's status thread, so the
        event loop -- kopf's, shared with every handler -- keeps serving while a large status is encoded.
        """
        snap = snapshot_run(self)
        encode = partial(status_from_snapshot, snap, budget_bytes=self.executor.config.status_budget_bytes)
        return await self.executor.loop.run_in_executor(self.executor.status_thread(), encode)

    def phase_of(self, name: str) -> NodePhase | None:
        for index, spec in enumerate(self.nodes):
            if spec.name == name or (spec.display_name == name and spec.boundary == self.plan.root):
                return PHASE_OF[self.phase[index]]
        return None


class Executor:
    """One per controller process (and per ``rollouts workflow run``); see the module docstring."""

    def __init__(
        self,
        *,
        registry: RunnerRegistry | None = None,
        config: ExecutorConfig | None = None,
        thread_pool: concurrent.futures.Executor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry or default_registry()
        self.config = config or ExecutorConfig()
        self._own_pool = thread_pool is None
        self.thread_pool = thread_pool or concurrent.futures.ThreadPoolExecutor(
            max_workers=self.config.max_threads, thread_name_prefix="workflows"
        )
        self.clock = clock
        self._status_thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.runs: dict[str, Run] = {}
        self._runs_ready: deque[Run] = deque()
        self._work: deque[tuple[Run, int]] = deque()
        self._running = 0
        self._pool_running: dict[str, int] = {}
        self._pool_wait: dict[str, deque[tuple[Run, int]]] = {}
        self._pump_scheduled = False
        self._pumping = False  # inside _pump or an eager start: a nested submit() must not start a second one
        self._closed = False
        self._run_blocking_bound = self._run_blocking  # one bound method, not one per launch
        self.dispatched = 0  # total leaf attempts started, for benchmarks and tests
        self.max_observed_running = 0

    def status_thread(self) -> concurrent.futures.ThreadPoolExecutor:
        """One thread for status encoding, apart from the step pool: a write never queues behind slow steps."""
        if self._status_thread is None:
            self._status_thread = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="workflows-status"
            )
        return self._status_thread

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    # -- public API -----------------------------------------------------------------------------------------------
    def submit(
        self,
        plan: Plan,
        *,
        run_id: str | None = None,
        previous: Mapping[str, PreviousNode] | None = None,
        sink: StatusSink | None = None,
    ) -> Run:
        """Start ``plan``; with ``previous`` (node name -> record) finished nodes are kept, not re-run."""
        if self._closed:
            raise WorkflowError("executor is closed")
        run_id = run_id or f"{plan.namespace}/{plan.name}/{uuid.uuid4().hex[:8]}"
        if run_id in self.runs:
            raise WorkflowError(f"run {run_id!r} is already active")
        run = Run(self, plan, run_id, previous, sink)
        self.runs[run_id] = run
        run.started_at = self.clock()
        run.workflow_phase = WorkflowPhase.RUNNING
        if plan.active_deadline_seconds is not None:
            run.deadline_handle = self.loop.call_later(
                plan.active_deadline_seconds,
                self._terminate,
                run,
                f"Max duration limit exceeded ({plan.active_deadline_seconds:g}s)",
            )
        self._mark_dirty(run)
        if self.config.eager_start > 0 and not self._pumping:
            self._start_eagerly(run)
        else:
            self._work.append((run, plan.root))
        self._schedule_pump()
        return run

    def get(self, run_id: str) -> Run:
        try:
            return self.runs[run_id]
        except KeyError:
            raise RunNotFoundError(f"no active run {run_id!r}") from None

    def resume(self, run_id: str, node_name: str | None = None) -> int:
        return self.get(run_id).resume(node_name)

    def cancel(self, run_id: str, reason: str = "cancelled") -> None:
        self.get(run_id).cancel(reason)

    async def close(self) -> None:
        """Shut down promptly: cancel every running step; unfinished runs end ``interrupted``."""
        self._closed = True
        tasks = [task for run in self.runs.values() for task in run.tasks.values()]
        for run in list(self.runs.values()):
            for handle in (*run.timers.values(), *run.retry_timers.values(), run.deadline_handle, run.write_handle):
                if handle is not None:
                    handle.cancel()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        for run in list(self.runs.values()):
            if not run.done.done():
                run.done.set_result(RunResult(phase=run.workflow_phase, message="interrupted", interrupted=True))
        self.runs.clear()
        if self._own_pool:
            self.thread_pool.shutdown(wait=False, cancel_futures=True)
        if self._status_thread is not None:
            self._status_thread.shutdown(wait=False, cancel_futures=True)

    # -- the pump ---------------------------------------------------------------------------------------------------
    def _start_eagerly(self, run: Run) -> None:
        """Decide the new run's root and admit its first ``eager_start`` steps now, inside ``submit()``.

        Without this, a burst of submits (a controller catching up after a restart, a benchmark) starts nobody until
        the loop turns and then pays for every run's decisions before anyone's first step. The slice is bounded (a
        few decisions and launches), uses the normal admission path (global slots, run/DAG parallelism, pools) and
        its own queues, so work of runs submitted earlier is not reordered; whatever is left joins the shared queues
        behind them, and round-robin fairness applies from the next pump on.
        """
        shared_work, shared_ready = self._work, self._runs_ready
        work: deque[tuple[Run, int]] = deque([(run, run.plan.root)])
        ready: deque[Run] = deque()
        self._work, self._runs_ready = work, ready
        self._pumping = True
        launches = self.config.eager_start
        decisions = 4 * launches + 8
        try:
            while decisions > 0:
                while work and decisions > 0:
                    owner, index = work.popleft()
                    decisions -= 1
                    if owner.result is None:
                        self._on_ready(owner, index)
                if not ready or launches <= 0 or work:
                    break
                launched = self._dispatch(1)
                if not launched:
                    break  # no slot (or a pool is full): the pump admits it later, in turn
                launches -= launched
        finally:
            self._work, self._runs_ready = shared_work, shared_ready
            self._pumping = False
        shared_work.extend(work)
        shared_ready.extend(ready)  # still marked queued: they belong in the shared round-robin

    def _schedule_pump(self) -> None:
        if not self._pump_scheduled and not self._closed:
            self._pump_scheduled = True
            self.loop.call_soon(self._pump)

    def _pump(self) -> None:
        self._pump_scheduled = False
        self._pumping = True
        try:
            self._pump_batch()
        finally:
            self._pumping = False

    def _pump_batch(self) -> None:
        budget = self.config.inline_batch
        work = self._work
        while budget > 0:
            while work:
                run, index = work.popleft()
                if run.result is None:
                    self._on_ready(run, index)
            if not self._runs_ready:
                return
            budget -= self._dispatch(budget)
            if not work:
                break
        if work or self._runs_ready:
            self._schedule_pump()

    def _dispatch(self, budget: int) -> int:
        """Admit ready leaves, round-robin over runs; returns how many were launched."""
        launched = 0
        runs_ready = self._runs_ready
        pools = self.config.pools
        max_running = self.config.max_running
        runner_for = self.registry.get
        work = self._work
        launch = self._launch
        while runs_ready and self._running < max_running and launched < budget:
            run = runs_ready.popleft()
            run.queued = False
            ready = run.ready
            if run.result is not None or not ready:
                continue
            limit = run.plan.parallelism
            if limit is not None and run.running_leaves >= limit:
                run.blocked = True
                continue
            index = ready.popleft()
            step = run.nodes[index].step
            assert step is not None
            runner = runner_for(step.kind)
            uses_slot = runner is None or getattr(runner, "uses_slot", True)
            pool_limit = pools.get(step.pool) if uses_slot and pools else None
            if pool_limit is not None and self._pool_running.get(step.pool, 0) >= pool_limit:
                self._pool_wait.setdefault(step.pool, deque()).append((run, index))
            else:
                launched += 1
                launch(run, index, runner, uses_slot)
            if ready and not run.queued and run.result is None:
                run.queued = True
                runs_ready.append(run)
            if work:
                break  # inline completions made new nodes ready: decide them before admitting more
        return launched

    def _enqueue_leaf(self, run: Run, index: int) -> None:
        run.phase[index] = P_PENDING
        run.ready.append(index)
        if not run.queued:
            run.queued = True
            self._runs_ready.append(run)

    # -- deciding a ready node ------------------------------------------------------------------------------------
    def _on_ready(self, run: Run, index: int) -> None:
        spec = run.nodes[index]
        if run.terminated is not None and not spec.in_exit_handler:
            self._fulfill(run, index, P_OMITTED, f"not started: {run.terminated}")
            return
        boundary = spec.boundary
        if boundary >= 0 and boundary in run.stopped:
            self._fulfill(run, index, P_OMITTED, "not started: failFast after a failure in this dag", failed=True)
            return
        if spec.depends is not None and not spec.depends(run):
            self._fulfill(run, index, P_OMITTED, "omitted: depends condition not met")
            return
        if spec.step is not None and run.previous:
            previous = run.previous.get(spec.name)
            if previous is not None and previous.phase.fulfilled:
                self._restore(run, index, previous)
                return
            if previous is not None and previous.retries:
                run.attempts[index] = previous.retries  # re-attach: continue the attempt count
        if spec.arguments or spec.input_defaults:
            try:
                inputs = dict(spec.input_defaults)
                for param, text in spec.arguments:
                    inputs[param] = text.render(partial(self._task_scope, run, spec))
            except (SubstitutionError, KeyError) as exc:
                self._fulfill(run, index, P_ERROR, f"argument substitution failed: {exc}")
                return
            run.inputs[index] = inputs
        if spec.when is not None:
            try:
                rendered = spec.when.render(partial(self._task_scope, run, spec))
                proceed = evaluate_when(rendered)
            except (SubstitutionError, ExpressionError, KeyError) as exc:
                self._fulfill(run, index, P_ERROR, f"when: {exc}")
                return
            if not proceed:
                self._fulfill(run, index, P_SKIPPED, f"when '{rendered}' evaluated false")
                return
        if boundary >= 0 and spec.type is not NodeType.TASK_GROUP and spec.hook_of < 0:
            limit = run.nodes[boundary].parallelism
            if limit is not None:
                if run.b_running.get(boundary, 0) >= limit:
                    run.phase[index] = P_PENDING
                    run.b_wait.setdefault(boundary, deque()).append(index)
                    return
                run.b_running[boundary] = run.b_running.get(boundary, 0) + 1
                run.b_counted.add(index)
        self._start(run, index)

    def _restore(self, run: Run, index: int, previous: PreviousNode) -> None:
        run.started[index] = previous.started_at or self.clock()
        if previous.result is not None:
            run.results[index] = previous.result
        if previous.retries:
            run.attempts[index] = previous.retries
        self._fulfill(run, index, CODE_OF[previous.phase], previous.message, at=previous.finished_at)

    def _start(self, run: Run, index: int) -> None:
        spec = run.nodes[index]
        run.started[index] = self.clock()
        if spec.step is not None:  # a leaf: queue it for admission (what _enqueue_leaf does, inlined: hot path)
            run.phase[index] = P_PENDING
            run.ready.append(index)
            if not run.queued:
                run.queued = True
                self._runs_ready.append(run)
            return
        run.phase[index] = P_RUNNING
        self._mark_dirty(run)
        if spec.type is NodeType.DAG:
            run.outstanding[index] = len(spec.children)
            self._work.extend((run, root) for root in spec.roots)
            return
        children: list[int] | tuple[int, ...] = spec.children
        if spec.expand is not None:
            assert spec.with_param is not None
            try:
                items = parse_items(spec.with_param.render(partial(self._task_scope, run, spec)))
            except (ValueError, SubstitutionError, KeyError) as exc:
                self._fulfill(run, index, P_ERROR, str(exc))
                return
            specs, children = spec.expand(len(run.nodes), items)
            self._extend(run, specs)
            run.children_of[index] = children
        if not children:
            self._fulfill(run, index, P_SUCCEEDED, "no items")
            return
        run.outstanding[index] = len(children)
        self._work.extend((run, child) for child in children)

    @staticmethod
    def _extend(run: Run, specs: list[NodeSpec]) -> None:
        count = len(specs)
        run.nodes.extend(specs)
        run.phase.extend([P_NONE] * count)
        run.any_succeeded.extend(bytes(count))
        run.all_failed.extend(bytes(count))
        run.waiting.extend(len(s.deps) for s in specs)
        run.outstanding.extend([0] * count)
        run.branch.extend([P_NONE] * count)
        run.started.extend([0.0] * count)
        run.finished.extend([0.0] * count)
        run.total_leaves += sum(1 for s in specs if s.step is not None)

    # -- substitution scopes ----------------------------------------------------------------------------------------
    def _workflow_ref(self, run: Run, key: RefKey) -> str:
        if key[0] == "workflow.parameters":
            return run.plan.parameters[key[1]]
        field_name = key[1]
        if field_name == "name":
            return run.plan.name
        if field_name == "namespace":
            return run.plan.namespace
        if field_name == "uid":
            return run.plan.uid
        root_phase = PHASE_OF[run.phase[run.plan.root]]
        return _workflow_phase_for(root_phase).value

    def _task_scope(self, run: Run, spec: NodeSpec, key: RefKey) -> str:
        head = key[0]
        if head.startswith("workflow"):
            return self._workflow_ref(run, key)
        if head == "item":
            return item_lookup(spec.item, key)
        if head == "inputs":
            return run.inputs[spec.boundary][key[1]]
        if head == "tasks":
            target = run.nodes[spec.boundary].task_ids[key[1]]
            if key[2] == "status":
                phase = PHASE_OF[run.phase[target]]
                return phase.value if phase else ""
            return run.results.get(target, "")
        raise SubstitutionError.at("", f"'{{{{{'.'.join(key)}}}}}' is not available here")

    def _body_scope(self, run: Run, index: int, key: RefKey) -> str:
        head = key[0]
        if head.startswith("workflow"):
            return self._workflow_ref(run, key)
        if head == "inputs":
            return run.inputs[index][key[1]]
        if head == "retries":
            return str(run.attempts.get(index, 0))
        raise SubstitutionError.at("", f"'{{{{{'.'.join(key)}}}}}' is not available here")

    # -- running a leaf -------------------------------------------------------------------------------------------
    def _launch(self, run: Run, index: int, runner: StepRunner | None, uses_slot: bool) -> None:
        spec = run.nodes[index]
        step = spec.step
        assert step is not None
        if run.terminated is not None and not spec.in_exit_handler:
            self._fulfill(run, index, P_FAILED, run.terminated)
            return
        if run.kill and index in run.kill:
            self._fulfill(run, index, P_FAILED, run.kill.pop(index))
            return
        if runner is None:
            self._fulfill(run, index, P_ERROR, f"no runner registered for kind {step.kind!r}")
            return
        attempt = run.attempts.get(index, 0) if run.attempts else 0
        renderer = step.payload
        try:
            payload = renderer.payload if not renderer.texts else renderer.render(partial(self._body_scope, run, index))
        except (SubstitutionError, KeyError) as exc:
            self._fulfill(run, index, P_ERROR, f"substitution failed: {exc}")
            return
        # the template timeout covers all attempts: armed at the first one only
        if (
            step.timeout is not None
            and attempt == 0
            and index not in run.timers
            and not self._arm_timeout(run, index, step.timeout)
        ):
            return
        if uses_slot:
            running = self._running = self._running + 1
            run.running_leaves += 1
            pool_running = self._pool_running
            pool_running[step.pool] = pool_running.get(step.pool, 0) + 1
            if running > self.max_observed_running:  # noqa: PLR1730 -- a compare, not a max() call, per launch
                self.max_observed_running = running
        self.dispatched += 1
        run.phase[index] = P_RUNNING
        previous = run.previous.get(spec.name) if run.previous else None
        resumed = None
        if spec.type is NodeType.SUSPEND:
            resumed = run.suspended.get(index) or asyncio.Event()
            run.suspended[index] = resumed
            if run.resume_all or spec.name in run.resumed_names or spec.display_name in run.resumed_names:
                resumed.set()
        plan = run.plan
        context = NodeContext(
            run_id=run.run_id,
            workflow_name=plan.name,
            namespace=plan.namespace,
            node_id=run.node_ids(spec.name),
            node_name=spec.name,
            display_name=spec.display_name,
            template_name=step.template_name,
            kind=step.kind,
            payload=payload,
            inputs=run.inputs.get(index, {}),
            attempt=attempt,
            pod=step.pod,
            service_account_name=plan.service_account_name,
            previous=previous,
            run_blocking=self._run_blocking_bound,
            resumed=resumed,
        )
        inline = getattr(runner, "run_inline", None)
        if inline is not None:
            try:
                result = inline(context)
            except Exception as exc:  # as for run(): a runner bug fails one node, not the pump (or a submit())
                logger.exception("runner %s crashed on %s", context.kind, context.node_name)
                result = NodeResult.error(f"runner crashed: {type(exc).__name__}")
            if result is not None:
                self._attempt_done(run, index, result, uses_slot)
                return
        self._mark_dirty(run)
        run.tasks[index] = self.loop.create_task(self._run_async(run, index, runner, context, uses_slot))
        if step.attempt_deadline is not None:
            run.timers[-index - 1] = self.loop.call_later(
                step.attempt_deadline,
                self._kill,
                run,
                index,
                f"activeDeadlineSeconds ({step.attempt_deadline:g}s) exceeded",
                False,  # noqa: FBT003 -- call_later forwards positionals only
            )

    def _arm_timeout(self, run: Run, index: int, timeout: Any) -> bool:
        from workflows.model.durations import parse_seconds

        try:
            seconds = (
                timeout
                if isinstance(timeout, float)
                else parse_seconds(timeout.render(partial(self._body_scope, run, index)))
            )
        except (ValueError, SubstitutionError, KeyError) as exc:
            self._fulfill(run, index, P_ERROR, f"timeout: {exc}")
            return False
        run.timers[index] = self.loop.call_later(
            seconds,
            self._kill,
            run,
            index,
            f"timeout: node did not finish within {seconds:g}s",
            True,  # noqa: FBT003
        )
        return True

    async def _run_blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.loop.run_in_executor(self.thread_pool, fn, *args)

    async def _run_async(self, run: Run, index: int, runner: StepRunner, context: NodeContext, uses_slot: bool) -> None:
        try:
            result = await runner.run(context)
        except asyncio.CancelledError:
            reason = run.kill.pop(index, None)
            if reason is None:
                raise  # executor shutdown: leave the node as it is, a restart re-attaches
            result = NodeResult.failed(reason)
        except Exception as exc:  # a runner bug must fail one node, not the executor
            logger.exception("runner %s crashed on %s", context.kind, context.node_name)
            result = NodeResult.error(f"runner crashed: {type(exc).__name__}")
        run.tasks.pop(index, None)
        self._attempt_done(run, index, result, uses_slot)
        self._schedule_pump()

    def _kill(self, run: Run, index: int, reason: str, final: bool) -> None:
        """Timeout/deadline/termination of one node: cancel its attempt (or its pending retry)."""
        if run.phase[index] >= P_SUCCEEDED:
            return
        if final:
            run.no_retry.add(index)
        task = run.tasks.get(index)
        if task is not None:
            run.kill[index] = reason
            task.cancel()
            return
        handle = run.retry_timers.pop(index, None)
        if handle is not None:
            handle.cancel()
            self._fulfill(run, index, P_FAILED, reason)
            self._schedule_pump()
            return
        if final:
            run.kill[index] = reason  # still queued: failed when it reaches admission

    def _attempt_done(self, run: Run, index: int, result: NodeResult, uses_slot: bool) -> None:
        step = run.nodes[index].step
        assert step is not None
        if uses_slot:
            self._running -= 1
            run.running_leaves -= 1
            self._pool_running[step.pool] -= 1
            if run.blocked or self._pool_wait:
                self._release(run, step.pool)
        timers = run.timers
        if timers:
            attempt_timer = timers.pop(-index - 1, None)
            if attempt_timer is not None:
                attempt_timer.cancel()
        if result.result is not None:
            run.results[index] = result.result
        code = CODE_OF[result.phase]
        if code in _FAILED_OR_ERROR and index not in run.no_retry and run.terminated is None:
            retries = run.attempts.get(index, 0)
            delay = retry_delay(
                step.retry,
                retries_done=retries,
                phase=code,
                transient=result.transient,
                elapsed=self.clock() - run.started[index],
            )
            if delay is not None:
                run.attempts[index] = retries + 1
                if result.message:
                    run.messages[index] = result.message
                self._mark_dirty(run)
                if delay <= 0:
                    self._requeue(run, index)
                else:
                    run.retry_timers[index] = self.loop.call_later(delay, self._requeue, run, index)
                return
        if timers:
            timer = timers.pop(index, None)
            if timer is not None:
                timer.cancel()
        if run.suspended:
            run.suspended.pop(index, None)
        self._fulfill(run, index, code, result.message)

    def _requeue(self, run: Run, index: int) -> None:
        run.retry_timers.pop(index, None)
        if run.result is None and run.phase[index] < P_SUCCEEDED:
            run.ready.append(index)
            if not run.queued:
                run.queued = True
                self._runs_ready.append(run)
            self._schedule_pump()

    def _release(self, run: Run, pool: str) -> None:
        if run.blocked:
            run.blocked = False
            if run.ready and not run.queued:
                run.queued = True
                self._runs_ready.append(run)
        waiters = self._pool_wait.get(pool)
        if waiters:
            waiting_run, waiting_index = waiters.popleft()
            waiting_run.ready.appendleft(waiting_index)
            if not waiting_run.queued:
                waiting_run.queued = True
                self._runs_ready.appendleft(waiting_run)

    # -- completion ---------------------------------------------------------------------------------------------------
    def _fulfill(
        self, run: Run, index: int, code: int, message: str = "", *, failed: bool = False, at: float | None = None
    ) -> None:
        spec = run.nodes[index]
        now = at or self.clock()
        run.phase[index] = code
        run.finished[index] = now
        if not run.started[index]:
            run.started[index] = now
        if message:
            run.messages[index] = message
        if code == P_OMITTED:
            branch = P_FAILED if failed else P_SUCCEEDED
            if not failed:
                for dep in spec.deps:
                    if run.branch[dep] in _FAILED_OR_ERROR:
                        branch = run.branch[dep]
                        break
            run.branch[index] = branch
        else:
            run.branch[index] = code
        if spec.step is not None:
            run.done_leaves += 1
        boundary = spec.boundary
        if run.b_counted and index in run.b_counted:
            run.b_counted.discard(index)
            run.b_running[boundary] -= 1
            waiters = run.b_wait.get(boundary)
            if waiters:
                nxt = waiters.popleft()
                run.b_running[boundary] += 1
                run.b_counted.add(nxt)
                self._start(run, nxt)
        if (
            code in _FAILED_OR_ERROR
            and boundary >= 0
            and spec.owner == boundary
            and spec.hook_of < 0
            and not spec.handled_failure
            and not (code == P_FAILED and spec.continue_failed)
            and not (code == P_ERROR and spec.continue_error)
            and run.nodes[boundary].fail_fast
            and boundary not in run.stopped
        ):
            run.stopped[boundary] = code
        if not run.dirty and run.sink is not None:  # _mark_dirty's own early return, checked before the call
            self._mark_dirty(run)
        if spec.hook >= 0:
            self._work.append((run, spec.hook))  # the task's onExit runs before its dependents proceed
            return
        if spec.hook_of >= 0:
            self._propagate(run, index)  # the hook itself counts toward its DAG
            self._propagate(run, spec.hook_of)
            return
        self._propagate(run, index)

    def _propagate(self, run: Run, index: int) -> None:
        spec = run.nodes[index]
        waiting = run.waiting
        work = self._work
        for dependent in spec.dependents:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                work.append((run, dependent))
        owner = spec.owner
        if owner >= 0:
            run.outstanding[owner] -= 1
            if run.outstanding[owner] == 0:
                self._complete_container(run, owner)
        elif index == run.plan.root:
            if run.plan.exit_handler >= 0 and (run.terminated is None or run.run_exit_handler):
                work.append((run, run.plan.exit_handler))
            else:
                self._finish(run)
        elif index == run.plan.exit_handler:
            self._finish(run)

    def _complete_container(self, run: Run, index: int) -> None:
        spec = run.nodes[index]
        message = ""
        if spec.type is NodeType.DAG:
            code = run.stopped.get(index, P_SUCCEEDED)
            if code == P_SUCCEEDED:
                for target in spec.targets:
                    branch = run.branch[target]
                    if branch in _FAILED_OR_ERROR:
                        target_spec = run.nodes[target]
                        if (branch == P_FAILED and target_spec.continue_failed) or (
                            branch == P_ERROR and target_spec.continue_error
                        ):
                            continue
                        code = branch
                        message = f"child '{target_spec.name}' {PHASE_OF[branch].value.lower()}"  # type: ignore[union-attr]
                        break
            else:
                message = "failFast: a task failed, no new tasks were started"
            self._fulfill(run, index, code, message)
            return
        children = run.children_of.get(index) or spec.children
        code = P_SUCCEEDED
        any_ok = False
        all_failed = True
        results = []
        for child in children:
            phase = run.phase[child]
            any_ok = any_ok or phase == P_SUCCEEDED
            all_failed = all_failed and phase == P_FAILED
            if phase in _FAILED_OR_ERROR:
                code = phase
            results.append(run.results.get(child))
        run.any_succeeded[index] = any_ok
        run.all_failed[index] = all_failed and bool(children)
        if any(r is not None for r in results):
            run.results[index] = json.dumps([_parse_json(r) for r in results])
        self._fulfill(run, index, code, "child failed" if code != P_SUCCEEDED else "")

    def _finish(self, run: Run) -> None:
        root_phase = _workflow_phase_for(PHASE_OF[run.phase[run.plan.root]])
        message = run.messages.get(run.plan.root, "")
        exit_index = run.plan.exit_handler
        if exit_index >= 0 and run.phase[exit_index] in _FAILED_OR_ERROR and root_phase is WorkflowPhase.SUCCEEDED:
            root_phase = WorkflowPhase.FAILED
            message = "exit handler failed"
        if run.terminated is not None:
            root_phase = WorkflowPhase.FAILED
            message = run.terminated
        run.workflow_phase = root_phase
        run.message = message
        run.finished_at = self.clock()
        run.result = RunResult(phase=root_phase, message=message)
        if run.deadline_handle is not None:
            run.deadline_handle.cancel()
        self.runs.pop(run.run_id, None)
        if run.sink is not None:
            if run.write_handle is not None:
                run.write_handle.cancel()
                run.write_handle = None
            run.dirty = True
            self.loop.create_task(self._write(run, final=True))
        elif not run.done.done():
            run.done.set_result(run.result)

    def _terminate(self, run: Run, reason: str, *, run_exit_handler: bool = True) -> None:
        if run.result is not None or run.terminated is not None:
            return
        run.terminated = reason
        run.run_exit_handler = run_exit_handler
        for index in [*run.tasks, *run.retry_timers]:
            self._kill(run, index, reason, final=True)
        for waiters in run.b_wait.values():
            while waiters:
                index = waiters.popleft()
                self._fulfill(run, index, P_OMITTED, f"not started: {reason}")
        for index, event in list(run.suspended.items()):
            if index not in run.tasks:
                event.set()
        self._schedule_pump()

    # -- status writes ----------------------------------------------------------------------------------------------
    def _mark_dirty(self, run: Run) -> None:
        if run.dirty or run.sink is None:
            return
        run.dirty = True
        if run.write_handle is None and not run.writing:
            delay = max(0.0, run.last_write + self.config.status_interval - time.monotonic())
            run.write_handle = self.loop.call_later(delay, self._start_write, run)

    def _start_write(self, run: Run) -> None:
        run.write_handle = None
        if not run.writing:
            self.loop.create_task(self._write(run, final=False))

    async def _write(self, run: Run, *, final: bool) -> None:
        while run.writing:
            await asyncio.sleep(0)
            if not final:
                return
        run.writing = True
        try:
            run.dirty = False
            status = await self._encode_status(run)
            run.last_write = time.monotonic()
            assert run.sink is not None
            try:
                await run.sink.write_status(run, status)
            except Exception:
                logger.exception("status write for %s failed", run.run_id)
        finally:
            run.writing = False
        if final:
            if not run.done.done():
                assert run.result is not None
                run.done.set_result(run.result)
        elif run.dirty and run.result is None:
            run.dirty = False
            self._mark_dirty(run)

    @staticmethod
    async def _encode_status(run: Run) -> dict[str, Any]:
        """Encode off the loop; if the status thread is gone (``close()`` raced a write), encode here instead."""
        try:
            return await run.snapshot_status()
        except RuntimeError:  # executor shut down: cannot schedule new futures
            return run.status()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the write itself is being cancelled
            return run.status()  # only the encoding future was cancelled (status thread shut down)


def _parse_json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _workflow_phase_for(phase: NodePhase | None) -> WorkflowPhase:
    if phase is NodePhase.SUCCEEDED or phase is NodePhase.SKIPPED:
        return WorkflowPhase.SUCCEEDED
    if phase is NodePhase.ERROR:
        return WorkflowPhase.ERROR
    if phase in (NodePhase.FAILED, NodePhase.OMITTED):
        return WorkflowPhase.FAILED
    return WorkflowPhase.RUNNING
