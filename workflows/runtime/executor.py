"""The shared executor: the asyncio driver of every run's :class:`~workflows.model.scheduler.Scheduler`.

What it owns, and nothing else: admission, launching runners, timers, cancellation and status writes. Every decision
about a run's nodes (what is ready, ``depends``/``when``/failFast, loops, hooks, retries, phases) is the pure
scheduler's; this module asks it and acts. One asyncio loop owns the state of every run, so there are no locks.

Why it is shaped like this:

- **Admission is one place** (:meth:`Executor._dispatch`): runs with ready leaves are served round-robin (fair),
  bounded by a global slot count, the run's ``parallelism`` and named pools (DAG-template ``parallelism`` is decided
  by the scheduler). A node waiting for a retry or for its next period holds no slot.
- **No task per trivial step.** A runner offering ``run_inline`` completes inside the admission loop; only real
  waiting (HTTP, Jobs, suspend) creates an asyncio Task. Inline work is processed in batches, then the loop yields,
  so one 50,000-node run cannot starve the others.
- **Timers, not sleeping tasks**: template timeouts, per-attempt deadlines, retry backoff, periodic re-runs and the
  run's ``activeDeadlineSeconds`` are ``loop.call_later`` handles.
- **Status is coalesced.** Node events only mark a run dirty; the status body (the node table encoded once, off the
  loop, or whatever the sink composes) is built at most every ``status_interval`` seconds per run and handed to the
  :class:`StatusSink`; the final write is immediate and never overtaken by an older one.
- **Restart-safe.** A run can start from a previous node table (the scheduler restores finished nodes); unfinished
  leaves get ``NodeContext.previous`` and a stable ``node_id`` so the runner can re-attach.

It never imports kubernetes or kopf, and never blocks the loop: blocking work goes to the thread pool it is given
(or owns), status encoding to its own status thread.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import concurrent.futures
import contextvars
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import Any, Protocol

from workflows.errors import RunNotFoundError, WorkflowError
from workflows.model.phases import (
    CODE_OF,
    P_ERROR,
    P_FAILED,
    P_PENDING,
    P_SUCCEEDED,
    PHASE_OF,
    NodePhase,
    NodeType,
    WorkflowPhase,
)
from workflows.model.plan import NodeSpec, Plan, PreviousNode
from workflows.model.scheduler import NOT_STARTED, Scheduler
from workflows.model.status import NodeIds, NodeTable, status_from_snapshot
from workflows.runtime.runners import (
    NodeContext,
    NodeResult,
    RunnerRegistry,
    StepRunner,
    default_registry,
)

__all__ = [
    "ADMISSION_BUCKETS",
    "AdmissionLatency",
    "ComposingStatusSink",
    "Executor",
    "ExecutorConfig",
    "ExecutorStats",
    "Run",
    "RunResult",
    "StatusSink",
]

logger = logging.getLogger(__name__)

_NO_INPUTS: Mapping[str, str] = MappingProxyType({})


class StatusSink(Protocol):
    """Implemented by the controller: persist ``status`` for ``run``. Called at most once per ``status_interval``.

    ``status`` is the workflow status body (phase, times, progress, counts and the node table, encoded once per
    write) -- unless the sink also has a ``compose(run) -> Mapping[str, Any]`` method (:class:`ComposingStatusSink`):
    then that is called on the event loop at write time and its body is written instead (an AnalysisRun writes its
    own Argo-shaped status this way, with the executor's coalescing).
    """

    async def write_status(self, run: Run, status: dict[str, Any]) -> None: ...


class ComposingStatusSink(StatusSink, Protocol):
    """A sink that builds its own status body (on the loop, when a write happens) instead of the node table."""

    def compose(self, run: Run) -> Mapping[str, Any]: ...


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


#: Upper bounds (seconds) of the admission-latency buckets: from a leaf being ready to its first attempt starting.
ADMISSION_BUCKETS: tuple[float, ...] = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0)


class AdmissionLatency:
    """How long leaves waited between becoming ready and their first attempt starting (the admission queue's
    latency), as histogram counts: ``counts[i]`` observations at most ``bounds[i]`` and above the bound before it,
    the last one above every bound. Retries and periodic re-runs are not counted (they wait on purpose).

    Written on the loop only; read from any thread (a scrape) without a lock: the fields are numbers, and a reader
    that races a write sees one observation not yet counted everywhere, never a count going back.
    """

    __slots__ = ("bounds", "count", "counts", "total_seconds")

    def __init__(self, bounds: tuple[float, ...] = ADMISSION_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.total_seconds = 0.0

    def observe(self, seconds: float) -> None:
        seconds = max(seconds, 0.0)
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.count += 1
        self.total_seconds += seconds


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorStats:
    """One look at the executor for /metrics, taken from any thread (see :meth:`Executor.stats`)."""

    runs: int  # runs in progress
    running: int  # leaf attempts holding a slot
    slots: int  # the global slot count (``max_running``)
    waiting: int  # leaves ready and waiting for admission (a slot, their run's parallelism or their pool)
    blocking_queued: int  # blocking calls waiting for a thread of the executor's pool (-1: not known)
    #: (kind of the run's owner -- ``Workflow``, ``AnalysisRun``, or "" for a run nothing owns -- , node phase) ->
    #: nodes of the runs in progress
    nodes: Mapping[tuple[str, str], int]
    admission: AdmissionLatency


class Run:
    """One running plan: its scheduler (the decisions) plus the driver's bookkeeping (tasks, timers, writes)."""

    def __init__(
        self,
        executor: Executor,
        plan: Plan,
        run_id: str,
        *,
        previous: Mapping[str, PreviousNode] | None,
        sink: StatusSink | None,
        states: Mapping[str, object] | None,
        owner: Mapping[str, Any] | None = None,
    ) -> None:
        self.executor = executor
        self.plan = plan
        self.run_id = run_id
        self.sink = sink
        self.owner = owner  # handed to runners (NodeContext.owner): what owns the objects the run's steps create
        self.recorder = partial(executor._record_state, self)  # one per run, not one per launch
        # The context of the code that submitted the run: its steps, status writes and their blocking calls run in a
        # copy of it (not in whichever task happened to wake the pump), so context variables such as the log fields
        # naming an AnalysisRun follow the run.
        self.context = contextvars.copy_context()
        self.scheduler = Scheduler(plan, previous=previous, states=states)
        self.nodes: list[NodeSpec] = self.scheduler.nodes  # the same list, extended in place by the scheduler
        self.ready: deque[int] = self.scheduler.ready()  # the scheduler's admission queue (one deque per run)
        self.node_ids = NodeIds(plan.name)
        # admission
        self.queued = False  # in the executor's round-robin of runs with ready leaves
        self.blocked = False  # at its own ``parallelism``: re-queued when one of its steps ends
        self.running_leaves = 0
        # running attempts and their timers
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.timeouts: dict[int, asyncio.TimerHandle] = {}  # template timeout: all attempts of a node
        self.attempt_deadlines: dict[int, asyncio.TimerHandle] = {}  # activeDeadlineSeconds: one attempt
        self.wait_timers: dict[int, asyncio.TimerHandle] = {}  # retry backoff or the next period
        self.kill_reasons: dict[int, str] = {}  # why a running attempt was cancelled (None there: shutdown)
        self.no_retry: set[int] = set()  # nodes whose timeout fired: their attempt's failure is final
        self.deadline_handle: asyncio.TimerHandle | None = None
        # suspend nodes
        self.suspended: dict[int, asyncio.Event] = {}
        self.resume_all = False
        self.resumed_names: set[str] = set()
        # the end and the status writes
        self.result: RunResult | None = None
        self.done: asyncio.Future[RunResult] = executor.loop.create_future()
        self.dirty = False
        self.write_handle: asyncio.TimerHandle | None = None
        self.writing = False
        self.write_idle = asyncio.Event()  # set while no write is in flight: the final write waits on it
        self.write_idle.set()
        self.last_write = float("-inf")  # loop time of the last write

    # -- public face ----------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def progress(self) -> tuple[int, int]:
        return self.scheduler.done_leaves, self.scheduler.total_leaves

    @property
    def workflow_phase(self) -> WorkflowPhase:
        return self.scheduler.run_phase

    @property
    def message(self) -> str:
        return self.scheduler.message

    @property
    def started_at(self) -> float:
        return self.scheduler.started_at

    @property
    def finished_at(self) -> float:
        return self.scheduler.finished_at

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
        return NodeTable.from_snapshot(self.scheduler.snapshot())

    def status(self) -> dict[str, Any]:
        """The ``status`` body: phase, times, progress, counts, message and the node table (encoded once)."""
        return status_from_snapshot(self.scheduler.snapshot(), budget_bytes=self.executor.config.status_budget_bytes)

    async def snapshot_status(self) -> dict[str, Any]:
        """Same body as :meth:`status`, but only the snapshot (flat list copies, ~1 ms at 50k nodes) runs on the loop.

        Table building, JSON, zstd and base64 (~100 ms at 50k nodes) run on the executor's status thread, so the
        event loop -- kopf's, shared with every handler -- keeps serving while a large status is encoded.
        """
        snap = self.scheduler.snapshot()
        encode = partial(status_from_snapshot, snap, budget_bytes=self.executor.config.status_budget_bytes)
        return await self.executor.loop.run_in_executor(self.executor.status_thread(), encode)

    def phase_of(self, name: str) -> NodePhase | None:
        return self.scheduler.phase_of(name)

    def state_of(self, name: str) -> object:
        """The last state of a node (seeded at submit, or left by its last attempt); None if it has none."""
        return self.scheduler.state_of(name)

    def states(self) -> dict[str, object]:
        """Node name -> last state, for every node that has one (persist it to restart periodic nodes)."""
        return self.scheduler.states_by_name()


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
        self._running = 0
        self._pool_running: dict[str, int] = {}
        self._pool_wait: dict[str, deque[tuple[Run, int]]] = {}
        self._pump_scheduled = False
        self._pumping = False  # inside _pump or an eager start: a nested submit() must not start a second one
        self._closed = False
        self._run_blocking_bound = self._run_blocking  # one bound method, not one per launch
        self.dispatched = 0  # total leaf attempts started, for benchmarks and tests
        self.max_observed_running = 0
        self.admission = AdmissionLatency()

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
        states: Mapping[str, object] | None = None,
        owner: Mapping[str, Any] | None = None,
    ) -> Run:
        """Start ``plan``. ``previous`` (node name -> record): finished nodes are kept, not re-run. ``states`` (node
        name -> object): initial ``NodeContext.state`` of periodic nodes, e.g. what a previous controller persisted.
        ``owner``: the ownerReference of the objects the run's steps create (``NodeContext.owner``).
        """
        if self._closed:
            raise WorkflowError("executor is closed")
        run_id = run_id or f"{plan.namespace}/{plan.name}/{uuid.uuid4().hex[:8]}"
        if run_id in self.runs:
            raise WorkflowError(f"run {run_id!r} is already active")
        run = Run(self, plan, run_id, previous=previous, sink=sink, states=states, owner=owner)
        self.runs[run_id] = run
        if plan.active_deadline_seconds is not None:
            run.deadline_handle = self.loop.call_later(
                plan.active_deadline_seconds,
                self._terminate,
                run,
                f"Max duration limit exceeded ({plan.active_deadline_seconds:g}s)",
            )
        self._mark_dirty(run)
        run.scheduler.start(self.clock())
        if self.config.eager_start > 0 and not self._pumping and run.ready:
            self._start_eagerly(run)
        self._settle(run)
        self._schedule_pump()
        return run

    def stats(self) -> ExecutorStats:
        """Counts for /metrics, from any thread: the loop changes the runs meanwhile, so containers are copied first
        (one C-level call each, under the GIL) and a copy that raced a resize is taken again."""
        for _ in range(5):
            try:
                runs = list(self.runs.values())
                pool_waits = list(self._pool_wait.values())
                break
            except RuntimeError:  # changed size during the copy
                continue
        else:
            runs, pool_waits = [], []
        nodes: collections.Counter[tuple[str, str]] = collections.Counter()
        waiting = sum(len(waits) for waits in pool_waits)
        for run in runs:
            waiting += len(run.ready)
            kind = str((run.owner or {}).get("kind") or "")
            for code, count in collections.Counter(run.scheduler.phase.copy()).items():
                phase = PHASE_OF[code]
                if phase is not None:
                    nodes[kind, phase.value] += count
        work_queue = getattr(self.thread_pool, "_work_queue", None)  # a ThreadPoolExecutor's queue of calls
        return ExecutorStats(
            runs=len(runs),
            running=self._running,
            slots=self.config.max_running,
            waiting=waiting,
            blocking_queued=work_queue.qsize() if work_queue is not None else -1,
            nodes=dict(nodes),
            admission=self.admission,
        )

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
            self._cancel_timers(run)
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

    # -- admission ----------------------------------------------------------------------------------------------
    def _start_eagerly(self, run: Run) -> None:
        """Admit the new run's first ``eager_start`` steps now, inside ``submit()``.

        Without this, a burst of submits (a controller catching up after a restart, a benchmark) starts nobody until
        the loop turns and then serves every run's first step at once. The slice is bounded, uses the normal admission
        path (global slots, run parallelism, pools) with its own round-robin queue, so runs submitted earlier are not
        reordered; whatever is left joins the shared round-robin, where fairness applies from the next pump on.
        """
        shared = self._runs_ready
        own: deque[Run] = deque([run])
        run.queued = True
        self._runs_ready = own
        self._pumping = True
        try:
            self._dispatch(self.config.eager_start)
        finally:
            self._runs_ready = shared
            self._pumping = False
        shared.extend(own)  # still marked queued: they belong in the shared round-robin

    def _schedule_pump(self) -> None:
        if not self._pump_scheduled and not self._closed:
            self._pump_scheduled = True
            self.loop.call_soon(self._pump)

    def _pump(self) -> None:
        self._pump_scheduled = False
        self._pumping = True
        try:
            self._dispatch(self.config.inline_batch)
        finally:
            self._pumping = False
        if self._runs_ready and self._running < self.config.max_running:
            self._schedule_pump()  # the batch is spent: yield to the loop, then go on

    def _dispatch(self, budget: int) -> int:
        """Admit ready leaves, round-robin over runs; returns how many were launched."""
        launched = 0
        runs_ready = self._runs_ready
        pools = self.config.pools
        max_running = self.config.max_running
        runner_for = self.registry.get
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
            spec = run.nodes[index]
            step = spec.step
            assert step is not None
            runner = runner_for(step.kind)
            uses_slot = runner is None or getattr(runner, "uses_slot", True)
            pool_limit = pools.get(step.pool) if uses_slot and pools else None
            if pool_limit is not None and self._pool_running.get(step.pool, 0) >= pool_limit:
                self._pool_wait.setdefault(step.pool, deque()).append((run, index))
            else:
                launched += 1
                launch(run, index, spec, runner, uses_slot)
            if ready and not run.queued and run.result is None:
                run.queued = True
                runs_ready.append(run)
        return launched

    def _release(self, run: Run, pool: str) -> None:
        """A slot of ``run`` and of ``pool`` came free: unblock the run, hand the pool's slot to its first waiter."""
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

    def _settle(self, run: Run) -> None:
        """After the scheduler changed ``run``: queue it for admission, mark its status dirty, finish it if it ended."""
        if run.result is not None:
            return
        if run.ready and not run.queued:
            run.queued = True
            self._runs_ready.append(run)
        if not run.dirty and run.sink is not None:
            self._mark_dirty(run)
        if not run.scheduler.is_active():
            self._finish(run)

    # -- running a leaf -------------------------------------------------------------------------------------------
    def _launch(self, run: Run, index: int, spec: NodeSpec, runner: StepRunner | None, uses_slot: bool) -> None:
        scheduler = run.scheduler
        now = self.clock()
        first = scheduler.phase[index] == P_PENDING  # a first attempt (a retry or a next period is Running)
        payload = scheduler.begin(index, now)
        if payload is NOT_STARTED:  # terminated meanwhile, or the payload could not be rendered
            self._settle(run)
            return
        if first:
            self.admission.observe(now - scheduler.started[index])  # started: when the scheduler made it ready
        if run.kill_reasons and index in run.kill_reasons:  # its timeout fired while it waited for admission
            scheduler.done(index, P_FAILED, message=run.kill_reasons.pop(index), now=now, final=True)
            self._settle(run)
            return
        step = spec.step
        assert step is not None
        if runner is None:
            scheduler.done(index, P_ERROR, message=f"no runner registered for kind {step.kind!r}", now=now, final=True)
            self._settle(run)
            return
        # the template timeout covers all attempts (and periods): armed at the first one only
        if step.timeout is not None and index not in run.timeouts:
            seconds = scheduler.timeout_seconds(index)
            if seconds is not None:
                run.timeouts[index] = self.loop.call_later(
                    seconds,
                    self._kill,
                    run,
                    index,
                    f"timeout: node did not finish within {seconds:g}s",
                    True,  # noqa: FBT003 -- call_later forwards positionals only
                )
        if uses_slot:
            running = self._running = self._running + 1
            run.running_leaves += 1
            pool_running = self._pool_running
            pool_running[step.pool] = pool_running.get(step.pool, 0) + 1
            if running > self.max_observed_running:  # noqa: PLR1730 -- a compare, not a max() call, per launch
                self.max_observed_running = running
        self.dispatched += 1
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
            inputs=scheduler.inputs.get(index, _NO_INPUTS) if scheduler.inputs else _NO_INPUTS,
            attempt=scheduler.retries.get(index, 0) if scheduler.retries else 0,
            pod=step.pod,
            service_account_name=plan.service_account_name,
            previous=scheduler.previous.get(spec.name) if scheduler.previous else None,
            run_blocking=self._run_blocking_bound,
            resumed=resumed,
            state=scheduler.states.get(index) if scheduler.states else None,
            owner=run.owner,
            recorder=run.recorder,
        )
        inline = getattr(runner, "run_inline", None)
        if inline is not None:
            try:
                result = inline(context)
            except Exception as exc:  # as for run(): a runner bug fails one node, not the pump (or a submit())
                logger.exception("runner %s crashed on %s", context.kind, context.node_name)
                result = NodeResult.error(f"runner crashed: {type(exc).__name__}")
            if result is not None:
                self._attempt_done(run, index, result, uses_slot, now)
                return
        if run.sink is not None and not run.dirty:
            self._mark_dirty(run)
        run.tasks[index] = self.loop.create_task(
            self._run_async(run, index, runner, context, uses_slot), context=run.context.copy()
        )
        if step.attempt_deadline is not None:
            run.attempt_deadlines[index] = self.loop.call_later(
                step.attempt_deadline,
                self._kill,
                run,
                index,
                f"activeDeadlineSeconds ({step.attempt_deadline:g}s) exceeded",
                False,  # noqa: FBT003 -- call_later forwards positionals only
            )

    async def _run_blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        # in the calling task's context, as asyncio.to_thread does (run_in_executor alone would drop it)
        return await self.loop.run_in_executor(self.thread_pool, contextvars.copy_context().run, fn, *args)

    async def _run_async(self, run: Run, index: int, runner: StepRunner, context: NodeContext, uses_slot: bool) -> None:
        try:
            result = await runner.run(context)
        except asyncio.CancelledError:
            reason = run.kill_reasons.pop(index, None)
            if reason is None:
                raise  # executor shutdown: leave the node as it is, a restart re-attaches
            result = NodeResult.failed(reason)
        except Exception as exc:  # a runner bug must fail one node, not the executor
            logger.exception("runner %s crashed on %s", context.kind, context.node_name)
            result = NodeResult.error(f"runner crashed: {type(exc).__name__}")
        run.tasks.pop(index, None)
        self._attempt_done(run, index, result, uses_slot, self.clock())
        self._schedule_pump()

    def _attempt_done(self, run: Run, index: int, result: NodeResult, uses_slot: bool, now: float) -> None:
        """An attempt ended: free its slot, then the scheduler decides (fulfilled, retry, or again later)."""
        if uses_slot:
            pool = run.nodes[index].step.pool  # type: ignore[union-attr]
            self._running -= 1
            run.running_leaves -= 1
            self._pool_running[pool] -= 1
            if run.blocked or self._pool_wait:
                self._release(run, pool)
        if run.attempt_deadlines:
            deadline = run.attempt_deadlines.pop(index, None)
            if deadline is not None:
                deadline.cancel()
        scheduler = run.scheduler
        code = CODE_OF[result.phase]
        if code < P_SUCCEEDED:  # not finished: a periodic node asking to run again (anything else is a runner bug)
            if result.again_after is not None:
                if scheduler.again(index, state=result.state, message=result.message, now=now):
                    self._wait(run, index, result.again_after)
                    return
                self._node_ended(run, index)
                self._settle(run)
                return
            code = P_ERROR
            result = NodeResult.error(f"runner returned phase {result.phase.value} without again()")
        delay = scheduler.done(
            index,
            code,
            message=result.message,
            result=result.result,
            now=now,
            transient=result.transient,
            final=result.stop_run or (index in run.no_retry if run.no_retry else False),
            state=result.state,
        )
        if delay is not None:  # retried: the backoff holds no slot
            self._wait(run, index, delay)
            return
        if run.timeouts or run.suspended:
            self._node_ended(run, index)
        if result.stop_run:
            self._terminate(run, result.message or f"stopped by {run.nodes[index].name}")
        # _settle(run), inlined: this is the per-node hot path
        if run.result is None:
            if run.ready and not run.queued:
                run.queued = True
                self._runs_ready.append(run)
            if not run.dirty and run.sink is not None:
                self._mark_dirty(run)
            if scheduler.run_phase is not WorkflowPhase.RUNNING:  # not scheduler.is_active(), without the call
                self._finish(run)

    def _record_state(self, run: Run, node_name: str, state: object) -> None:
        """A running attempt's checkpoint (``NodeContext.checkpoint``): kept and written like any other change."""
        if run.result is None and run.scheduler.record_state(node_name, state):
            self._mark_dirty(run)

    def _wait(self, run: Run, index: int, delay: float) -> None:
        """The node waits ``delay`` seconds (retry backoff or next period) holding nothing, then is admitted again."""
        if run.sink is not None and not run.dirty:
            self._mark_dirty(run)
        if delay <= 0:
            self._requeue(run, index)
        else:
            run.wait_timers[index] = self.loop.call_later(delay, self._requeue, run, index)

    def _node_ended(self, run: Run, index: int) -> None:
        if run.timeouts:
            timeout = run.timeouts.pop(index, None)
            if timeout is not None:
                timeout.cancel()
        if run.suspended:
            run.suspended.pop(index, None)

    def _requeue(self, run: Run, index: int) -> None:
        run.wait_timers.pop(index, None)
        if run.result is None and run.scheduler.requeue(index):
            if not run.queued:
                run.queued = True
                self._runs_ready.append(run)
            self._schedule_pump()

    def _kill(self, run: Run, index: int, reason: str, final: bool) -> None:
        """Timeout/deadline/termination of one node: cancel its attempt (or end it while it waits)."""
        scheduler = run.scheduler
        if run.result is not None or scheduler.phase[index] >= P_SUCCEEDED:
            return
        if final:
            run.no_retry.add(index)
        task = run.tasks.get(index)
        if task is not None:
            run.kill_reasons[index] = reason
            task.cancel()
            return
        handle = run.wait_timers.pop(index, None)
        if handle is not None:
            handle.cancel()
            scheduler.done(index, P_FAILED, message=reason, now=self.clock(), final=True)
            self._node_ended(run, index)
            self._settle(run)
            self._schedule_pump()
            return
        if final:
            run.kill_reasons[index] = reason  # still queued: failed when it reaches admission

    def _terminate(self, run: Run, reason: str, *, run_exit_handler: bool = True) -> None:
        """End the run: running attempts are cancelled (they fail with ``reason``), the scheduler starts nothing new."""
        scheduler = run.scheduler
        if run.result is not None or scheduler.terminated is not None:
            return
        for index in list(run.tasks):
            self._kill(run, index, reason, final=True)
        scheduler.terminate(reason, self.clock(), run_exit_handler=run_exit_handler)
        for index in [i for i in run.wait_timers if not scheduler.is_waiting(i)]:
            run.wait_timers.pop(index).cancel()  # ended by the termination
            self._node_ended(run, index)
        for index, event in list(run.suspended.items()):
            if index not in run.tasks:
                event.set()
        self._settle(run)
        self._schedule_pump()

    def _finish(self, run: Run) -> None:
        scheduler = run.scheduler
        run.result = RunResult(phase=scheduler.run_phase, message=scheduler.message)
        self._cancel_timers(run)
        self.runs.pop(run.run_id, None)
        if run.sink is not None:
            if run.write_handle is not None:
                run.write_handle.cancel()
                run.write_handle = None
            run.dirty = True
            self.loop.create_task(self._write(run, final=True), context=run.context.copy())
        elif not run.done.done():
            run.done.set_result(run.result)

    @staticmethod
    def _cancel_timers(run: Run) -> None:
        for timers in (run.timeouts, run.attempt_deadlines, run.wait_timers):
            for handle in timers.values():
                handle.cancel()
            timers.clear()
        for maybe in (run.deadline_handle, run.write_handle):
            if maybe is not None:
                maybe.cancel()

    # -- status writes ----------------------------------------------------------------------------------------------
    def _mark_dirty(self, run: Run) -> None:
        if run.dirty or run.sink is None:
            return
        run.dirty = True
        if run.write_handle is None and not run.writing:
            delay = max(0.0, run.last_write + self.config.status_interval - self.loop.time())
            run.write_handle = self.loop.call_later(delay, self._start_write, run)

    def _start_write(self, run: Run) -> None:
        run.write_handle = None
        if not run.writing:
            self.loop.create_task(self._write(run, final=False), context=run.context.copy())

    async def _write(self, run: Run, *, final: bool) -> None:
        """One status write. An intermediate write never runs beside another; the final one waits for the one in
        flight and then writes the newest body, so an older body can never land after it.
        """
        while run.writing:
            if not final:
                return
            await run.write_idle.wait()
        run.writing = True
        run.write_idle.clear()
        try:
            run.dirty = False
            status = await self._status_body(run)
            run.last_write = self.loop.time()
            assert run.sink is not None
            try:
                if status is not None:
                    await run.sink.write_status(run, status)
            except Exception:
                logger.exception("status write for %s failed", run.run_id)
        finally:
            run.writing = False
            run.write_idle.set()
        if final:
            if not run.done.done():
                assert run.result is not None
                run.done.set_result(run.result)
        elif run.dirty and run.result is None:
            run.dirty = False
            self._mark_dirty(run)

    async def _status_body(self, run: Run) -> dict[str, Any] | None:
        """The body to write: the sink's own (composed now, on the loop, from the live run) or the node table."""
        compose = getattr(run.sink, "compose", None)
        if compose is None:
            return await self._encode_status(run)
        try:
            return dict(compose(run))
        except Exception:  # a sink bug costs this write (the next one tries again), never the run
            logger.exception("composing the status of %s failed", run.run_id)
            return None

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
