"""The notifications shell: follow the ConfigMap and Secret, take the Events reconciles record, deliver, record.

:meth:`Notifier.submit` is called by the Rollout reconciles next to posting their Events, and only queues: one worker
thread plans (:func:`~rollouts.notifications.plan.plan_notifications`), sends with bounded retries (httpx, a timeout
per request, :class:`~rollouts.notifications.services.Retry` per service) and records, so a slow or failing receiver
never holds up a reconcile and cannot crash one (a full queue drops, counted and logged, as Events do).

Once per Event, across restarts: before sending, the worker looks the delivery's key up in the Rollout's record
annotation (from the informer cache, which holds our own writes at once) and in its own memory; after a delivery it
adds the key to the annotation. Only the leader sends or writes (the client's write gate; a replica that lost the
Lease stops sending). The one window left is a crash between a delivery and its record: then the restarted
controller sends it again (at least once, never silently lost after a decision was written).

Secrets: service options may hold tokens and webhook URLs that carry credentials. Nothing here logs, records or
posts a URL, a header or a request body; failures are described by service name, type and recipient, with the
receiver's status and any excerpt of its answer redacted of every sensitive value. httpx and httpcore log request
lines with full URLs at INFO/DEBUG, so their loggers are kept at WARNING.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from rollouts.notifications.config import NotificationConfig, parse_config
from rollouts.notifications.errors import ConfigError, NotificationError
from rollouts.notifications.plan import Delivery, Event, plan_notifications
from rollouts.notifications.record import recorded, with_delivery
from rollouts.notifications.services import REQUEST_TIMEOUT, Verdict
from workflows.api import ApiMode
from workflows.runtime.events import EventRecorder
from workflows.runtime.informer import Cache, Informer, Reads
from workflows.runtime.kube import CONFIG_MAPS, SECRETS, ApiError, Kube, Resource

__all__ = ["FAILED_REASON", "INVALID_REASON", "Notifier"]

logger = logging.getLogger(__name__)
for _noisy in ("httpx", "httpcore"):  # they log full request URLs (tokens included) below WARNING
    logging.getLogger(_noisy).setLevel(logging.WARNING)

#: Warning Event on a Rollout whose notification could not be made (the message names the ConfigMap key).
INVALID_REASON = "InvalidNotificationConfig"
#: Warning Event on a Rollout whose notification the receiver refused or never answered, after the retries.
FAILED_REASON = "NotificationFailed"
#: Items waiting for the worker at most; beyond, new ones are dropped (counted and logged).
QUEUE_SIZE = 1000
#: Delivery keys remembered in memory (the annotation is the durable record).
MEMORY = 4096


def _secret_values(secret: Mapping[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in ((secret or {}).get("data") or {}).items():
        try:
            out[str(key)] = base64.b64decode(str(value)).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            logger.warning("notifications Secret: key %s is not UTF-8 text; left out", key)
    return out


class Notifier:
    """Notifications of one controller process. Thread-safe :meth:`submit`; one worker thread does the rest."""

    def __init__(
        self,
        kube: Kube,
        *,
        mode: ApiMode,
        namespace: str,
        recorder: EventRecorder,
        reads: Reads | None = None,
        queue_size: int = QUEUE_SIZE,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.kube = kube
        self.mode = mode
        self.namespace = namespace
        self.recorder = recorder
        self.reads: Reads = reads or kube
        self.clock = clock
        # Exactly the two objects, followed by list+watch (RBAC: get/list/watch in this namespace).
        self.cache = Cache(kube, namespaces=(namespace,))
        for resource, name in ((CONFIG_MAPS, mode.notifications_config_map), (SECRETS, mode.notifications_secret)):
            self.cache.add(Informer(kube, resource, namespaces=(namespace,), field_selector=f"metadata.name={name}"))
        self._queue: queue.Queue[tuple[Mapping[str, Any], tuple[Event, ...], dt.datetime]] = queue.Queue(queue_size)
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._config: tuple[tuple[str, str], NotificationConfig] | None = None
        self._reported: OrderedDict[tuple[str, str], None] = OrderedDict()  # (rollout uid, problem) told once
        self._sent: OrderedDict[str, None] = OrderedDict()
        self._clients: dict[bool, httpx.Client] = {}
        self._unreadable: set[str] = set()
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def start(self, loop: Any = None) -> None:
        self.cache.start(loop)

    def stop(self) -> None:
        self._stop.set()
        self.cache.stop()
        for client in self._clients.values():
            client.close()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued item is handled (tests, shutdown); False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    # -- the reconciles' side ------------------------------------------------------------------------------------
    def submit(self, rollout: Mapping[str, Any], events: Sequence[Any]) -> None:
        """Queue the Events a reconcile recorded on ``rollout`` (the body the reconcile decided from); never blocks.

        ``events`` are anything with ``reason`` and ``message`` (the planner's ``EmitEvent``)."""
        if not events or not self._may_subscribe(rollout):
            return
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._drain, name="notifications", daemon=True)
                self._worker.start()
        item = (rollout, tuple(Event(str(e.reason), str(e.message)) for e in events), self.clock())
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                logger.warning("notification queue full: %d Rollout updates dropped so far", self.dropped)

    def _may_subscribe(self, rollout: Mapping[str, Any]) -> bool:
        annotations = (rollout.get("metadata") or {}).get("annotations") or {}
        prefix = self.mode.notifications_annotation_prefix + "/"
        if any(str(key).startswith(prefix) for key in annotations):
            return True
        known = self._config
        return known is None or bool(known[1].subscriptions)  # global subscriptions may select any Rollout

    # -- configuration -------------------------------------------------------------------------------------------
    def config(self) -> NotificationConfig:
        """The configuration as the ConfigMap and Secret stand now (parsed again only when either changed); each
        problem of a new version is logged once."""
        config_map = self._read(CONFIG_MAPS, self.mode.notifications_config_map)
        secret = self._read(SECRETS, self.mode.notifications_secret)
        version = tuple(
            str(((body or {}).get("metadata") or {}).get("resourceVersion") or "") for body in (config_map, secret)
        )
        known = self._config
        if known is not None and known[0] == version:
            return known[1]
        config = parse_config(
            (config_map or {}).get("data") or {},
            _secret_values(secret),
            secret_name=f"{self.namespace}/{self.mode.notifications_secret}",
        )
        for issue in config.issues:
            logger.warning(
                "notifications ConfigMap %s/%s: %s",
                self.namespace,
                self.mode.notifications_config_map,
                config.redact(str(issue)),
            )
        self._config = (version[0], version[1]), config
        self._reported.clear()  # a new configuration: its problems are told again
        return config

    def _read(self, resource: Resource, name: str) -> dict[str, Any] | None:
        """The object from its informer (the API while it has not listed); an API refusal (no RBAC for it, say)
        counts as no object, logged once per distinct refusal."""
        try:
            return self.cache.get(resource, name, self.namespace)
        except ApiError as error:
            text = f"{resource.kind} {self.namespace}/{name} not readable: {error}"
            if text not in self._unreadable:
                self._unreadable.add(text)
                logger.warning("notifications: %s (no notifications are sent while it is)", text)
            return None

    # -- the worker ------------------------------------------------------------------------------------------------
    def _drain(self) -> None:
        while not self._stop.is_set():
            rollout, events, now = self._queue.get()
            try:
                self.process(rollout, events, now=now)
            except Exception:  # the worker must outlive anything one notification does
                logger.exception("notifications for a Rollout update failed")
            finally:
                self._queue.task_done()

    def process(self, rollout: Mapping[str, Any], events: Sequence[Event], *, now: dt.datetime) -> None:
        """Plan, deliver and record the notifications ``events`` call for (blocking; the worker's loop body)."""
        config = self.config()
        deliveries, problems = plan_notifications(
            config, rollout, events, prefix=self.mode.notifications_annotation_prefix, now=now
        )
        for problem in problems:
            self._report(rollout, config, problem)
        for delivery in deliveries:
            if self._stop.is_set():
                return
            self._deliver(rollout, config, delivery, now)

    def _leading(self) -> bool:
        gate = self.kube.write_gate
        return gate is None or gate()

    def _report(self, rollout: Mapping[str, Any], config: NotificationConfig, problem: NotificationError) -> None:
        uid = str((rollout.get("metadata") or {}).get("uid") or "")
        text = config.redact(str(problem))
        if (uid, text) in self._reported:
            return
        self._reported[(uid, text)] = None
        while len(self._reported) > MEMORY:
            self._reported.popitem(last=False)
        meta = rollout.get("metadata") or {}
        logger.warning("%s/%s: notification not made: %s", meta.get("namespace"), meta.get("name"), text)
        if self._leading():
            reason = INVALID_REASON if isinstance(problem, ConfigError) else FAILED_REASON
            self.recorder.post(rollout, type="Warning", reason=reason, message=f"notification not made: {text}")

    def _deliver(
        self, rollout: Mapping[str, Any], config: NotificationConfig, delivery: Delivery, now: dt.datetime
    ) -> None:
        meta = rollout.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        if not self._leading():
            logger.info("%s/%s: not the leader; %s left to the leader", namespace, name, delivery.describe())
            return
        current = self.reads.get(self.mode.rollouts, name, namespace)
        if current is None or (current.get("metadata") or {}).get("uid") != meta.get("uid"):
            return  # deleted (or replaced) meanwhile
        if delivery.key in self._sent or delivery.key in recorded(current, self.mode.notifications_record_annotation):
            logger.debug("%s/%s: %s already delivered", namespace, name, delivery.describe())
            return
        verdict = self._send(delivery)
        if verdict.outcome != "delivered":
            self.failed += 1
            reason = config.redact(verdict.reason)
            logger.warning("%s/%s: notification %s failed: %s", namespace, name, delivery.describe(), reason)
            self.recorder.post(
                rollout,
                type="Warning",
                reason=FAILED_REASON,
                message=f"{delivery.describe()} failed: {reason}",
            )
            return
        self.delivered += 1
        self._sent[delivery.key] = None
        while len(self._sent) > MEMORY:
            self._sent.popitem(last=False)
        logger.info("%s/%s: notification %s delivered", namespace, name, delivery.describe())
        self._record(namespace, name, delivery.key, now)

    def _record(self, namespace: str, name: str, key: str, now: dt.datetime) -> None:
        annotation = self.mode.notifications_record_annotation
        current = self.reads.get(self.mode.rollouts, name, namespace) or {}
        value = with_delivery(recorded(current, annotation), key, now)
        try:
            self.kube.patch(self.mode.rollouts, name, {"metadata": {"annotations": {annotation: value}}}, namespace)
        except ApiError as error:
            logger.warning("%s/%s: delivered notification not recorded: %s", namespace, name, error)

    def _client(self, verify: bool) -> httpx.Client:
        with self._lock:
            client = self._clients.get(verify)
            if client is None:
                client = httpx.Client(timeout=REQUEST_TIMEOUT, verify=verify, follow_redirects=False)
                self._clients[verify] = client
            return client

    def _send(self, delivery: Delivery) -> Verdict:
        """One delivery, retried as its service says (a bounded number of tries, bounded waits)."""
        request, retry = delivery.request, delivery.service.retry
        wait = retry.wait_min
        verdict = Verdict("failed", "not tried")
        for attempt in range(max(retry.attempts, 1)):
            if attempt:
                pause = min(verdict.wait if verdict.wait is not None else wait, retry.wait_max)
                if self._stop.wait(pause):
                    return Verdict("failed", "the controller is stopping")
                wait = min(wait * 2, retry.wait_max)
            try:
                response = self._client(request.verify).request(
                    request.method, request.url, headers=list(request.headers), content=request.body
                )
            except httpx.HTTPError as error:
                # The exception's text may quote the URL: only its kind is kept.
                verdict = Verdict("retry", f"{type(error).__name__} after {attempt + 1} attempt(s)")
                continue
            verdict = delivery.service.judge(response.status_code, response.headers, response.content)
            if verdict.outcome != "retry":
                return verdict
        return Verdict("failed", verdict.reason)
