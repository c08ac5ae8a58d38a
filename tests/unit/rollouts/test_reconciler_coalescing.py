"""The kopf shell's coalescing reconciler: a trigger is never lost, however it interleaves with a finishing loop."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from rollouts.controller.rollouts import Reconciler
from workflows.runtime.informer import Change


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


async def test_our_own_rollout_write_starts_no_reconcile_and_a_deletion_forgets() -> None:
    """The cache tells of our own status write (``own``): the reconcile that wrote asks for the next one itself when
    the decision moved on, so that change starts none. Anyone else's change starts one; a deletion starts none."""
    reconciler, calls = _counting()
    body = {"metadata": {"namespace": "ns", "name": "a", "resourceVersion": "41", "uid": "u"}}
    reconciler._rollout_changed(Change(body, {**body, "status": {}}, own=True))
    await asyncio.sleep(0.01)
    assert calls == []
    reconciler._rollout_changed(Change(body, {**body, "spec": {"paused": True}}))  # a person's edit
    await _until(lambda: calls == [("ns", "a")])
    await _until(lambda: not reconciler._running)
    reconciler._schedule(("ns", "a"), 60.0)
    reconciler._rollout_changed(Change(body, None))
    assert ("ns", "a") not in reconciler._timers
    await asyncio.sleep(0.01)
    assert calls == [("ns", "a")]
    await reconciler.close()


async def test_changes_of_what_a_rollout_controls_reconcile_that_rollout() -> None:
    reconciler, calls = _counting()
    owner = {"controller": True, "kind": "Rollout", "apiVersion": "rollouts.dev/v1alpha1", "name": "web", "uid": "u"}
    rs = {"metadata": {"namespace": "ns", "name": "web-1", "ownerReferences": [owner]}}
    reconciler._owned_changed(Change(None, rs, own=True))  # our own ReplicaSet write: the next decision is due now
    await _until(lambda: calls == [("ns", "web")])
    await _until(lambda: not reconciler._running)
    reconciler._owned_changed(Change(rs, None))
    await _until(lambda: len(calls) == 2)
    await _until(lambda: not reconciler._running)
    await reconciler.close()


async def test_a_failing_reconcile_backs_off_exponentially_per_rollout_and_success_resets_it() -> None:
    reconciler = Reconciler(kube=cast("Any", None))
    outcomes = [RuntimeError("boom"), RuntimeError("boom"), RuntimeError("boom"), None]

    def reconcile(key: tuple[str, str]) -> tuple[None, list[Any], None]:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return None, [], None

    reconciler.reconcile = reconcile  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    delays = []
    for _ in range(3):
        reconciler.trigger("ns", "a")
        await _until(lambda: not reconciler._running)
        timer = reconciler._timers[("ns", "a")]
        delays.append(round(timer.when() - loop.time(), 1))
        timer.cancel()
    assert delays == [0.5, 1.0, 2.0]
    assert reconciler._failures[("ns", "a")] == 3
    reconciler.trigger("ns", "a")
    await _until(lambda: not reconciler._running)
    assert ("ns", "a") not in reconciler._failures
    await reconciler.close()
