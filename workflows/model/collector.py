"""Pausing the cyclic garbage collector around bulk builds: a compile, a status encoding.

Both allocate a few container objects per node. With the collector running, every 25% of heap growth triggers a
full collection over the whole process heap (the plans and runs already held by the controller included), so a
50,000-node compile or status encoding spent half of its time or more in the collector, with spikes of several
hundred milliseconds. Paused, a build's survivors (a compile's plan) are examined once or twice by the young
generations afterwards and its temporaries (an encoding's intermediate lists) are freed by reference counting
without ever being examined.

The pause is process-wide (CPython has no per-thread switch) and short (a build, not a run). It composes across
threads: whichever build disabled the collector re-enables it, so it always ends enabled unless the application had
disabled it itself, which is left alone.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
