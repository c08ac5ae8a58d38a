"""The Rollout controller's shell: turn cache changes into reconciles, one at a time per Rollout.

The Rollout controller reads through informer caches (:func:`rollout_cache`, :mod:`workflows.runtime.informer`):
their listeners trigger reconciles (a Rollout's own changes, and those of the ReplicaSets and AnalysisRuns it controls,
the Services it manages, the Deployment its ``workloadRef`` names, every object it references: Services, templates,
Ingresses, VirtualServices, HTTPRoutes, so creating a missing one clears its InvalidSpec), and a reconcile reads its
world from them, so it costs no request unless it writes. Our own writes reach the cache at once (read-your-writes).

A reconcile is observe -> decide -> act: read the Rollout and its world (:mod:`rollouts.controller.observe`), ask
the pure planner (:func:`rollouts.core.planner.plan`) with the current time, apply the plan
(:func:`rollouts.act.apply_plan`). Triggers are coalesced: while a Rollout reconciles, further events mark it dirty
and one more reconcile follows, so a burst of ReplicaSet updates costs two reconciles, not fifty. The planner's
``requeue_after`` (timed pauses, scale-down delays, deadlines) becomes a timer. The status is written only when it
differs; our own status write does not wake the Rollout up again: when the decision moved on (a step, an action),
the reconcile that wrote asks for the next one itself.

Bad input the schema cannot catch becomes an ``InvalidSpec`` condition, ``phase: Degraded`` with the field path
and a Warning Event; nothing is raised to kopf, so nothing crash-loops. In drop-in mode the served CRDs (Argo's)
catch almost nothing, so the Rollout is first checked against our own CRD's schema (:class:`SchemaCheck`, once per
generation) and every issue found joins the parser's on the same path: an unknown field such as
``spec.strategy.canary.bogus`` is an ``InvalidSpec`` naming it, never ignored. The AnalysisTemplates a run is made
from are checked the same way before the run is created.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import functools
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from rollouts.act import apply_plan, write_status_patch
from rollouts.controller.logs import rollout_context, rollout_fields, set_step
from rollouts.controller.metrics import ControllerMetrics
from rollouts.controller.observe import (
    ORPHAN_INDEX,
    OWNER_INDEX,
    ROUTED_KINDS,
    StoredTemplates,
    observe,
    read_workload,
)
from rollouts.core.actions import EmitEvent, EventType, Plan, ReleaseService
from rollouts.core.errors import InvalidSpecError
from rollouts.core.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.core.observed import Observed, status_from
from rollouts.core.pingpong import with_roles
from rollouts.core.planner import plan_invalid
from rollouts.core.planner import plan_settled as decide
from rollouts.core.references import ReferenceKind, references
from rollouts.core.routing import RoutingSpec
from rollouts.core.spec import RolloutSpec, parse_rollout
from rollouts.core.statuspatch import status_changes
from rollouts.notifications.sender import Notifier
from rollouts.routers import Routers, release_destination_rules
from rollouts.routers.apply import VIRTUAL_SERVICES
from workflows.api import ROLLOUTS_DEV, ApiMode, owner_reference
from workflows.runtime.crds import SchemaCheck
from workflows.runtime.events import EventRecorder
from workflows.runtime.informer import Cache, Change, Informer, Reads, controller_uid, orphan_namespace
from workflows.runtime.kube import (
    DEPLOYMENTS,
    HTTP_ROUTES,
    INGRESSES,
    REPLICA_SETS,
    SERVICES,
    ApiError,
    ConflictError,
    Kube,
)

__all__ = ["Reconciler", "RolloutOperator", "instance_selector", "rollout_cache"]

logger = logging.getLogger(__name__)

#: With nothing else due, a Rollout is reconciled again after this long anyway (from the cache: no request), for a
#: change no listener tied to it (e.g. a Deployment edited just before the Rollout first named it). Argo: 15 min.
RESYNC_SECONDS = 600.0
#: How long the first reconciles wait for every informer's first list (then unsynced kinds are read from the API).
SYNC_TIMEOUT = 30.0
#: A failed reconcile is retried after RETRY_FIRST seconds, doubled per consecutive failure up to RETRY_MAX.
RETRY_FIRST, RETRY_MAX = 0.5, 300.0
#: ``source.component`` of the Events we post (Argo's controller posts as ``rollouts-controller``).
EVENT_COMPONENT = "rollouts-controller"
Key = tuple[str, str]


#: Status fields that only report what was observed: a write that changes nothing else, from a plan that acts on
#: nothing, leaves nothing for a next reconcile to do, so the watch event it causes need not start one.
_OBSERVATIONAL = frozenset(
    {"replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "HPAReplicas", "conditions", "message"}
)


@dataclass
class Reconciler:
    """Coalescing, per-Rollout-serialised reconciles on the operator's loop; blocking work on our own pool."""

    kube: Kube
    mode: ApiMode = ROLLOUTS_DEV  # the group served and the names written (drop-in mode: Argo's)
    # the reconciles' worker threads (observe, plan, act); sized by the operator (rollouts.controller.ControllerConfig)
    pool: concurrent.futures.ThreadPoolExecutor = field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="rollouts")
    )
    # our CRD schema where the served CRDs do not apply it (drop-in mode); the operator shares one with the
    # AnalysisRun controller, else the reconciler makes its own
    schema: SchemaCheck | None = None
    _schema: SchemaCheck = field(init=False, repr=False)
    _running: dict[Key, asyncio.Task[None]] = field(default_factory=dict)
    _dirty: set[Key] = field(default_factory=set)
    _timers: dict[Key, asyncio.TimerHandle] = field(default_factory=dict)
    # (namespace, Deployment name) -> Rollouts whose workloadRef names it, so an edit of the Deployment's template
    # starts the update at once instead of at the next resync. Filled by reconcile() (worker threads): a dict
    # assignment per key, read on the loop; a stale entry costs one needless reconcile at most.
    _workload_users: dict[Key, frozenset[str]] = field(default_factory=dict)
    _known: set[str] = field(default_factory=set)  # uids of the Rollouts this process has announced
    metrics: ControllerMetrics | None = None  # /metrics series counted here (rollout_reconcile, ...), when served
    # (namespace, Rollout) -> the Services annotated as managed by it, from the Service watch (loop thread writes a
    # fresh frozenset, worker threads read it): the ones its strategy no longer names are released.
    _managed_services: dict[Key, frozenset[str]] = field(default_factory=dict)
    # Templates as the API server stores them (dry-run creates), to find a ReplicaSet another controller named.
    _stored_templates: StoredTemplates = field(default_factory=StoredTemplates)
    _failures: dict[Key, int] = field(default_factory=dict)  # consecutive failed reconciles, for the backoff
    # key -> (what the parse depended on, the parsed spec): see _parse
    _parsed: dict[Key, tuple[tuple[Any, ...], RolloutSpec]] = field(default_factory=dict)
    # seconds between two status writes that only report counts and conditions (decisions are written at once)
    status_interval: float = 1.0
    _status_written: dict[Key, float] = field(default_factory=dict)  # key -> monotonic time of its last status write
    # the informers reconciles read from (rollout_cache); None: every read goes to the API server (unit tests)
    cache: Cache | None = None
    recorder: EventRecorder | None = None  # Events, aggregated (default: one made from kube)
    _recorder: EventRecorder = field(init=False, repr=False)
    # told every reconcile's Events (with the Rollout they were decided from), to send the subscribed notifications
    notifier: Notifier | None = None

    @property
    def reads(self) -> Reads:
        return self.cache if self.cache is not None else self.kube

    def listen(self, cache: Cache) -> None:
        """Reconcile on the cache's changes: a Rollout's own, and those of what it controls, names or is named by."""
        self.cache = cache
        for resource, listener in (
            (self.mode.rollouts, self._rollout_changed),
            (REPLICA_SETS, self._owned_changed),
            (self.mode.analysis_runs, self._owned_changed),
            (SERVICES, self._service_changed),
            (DEPLOYMENTS, self._deployment_changed),
        ):
            cache.listen(resource, listener)
        # What a Rollout names: its creation (or fix) must clear an InvalidSpec without any other touch. Routed
        # kinds are followed lazily (from a Rollout's first read of one), their listeners attached then.
        named = {
            ReferenceKind.SERVICE: SERVICES,
            ReferenceKind.ANALYSIS_TEMPLATE: self.mode.analysis_templates,
            ReferenceKind.CLUSTER_ANALYSIS_TEMPLATE: self.mode.cluster_analysis_templates,
            **ROUTED_KINDS,
        }
        for kind, resource in named.items():
            cache.listen(resource, functools.partial(self._referenced_changed, kind))

    def _rollout_changed(self, change: Change) -> None:
        meta = change.body.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        if change.new is None:
            self.forget(namespace, name, uid=meta.get("uid"))
            return
        if change.own:
            return  # our own status write: the reconcile that made it asked for a next one when one is needed
        if change.old is None:
            self.announce(change.new)
        self.trigger(namespace, name)

    def _owned_changed(self, change: Change) -> None:
        for body in (change.old, change.new):
            owner = _owner_rollout(body, self.mode) if body is not None else None
            if owner:
                self.trigger(str(body["metadata"].get("namespace") or ""), owner)  # type: ignore[index]

    def _service_changed(self, change: Change) -> None:
        annotation = self.mode.managed_by_annotation
        annotated = [
            b
            for b in (change.old, change.new)
            if b and annotation in ((b.get("metadata") or {}).get("annotations") or {})
        ]
        if annotated:
            self.service_changed(change.body, deleted=change.new is None or change.new not in annotated)

    def _deployment_changed(self, change: Change) -> None:
        meta = change.body.get("metadata") or {}
        self.workload_changed(str(meta.get("namespace") or ""), str(meta.get("name") or ""))

    def _referenced_changed(self, kind: ReferenceKind, change: Change) -> None:
        if change.own:
            return  # our own write (a Service selector, a weight): the reconcile that made it carries on
        meta = change.body.get("metadata") or {}
        self.reference_changed(kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))

    def service_changed(self, body: Mapping[str, Any], *, deleted: bool) -> None:
        """A Service carrying the managed-by annotation changed: index it, and reconcile the Rollout it names."""
        meta = body.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        owner = "" if deleted else str((meta.get("annotations") or {}).get(self.mode.managed_by_annotation) or "")
        for key, names in list(self._managed_services.items()):
            if key[0] == namespace and name in names and key[1] != owner:
                self._managed_services[key] = names - {name}
        if owner:
            key = (namespace, owner)
            self._managed_services[key] = self._managed_services.get(key, frozenset()) | {name}
            self.trigger(namespace, owner)

    def announce(self, body: Mapping[str, Any]) -> None:
        """The first sight of a Rollout by this process (created, or listed at start-up): Argo's
        ``RolloutAddedToInformer`` Event, which its users and e2e suite expect first in a Rollout's Event list."""
        meta = body.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if not uid or uid in self._known:
            return
        self._known.add(uid)
        message = f"Rollout resource added to informer: {meta.get('namespace')}/{meta.get('name')}"
        self._post(body, type="Normal", reason="RolloutAddedToInformer", message=message)

    def _post(self, rollout: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:  # noqa: A002
        """Queue an Event about ``rollout`` and count it (``rollout_events_total``)."""
        self._recorder.post(rollout, type=type, reason=reason, message=message)
        if self.metrics is not None:
            meta = rollout.get("metadata") or {}
            self.metrics.event(str(meta.get("namespace") or ""), str(meta.get("name") or ""), type=type, reason=reason)

    def __post_init__(self) -> None:
        self._schema = self.schema or SchemaCheck(self.mode)
        self._recorder = self.recorder or EventRecorder(self.kube, EVENT_COMPONENT)

    # (kind, namespace or "" for a cluster-scoped object, name) -> the Rollouts whose spec names it, so creating,
    # fixing or deleting it reconciles them at once (a missing one made them InvalidSpec: level-triggered, it clears
    # without another touch). Filled by reconcile() (worker threads), like the above.
    _reference_users: dict[tuple[str, str, str], frozenset[Key]] = field(default_factory=dict)

    def reference_changed(self, kind: ReferenceKind, namespace: str, name: str) -> None:
        """An object of ``kind`` changed (created, edited, deleted): reconcile the Rollouts known to name it."""
        for user in self._reference_users.get((kind.value, namespace, name), frozenset()):
            self.trigger(*user)

    def _remember_references(self, key: Key, spec: RolloutSpec) -> None:
        named = {reference.key for reference in references(spec, key[0])}
        for ref_key, users in list(self._reference_users.items()):
            if key in users and ref_key not in named:
                self._reference_users[ref_key] = users - {key}
        for ref_key in named:
            self._reference_users[ref_key] = self._reference_users.get(ref_key, frozenset()) | {key}

    def workload_changed(self, namespace: str, name: str) -> None:
        """A Deployment changed: reconcile every Rollout known to reference it."""
        for rollout in self._workload_users.get((namespace, name), frozenset()):
            self.trigger(namespace, rollout)

    def _remember_workload(self, namespace: str, rollout: str, ref: Mapping[str, Any] | None) -> None:
        for key, users in list(self._workload_users.items()):
            if key[0] == namespace and rollout in users and (ref is None or key[1] != ref.get("name")):
                self._workload_users[key] = users - {rollout}
        if ref is not None and ref.get("kind") == "Deployment" and ref.get("name"):
            key = (namespace, str(ref["name"]))
            self._workload_users[key] = self._workload_users.get(key, frozenset()) | {rollout}

    def trigger(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        if key in self._running:
            self._dirty.add(key)
            return
        task = asyncio.get_running_loop().create_task(self._loop(key))
        self._running[key] = task
        task.add_done_callback(lambda done: self._release(key, done))

    def _release(self, key: Key, task: asyncio.Task[None]) -> None:
        """Forget a finished (or cancelled) loop, unless a newer one already took its place."""
        if self._running.get(key) is task:
            del self._running[key]

    def forget(self, namespace: str, name: str, *, uid: str | None = None) -> None:
        if uid:
            self._known.discard(uid)
            self._schema.forget(uid)
        if self.metrics is not None:
            self.metrics.forget(namespace, name)
        self._failures.pop((namespace, name), None)
        self._status_written.pop((namespace, name), None)
        self._parsed.pop((namespace, name), None)
        timer = self._timers.pop((namespace, name), None)
        if timer is not None:
            timer.cancel()

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(None, self._recorder.flush, 2.0)  # the Events queued last
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def _loop(self, key: Key) -> None:
        loop = asyncio.get_running_loop()
        if self.cache is not None and not self.cache.synced:
            await self.cache.wait_synced(SYNC_TIMEOUT)  # a reconcile on a half-listed cache could act twice
        while True:
            self._dirty.discard(key)
            try:
                rollout, requeue = await loop.run_in_executor(self.pool, self._reconcile_and_report, key)
                self._failures.pop(key, None)
            except Exception as error:
                # Retried with a per-Rollout exponential backoff (as client-go's work queue): a Rollout whose
                # reconcile keeps failing costs ever fewer requests, and the others are not held up by it.
                failures = self._failures[key] = self._failures.get(key, 0) + 1
                rollout, requeue = None, min(RETRY_FIRST * 2 ** (failures - 1), RETRY_MAX)
                fields = rollout_fields(*key)
                if isinstance(error, ApiError):
                    logger.warning(
                        "reconcile %s/%s: API error %s; retrying in %.1f s", *key, error, requeue, extra=fields
                    )
                else:
                    logger.exception("reconcile %s/%s failed; retrying in %.1f s", *key, requeue, extra=fields)
                if self.metrics is not None:
                    self.metrics.failed(*key)
            # No timer asked for: look again after a while anyway, for changes no watch reports (e.g. a Deployment
            # edited before the first reconcile recorded the workloadRef). Read from the cache: costs no request.
            self._schedule(key, requeue if requeue is not None or rollout is None else RESYNC_SECONDS)
            if key not in self._dirty:
                # Leave _running in the same loop step as the check: a done-callback runs later, and a trigger in
                # between would mark a loop dirty that no longer runs (a lost event: found stuck mid-step on the
                # real cluster until the 60 s resync).
                self._running.pop(key, None)
                return

    def _schedule(self, key: Key, delay: float | None) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        if delay is None:
            return
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(max(delay, 0.05), self.trigger, *key)

    def _release_destination_rules(self, rollout: Mapping[str, Any], routing: RoutingSpec | None) -> None:
        """After a spec change: free the DestinationRules this Rollout labelled but no longer names (as Argo)."""
        meta = rollout.get("metadata") or {}
        if str((rollout.get("status") or {}).get("observedGeneration") or "") == str(meta.get("generation") or ""):
            return  # the spec is the one already reconciled: nothing can have stopped being named
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        rule = routing.istio.destination_rule if routing is not None and routing.istio is not None else None
        keep = frozenset({(rule.namespace or namespace, rule.name)}) if rule is not None else frozenset()
        try:
            release_destination_rules(
                self.kube,
                namespace=namespace,
                rollout=name,
                keep=keep,
                managed_by_annotation=self.mode.managed_by_annotation,
            )
        except ApiError as error:  # e.g. no RBAC for DestinationRules: the release itself must not stop the update
            logger.warning("%s/%s: DestinationRules not released: %s", namespace, name, error)

    # -- one reconcile (worker thread) ----------------------------------------------------------------------------
    def _reconcile_and_report(self, key: Key) -> tuple[Mapping[str, Any] | None, float | None]:
        """:meth:`reconcile`, then its Events queued for the poster (aggregated: a repeat bumps the same Event) and
        for the notifier (which never blocks: it sends from its own thread).

        Its log lines name the Rollout (:func:`rollout_context`); its time is ``rollout_reconcile``, a failed one's
        too (as Argo times every reconcile of a Rollout that exists)."""
        started = time.monotonic()
        rollout: Mapping[str, Any] | None = None
        failed = True
        try:
            with rollout_context(*key):
                rollout, events, requeue = self.reconcile(key)
            failed = False
        finally:
            if self.metrics is not None and (failed or rollout is not None):
                self.metrics.reconciled(*key, time.monotonic() - started)
        if rollout is not None:
            for event in events:
                kind = "Warning" if event.type is EventType.WARNING else "Normal"
                self._post(rollout, type=kind, reason=event.reason, message=event.message)
            if self.notifier is not None and events:
                self.notifier.submit(rollout, events)
        return rollout, requeue

    def reconcile(self, key: Key) -> tuple[Mapping[str, Any] | None, list[EmitEvent], float | None]:
        namespace, name = key
        rollout = self.reads.get(self.mode.rollouts, name, namespace)
        if rollout is None:
            return None, [], None
        step = (rollout.get("status") or {}).get("currentStepIndex")
        set_step(step if isinstance(step, int) else None)
        now = dt.datetime.now(dt.UTC)
        spec_body = rollout.get("spec") or {}
        workload = None
        self._remember_workload(namespace, name, spec_body.get("workloadRef"))
        if spec_body.get("workloadRef"):
            workload = read_workload(self.reads, namespace, spec_body["workloadRef"])
        try:
            spec = self._parse(key, rollout, workload)
            # The routers weight the stable and canary Services; with pingPong, which is which follows the status.
            status = status_from(rollout.get("status"))
            routing = with_roles(spec.canary, status).traffic_routing if spec.canary is not None else None
            router = (
                Routers(
                    self.kube,
                    routing,
                    owner=owner_reference(rollout, kind="Rollout"),
                    managed_by_annotation=self.mode.managed_by_annotation,
                    reads=self.reads,
                )
                if routing is not None
                else None
            )
            self._remember_references(key, spec)
            observed = observe(
                self.kube,
                rollout,
                spec,
                router=router,
                mode=self.mode,
                managed_services=self._managed_services.get(key, frozenset()),
                stored_templates=self._stored_templates,
                reads=self.reads,
            )
            if workload is not None:
                observed = replace(
                    observed,
                    workload_replicas=int((workload.get("spec") or {}).get("replicas", 1)),
                    workload_generation=int((workload.get("metadata") or {}).get("generation") or 0) or None,
                )
            plan = decide(spec, observed, now=now)
            for reason in plan.reasons:
                logger.debug("%s/%s: %s", namespace, name, reason)
            events = list(
                apply_plan(
                    self.kube,
                    rollout,
                    plan,
                    router=router,
                    mode=self.mode,
                    schema=self._schema,
                    write_status=False,
                    reads=self.reads,
                )
            )
            self._release_destination_rules(rollout, routing)
            released = {action.service for action in plan.actions if isinstance(action, ReleaseService)}
            if released:  # no longer annotated, so the watch (filtered on the annotation) will not say so
                self._managed_services[key] = self._managed_services.get(key, frozenset()) - released
        except InvalidSpecError as issues:
            observed = Observed(status=status_from(rollout.get("status")), mode=self.mode)
            plan = plan_invalid(issues, observed, now=now, generation=int(rollout["metadata"].get("generation") or 0))
            already = (rollout.get("status") or {}).get("message") == plan.status.get("message")
            events = [] if already else [EmitEvent(type=EventType.WARNING, reason="InvalidSpec", message=str(issues))]
        requeue = plan.requeue_after
        return rollout, events, self._write_status(key, rollout, plan, requeue)

    def _parse(self, key: Key, rollout: Mapping[str, Any], workload: Mapping[str, Any] | None) -> RolloutSpec:
        """The parsed spec, parsed again only when the spec (its generation), the workloadRef's Deployment or the
        schema's verdict changed; the body (labels, annotations, status: what analysis args may read) is always this
        reconcile's. Raises :class:`InvalidSpecError` as :func:`parse_rollout` does (never remembered)."""
        meta = rollout.get("metadata") or {}
        issues = self._schema.issues(rollout)
        workload_meta = (workload or {}).get("metadata") or {}
        version = (
            str(meta.get("uid") or ""),
            meta.get("generation"),
            (str(workload_meta.get("uid") or ""), str(workload_meta.get("resourceVersion") or "")),
            issues,
        )
        known = self._parsed.get(key)
        if known is not None and known[0] == version and version[0] and version[1] is not None:
            return replace(known[1], body=rollout)
        workload_spec = (workload or {}).get("spec") or {}
        spec = parse_rollout(
            rollout,
            workload_template=workload_spec.get("template") if workload else None,
            workload_selector=workload_spec.get("selector") if workload else None,
            schema_issues=issues,
        )
        self._parsed[key] = (version, spec)
        return spec

    def _write_status(self, key: Key, rollout: Mapping[str, Any], plan: Plan, requeue: float | None) -> float | None:
        """Write what changed in the planned status (nothing when nothing did); the delay to the next reconcile."""
        changes = status_changes(rollout.get("status") or {}, plan.status)
        observational = set(changes) <= _OBSERVATIONAL
        if changes and observational:
            # Only counts and conditions moved (pods coming up one by one, a ReplicaSet just scaled): write them at
            # most once per status_interval, as the executor writes Workflow and AnalysisRun status; the next
            # decision's write (usually moments later, once the cluster answers the actions) carries them, or the
            # timer does. A decision is written at once.
            wait = self._status_written.get(key, -math.inf) + self.status_interval - time.monotonic()
            if wait > 0:
                return wait if requeue is None else min(requeue, wait)
        if not changes:
            return requeue
        try:
            version = write_status_patch(self.kube, rollout, changes, mode=self.mode)
        except ConflictError:
            return 0.1  # a command or another write landed meanwhile: plan again soon with it in view
        self._status_written[key] = time.monotonic()
        if (
            version is not None
            and version != str(rollout["metadata"].get("resourceVersion") or "")
            and not observational
            and not plan.settled
        ):
            return 0.0  # the decision moved on: take the next one now (the write is in the cache already)
        return requeue


def _owner_rollout(body: Mapping[str, Any], mode: ApiMode) -> str | None:
    """The Rollout of ``mode``'s group that controls ``body`` (a ReplicaSet or an AnalysisRun), if any."""
    for owner in body.get("metadata", {}).get("ownerReferences") or []:
        if owner.get("controller") and owner.get("kind") == "Rollout" and owner.get("apiVersion") == mode.api_version:
            return str(owner.get("name"))
    return None


class RolloutOperator(Protocol):
    """What the Rollout handlers need from kopf's ``memo`` (the operator's context)."""

    @property
    def rollouts(self) -> Reconciler: ...


def instance_selector(mode: ApiMode, instance_id: str) -> str:
    """The label selector of one controller instance's Rollouts (Argo's ``--instance-id``; none: unlabelled ones)."""
    return f"{mode.instance_id_label}={instance_id}" if instance_id else f"!{mode.instance_id_label}"


def rollout_cache(kube: Kube, *, mode: ApiMode, namespaces: Sequence[str] = (), instance_id: str = "") -> Cache:
    """The informers a Rollout reconcile reads from: its Rollouts and AnalysisRuns (this instance's: the runs the
    AnalysisRun handlers serve, those Rollouts made among them; /metrics reports every one), the ReplicaSets Rollout
    controllers make (by their label), both indexed by controller uid, Services and Deployments (any may be named by
    a Rollout), and (Cluster)AnalysisTemplates. Installed as the client's write hook (read-your-writes)."""
    routed = (INGRESSES, VIRTUAL_SERVICES, HTTP_ROUTES)  # followed once a Rollout routes through them
    cache = Cache(kube, lazy=[(r.group, r.plural) for r in routed], namespaces=namespaces)
    owner = {OWNER_INDEX: controller_uid, ORPHAN_INDEX: orphan_namespace}
    selector = instance_selector(mode, instance_id)
    cache.add(Informer(kube, mode.rollouts, namespaces=namespaces, label_selector=selector))
    for resource, label in ((REPLICA_SETS, POD_TEMPLATE_HASH_LABEL), (mode.analysis_runs, selector)):
        cache.add(Informer(kube, resource, namespaces=namespaces, label_selector=label, indexers=owner))
    cache.add(Informer(kube, SERVICES, namespaces=namespaces))
    cache.add(Informer(kube, DEPLOYMENTS, namespaces=namespaces))
    cache.add(Informer(kube, mode.analysis_templates, namespaces=namespaces))
    cache.add(Informer(kube, mode.cluster_analysis_templates))
    cache.attach()
    return cache
