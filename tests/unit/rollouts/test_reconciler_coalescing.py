"""The kopf shell's coalescing reconciler: a trigger is never lost, however it interleaves with a finishing loop."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from rollouts.controller.rollouts import Reconciler


def _counting() -> tuple[Reconciler, list[tuple[str, str]]]:
    calls: list[tuple[str, str]] = []
    reconciler = Reconciler(kube=cast("Any", None))

    def reconcile(key: tuple[str, str]) -> tuple[None, list[Any], None]:
        calls.append(key)
        return None, [], None  # rollout gone: no events, no timer

    reconciler.reconcile = reconcile  # type: ignore[method-assign]
    return reconciler, calls


async def _until(predicate: Any) -> None:
    for _ in range(2000):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not reached")


async def test_a_trigger_just_after_a_loop_finished_starts_another_reconcile() -> None:
    reconciler, calls = _counting()
    reconciler.trigger("ns", "a")
    task = reconciler._running[("ns", "a")]
    # Poll, not await: awaiting the task would also run its done-callbacks, closing the window under test.
    while not task.done():  # noqa: ASYNC110 - the loop has returned; its done-callbacks may not have run yet
        await asyncio.sleep(0)
    reconciler.trigger("ns", "a")  # e.g. the watch event of the status the loop just wrote
    await _until(lambda: len(calls) == 2)
    await _until(lambda: not reconciler._running)
    await reconciler.close()


async def test_triggers_during_a_reconcile_coalesce_into_one_more() -> None:
    reconciler, calls = _counting()
    gate = asyncio.Event()
    loop = asyncio.get_running_loop()
    first = reconciler.reconcile

    def slow(key: tuple[str, str]) -> Any:
        if not calls:
            asyncio.run_coroutine_threadsafe(gate.wait(), loop).result(timeout=5)
        return first(key)

    reconciler.reconcile = slow  # type: ignore[method-assign]
    reconciler.trigger("ns", "a")
    await asyncio.sleep(0.01)
    for _ in range(5):
        reconciler.trigger("ns", "a")
    gate.set()
    await _until(lambda: not reconciler._running)
    assert calls == [("ns", "a"), ("ns", "a")]
    await reconciler.close()


async def test_the_echo_of_our_own_observational_status_write_starts_no_reconcile() -> None:
    """A status write that only reported counts (no action planned) comes back as a watch event: no reconcile for it.
    Any other version of the Rollout (a person's edit, a later write) still starts one."""
    reconciler, calls = _counting()
    body = {"metadata": {"namespace": "ns", "name": "a", "resourceVersion": "41"}}
    reconciler._echoes[("ns", "a")] = "41"
    reconciler.rollout_event(body)
    await asyncio.sleep(0.01)
    assert calls == []
    assert ("ns", "a") not in reconciler._echoes  # used once
    reconciler.rollout_event(body)  # the same version again (a relist): no record left, so it reconciles
    await _until(lambda: calls == [("ns", "a")])
    reconciler._echoes[("ns", "a")] = "43"
    reconciler.rollout_event({"metadata": {**body["metadata"], "resourceVersion": "42"}})  # someone else's write
    await _until(lambda: len(calls) == 2)
    await _until(lambda: not reconciler._running)
