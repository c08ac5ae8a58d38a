"""Informer caches: one list+watch per kind a controller reads, kept in memory, so a reconcile reads its world
without a request (client-go's shared informers, in one small module).

An :class:`Informer` follows one resource (optionally narrowed by a label selector and to some namespaces) on its own
daemon thread per namespace: it lists, then watches from the listing's resourceVersion; bookmarks keep that version
current while nothing selected changes, so a stream the server ends is resumed without a re-list, and only an
``ERROR`` event (410 Gone) or a broken connection costs one. A re-list also forgets the objects that went away
meanwhile. Objects are stored without ``metadata.managedFields`` (the bulk of many objects, read by nobody here), in
a map by ``(namespace, name)`` plus the indexes the caller names (e.g. by controller owner uid).

Every change is told to the listeners, on the event loop, as a :class:`Change`. Changes come from the watch and from
our own writes: :class:`Cache` is the :attr:`Kube.written` hook, so the object a create, replace or patch returned
replaces the cached one at once (``own=True``) and the next reconcile cannot act twice on a stale copy. The watch's
echo of that write then carries a version already stored and is not told again; a version older than the stored one
(a write raced a watch event) is dropped. resourceVersions are compared as the numbers the API server makes them (an
opaque string is only compared for equality).

:class:`Cache` holds the informers of one process by kind and answers :meth:`get`/:meth:`list` from a synced informer,
from the API server otherwise (a kind without an informer, or one that could not list: e.g. no RBAC for it), so
callers read through one :class:`Reads` and never care which answered. Objects handed out are the cache's own: read
them, never change them in place.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import functools
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from workflows.runtime.kube import ApiError, Kube, Listing, NotServedError, Resource, WatchEvent

__all__ = [
    "Cache",
    "Change",
    "Indexer",
    "Informer",
    "Reads",
    "controller_uid",
    "orphan_namespace",
    "selector_matches",
]

logger = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, or "" for a cluster-scoped object; name)
#: The index values of an object (e.g. its controller's uid); an object may have none or several.
Indexer = Callable[[Mapping[str, Any]], Iterable[str]]


@dataclass(frozen=True, slots=True)
class Change:
    """One object as it was (None: newly seen) and as it is (None: deleted); ``own``: the answer of our own write."""

    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    own: bool = False

    @property
    def body(self) -> Mapping[str, Any]:
        """The object as it is, or as it was last seen when deleted."""
        return self.new if self.new is not None else (self.old or {})


Listener = Callable[[Change], None]


class Reads(Protocol):
    """The reads a reconcile makes: :class:`Kube` (from the API server) and :class:`Cache` (from informers) both."""

    def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None: ...

    def list(
        self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None
    ) -> Listing: ...


# -- label selectors ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Requirement:
    """One requirement of a label selector: ``key`` with ``operator`` (in, notin, exists, absent) over ``values``."""

    key: str
    operator: str
    values: frozenset[str] = frozenset()

    def __call__(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "exists":
            return self.key in labels
        if self.operator == "absent":
            return self.key not in labels
        found = self.key in labels and labels[self.key] in self.values
        return found if self.operator == "in" else not found


@functools.lru_cache(maxsize=1024)
def _requirements(selector: str) -> tuple[_Requirement, ...]:
    """A label selector (``a=b,c!=d,e,!f,g in (h,i),j notin (k)``) as one test per requirement."""
    parts: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(selector):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(selector[start:index])
            start = index + 1
    parts.append(selector[start:])
    out: list[_Requirement] = []
    for raw in (part.strip() for part in parts):
        if not raw:
            continue
        words = raw.split(None, 1)
        if len(words) == 2 and words[1].split(None, 1)[0] in {"in", "notin"}:
            operator, values_text = words[1].split(None, 1)
            values = frozenset(v.strip() for v in values_text.strip().strip("()").split(",") if v.strip())
            out.append(_Requirement(words[0], operator, values))
        elif "!=" in raw:
            key, value = (part.strip() for part in raw.split("!=", 1))
            out.append(_Requirement(key, "notin", frozenset({value})))
        elif "=" in raw:
            key, value = (part.strip() for part in raw.replace("==", "=").split("=", 1))
            out.append(_Requirement(key, "in", frozenset({value})))
        elif raw.startswith("!"):
            out.append(_Requirement(raw[1:].strip(), "absent"))
        else:
            out.append(_Requirement(raw, "exists"))
    return tuple(out)


def selector_matches(selector: str | None, labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy a label selector string, as the API server decides it."""
    return not selector or all(test(labels) for test in _requirements(selector))


def controller_uid(body: Mapping[str, Any]) -> Iterable[str]:
    """An :data:`Indexer`: the uid of the object's controller owner (none for an orphan)."""
    for owner in (body.get("metadata") or {}).get("ownerReferences") or ():
        if owner.get("controller") and owner.get("uid"):
            return (str(owner["uid"]),)
    return ()


def orphan_namespace(body: Mapping[str, Any]) -> Iterable[str]:
    """An :data:`Indexer`: the namespace of an object without a controller owner (none for a controlled one)."""
    if any(controller_uid(body)):
        return ()
    return (str((body.get("metadata") or {}).get("namespace") or ""),)


def _version(body: Mapping[str, Any]) -> str:
    return str((body.get("metadata") or {}).get("resourceVersion") or "")


def _newer(incoming: str, stored: str) -> bool:
    """Whether ``incoming`` is a later version than ``stored`` (the API server's are etcd revisions: numbers)."""
    if incoming.isdigit() and stored.isdigit():
        return int(incoming) > int(stored)
    return incoming != stored


def _key(body: Mapping[str, Any]) -> Key:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _stored(body: Mapping[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata") or {}
    if "managedFields" not in meta:
        return dict(body)
    return {**body, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


class Informer:
    """One resource's objects, followed by list+watch and kept in memory, with indexes; see the module's docstring.

    Thread-safe: the streams write under a lock, readers (reconcile threads) read under it; listeners run on the
    event loop given to :meth:`start` (inline when there is none, as in tests).
    """

    #: Seconds the server keeps one watch open; the stream then resumes from the last version seen (no re-list).
    watch_timeout = 300
    #: Retry delays after a failed list or a broken stream: doubled from the first up to the last.
    retry_first, retry_max = 1.0, 30.0

    def __init__(
        self,
        kube: Kube,
        resource: Resource,
        *,
        namespaces: Sequence[str] = (),
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, Indexer] | None = None,
    ) -> None:
        self.kube = kube
        self.resource = resource
        self.label_selector = label_selector or None
        # e.g. ``metadata.name=x``: one object followed, not its whole namespace (the notification Secret)
        self.field_selector = field_selector or None
        self._namespaces: tuple[str | None, ...] = tuple(namespaces) if resource.namespaced and namespaces else (None,)
        self._indexers = dict(indexers or {})
        self._objects: dict[Key, dict[str, Any]] = {}
        self._by_namespace: dict[str, set[Key]] = {}
        self._indexes: dict[str, dict[str, set[Key]]] = {name: {} for name in self._indexers}
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._synced_listeners: list[Callable[[], None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        # Callbacks for the loop, handed over in batches: one wake-up of the loop per batch, not one per change.
        self._pending: collections.deque[Callable[[], None]] = collections.deque()
        self._drain_scheduled = False
        self._pending_lock = threading.Lock()
        self._listed: set[str | None] = set()
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.lists = 0  # (re-)lists made: one per stream, plus one per expired version or broken stream
        self.events = 0  # watch events received (bookmarks included)

    def __repr__(self) -> str:
        return f"Informer({self.resource.plural}, selector={self.label_selector!r})"

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        """Tell ``listener`` every change from now on (before :meth:`start`: every object the first list finds)."""
        self._listeners.append(listener)

    def when_synced(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the loop) once every stream has listed; at once if that happened already."""
        if self._synced.is_set():
            self._call(callback)
        else:
            self._synced_listeners.append(callback)

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start one stream thread per namespace (one for all when none were given); listeners run on ``loop``."""
        self._loop = loop
        for namespace in self._namespaces:
            thread = threading.Thread(
                target=self._run, args=(namespace,), name=f"informer-{self.resource.plural}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def stop(self) -> None:
        """Stop following. Threads end at their next event or bookmark (they are daemons meanwhile)."""
        self._stop.set()

    @property
    def synced(self) -> bool:
        """Whether every stream has listed at least once (reads from the store are then complete)."""
        return self._synced.is_set()

    def wait_synced(self, timeout: float | None = None) -> bool:
        return self._synced.wait(timeout)

    # -- reads (any thread) --------------------------------------------------------------------------------------
    def get(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._objects.get((namespace or "", name))

    def list(self, namespace: str | None = None, label_selector: str | None = None) -> builtins.list[dict[str, Any]]:
        """The objects in ``namespace`` (all when None) whose labels match ``label_selector``."""
        with self._lock:
            keys = self._objects if namespace is None else self._by_namespace.get(namespace, ())
            found = [self._objects[key] for key in sorted(keys)]  # in the API server's order: by namespace, name
        if not label_selector:
            return found
        return [o for o in found if selector_matches(label_selector, (o.get("metadata") or {}).get("labels") or {})]

    def by_index(self, index: str, value: str) -> builtins.list[dict[str, Any]]:
        """The objects whose ``index`` indexer gave ``value``, by namespace and name (as the API server lists)."""
        with self._lock:
            return [self._objects[key] for key in sorted(self._indexes[index].get(value, ()))]

    def __len__(self) -> int:
        return len(self._objects)

    def has_index(self, index: str) -> bool:
        return index in self._indexes

    # -- writes into the store -----------------------------------------------------------------------------------
    def write_back(self, body: Mapping[str, Any]) -> None:
        """Our own write's answer: stored at once unless the store already has that version or a later one."""
        namespace = str((body.get("metadata") or {}).get("namespace") or "")
        if self._namespaces != (None,) and namespace not in self._namespaces:
            return  # a namespace this informer does not follow
        if self.label_selector and not selector_matches(
            self.label_selector, (body.get("metadata") or {}).get("labels") or {}
        ):
            self._apply_deleted(_key(body), own=True)  # no longer selected (e.g. a label removed)
            return
        self._apply(body, own=True)

    def _apply(self, body: Mapping[str, Any], *, own: bool = False) -> None:
        key = _key(body)
        version = _version(body)
        with self._lock:
            old = self._objects.get(key)
            if old is not None and not _newer(version, _version(old)):
                return  # the echo of a write already stored, or older than what we have
            new = _stored(body)
            self._objects[key] = new
            self._by_namespace.setdefault(key[0], set()).add(key)
            self._reindex(key, old, new)
        self._tell(Change(old, new, own))

    def _apply_deleted(self, key: Key, *, own: bool = False) -> None:
        with self._lock:
            old = self._objects.pop(key, None)
            if old is None:
                return
            keys = self._by_namespace.get(key[0])
            if keys is not None:
                keys.discard(key)
            self._reindex(key, old, None)
        self._tell(Change(old, None, own))

    def _reindex(self, key: Key, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
        for name, indexer in self._indexers.items():
            index = self._indexes[name]
            for value in indexer(old) if old is not None else ():
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
            for value in indexer(new) if new is not None else ():
                index.setdefault(value, set()).add(key)

    def _tell(self, change: Change) -> None:
        if self._listeners:
            self._call(functools.partial(self._dispatch, change))

    def _call(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop, after those handed over before it. A burst of changes (a re-list, a busy
        stream) costs the loop one wake-up: the first callback of a batch schedules the drain, the rest join it."""
        loop = self._loop
        if loop is None:
            callback()
            return
        with self._pending_lock:
            self._pending.append(callback)
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        if loop.is_closed():
            return
        loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._pending_lock:
            batch = list(self._pending)
            self._pending.clear()
            self._drain_scheduled = False
        for callback in batch:
            try:
                callback()
            except Exception:  # one callback's bug must not drop the rest of the batch
                logger.exception("%r: a callback failed", self)

    def _dispatch(self, change: Change) -> None:
        for listener in self._listeners:
            try:
                listener(change)
            except Exception:  # one listener's bug must not starve the others, nor the stream
                logger.exception("%r: a listener failed", self)

    # -- the streams (worker threads) ----------------------------------------------------------------------------
    def _list(self, namespace: str | None) -> str:
        narrowed: dict[str, Any] = {"field_selector": self.field_selector} if self.field_selector else {}
        listing = self.kube.list(self.resource, namespace, label_selector=self.label_selector, **narrowed)
        self.lists += 1
        seen = {_key(body) for body in listing.items}
        with self._lock:
            scope = self._by_namespace.get(namespace, set()) if namespace is not None else set(self._objects)
            gone = [key for key in scope if key not in seen]
        for key in gone:  # deleted while we were not watching
            self._apply_deleted(key)
        for body in listing.items:
            self._apply(body)
        if namespace not in self._listed:
            self._listed.add(namespace)
            if len(self._listed) == len(self._namespaces):
                self._synced.set()
                for callback in self._synced_listeners:
                    self._call(callback)
                self._synced_listeners.clear()
        return listing.resource_version

    def _handle(self, event: WatchEvent) -> None:
        if event.type in {"ADDED", "MODIFIED"}:
            self._apply(event.object)
        elif event.type == "DELETED":
            self._apply_deleted(_key(event.object))

    def _follow(self, namespace: str | None, version: str) -> None:
        """Watch from ``version`` until stopped or the version expires (then return, so the caller re-lists)."""
        while not self._stop.is_set():
            narrowed: dict[str, Any] = {"field_selector": self.field_selector} if self.field_selector else {}
            for event in self.kube.watch(
                self.resource,
                namespace,
                label_selector=self.label_selector,
                resource_version=version,
                timeout_seconds=self.watch_timeout,
                **narrowed,
            ):
                if self._stop.is_set():
                    return
                self.events += 1
                if event.type == "ERROR":  # 410 Gone: the version expired (or another refusal): re-list
                    logger.debug("%r: watch ended with %s; re-listing", self, event.object.get("message"))
                    return
                version = _version(event.object) or version
                self._handle(event)  # a BOOKMARK only moves the version on

    def _run(self, namespace: str | None) -> None:
        delay = self.retry_first
        while not self._stop.is_set():
            try:
                version = self._list(namespace)
                delay = self.retry_first
                self._follow(namespace, version)
            except Exception as error:  # a broken stream is re-listed; the thread must outlive API hiccups
                if self._stop.is_set():
                    break
                if isinstance(error, NotServedError):
                    logger.debug("%r: not served; asking again in %.0f s", self, delay)
                elif isinstance(error, ApiError):
                    logger.warning("%r: %s; retrying in %.0f s", self, error, delay)
                else:
                    logger.warning("%r: stream broke; re-listing in %.0f s", self, delay, exc_info=True)
                self._stop.wait(delay)
                delay = min(delay * 2, self.retry_max)


class Cache:
    """The informers of one process by kind; reads served from them when synced, from the API server otherwise.

    Install it as the client's write hook (:meth:`attach`) so every write the process makes reaches the informer of
    its kind at once.
    """

    def __init__(self, kube: Kube, *, lazy: Collection[tuple[str, str]] = (), namespaces: Sequence[str] = ()) -> None:
        self.kube = kube
        self._informers: dict[tuple[str, str], Informer] = {}
        self._ready: asyncio.Event | None = None
        # kinds (group, plural) followed from their first read on (at the version that read names: the one the
        # cluster serves), for objects Rollouts name but only some clusters have (Ingresses, Istio, Gateway API)
        self._lazy = frozenset(lazy)
        self._namespaces = tuple(namespaces)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._lock = threading.Lock()
        # listeners of a kind that has no informer yet (a lazy one): added to its informer when it is made
        self._waiting: dict[tuple[str, str], list[Listener]] = {}

    def add(self, informer: Informer) -> Informer:
        kind = (informer.resource.group, informer.resource.plural)
        self._informers[kind] = informer
        for listener in self._waiting.pop(kind, ()):
            informer.add_listener(listener)
        return informer

    def listen(self, resource: Resource, listener: Listener) -> None:
        """Tell ``listener`` every change of ``resource``'s kind: at once when its informer exists, else (a lazy
        kind) from when its first read makes it, the first list included (objects created before it are seen)."""
        with self._lock:
            informer = self.informer(resource)
            if informer is None:
                self._waiting.setdefault((resource.group, resource.plural), []).append(listener)
                return
        informer.add_listener(listener)

    def informer(self, resource: Resource) -> Informer | None:
        return self._informers.get((resource.group, resource.plural))

    def __iter__(self) -> Any:
        return iter(self._informers.values())

    def attach(self) -> None:
        """Take every write the client makes into the cache (read-your-writes)."""
        self.kube.written = self.written

    def written(self, resource: Resource, body: Mapping[str, Any]) -> None:
        informer = self.informer(resource)
        if informer is not None:
            informer.write_back(body)

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start every informer; :meth:`ready` is set (on ``loop``) once all have listed."""
        self._loop, self._started = loop, True
        if loop is not None:
            self._ready = asyncio.Event()
            pending = set(self._informers)
            ready = self._ready

            def one_synced(kind: tuple[str, str]) -> None:
                pending.discard(kind)
                if not pending:
                    ready.set()

            for kind, informer in self._informers.items():
                informer.when_synced(functools.partial(one_synced, kind))
            if not pending:
                ready.set()
        for informer in self._informers.values():
            informer.start(loop)

    def stop(self) -> None:
        for informer in self._informers.values():
            informer.stop()

    @property
    def synced(self) -> bool:
        """Whether every informer started with the cache has listed (lazily started ones are not waited for)."""
        if self._ready is not None and self._ready.is_set():
            return True
        return all(informer.synced for kind, informer in self._informers.items() if kind not in self._lazy)

    async def wait_synced(self, patience: float) -> bool:
        """Wait until every informer has listed, at most ``patience`` s (after that, unsynced kinds read the API)."""
        if self.synced or self._ready is None:
            return self.synced
        try:
            async with asyncio.timeout(patience):
                await self._ready.wait()
        except TimeoutError:
            waiting = ", ".join(i.resource.plural for i in self._informers.values() if not i.synced)
            logger.warning(
                "informers not synced after %.0f s (%s): reading those kinds from the API", patience, waiting
            )
            return False
        return True

    # -- reads (any thread) ----------------------------------------------------------------------------------------
    def _reading(self, resource: Resource) -> Informer | None:
        """The informer of ``resource``'s kind; a lazy kind's is started by its first read (which the API answers)."""
        informer = self.informer(resource)
        if informer is None and self._started and (resource.group, resource.plural) in self._lazy:
            with self._lock:
                informer = self.informer(resource)
                if informer is None:
                    informer = self.add(Informer(self.kube, resource, namespaces=self._namespaces))
                    informer.start(self._loop)
        return informer

    def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        informer = self._reading(resource)
        if informer is not None and informer.synced:
            return informer.get(namespace if resource.namespaced else None, name)
        return self.kube.get(resource, name, namespace)

    def list(self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None) -> Listing:
        """Like :meth:`Kube.list`; from an informer, only the objects it selects (its own label selector)."""
        informer = self._reading(resource)
        if informer is not None and informer.synced:
            return Listing(items=informer.list(namespace, label_selector), resource_version="")
        return self.kube.list(resource, namespace, label_selector=label_selector)

    def by_index(self, resource: Resource, index: str, value: str) -> builtins.list[dict[str, Any]] | None:
        """The objects of ``resource`` an index maps ``value`` to; None when no synced informer has that index."""
        informer = self.informer(resource)
        if informer is None or not informer.synced or not informer.has_index(index):
            return None
        return informer.by_index(index, value)
