"""What the analysis package needs from the Kubernetes API: Secret reads, the Job provider's backend, a pod watch.

Why here and nowhere else: the analysis core is pure and its providers take their cluster access through small
seams (:class:`analysis.args.SecretResolver`, :class:`analysis.providers.job.JobBackend`). This module implements
them against the official client, so ``kubernetes`` is imported by exactly the I/O modules the layering test allows.

Secrets: :class:`KubeSecretResolver` reads one key at measurement time and returns it to the renderer; it never
logs, caches or stores the value, and its errors name the Secret and key only.

Watching, not polling: Job outcomes come from the engine's shared :class:`workflows.jobs.JobIndex`; pods that
cannot start (image pull errors, missing config) come from :class:`PodIndex`, one watch over every pod of an
analysis Job, so N running job metrics cost two streams, not N polling loops.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, cast

from kubernetes import client, watch

from analysis.providers.job import JOB_POD_LABEL, JobOwnershipError, JobResult, unstartable_reason
from workflows.jobs import JobIndex

__all__ = [
    "KubeJobBackend",
    "KubeSecretResolver",
    "PodIndex",
    "SecretAccessError",
    "SecretKeyMissingError",
    "SecretNotFoundError",
]

logger = logging.getLogger(__name__)


class SecretNotFoundError(LookupError):
    """The Secret does not exist in the run's namespace."""


class SecretKeyMissingError(LookupError):
    """The Secret exists but has no such key."""


class SecretAccessError(PermissionError):
    """The controller may not read the Secret (RBAC), or the API failed."""


class KubeSecretResolver:
    """:class:`analysis.args.SecretResolver` over the API: one GET per measurement, nothing kept."""

    def __init__(self, api: client.ApiClient) -> None:
        self._core = client.CoreV1Api(api)

    def resolve_secret(self, namespace: str, name: str, key: str) -> str:
        try:
            secret = self._core.read_namespaced_secret(name, namespace)
        except client.ApiException as error:
            if error.status == 404:
                raise SecretNotFoundError(f"Secret {name!r} not found") from None
            raise SecretAccessError(f"reading Secret {name!r}: HTTP {error.status}") from None
        data = secret.data or {}
        if key not in data:
            raise SecretKeyMissingError(f"Secret {name!r} has no key {key!r}")
        try:
            return base64.b64decode(data[key]).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise SecretKeyMissingError(f"key {key!r} of Secret {name!r} is not UTF-8 text") from None


class PodIndex:
    """Pods of analysis Jobs that cannot start, from one watch thread, awaited per Job on the event loop."""

    def __init__(self, api: client.ApiClient, *, loop: asyncio.AbstractEventLoop) -> None:
        self._core = client.CoreV1Api(api)
        self._loop = loop
        self._stuck: dict[tuple[str, str], str] = {}
        self._waiters: dict[tuple[str, str], list[asyncio.Future[str]]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch: watch.Watch | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="analysis-pod-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()

    async def wait(self, namespace: str, job: str) -> str:
        """The reason a pod of ``job`` cannot start, once one is seen."""
        key = (namespace, job)
        known = self._stuck.get(key)
        if known is not None:
            return known
        future: asyncio.Future[str] = self._loop.create_future()
        self._waiters.setdefault(key, []).append(future)
        try:
            return await future
        finally:
            waiters = self._waiters.get(key)
            if waiters and future in waiters:
                waiters.remove(future)
                if not waiters:
                    del self._waiters[key]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response: Any = self._core.list_pod_for_all_namespaces(
                    label_selector=JOB_POD_LABEL, _preload_content=False
                )
                listing = json.loads(response.data)
                for pod in listing.get("items") or []:
                    self._observe(pod)
                self._watch = watch.Watch()
                for event in self._watch.stream(
                    self._core.list_pod_for_all_namespaces,
                    label_selector=JOB_POD_LABEL,
                    resource_version=(listing.get("metadata") or {}).get("resourceVersion"),
                    timeout_seconds=300,
                    deserialize=False,
                ):
                    if self._stop.is_set():
                        break
                    if event["type"] in {"ADDED", "MODIFIED"}:
                        self._observe(event["object"])
                    elif event["type"] == "ERROR":
                        break
            except Exception:  # a broken stream is re-listed; the thread must outlive API hiccups
                if self._stop.is_set():
                    break
                logger.warning("analysis pod watch restarting after an error", exc_info=True)
                self._stop.wait(1.0)

    def _observe(self, pod: Mapping[str, Any]) -> None:
        reason = unstartable_reason(pod)
        if reason is None:
            return
        meta = pod.get("metadata") or {}
        job = (meta.get("labels") or {}).get(JOB_POD_LABEL)
        if not job:
            return
        self._loop.call_soon_threadsafe(
            self._resolve, (meta.get("namespace", ""), job), f"pod {meta.get('name')}: {reason}"
        )

    def _resolve(self, key: tuple[str, str], reason: str) -> None:
        self._stuck.setdefault(key, reason)
        for future in self._waiters.pop(key, []):
            if not future.done():
                future.set_result(reason)

    def forget(self, namespace: str, job: str) -> None:
        self._stuck.pop((namespace, job), None)


class KubeJobBackend:
    """:class:`analysis.providers.job.JobBackend` over the API, the shared Job watch and the pod watch."""

    def __init__(
        self,
        api: client.ApiClient,
        *,
        jobs: JobIndex,
        pods: PodIndex,
        shutting_down: Callable[[], bool] = lambda: False,
    ) -> None:
        self._batch = client.BatchV1Api(api)
        self._jobs = jobs
        self._pods = pods
        self._shutting_down = shutting_down

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down()

    def create_job(self, namespace: str, body: Mapping[str, Any]) -> None:
        try:
            self._batch.create_namespaced_job(namespace, cast("Any", dict(body)))
        except client.ApiException as error:
            if error.status != 409:
                raise
        else:
            return
        # Created before a restart (or a concurrent reconcile): adopt it only if the same run owns it.
        name = body["metadata"]["name"]
        existing = self._batch.read_namespaced_job(name, namespace)
        wanted = {ref.get("uid") for ref in body["metadata"].get("ownerReferences") or []}
        owners = {ref.uid for ref in (existing.metadata.owner_references if existing.metadata else None) or []}
        if wanted and not wanted & owners:
            raise JobOwnershipError(f"Job {name} already exists and belongs to another object")

    def delete_job(self, namespace: str, name: str) -> None:
        try:
            self._batch.delete_namespaced_job(name, namespace, propagation_policy="Foreground")
        except client.ApiException as error:
            if error.status != 404:
                raise
        self._pods.forget(namespace, name)

    async def wait_job(self, namespace: str, name: str) -> JobResult:
        outcome = await self._jobs.wait(namespace, name)
        return JobResult(succeeded=outcome.succeeded, message=outcome.message)

    async def wait_unstartable(self, namespace: str, name: str) -> JobResult:
        reason = await self._pods.wait(namespace, name)
        return JobResult(succeeded=False, message=reason, unstartable=True)


def workflow_template_fetcher(api: client.ApiClient) -> Callable[[str, str], Mapping[str, Any]]:
    """Read a WorkflowTemplate for ``provider.workflow`` (blocking; called on the executor's thread pool)."""
    from analysis.providers.workflow import TemplateNotFoundError

    custom = client.CustomObjectsApi(api)

    def fetch(namespace: str, name: str) -> Mapping[str, Any]:
        try:
            body: Any = custom.get_namespaced_custom_object(
                "rollouts.dev", "v1alpha1", namespace, "workflowtemplates", name
            )
        except client.ApiException as error:
            if error.status == 404:
                raise TemplateNotFoundError(f"WorkflowTemplate {namespace}/{name} not found") from None
            raise
        return dict(body)

    return fetch
