"""One list+watch stream feeding an index that many coroutines await by key: the engine's way of "watching, not
polling".

A daemon thread lists the objects matching a label selector (:meth:`Kube.list`: plain dicts, no client models), then
follows a watch from that resourceVersion (:meth:`Kube.watch`). When the server ends a stream (its timeout), the
watch resumes from the last version seen, which bookmarks keep current even when nothing we select changes; only an
``ERROR`` event (410 Gone: the version expired) or a broken connection costs a re-list. Each object is classified
into ``(key, value)`` or ignored; values reach the event loop with ``call_soon_threadsafe`` and wake the coroutines
waiting on that key in O(1). Used for Jobs (container steps, job metrics) and for the pods of analysis Jobs (a pod
that cannot start).

It never writes to the API and never blocks the event loop: the stream lives on its own thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from workflows.runtime.kube import Kube, Resource, WatchEvent

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
    #: Seconds the server keeps one watch open; the stream then resumes from the last version seen (no re-list).
    watch_timeout = 300

    def __init__(
        self,
        kube: Kube,
        resource: Resource,
        *,
        selector: str,
        name: str,
        loop: asyncio.AbstractEventLoop | None = None,
        namespaces: Sequence[str] = (),
    ) -> None:
        self._kube = kube
        # One stream per namespace when the process serves some (its RBAC may grant nothing cluster-wide), else one.
        self._namespaces: tuple[str | None, ...] = tuple(namespaces) or (None,)
        self._resource = resource
        self._selector = selector
        self._loop_bound = loop
        self._name = name
        self._values: dict[Key, V] = {}
        self._waiters: dict[Key, list[asyncio.Future[V]]] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.events_seen = 0
        self.lists = 0  # how many times the stream (re-)listed: once, plus once per expired version or broken stream

    # -- what an object means (subclasses) ----------------------------------------------------------------------
    def classify(self, obj: Mapping[str, Any]) -> tuple[Key, V] | None:
        raise NotImplementedError

    def deleted(self, obj: Mapping[str, Any]) -> Key | None:
        """The key to forget when ``obj`` is deleted (None: keep what was learned)."""
        return None

    # -- lifecycle (called on the loop) ------------------------------------------------------------------------
    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the waiters live on: given at construction, or the running one at :meth:`start`."""
        if self._loop_bound is None:
            self._loop_bound = asyncio.get_running_loop()
        return self._loop_bound

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start the stream threads (one per namespace); waiters are served on ``loop`` (default: the running loop)."""
        if loop is not None:
            self._loop_bound = loop
        _ = self._loop  # bind now, on the loop: the threads must never guess it
        for namespace in self._namespaces:
            thread = threading.Thread(target=self._run, args=(namespace,), name=self._name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        """Stop following the stream. The thread ends at the next event or bookmark (it is a daemon meanwhile)."""
        self._stop.set()

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

    def _handle(self, event: WatchEvent) -> None:
        if event.type in {"ADDED", "MODIFIED"}:
            self._observe(event.object)
        elif event.type == "DELETED":
            key = self.deleted(event.object)
            if key is not None:
                self._loop.call_soon_threadsafe(self.forget, key)

    def _list(self, namespace: str | None) -> str:
        """Observe every selected object (of ``namespace``, or all); the resourceVersion to watch from."""
        listing = self._kube.list(self._resource, namespace, label_selector=self._selector)
        self.lists += 1
        for obj in listing.items:
            self._observe(obj)
        return listing.resource_version

    def _follow(self, version: str, namespace: str | None) -> None:
        """Watch from ``version`` until stopped or the version expires (then return, so the caller re-lists)."""
        while not self._stop.is_set():
            for event in self._kube.watch(
                self._resource,
                namespace,
                label_selector=self._selector,
                resource_version=version,
                timeout_seconds=self.watch_timeout,
            ):
                if self._stop.is_set():
                    return
                if event.type == "ERROR":  # 410 Gone: the version expired (or another refusal): re-list
                    logger.debug("%s: watch ended with %s; re-listing", self._name, event.object.get("message"))
                    return
                version = str((event.object.get("metadata") or {}).get("resourceVersion") or version)
                self._handle(event)  # a BOOKMARK only moves the version on

    def _run(self, namespace: str | None) -> None:
        while not self._stop.is_set():
            try:
                self._follow(self._list(namespace), namespace)
            except Exception:  # a broken stream is re-listed; the thread must outlive API hiccups
                if self._stop.is_set():
                    break
                logger.warning("%s restarting after an error", self._name, exc_info=True)
                self._stop.wait(1.0)
