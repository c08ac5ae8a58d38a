"""Keeping the cyclic garbage collector off the old heap during bulk builds (a compile, a status encoding).

Both allocate a few container objects per node. Left alone, CPython's collector runs a *full* collection each time
the objects surviving young collections grow by 25% of the heap, and a full collection walks every tracked object in
the process -- every plan, run and kopf structure the controller holds -- so a 50,000-node compile spent half of its
time or more walking objects that have nothing to do with it.

:func:`young_only` freezes the heap that exists when a build starts (``gc.freeze()``: moved aside, not examined) and
unfreezes it when the build ends. The collector keeps running for everyone: kopf's loop and the worker threads
still have their new garbage collected during the build, which a ``gc.disable()`` (what this module did before) would
have postponed for the whole process. What waits is only the examination of the old heap, until the build is over.
Measured in ``bench/bench_collector.py``: most of the pause's gain is kept (the young collections over the build's own
objects are the part it gives back).

Must never: switch the collector off, undo an application's own choice (if the collector is disabled, or objects were
frozen by the application, e.g. before forking, nothing is touched), or leave the heap frozen after the last build
of any thread has ended (builds on several threads share one freeze, counted under a lock).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_builds = 0  # builds in progress, on any thread
_frozen_here = False  # the freeze in place is ours (so ours to undo)


@contextmanager
def young_only() -> Iterator[None]:
    """During the block, collections examine only objects created since the first concurrent build began."""
    global _builds, _frozen_here
    with _lock:
        if _builds == 0:
            _frozen_here = gc.isenabled() and gc.get_freeze_count() == 0
            if _frozen_here:
                gc.freeze()
        _builds += 1
    try:
        yield
    finally:
        with _lock:
            _builds -= 1
            if _builds == 0 and _frozen_here:
                _frozen_here = False
                gc.unfreeze()
