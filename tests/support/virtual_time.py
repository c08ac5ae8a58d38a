"""Virtual time and an inline thread pool: the metric runner on the real executor, with hours of schedule in
microseconds and no threads, so assertions on exact measurement instants are deterministic."""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

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


class VirtualTime:
    """A clock that only moves when every task is waiting on :meth:`sleep`; then it jumps to the next wake-up."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.sleeps: list[float] = []

    def clock(self) -> datetime:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + timedelta(seconds=seconds), next(self._seq), future))
        await future

    async def run(self, awaitable: Any, *, limit: timedelta = timedelta(days=2)) -> Any:
        """Await ``awaitable`` while advancing virtual time whenever everything else is idle."""
        task = asyncio.ensure_future(awaitable)
        end = self.now + limit
        while not task.done():
            for _ in range(50):
                await asyncio.sleep(0)
                if task.done():
                    break
            if task.done():
                break
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # cancelled sleepers (interrupted metric nodes)
            if not self._sleepers:
                continue
            wake, _, future = heapq.heappop(self._sleepers)
            if wake > end:
                task.cancel()
                raise AssertionError(f"virtual time limit reached at {wake}")
            self.now = max(self.now, wake)
            future.set_result(None)
        return task.result()
