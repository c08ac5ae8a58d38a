"""What the analysis package needs from the Kubernetes API: Secret reads, the Job provider's backend, a pod watch.

Why here and nowhere else: the analysis core is pure and its providers take their cluster access through small
seams (:class:`analysis.args.SecretResolver`, :class:`analysis.providers.job.JobBackend`). This module implements
them with the product's one API client (:class:`workflows.runtime.kube.Kube`); it never imports ``kubernetes``.

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
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from analysis.providers.job import JOB_POD_LABEL, JobOwnershipError, JobResult, unstartable_reason
from workflows.runtime.jobs import JobIndex
from workflows.runtime.kube import JOBS, PODS, SECRETS, WORKFLOW_TEMPLATES, ApiError, ConflictError, Kube
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

    def __init__(self, kube: Kube) -> None:
        self._kube = kube

    def resolve_secret(self, namespace: str, name: str, key: str) -> str:
        try:
            secret = self._kube.get(SECRETS, name, namespace)
        except ApiError as error:  # the status only: the server's message is not needed to say what went wrong
            raise SecretAccessError(f"reading Secret {name!r}: HTTP {error.status}") from None
        if secret is None:
            raise SecretNotFoundError(f"Secret {name!r} not found")
        data = secret.get("data") or {}
        if key not in data:
            raise SecretKeyMissingError(f"Secret {name!r} has no key {key!r}")
        try:
            return base64.b64decode(data[key]).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise SecretKeyMissingError(f"key {key!r} of Secret {name!r} is not UTF-8 text") from None


class PodIndex(WatchIndex[str]):
    """Pods of analysis Jobs that cannot start (first reason wins), from one list+watch, awaited per Job."""

    keep_first = True

    def __init__(
        self, kube: Kube, *, loop: asyncio.AbstractEventLoop | None = None, namespaces: Sequence[str] = ()
    ) -> None:
        super().__init__(
            kube,
            PODS,
            selector=JOB_POD_LABEL,
            loop=loop,
            name="analysis-pod-watch",
            namespaces=namespaces,
        )

    def classify(self, obj: Mapping[str, Any]) -> tuple[Key, str] | None:
        reason = unstartable_reason(obj, now=datetime.now(UTC))
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
        kube: Kube,
        *,
        jobs: JobIndex,
        pods: PodIndex,
        shutting_down: Callable[[], bool] = lambda: False,
    ) -> None:
        self._kube = kube
        self._jobs = jobs
        self._pods = pods
        self._shutting_down = shutting_down

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down()

    def create_job(self, namespace: str, body: Mapping[str, Any]) -> None:
        try:
            self._kube.create(JOBS, body, namespace)
        except ConflictError:
            pass
        else:
            return
        # Created before a restart (or a concurrent reconcile): adopt it only if the same run owns it.
        name = body["metadata"]["name"]
        existing = self._kube.get(JOBS, name, namespace)
        if existing is None:  # deleted between the two requests: create it anew (a second 409 is an API error)
            self._kube.create(JOBS, body, namespace)
            return
        wanted = {ref.get("uid") for ref in body["metadata"].get("ownerReferences") or []}
        owners = {ref.get("uid") for ref in existing["metadata"].get("ownerReferences") or []}
        if wanted and not wanted & owners:
            raise JobOwnershipError(f"Job {name} already exists and belongs to another object")

    def delete_job(self, namespace: str, name: str) -> None:
        self._kube.delete(JOBS, name, namespace, propagation="Foreground")  # False: already gone, as wanted
        self._pods.forget((namespace, name))

    async def wait_job(self, namespace: str, name: str) -> JobResult:
        outcome = await self._jobs.wait(namespace, name)
        return JobResult(succeeded=outcome.succeeded, message=outcome.message)

    async def wait_unstartable(self, namespace: str, name: str) -> JobResult:
        reason = await self._pods.wait(namespace, name)
        return JobResult(succeeded=False, message=reason, unstartable=True)


def workflow_template_fetcher(kube: Kube) -> Callable[[str, str], Mapping[str, Any]]:
    """Read a WorkflowTemplate for ``provider.workflow`` (blocking; called on the executor's thread pool)."""
    from analysis.providers.workflow import TemplateNotFoundError

    def fetch(namespace: str, name: str) -> Mapping[str, Any]:
        body = kube.get(WORKFLOW_TEMPLATES, name, namespace)
        if body is None:
            raise TemplateNotFoundError(f"WorkflowTemplate {namespace}/{name} not found")
        return body

    return fetch
