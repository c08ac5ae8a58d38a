"""Step runners: the small seam between the engine and the things a step actually does.

A runner is anything with ``async def run(self, node: NodeContext) -> NodeResult``; it is cancelled by cancelling
its task (timeouts, deadlines, shutdown). A runner may also offer ``run_inline(node) -> NodeResult | None`` for work
that completes without waiting (no-op and pure steps): the executor then skips creating an asyncio Task for the node.
``uses_slot = False`` marks runners that wait rather than work (``suspend``) and so do not take admission slots.

Periodic work (an analysis metric: measure, assess, measure again at the next due time) is one attempt per period:
the runner ends an attempt with ``NodeResult.again(after, state=...)`` and the executor runs the node again after
``after`` seconds, handing ``state`` back as ``NodeContext.state``; the node holds no slot meanwhile. A runner that
must end the whole run at once (analysis fail-fast) returns a result with ``stop_run=True``.

Runners are registered by kind (``http``, ``container``, ``suspend``; the analysis package adds ``metric``). Blocking
work goes through ``node.run_blocking`` onto the executor's own bounded thread pool, never kopf's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from workflows.model.durations import parse_seconds
from workflows.model.phases import NodePhase
from workflows.model.plan import PreviousNode

if TYPE_CHECKING:
    from workflows.runtime.httpio import HostAllowList

T = TypeVar("T")


@dataclass(slots=True, kw_only=True, eq=False)
class NodeContext:
    """Everything a runner may know about one attempt of one node. ``node_id`` is stable across restarts.

    Built by the executor once per attempt and handed to one runner; nothing reads it back, so a runner has no reason
    to change it. It is deliberately not ``frozen``: a frozen dataclass sets each of its 19 fields through
    ``object.__setattr__``, which made building it ~3x as costly and was the largest single item of the engine's
    per-node hot path (bench/README.md).
    """

    run_id: str
    workflow_name: str
    namespace: str
    node_id: str
    node_name: str
    display_name: str
    template_name: str
    kind: str
    payload: Any
    inputs: Mapping[str, str]
    attempt: int
    pod: Mapping[str, Any] = field(default_factory=dict)
    service_account_name: str | None = None
    previous: PreviousNode | None = None
    run_blocking: Callable[..., Any] = field(default=lambda fn, *args: fn(*args))
    resumed: asyncio.Event | None = None  # set when a suspend node is resumed by a user
    state: Any = None  # what the node's previous attempt left (NodeResult.state), or the state seeded at submit
    owner: Mapping[str, Any] | None = None  # the ownerReference of what the step creates (Jobs): the run's owner
    recorder: Callable[[str, Any], None] | None = field(default=None, repr=False)  # the run's state recorder

    def checkpoint(self, state: Any) -> None:
        """Record the node's state now, before this attempt ends, so status writes and a restarted controller see it
        (a Job measurement records its Running measurement with the Job's name this way while it waits minutes).
        The next attempt gets ``state`` unless the attempt's result carries a newer one."""
        if self.recorder is not None:
            self.recorder(self.node_name, state)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeResult:
    """How an attempt ended: a final phase, or "not finished, run me again after ``again_after`` seconds"."""

    phase: NodePhase
    message: str = ""
    result: str | None = None
    transient: bool = False  # an Error that OnTransientError retries (timeouts, connection resets, 5xx)
    state: Any = None  # the node's state from now on, handed to its next attempt and kept by the run; None: unchanged
    again_after: float | None = None  # set by again(): the node is not finished, run it again after this many seconds
    stop_run: bool = False  # end the whole run now (with ``message`` as the reason), as Run.cancel does; final only

    @classmethod
    def succeeded(cls, result: str | None = None, message: str = "") -> NodeResult:
        return cls(phase=NodePhase.SUCCEEDED, result=result, message=message)

    @classmethod
    def failed(cls, message: str, result: str | None = None) -> NodeResult:
        return cls(phase=NodePhase.FAILED, message=message, result=result)

    @classmethod
    def error(cls, message: str, *, transient: bool = False) -> NodeResult:
        return cls(phase=NodePhase.ERROR, message=message, transient=transient)

    @classmethod
    def again(cls, after: float, *, state: Any = None, message: str = "") -> NodeResult:
        """Not finished: run this node again after ``after`` seconds (not a retry; no slot held while waiting)."""
        return cls(phase=NodePhase.RUNNING, again_after=max(0.0, float(after)), state=state, message=message)


@runtime_checkable
class StepRunner(Protocol):
    async def run(self, node: NodeContext) -> NodeResult: ...


class NoopRunner:
    """Succeeds immediately, inline: the benchmark's step and a placeholder for dry runs."""

    uses_slot = True

    def run_inline(self, node: NodeContext) -> NodeResult | None:
        return _SUCCEEDED

    async def run(self, node: NodeContext) -> NodeResult:
        return _SUCCEEDED


_SUCCEEDED = NodeResult(phase=NodePhase.SUCCEEDED)


class SuspendRunner:
    """Waits for a resume (``Executor.resume`` / status patch / CLI) or for ``suspend.duration`` to elapse."""

    uses_slot = False

    async def run(self, node: NodeContext) -> NodeResult:
        duration = node.payload.get("duration") if isinstance(node.payload, Mapping) else None
        seconds = None if duration in (None, "") else parse_seconds(duration)
        event = node.resumed or asyncio.Event()
        if seconds is None:
            await event.wait()
            return NodeResult.succeeded(message="resumed")
        try:
            await asyncio.wait_for(event.wait(), timeout=seconds)
        except TimeoutError:
            return NodeResult.succeeded(message=f"resumed after {duration}")
        return NodeResult.succeeded(message="resumed")


class RunnerRegistry:
    """Runner by kind. One registry per executor; ``analysis`` registers ``metric`` here."""

    def __init__(self, runners: Mapping[str, StepRunner] | None = None) -> None:
        self._runners: dict[str, StepRunner] = dict(runners or {})

    def register(self, kind: str, runner: StepRunner) -> None:
        self._runners[kind] = runner

    def get(self, kind: str) -> StepRunner | None:
        return self._runners.get(kind)

    def kinds(self) -> frozenset[str]:
        return frozenset(self._runners)


def default_registry(*, allowed_hosts: HostAllowList | None = None) -> RunnerRegistry:
    """http + suspend + noop: everything that needs no cluster (the lead adds ``container`` from jobs.py).

    ``allowed_hosts``: where ``http`` steps may go (the controller's ``--web-metric-allowed-hosts``; None: anywhere).
    """
    from workflows.runtime.http import HttpRunner
    from workflows.runtime.httpio import ALLOW_ALL_HOSTS

    http = HttpRunner(allowed_hosts=allowed_hosts or ALLOW_ALL_HOSTS)
    return RunnerRegistry({"http": http, "suspend": SuspendRunner(), "noop": NoopRunner()})
