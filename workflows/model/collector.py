"""Keeping the cyclic garbage collector off the old heap during bulk builds (a compile, a status encoding).

Both allocate a few container objects per node. Left alone, CPython's collector runs a *full* collection each time
the objects surviving young collections grow by 25% of the heap, and a full collection walks every tracked object in
the process -- every plan, run and kopf structure the controller holds -- so a 50,000-node compile spent half of its
time or more walking objects that have nothing to do with it.

:func:`young_only` freezes the heap that exists when a build starts (``gc.freeze()``: moved aside, not examined) and
unfreezes it when the build ends; while the build runs, whatever survives a collection is moved aside too (a
``gc.callbacks`` hook freezes again after each one), so each of the build's objects is examined once, by the first
young collection after its allocation, instead of by every collection of the generations it would be promoted
through. The collector keeps running for everyone: garbage that kopf's loop and the worker threads make during the
build is still reclaimed by the next young collection, which a ``gc.disable()`` (what this module did before)
postponed for the whole process. What waits until the build is over is only the examination of objects that had
already survived a collection (the old heap; a cycle that becomes garbage only after its first examination).
Measured in ``bench/bench_collector.py``: compile and encoding times as with the old pause, and another thread's
cyclic garbage reclaimed during a build instead of after it.

Must never: switch the collector off, undo an application's own choice (if the collector is disabled, or objects were
frozen by the application, e.g. before forking, nothing is touched; an application freezing objects *during* a build
sees them unfrozen with the rest when it ends), or leave the heap frozen after the last build of any thread has
ended (builds on several threads share one freeze, counted under a lock the hook also takes).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Re-entrant: the hook runs inside a collection, which an allocation of the thread holding the lock may trigger.
_lock = threading.RLock()
_builds = 0  # builds in progress, on any thread
_frozen_here = False  # the freeze in place is ours (so ours to undo)


def _set_survivors_aside(phase: str, info: dict[str, int]) -> None:
    """``gc.callbacks`` hook while a build runs: after each collection, freeze what survived it."""
    if phase == "stop":
        with _lock:
            if _frozen_here:
                gc.freeze()


@contextmanager
def young_only() -> Iterator[None]:
    """During the block, collections examine only objects that are new since their last examination."""
    global _builds, _frozen_here  # one process-wide collector, one process-wide count
    with _lock:
        if _builds == 0:
            _frozen_here = gc.isenabled() and gc.get_freeze_count() == 0
            if _frozen_here:
                gc.freeze()
                gc.callbacks.append(_set_survivors_aside)
        _builds += 1
    try:
        yield
    finally:
        with _lock:
            _builds -= 1
            if _builds == 0 and _frozen_here:
                _frozen_here = False
                gc.callbacks.remove(_set_survivors_aside)
                gc.unfreeze()
