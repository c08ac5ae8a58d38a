"""The ``container`` step runner: one Kubernetes Job per attempt, its outcome learned from one shared watch.

Why a watch: Argo's controller assessed running pods one after another, so a DAG with thousands of running steps
spent its time polling. Here a single watch over every Job this process manages feeds an index; each waiting step
is an ``asyncio.Future`` resolved in O(1) when its Job's terminal condition arrives, so N running steps cost one
stream, not N requests per pass.

Restart safety: the Job name is derived from the stable node id and the attempt number, so a controller that
restarts mid-run finds the Job it created before (HTTP 409 on create, then re-attach) instead of creating a
duplicate. Cancellation by the engine (timeout, failFast, run terminated) deletes the Job; an executor *shutdown*
does not, so the next controller can re-attach.

Least privilege: step pods run as the workflow's ``serviceAccountName`` or, by default, as a dedicated
ServiceAccount with no RoleBindings and no mounted token. Steps never get a docker socket or host access.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workflows.api import MANAGED_LABEL, MANAGER
from workflows.runtime.kube import JOBS, SERVICE_ACCOUNTS, ApiError, ConflictError, Kube
from workflows.runtime.runners import NodeContext, NodeResult
from workflows.runtime.watching import Key, WatchIndex

__all__ = ["DEFAULT_STEP_SERVICE_ACCOUNT", "JobIndex", "JobOutcome", "JobRunner", "build_job", "job_name_for"]

logger = logging.getLogger(__name__)

WORKFLOW_LABEL = "workflows.rollouts.dev/workflow"
NODE_ANNOTATION = "workflows.rollouts.dev/node-name"
NODE_ID_LABEL = "workflows.rollouts.dev/node-id"
DEFAULT_STEP_SERVICE_ACCOUNT = "rollouts-workflow-step"
_CONTAINER_NAME = "main"


def job_name_for(workflow_name: str, node_id: str, attempt: int) -> str:
    """A DNS-1123 Job name that is the same for the same node attempt across controller restarts."""
    digest = hashlib.sha256(f"{node_id}/{attempt}".encode()).hexdigest()[:10]
    stem = workflow_name[: 63 - len(digest) - 4].rstrip("-.")
    return f"{stem}-{digest}-{attempt}"


def build_job(node: NodeContext, *, owner: Mapping[str, Any] | None, default_service_account: str) -> dict[str, Any]:
    """The Job body for one attempt of a container step (pure: no API calls)."""
    container = dict(node.payload) if isinstance(node.payload, Mapping) else {}
    container.setdefault("name", _CONTAINER_NAME)
    pod_fields = dict(node.pod)
    pod_metadata = dict(pod_fields.pop("metadata", {}) or {})
    service_account = node.service_account_name or pod_fields.pop("serviceAccountName", None)
    pod_spec: dict[str, Any] = {
        **pod_fields,
        "restartPolicy": "Never",
        "containers": [container],
    }
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    else:
        pod_spec["serviceAccountName"] = default_service_account
        pod_spec["automountServiceAccountToken"] = False
    labels = {MANAGED_LABEL: MANAGER, WORKFLOW_LABEL: node.workflow_name[:63], NODE_ID_LABEL: node.node_id}
    metadata: dict[str, Any] = {
        "name": job_name_for(node.workflow_name, node.node_id, node.attempt),
        "namespace": node.namespace,
        "labels": labels,
        "annotations": {NODE_ANNOTATION: node.node_name},
    }
    if owner:
        metadata["ownerReferences"] = [dict(owner)]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            # Retries are the engine's (retryStrategy), one Job per attempt; the Job itself never retries.
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {
                    **pod_metadata,
                    "labels": {**(pod_metadata.get("labels") or {}), **labels},
                },
                "spec": pod_spec,
            },
        },
    }


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """A Job's terminal state as the watch saw it."""

    succeeded: bool
    message: str


def outcome_of(job: Mapping[str, Any]) -> JobOutcome | None:
    """Complete/Failed from a Job's conditions, or None while it runs (pure)."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return JobOutcome(succeeded=True, message="")
        if condition.get("type") == "Failed":
            reason = condition.get("reason") or "Failed"
            detail = condition.get("message") or ""
            return JobOutcome(succeeded=False, message=f"{reason}: {detail}".rstrip(": "))
    return None


class JobIndex(WatchIndex[JobOutcome]):
    """Terminal outcomes of every Job this process manages, from one list+watch; awaited by many steps."""

    def __init__(
        self, kube: Kube, *, loop: asyncio.AbstractEventLoop | None = None, namespaces: Sequence[str] = ()
    ) -> None:
        super().__init__(
            kube,
            JOBS,
            selector=f"{MANAGED_LABEL}={MANAGER}",
            loop=loop,
            name="workflow-job-watch",
            namespaces=namespaces,
        )

    def classify(self, obj: Mapping[str, Any]) -> tuple[Key, JobOutcome] | None:
        outcome = outcome_of(obj)
        if outcome is None:
            return None
        meta = obj["metadata"]
        return (meta["namespace"], meta["name"]), outcome

    def deleted(self, obj: Mapping[str, Any]) -> Key | None:
        return obj["metadata"]["namespace"], obj["metadata"]["name"]

    async def wait(self, namespace: str, name: str) -> JobOutcome:
        return await self.wait_for((namespace, name))


class JobRunner:
    """Runs ``container`` steps as Jobs; see the module docstring for the contract."""

    uses_slot = True

    def __init__(
        self,
        kube: Kube,
        index: JobIndex,
        *,
        default_service_account: str = DEFAULT_STEP_SERVICE_ACCOUNT,
    ) -> None:
        self._kube = kube
        self._index = index
        self._default_sa = default_service_account
        self._accounts_ready: set[str] = set()
        self.shutting_down = False

    async def run(self, node: NodeContext) -> NodeResult:
        body = build_job(node, owner=node.owner, default_service_account=self._default_sa)
        name = body["metadata"]["name"]
        try:
            if not node.service_account_name and not node.pod.get("serviceAccountName"):
                await node.run_blocking(self._ensure_service_account, node.namespace)
            await node.run_blocking(self._create, node.namespace, body)
        except ApiError as error:
            return NodeResult.error(f"cannot create Job {name}: {error.status} {error.reason}", transient=True)
        try:
            outcome = await self._index.wait(node.namespace, name)
        except asyncio.CancelledError:
            if not self.shutting_down:
                with contextlib.suppress(Exception):
                    await asyncio.shield(asyncio.ensure_future(node.run_blocking(self._delete, node.namespace, name)))
            raise
        if outcome.succeeded:
            return NodeResult.succeeded(message=f"Job {name} completed")
        return NodeResult.failed(f"Job {name} failed: {outcome.message}")

    # -- blocking helpers (run on the executor's thread pool) ---------------------------------------------------
    def _create(self, namespace: str, body: dict[str, Any]) -> None:
        # Already exists: created before a controller restart; re-attach to it.
        with contextlib.suppress(ConflictError):
            self._kube.create(JOBS, body, namespace)

    def _delete(self, namespace: str, name: str) -> None:
        with contextlib.suppress(ApiError):  # best effort: the Job's ownerReference collects it otherwise
            self._kube.delete(JOBS, name, namespace, propagation="Background")

    def _ensure_service_account(self, namespace: str) -> None:
        if namespace in self._accounts_ready:
            return
        body = {
            "metadata": {
                "name": self._default_sa,
                "labels": {MANAGED_LABEL: MANAGER},
                "annotations": {"workflows.rollouts.dev/purpose": "workflow steps; bound to no Role on purpose"},
            },
            "automountServiceAccountToken": False,
        }
        with contextlib.suppress(ConflictError):  # already there: created by an earlier step or controller
            self._kube.create(SERVICE_ACCOUNTS, body, namespace)
        self._accounts_ready.add(namespace)
