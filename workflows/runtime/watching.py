"""One list+watch stream feeding an index that many coroutines await by key: the engine's way of "watching, not
polling".

A daemon thread lists the objects matching a label selector (raw JSON: building client models is most of a LIST's
cost), then follows a watch from that resourceVersion; a broken or expired stream is simply re-listed. Each object
is classified into ``(key, value)`` or ignored; values reach the event loop with ``call_soon_threadsafe`` and wake
the coroutines waiting on that key in O(1). Used for Jobs (container steps, job metrics) and for the pods of analysis
Jobs (a pod that cannot start).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from kubernetes import watch

__all__ = ["Key", "WatchIndex"]

logger = logging.getLogger(__name__)

V = TypeVar("V")
Key = tuple[str, str]


class WatchIndex(Generic[V]):
    """Subclasses say what an object means (:meth:`classify`); this class does the streaming and the waiting.

    ``keep_first``: once a key has a value, later values are ignored (a pod's first "cannot start" reason); otherwise
    the latest wins (a Job's terminal condition).
    """

    keep_first = False

    def __init__(
        self, *, list_objects: Callable[..., Any], selector: str, loop: asyncio.AbstractEventLoop, name: str
    ) -> None:
        self._list = list_objects
        self._selector = selector
        self._loop = loop
        self._name = name
        self._values: dict[Key, V] = {}
        self._waiters: dict[Key, list[asyncio.Future[V]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch: watch.Watch | None = None
        self.events_seen = 0

    # -- what an object means (subclasses) ----------------------------------------------------------------------
    def classify(self, obj: Mapping[str, Any]) -> tuple[Key, V] | None:
        raise NotImplementedError

    def deleted(self, obj: Mapping[str, Any]) -> Key | None:
        """The key to forget when ``obj`` is deleted (None: keep what was learned)."""
        return None

    # -- lifecycle (called on the loop) ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()

    async def wait_for(self, key: Key) -> V:
        """The value for ``key``: at once when known, else when the stream delivers it."""
        known = self._values.get(key)
        if known is not None:
            return known
        future: asyncio.Future[V] = self._loop.create_future()
        self._waiters.setdefault(key, []).append(future)
        try:
            return await future
        finally:
            waiters = self._waiters.get(key)
            if waiters and future in waiters:
                waiters.remove(future)
                if not waiters:
                    del self._waiters[key]

    def forget(self, key: Key) -> None:
        self._values.pop(key, None)

    def resolve(self, key: Key, value: V) -> None:
        """Record ``value`` and wake its waiters (on the loop; also how tests feed the index)."""
        if self.keep_first and key in self._values:
            value = self._values[key]
        else:
            self._values[key] = value
        for future in self._waiters.pop(key, []):
            if not future.done():
                future.set_result(value)

    # -- the stream (worker thread) -----------------------------------------------------------------------------
    def _observe(self, obj: Mapping[str, Any]) -> None:
        self.events_seen += 1
        classified = self.classify(obj)
        if classified is not None:
            self._loop.call_soon_threadsafe(self.resolve, *classified)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response: Any = self._list(label_selector=self._selector, _preload_content=False)
                listing = json.loads(response.data)
                for obj in listing.get("items") or []:
                    self._observe(obj)
                self._watch = watch.Watch()
                for event in self._watch.stream(
                    self._list,
                    label_selector=self._selector,
                    resource_version=(listing.get("metadata") or {}).get("resourceVersion"),
                    timeout_seconds=300,
                    deserialize=False,
                ):
                    if self._stop.is_set():
                        break
                    kind, obj = event["type"], event["object"]
                    if kind in {"ADDED", "MODIFIED"}:
                        self._observe(obj)
                    elif kind == "DELETED":
                        key = self.deleted(obj)
                        if key is not None:
                            self._loop.call_soon_threadsafe(self.forget, key)
                    elif kind == "ERROR":  # e.g. 410 Gone: the resourceVersion expired; re-list
                        break
            except Exception:  # a broken stream is re-listed; the thread must outlive API hiccups
                if self._stop.is_set():
                    break
                logger.warning("%s restarting after an error", self._name, exc_info=True)
                self._stop.wait(1.0)
