"""Kubernetes Events about our objects, aggregated as client-go's EventRecorder does.

An Event is keyed by the object it is about (its uid), its type, reason and message. The first occurrence creates a
``v1`` Event (``count: 1``); a repeat within :data:`AGGREGATION_SECONDS` patches that Event's ``count`` and
``lastTimestamp`` instead of creating another, so ``kubectl get events`` shows "x5 over 3m" rather than five lines,
and the Event store does not grow with a loop that repeats itself. An Event deleted meanwhile (Events expire after an
hour by default) is created afresh.

:meth:`EventRecorder.post` only queues: one thread posts the queue in order, one request at a time, as client-go's
broadcaster does. Reconciles never wait for their Events, and however many there are, Events take at most one of
the client's requests at a time, so under a client-side request limit they cannot crowd out the writes that move
releases on (posting them inline from every reconcile thread did: steps waited seconds behind Event POSTs). A full
queue drops the Event (counted and logged), as client-go's does. A failure to post is logged, never raised: an Event
is a report, and no reconcile may fail because one could not be written.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workflows.runtime.kube import EVENTS, ApiError, Kube

__all__ = ["AGGREGATION_SECONDS", "EventRecorder"]

logger = logging.getLogger(__name__)

#: Repeats of an identical Event within this window update its count instead of creating another.
AGGREGATION_SECONDS = 600.0
#: Longest message kept (the API server refuses very large Events; kubectl shows one line anyway).
MAX_MESSAGE = 1024
#: Events waiting to be posted at most (client-go's broadcaster queue holds 1000); beyond, new ones are dropped.
QUEUE_SIZE = 1000


@dataclass(slots=True)
class _Seen:
    name: str
    count: int
    until: float  # monotonic deadline of the aggregation window


def _timestamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    """Posts Events for one component (``source.component``, as ``kubectl describe`` shows it). Thread-safe."""

    def __init__(self, kube: Kube, component: str, *, limit: int = 4096, queue_size: int = QUEUE_SIZE) -> None:
        self.kube = kube
        self.component = component
        self._limit = limit
        self._seen: OrderedDict[tuple[str, str, str, str], _Seen] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[Mapping[str, Any], str, str, str]] = queue.Queue(queue_size)
        self._worker: threading.Thread | None = None
        self.created = 0
        self.aggregated = 0
        self.dropped = 0

    def post(self, involved: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:  # noqa: A002
        """Queue an Event about ``involved`` (an object with apiVersion, kind and metadata); never blocks."""
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._drain, name="events", daemon=True)
                self._worker.start()
        try:
            self._queue.put_nowait((involved, type, reason, message))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                logger.warning("event queue full: %d Events dropped so far (this one: %s)", self.dropped, reason)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued Event has been posted (tests, shutdown); False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _drain(self) -> None:
        while True:
            involved, type_, reason, message = self._queue.get()
            try:
                self.record(involved, type=type_, reason=reason, message=message)
            except Exception:  # the poster must outlive anything one Event does
                logger.exception("event %s not posted", reason)
            finally:
                self._queue.task_done()

    def record(self, involved: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:  # noqa: A002
        """Post (or aggregate) one Event now, blocking for its request."""
        meta = involved.get("metadata") or {}
        uid, namespace = str(meta.get("uid") or ""), str(meta.get("namespace") or "default")
        message = message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."
        key = (uid, type, reason, message)
        now = dt.datetime.now(dt.UTC)
        stamp = _timestamp(now)
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and seen.until < time.monotonic():
                del self._seen[key]
                seen = None
        try:
            if seen is not None and self._repeat(namespace, seen, stamp):
                return
            self._create(involved, namespace, key, stamp)
        except ApiError as error:
            logger.warning("event %s on %s/%s not posted: %s", reason, namespace, meta.get("name"), error)

    def _repeat(self, namespace: str, seen: _Seen, stamp: str) -> bool:
        with self._lock:
            seen.count += 1
            count = seen.count
        patched = self.kube.patch(EVENTS, seen.name, {"count": count, "lastTimestamp": stamp}, namespace)
        if patched is None:
            return False  # expired or deleted: create it again
        self.aggregated += 1
        return True

    def _create(self, involved: Mapping[str, Any], namespace: str, key: tuple[str, str, str, str], stamp: str) -> None:
        meta = involved.get("metadata") or {}
        uid, type_, reason, message = key
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta.get('name') or 'object'}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion"),
                "kind": involved.get("kind"),
                "name": meta.get("name"),
                "namespace": meta.get("namespace"),
                "uid": uid,
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "source": {"component": self.component},
            "reportingComponent": self.component,
        }
        created = self.kube.create(EVENTS, body, namespace)
        self.created += 1
        with self._lock:
            self._seen[key] = _Seen(
                name=str(created["metadata"]["name"]),
                count=1,
                until=time.monotonic() + AGGREGATION_SECONDS,
            )
            self._seen.move_to_end(key)
            while len(self._seen) > self._limit:
                self._seen.popitem(last=False)
