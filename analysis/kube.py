"""What the analysis package needs from the Kubernetes API: Secret reads, the Job provider's backend, a pod watch.

Why here and nowhere else: the analysis core is pure and its providers take their cluster access through small
seams (:class:`analysis.args.SecretResolver`, :class:`analysis.providers.job.JobBackend`). This module implements
them against the official client, so ``kubernetes`` is imported by exactly the I/O modules the layering test allows.

Secrets: :class:`KubeSecretResolver` reads one key at measurement time and returns it to the renderer; it never
logs, caches or stores the value, and its errors name the Secret and key only.

Watching, not polling: Job outcomes come from the engine's shared :class:`workflows.runtime.jobs.JobIndex`; pods that
cannot start (image pull errors, missing config) come from :class:`PodIndex`, one watch over every pod of an
analysis Job, so N running job metrics cost two streams, not N polling loops.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Callable, Mapping
from typing import Any, cast

from kubernetes import client

from analysis.providers.job import JOB_POD_LABEL, JobOwnershipError, JobResult, unstartable_reason
from workflows.api import GROUP, VERSION
from workflows.runtime.jobs import JobIndex
from workflows.runtime.watching import Key, WatchIndex

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


class PodIndex(WatchIndex[str]):
    """Pods of analysis Jobs that cannot start (first reason wins), from one list+watch, awaited per Job."""

    keep_first = True

    def __init__(self, api: client.ApiClient, *, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(
            list_objects=client.CoreV1Api(api).list_pod_for_all_namespaces,
            selector=JOB_POD_LABEL,
            loop=loop,
            name="analysis-pod-watch",
        )

    def classify(self, obj: Mapping[str, Any]) -> tuple[Key, str] | None:
        reason = unstartable_reason(obj)
        meta = obj.get("metadata") or {}
        job = (meta.get("labels") or {}).get(JOB_POD_LABEL)
        if reason is None or not job:
            return None
        return (meta.get("namespace", ""), job), f"pod {meta.get('name')}: {reason}"

    async def wait(self, namespace: str, job: str) -> str:
        """The reason a pod of ``job`` cannot start, once one is seen."""
        return await self.wait_for((namespace, job))


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
        self._pods.forget((namespace, name))

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
            body: Any = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "workflowtemplates", name)
        except client.ApiException as error:
            if error.status == 404:
                raise TemplateNotFoundError(f"WorkflowTemplate {namespace}/{name} not found") from None
            raise
        return dict(body)

    return fetch
