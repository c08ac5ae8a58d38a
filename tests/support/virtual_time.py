"""Virtual time on the event loop itself, and an inline thread pool: hours of schedule in microseconds, no threads.

:class:`VirtualTimeLoop` is an asyncio loop whose clock only moves when nothing is ready: instead of waiting for the
next timer it jumps to it. Everything that waits on the loop (``asyncio.sleep``, ``loop.call_later``: the executor's
retry backoffs, the periods of metric nodes, status intervals) then costs no real time, and assertions on measurement
instants are exact. A folder's conftest can make pytest-asyncio run its async tests on such loops (the
``pytest_asyncio_loop_factories`` hook, as ``tests/unit/analysis/conftest.py`` does); :func:`run_virtual` runs one
coroutine on a fresh one. :class:`VirtualTime` is the wall clock on that loop (``T0`` plus the loop's time), for code
that takes a ``datetime`` clock.

Use it for code that waits on timers, never on real I/O: with no timer at all, the loop waits for I/O for real.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import selectors
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")
T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


class InlinePool(concurrent.futures.Executor):
    """Runs submitted work at once on the calling thread (the provider fakes are instant)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 -- forwarded to the awaiting coroutine
            future.set_exception(error)
        return future


class _JumpingSelector(selectors.DefaultSelector):
    """Polls without waiting; when nothing is ready, jumps the loop's virtual clock to the next timer instead."""

    loop: VirtualTimeLoop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0)
        if events or timeout == 0:
            return events
        if timeout is None:  # no timer at all: only I/O can wake the loop, so wait for it for real
            return super().select(None)
        self.loop.now += timeout
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on a virtual clock: sleeping and timers cost no real time, and the clock is exact."""

    def __init__(self) -> None:
        selector = _JumpingSelector()
        super().__init__(selector)
        selector.loop = self
        self.now = 0.0

    def time(self) -> float:
        return self.now


def run_virtual(main: Callable[[VirtualTimeLoop], Awaitable[T]]) -> T:
    """Run ``main(loop)`` to completion on a fresh :class:`VirtualTimeLoop` (starting at t=0)."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()


class VirtualTime:
    """The wall clock of the running virtual loop: ``start`` plus the loop's time (call it on the loop)."""

    def __init__(self, start: datetime = T0) -> None:
        self.start = start

    def clock(self) -> datetime:
        return self.start + timedelta(seconds=asyncio.get_running_loop().time())

    @staticmethod
    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def run(self, awaitable: Awaitable[T], *, limit: timedelta = timedelta(days=2)) -> T:
        """Await ``awaitable``; a run that would need more than ``limit`` of virtual time is a test failure."""
        try:
            return await asyncio.wait_for(awaitable, limit.total_seconds())
        except TimeoutError:
            raise AssertionError(f"virtual time limit of {limit} reached") from None
