"""The ``job`` metric provider: a Kubernetes Job per measurement; the Job completing is Successful, failing is Failed.

Why it is shaped this way:

- **Awaited, not polled, not blocking.** A Job may run for minutes. The provider is an
  :class:`~analysis.providers.base.AsyncMetricProvider`: it creates the Job on a worker thread, records a Running
  measurement (with the Job name in ``metadata["job-name"]``, as Argo does) and then awaits the shared Job watch
  (:class:`workflows.runtime.jobs.JobIndex`) and a pod watch on the event loop. No thread waits, no request repeats.
- **Restart-safe by name.** The Job is named ``<run>-<metric>-<n>`` where ``n`` is the measurement's sequence number
  (``count + error + 1``), identical before and after a controller restart. A restarted controller re-attaches: the
  create answers 409, the existing Job is adopted if the same AnalysisRun owns it, and its outcome arrives from the
  watch as usual. A Job of that name owned by something else is an Error, never silently adopted.
- **A pod that cannot start ends the measurement.** ``InvalidImageName`` or ``CreateContainerConfigError`` on a Job
  pod, or a pull error (``ErrImagePull``/``ImagePullBackOff``) still there 10 s after the pod started (the kubelet's
  first retry failed too: a registry's blip does not count), make the measurement Inconclusive and delete the Job.
  Argo v1.10's job provider does the same (without the patience), so a typo in an image name pauses a rollout for a
  human instead of hanging it or failing it.
- **Conditions do not apply**, as in Argo: success and failure come from the Job, never from
  ``successCondition``/``failureCondition``.
- **Termination cleans up.** A measurement cancelled because its run ends (fail-fast, ``terminate``, deletion) deletes
  its Job (foreground, so its pods go too) and is concluded Inconclusive (Argo v1.10: a Job that never finished
  proved nothing); a controller *shutdown* leaves the Job for the next controller.

The user's Job spec is used as written (``backoffLimit`` included), with one safe default: a pod that names no
ServiceAccount and does not set ``automountServiceAccountToken`` gets no token (:func:`without_unasked_token`;
docs/security.md). We add labels (the shared watch's managed-by label, the run's uid), annotations (run and metric
names), the ownerReference and a pod-template label the pod watch selects on. The pure parts (:func:`job_name`,
:func:`build_job`, :func:`unstartable_reason`) are unit-tested; the cluster side is the :class:`JobBackend`
Protocol, implemented in :mod:`analysis.kube`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from analysis.args import RenderedProvider
from analysis.assess import AnalysisPhase, Measurement
from analysis.providers.base import MeasurementContext, error_measurement
from workflows.api import MANAGED_LABEL, MANAGER
from workflows.model.times import parse_time

__all__ = [
    "JOB_NAME_KEY",
    "JOB_POD_LABEL",
    "METRIC_ANNOTATION",
    "PULL_ERRORS",
    "PULL_PATIENCE",
    "RUN_NAME_ANNOTATION",
    "RUN_UID_LABEL",
    "UNSTARTABLE_REASONS",
    "JobBackend",
    "JobOwnershipError",
    "JobProvider",
    "JobResult",
    "build_job",
    "job_name",
    "unstartable_reason",
    "without_unasked_token",
]

#: Measurement metadata key holding the Job's name (Argo's key).
JOB_NAME_KEY = "job-name"
RUN_UID_LABEL = "analysis.rollouts.dev/run-uid"
RUN_NAME_ANNOTATION = "analysis.rollouts.dev/run-name"
METRIC_ANNOTATION = "analysis.rollouts.dev/metric-name"
#: On the pod template: which Job a pod belongs to, for the pod watch (label values fit: Job names are <= 63).
JOB_POD_LABEL = "analysis.rollouts.dev/job"
#: Waiting reasons of a container that will not start without someone changing something.
UNSTARTABLE_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"})
#: Pull errors the kubelet retries (after 10 s, then backing off): one may be a registry's blip, so they count once
#: they have lasted this long since the pod started, i.e. once the kubelet's first retry has failed too.
PULL_ERRORS = frozenset({"ErrImagePull", "ImagePullBackOff"})
PULL_PATIENCE = timedelta(seconds=10)
_MAX_NAME = 63
_INVALID = re.compile(r"[^a-z0-9-]+")


def job_name(run_name: str, metric_name: str, sequence: int) -> str:
    """``<run>-<metric>-<n>``, made a valid Job name (DNS-1123 label, at most 63 characters), stable for its inputs.

    Metric names may hold characters a Job name cannot (``.``, ``_``, upper case); those become ``-``. When the
    result would be too long, or sanitising changed it (two metrics could collide), a short hash of the exact
    inputs is added so distinct measurements never share a Job.
    """
    plain = f"{run_name}-{metric_name}"
    clean = _INVALID.sub("-", plain.lower()).strip("-") or "analysis"
    suffix = f"-{sequence}"
    if clean == plain and len(clean) + len(suffix) <= _MAX_NAME:
        return clean + suffix
    digest = hashlib.sha256(f"{run_name}\x00{metric_name}".encode()).hexdigest()[:8]
    stem = clean[: _MAX_NAME - len(suffix) - len(digest) - 1].rstrip("-")
    return f"{stem}-{digest}{suffix}"


def build_job(
    body: Mapping[str, Any],
    *,
    name: str,
    namespace: str,
    run_name: str,
    metric_name: str,
    owner: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The Job for one measurement from the (rendered) ``provider.job`` body. Pure; the user's spec is kept.

    Our labels are added to the user's (ours win on a clash: the watch depends on them); the pod template gets
    :data:`JOB_POD_LABEL` so the pod watch can tell which Job a stuck pod belongs to.
    """
    raw_meta = body.get("metadata")
    meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
    spec = dict(body.get("spec") or {})
    template = dict(spec.get("template") or {})
    pod_meta = dict(template.get("metadata") or {})
    pod_meta["labels"] = {**dict(pod_meta.get("labels") or {}), JOB_POD_LABEL: name}
    template["metadata"] = pod_meta
    pod_spec = template.get("spec")
    if isinstance(pod_spec, Mapping):
        template["spec"] = without_unasked_token(pod_spec)
    spec["template"] = template
    labels = {**dict(meta.get("labels") or {}), MANAGED_LABEL: MANAGER}
    if owner and owner.get("uid"):
        labels[RUN_UID_LABEL] = str(owner["uid"])
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": labels,
        "annotations": {
            **dict(meta.get("annotations") or {}),
            RUN_NAME_ANNOTATION: run_name,
            METRIC_ANNOTATION: metric_name,
        },
    }
    if owner:
        metadata["ownerReferences"] = [dict(owner)]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


def without_unasked_token(pod_spec: Mapping[str, Any]) -> dict[str, Any]:
    """``pod_spec`` with ``automountServiceAccountToken: false`` unless its author asked for an identity. Pure.

    A pod that names no ServiceAccount runs as its namespace's ``default`` one, and Kubernetes mounts that account's
    token into it: whatever the namespace granted ``default`` would be handed to a measurement's container by
    nobody's decision. Argo uses the Job spec as written (the token is mounted); we keep the user's spec except for
    this one default, and never override a choice: a pod spec that names ``serviceAccountName`` (or the deprecated
    ``serviceAccount``) or sets ``automountServiceAccountToken`` either way is left exactly as written.
    """
    spec = dict(pod_spec)
    asked = any(key in spec for key in ("serviceAccountName", "serviceAccount", "automountServiceAccountToken"))
    if not asked:
        spec["automountServiceAccountToken"] = False
    return spec


def unstartable_reason(pod: Mapping[str, Any], *, now: datetime) -> str | None:
    """``"<reason>: <message>"`` when a container (init or main) of ``pod`` waits for a reason it will not get
    past by itself (:data:`UNSTARTABLE_REASONS`; a pull error once it has outlasted :data:`PULL_PATIENCE`), else
    None. Pure: works on the pod as the API returns it, at ``now``.
    """
    status = pod.get("status") or {}
    started = parse_time(status.get("startTime") or (pod.get("metadata") or {}).get("creationTimestamp"))
    patient = started is not None and now - started < PULL_PATIENCE
    for key in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for container in status.get(key) or []:
            waiting = ((container or {}).get("state") or {}).get("waiting") or {}
            reason = waiting.get("reason")
            if reason in PULL_ERRORS and patient:
                continue
            if reason in UNSTARTABLE_REASONS:
                detail = waiting.get("message") or ""
                who = container.get("name") or "?"
                return f"{reason}: container {who}" + (f": {detail}" if detail else "")
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class JobResult:
    """How a Job ended as the watches saw it: Complete, Failed (with the condition's reason) or unstartable."""

    succeeded: bool
    message: str = ""
    unstartable: bool = False


class JobOwnershipError(Exception):
    """A Job with the measurement's name exists but belongs to another object: never adopt it."""


class JobBackend(Protocol):
    """The cluster side of the provider. Blocking methods run on the executor's thread pool."""

    @property
    def shutting_down(self) -> bool:
        """True while the controller stops: cancelled measurements then keep their Jobs for the next one."""
        ...

    def create_job(self, namespace: str, body: Mapping[str, Any]) -> None:
        """Create the Job; an existing one owned by the same uid is fine (re-attach). Blocking."""
        ...

    def delete_job(self, namespace: str, name: str) -> None:
        """Delete the Job and its pods; a missing Job is fine. Blocking."""
        ...

    async def wait_job(self, namespace: str, name: str) -> JobResult:
        """Resolve when the Job is Complete or Failed (from the shared watch)."""
        ...

    async def wait_unstartable(self, namespace: str, name: str) -> JobResult:
        """Resolve when a pod of the Job cannot start (from the pod watch)."""
        ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


class JobProvider:
    """The ``job`` provider; see the module docstring."""

    def __init__(self, backend: JobBackend, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.backend = backend
        self.clock = clock

    async def measure_async(
        self,
        rendered: RenderedProvider,
        *,
        context: MeasurementContext,
        now: datetime,
        run_blocking: Callable[..., Awaitable[object]],
    ) -> Measurement:
        in_flight = context.in_flight
        stored_name = in_flight.metadata.get(JOB_NAME_KEY) if in_flight is not None else None
        name = stored_name or job_name(context.run_name, context.metric.name, context.sequence)
        started_at = in_flight.started_at if in_flight is not None else now
        metadata = {JOB_NAME_KEY: name}
        body = build_job(
            rendered.body,
            name=name,
            namespace=context.namespace,
            run_name=context.run_name,
            metric_name=context.metric.name,
            owner=context.owner,
        )
        try:
            await run_blocking(self.backend.create_job, context.namespace, body)
        except JobOwnershipError as error:
            return error_measurement(rendered.redact(str(error)), now=started_at, metadata=metadata)
        except Exception as error:  # noqa: BLE001 -- an API failure is an Error measurement, retried by the runner
            text = rendered.redact(str(getattr(error, "reason", "") or error)) or type(error).__name__
            return error_measurement(f"cannot create Job {name}: {text}", now=started_at, metadata=metadata)
        if in_flight is None:
            context.started(Measurement(phase=AnalysisPhase.RUNNING, started_at=started_at, metadata=metadata))
        try:
            result = await self._first_outcome(context.namespace, name)
        except asyncio.CancelledError:
            if not self.backend.shutting_down:
                delete = asyncio.ensure_future(run_blocking(self.backend.delete_job, context.namespace, name))
                with contextlib.suppress(Exception):
                    await asyncio.shield(delete)
            raise
        finished = max(self.clock(), started_at)
        if result.unstartable:
            with contextlib.suppress(Exception):
                await run_blocking(self.backend.delete_job, context.namespace, name)
            return Measurement(
                phase=AnalysisPhase.INCONCLUSIVE,
                started_at=started_at,
                finished_at=finished,
                message=rendered.redact(f"Job {name} cannot start: {result.message}"),
                metadata=metadata,
            )
        if result.succeeded:
            return Measurement(
                phase=AnalysisPhase.SUCCESSFUL, started_at=started_at, finished_at=finished, metadata=metadata
            )
        return Measurement(
            phase=AnalysisPhase.FAILED,
            started_at=started_at,
            finished_at=finished,
            message=rendered.redact(f"Job {name} failed" + (f": {result.message}" if result.message else "")),
            metadata=metadata,
        )

    async def _first_outcome(self, namespace: str, name: str) -> JobResult:
        """Whichever comes first: the Job's terminal condition or a pod that cannot start."""
        waits = [
            asyncio.ensure_future(self.backend.wait_job(namespace, name)),
            asyncio.ensure_future(self.backend.wait_unstartable(namespace, name)),
        ]
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            # Prefer the Job's own verdict when both are known at once (a Job that failed *because* it could not
            # start reports Failed, which is what it is).
            for future in waits:
                if future in done:
                    return future.result()
            raise AssertionError("asyncio.wait returned without a completed future")  # pragma: no cover
        finally:
            for future in waits:
                future.cancel()
