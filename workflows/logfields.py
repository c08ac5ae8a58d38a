"""Which object a log line is about: the fields (``namespace``, ``rollout``, ``step``, ``analysisrun``, ...) the
controller's JSON log format writes beside each message (``rollouts.controller.logs``).

One context variable, here at the bottom layer, so every package sets it the same way: a Rollout reconcile on its
worker thread, an AnalysisRun's task on the loop (the executor runs a run's steps and status writes in a copy of the
submitting task's context, so they inherit it). Values are plain names and numbers, never secrets.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping

__all__ = ["about", "also", "current"]

_FIELDS: contextvars.ContextVar[Mapping[str, object] | None] = contextvars.ContextVar("log_fields", default=None)


@contextlib.contextmanager
def about(**fields: object) -> Iterator[None]:
    """Every line logged inside (on this thread, in this task and the tasks it creates) carries ``fields``."""
    token = _FIELDS.set(fields)
    try:
        yield
    finally:
        _FIELDS.reset(token)


def also(**fields: object) -> None:
    """Add ``fields`` to the current ones (inside :func:`about`; outside it, nothing happens)."""
    current_fields = _FIELDS.get()
    if current_fields is not None:
        _FIELDS.set({**current_fields, **fields})


def current() -> Mapping[str, object]:
    """The fields of the object the current code works on (empty: none)."""
    return _FIELDS.get() or {}
