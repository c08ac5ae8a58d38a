"""The kopf shell of ``AnalysisRun`` resources: parse the object, run it on the shared executor, write status.

Everything that decides lives elsewhere: parsing and validation (:mod:`analysis.spec`), the DAG and the measurement
loop (:mod:`analysis.runner`), the verdict (:mod:`analysis.assess`), the status shape (:mod:`analysis.status`).
This module only translates between kopf events and those:

- create / operator resume of a run that has not concluded -> resolve ``fieldRef`` args against the AnalysisRun
  itself, resolve metrics, and :func:`~analysis.runner.run_analysis` on ``engine.executor`` (the executor Workflows
  use) seeded with ``status.metricResults``, so a restarted controller continues counts and re-attaches to Jobs;
- every recorded measurement -> a coalesced status write (at most one merge patch of the status subresource per
  :data:`STATUS_INTERVAL` per run), and one final write with ``completedAt`` when the run concludes;
- ``spec.terminate: true`` -> the run is terminated (Successful unless something already failed: the core's rule);
- delete -> the run is cancelled; its Jobs are deleted by the provider and, failing that, by their ownerReference;
- an invalid spec -> phase ``Error`` with the field path in ``status.message`` and a Warning Event; handlers never
  raise for bad input, so nothing crash-loops.

A run is concluded only once ``completedAt`` is stored. Intermediate writes therefore never show a concluded phase
(they say Running until the final write): a controller that dies between "a metric failed" and the final write
resumes the run, winds it up and writes the verdict, instead of leaving Jobs behind a run that looks finished.

Secrets: secret args are read at measurement time by :class:`~analysis.kube.KubeSecretResolver` and exist only in
the request body; status, Events and logs get the redacted forms.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import kopf

from analysis.args import resolve_field_refs
from analysis.assess import AnalysisPhase, MetricResult, assess_run
from analysis.errors import SpecError
from analysis.kube import KubeJobBackend, KubeSecretResolver, PodIndex, workflow_template_fetcher
from analysis.providers import default_providers
from analysis.providers.job import JOB_NAME_KEY, JobProvider
from analysis.providers.workflow import WorkflowTemplateProvider
from analysis.runner import METRIC_KIND, TERMINATED_MESSAGE, AnalysisOutcome, MetricRunner, run_analysis
from analysis.spec import AnalysisRunSpec, Metric, ProviderKind, parse_run_spec, resolve_metrics
from analysis.status import decode_metric_results, encode_run_status
from workflows.api import GROUP, VERSION, owner_reference
from workflows.model.times import format_time, parse_time
from workflows.runtime.controller import Engine
from workflows.runtime.kube import ANALYSIS_RUNS, JOBS, ApiError, Kube

__all__ = [
    "PLURAL",
    "STATUS_INTERVAL",
    "StatusBatcher",
    "install_metric_runner",
    "register_analysis_handlers",
]

logger = logging.getLogger(__name__)

PLURAL = "analysisruns"
#: Seconds between status writes of one run (Argo reconciles about as often); the final write is immediate.
STATUS_INTERVAL = 1.0
_FINAL_WRITE_ATTEMPTS = 5


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------------------------------------------
# Wiring into the shared engine


@dataclass
class _Cluster:
    """The analysis parts started next to the engine: the pod watch and the metric runner."""

    pods: PodIndex
    runner: MetricRunner


def install_metric_runner(engine: Engine) -> MetricRunner:
    """Register the ``metric`` step runner (prometheus, web and job providers, Secrets from the API) on the engine.

    Called at operator startup, after :meth:`Engine.start`; the pod watch it starts stops with the engine's
    ``job_runner.shutting_down`` flag at cleanup (see :func:`register_analysis_handlers`).
    """
    pods = PodIndex(engine.kube, loop=asyncio.get_running_loop())
    backend = KubeJobBackend(
        engine.kube, jobs=engine.jobs, pods=pods, shutting_down=lambda: engine.job_runner.shutting_down
    )
    providers = default_providers()
    providers.register(ProviderKind.JOB, JobProvider(backend))
    providers.register(
        ProviderKind.WORKFLOW,
        WorkflowTemplateProvider(
            executor=engine.executor, fetch_template=workflow_template_fetcher(engine.kube), owners=engine.owners
        ),
    )
    runner = MetricRunner(providers=providers, secrets=KubeSecretResolver(engine.kube))
    engine.executor.registry.register(METRIC_KIND, runner)
    pods.start()
    _CLUSTERS[id(engine)] = _Cluster(pods=pods, runner=runner)
    return runner


_CLUSTERS: dict[int, _Cluster] = {}


# --------------------------------------------------------------------------------------------------------------
# Status writes


class StatusBatcher:
    """Coalesces a run's status writes: at most one per ``interval``; ``close`` makes the final write last.

    ``compose`` builds the body when the write happens (not when the change happens), so a burst of measurements
    costs one serialisation and one PATCH. A write in flight is never cancelled: ``close`` waits for it, so a stale
    intermediate body can never land after the final one.
    """

    def __init__(
        self,
        *,
        write: Callable[[dict[str, Any]], Awaitable[None]],
        compose: Callable[[], dict[str, Any]],
        interval: float = STATUS_INTERVAL,
        retry_delay: float = 0.2,
    ) -> None:
        self._write = write
        self._retry_delay = retry_delay
        self._compose = compose
        self._interval = interval
        self._dirty = False
        self._closed = False
        self._last = float("-inf")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.writes = 0

    def _is_closed(self) -> bool:
        return self._closed  # a method, so the checker re-reads the flag after the await that may have set it

    def mark_dirty(self) -> None:
        if self._closed:
            return
        self._dirty = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._dirty and not self._closed:
            delay = self._last + self._interval - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                if self._is_closed():
                    return
            self._dirty = False
            self._last = loop.time()
            await self._safe_write(self._compose())

    async def _safe_write(self, body: dict[str, Any]) -> bool:
        self.writes += 1
        try:
            await self._write(body)
        except Exception:  # a failed write is retried by the next one; it must not end the run
            logger.warning("status write failed", exc_info=True)
            return False
        return True

    async def close(self, final: dict[str, Any] | None = None, *, attempts: int = _FINAL_WRITE_ATTEMPTS) -> bool:
        """Stop batching; wait for a write in flight; then write ``final`` (retried a few times)."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if final is None:
            return True
        for attempt in range(attempts):
            if await self._safe_write(final):
                return True
            await asyncio.sleep(min(self._retry_delay * 2**attempt, 2.0))
        return False


def _patch_status(kube: Kube, namespace: str, name: str, status: Mapping[str, Any]) -> None:
    # None (deleted meanwhile) needs nothing: there is nothing left to report to.
    kube.patch(ANALYSIS_RUNS, name, {"status": dict(status)}, namespace, subresource="status")


def _delete_terminated_jobs(kube: Kube, namespace: str, results: Mapping[str, MetricResult]) -> None:
    """Jobs of measurements the run's end terminated. Normally the provider deleted them already (this is then a
    404); it matters when ``terminate`` was set while no controller ran, so no provider was there to clean up.
    """
    for result in results.values():
        last = result.last
        name = last.metadata.get(JOB_NAME_KEY) if last is not None else None
        if not name or last is None or last.message != TERMINATED_MESSAGE:
            continue
        try:
            kube.delete(JOBS, name, namespace, propagation="Foreground")  # False: already gone
        except ApiError as error:
            logger.warning("cannot delete terminated Job %s/%s: HTTP %s", namespace, name, error.status)


# --------------------------------------------------------------------------------------------------------------
# One run


def prepare_run(body: Mapping[str, Any]) -> tuple[AnalysisRunSpec, tuple[Metric, ...]]:
    """Parse and resolve an AnalysisRun object. ``fieldRef`` args read the AnalysisRun itself (Argo does this for
    runs created directly; runs created by a Rollout arrive with values already filled in). Raises SpecError.
    """
    spec = parse_run_spec(dict(body.get("spec") or {}))
    if any(arg.field_ref is not None for arg in spec.args):
        try:
            args = resolve_field_refs(spec.args, dict(body))
        except SpecError as error:
            raise SpecError(issue.under("spec") for issue in error.issues) from None
        spec = replace(spec, args=args)
    return spec, resolve_metrics(spec)


@dataclass
class _ActiveRun:
    run_id: str
    terminate: asyncio.Event
    task: asyncio.Task[None] | None = None
    results: dict[str, MetricResult] = field(default_factory=dict)


class _Handlers:
    """The handler bodies; ``engine_ref['engine']`` is set at operator startup and shared by every resource."""

    def __init__(self, engine_ref: dict[str, Engine], *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine_ref = engine_ref
        self._clock = clock
        self.active: dict[str, _ActiveRun] = {}

    async def start(self, body: kopf.Body, patch: kopf.Patch) -> None:
        engine = self._engine_ref.get("engine")
        if engine is None:
            raise kopf.TemporaryError("the shared executor is not running yet", delay=1)
        meta, status = body["metadata"], dict(body.get("status") or {})
        uid, name, namespace = meta["uid"], meta["name"], meta["namespace"]
        if (status.get("completedAt") and status.get("phase")) or uid in self.active:
            return
        now = self._clock()
        try:
            spec, metrics = prepare_run(body)
        except SpecError as error:
            message = f"invalid AnalysisRun: {error}"
            patch.status.update(
                {
                    "phase": AnalysisPhase.ERROR.value,
                    "message": message,
                    "startedAt": status.get("startedAt") or format_time(now),
                    "completedAt": format_time(now),
                }
            )
            kopf.warn(body, reason="AnalysisRunError", message=message)
            logger.warning("AnalysisRun %s/%s: %s", namespace, name, message)
            return
        started_at = parse_time(status.get("startedAt")) or now
        results = decode_metric_results(status, fallback_time=started_at)
        active = _ActiveRun(run_id=f"analysisrun/{uid}", terminate=asyncio.Event(), results=dict(results))
        if spec.terminate or (body.get("spec") or {}).get("terminate") is True:
            active.terminate.set()
        self.active[uid] = active
        resumed = bool(results)
        kopf.info(
            body,
            reason="AnalysisRunRunning",
            message=("Resumed" if resumed else "Started") + f" analysis with {len(metrics)} metric(s)",
        )
        active.task = asyncio.get_running_loop().create_task(
            self._drive(engine, body, spec, metrics, active, started_at=started_at)
        )

    async def _drive(
        self,
        engine: Engine,
        body: kopf.Body,
        spec: AnalysisRunSpec,
        metrics: tuple[Metric, ...],
        active: _ActiveRun,
        *,
        started_at: datetime,
    ) -> None:
        meta = body["metadata"]
        uid, name, namespace = meta["uid"], meta["name"], meta["namespace"]
        dry_run = frozenset(metric.name for metric in metrics if spec.is_dry_run(metric.name))
        names = [metric.name for metric in metrics]
        loop = asyncio.get_running_loop()

        def compose() -> dict[str, Any]:
            assessment = assess_run(metrics, active.results, terminate=active.terminate.is_set(), dry_run=dry_run)
            body = encode_run_status(
                metric_names=names, results=active.results, assessment=assessment, started_at=started_at
            )
            if assessment.phase.completed:  # concluded only by the final write (see the module docstring)
                body["phase"] = AnalysisPhase.RUNNING.value
                body["message"] = None
            return body

        async def write(status: dict[str, Any]) -> None:
            await loop.run_in_executor(engine.executor.thread_pool, _patch_status, engine.kube, namespace, name, status)

        batcher = StatusBatcher(write=write, compose=compose)

        def on_update(metric: str, result: MetricResult) -> None:
            active.results[metric] = result
            batcher.mark_dirty()

        batcher.mark_dirty()  # phase Running and startedAt right away
        outcome: AnalysisOutcome | None = None
        try:
            outcome = await run_analysis(
                engine.executor,
                spec,
                name=name,
                namespace=namespace,
                metrics=metrics,
                started_at=started_at,
                results=active.results,
                on_update=on_update,
                terminate=active.terminate,
                run_id=active.run_id,
                owner=owner_reference(body, kind="AnalysisRun"),
                clock=self._clock,
            )
        except Exception as error:  # never out of the controller: a bug ends this run in Error, visibly
            logger.exception("AnalysisRun %s/%s crashed", namespace, name)
            await batcher.close(
                {
                    "phase": AnalysisPhase.ERROR.value,
                    "message": f"controller error: {type(error).__name__}",
                    "completedAt": format_time(self._clock()),
                }
            )
            kopf.warn(body, reason="AnalysisRunError", message=f"controller error: {type(error).__name__}")
            return
        finally:
            if outcome is None or outcome.interrupted:
                await batcher.close()
            self.active.pop(uid, None)
        if outcome.interrupted:  # the controller is stopping: the next one continues from the stored status
            return
        active.results.update(outcome.results)
        await loop.run_in_executor(
            engine.executor.thread_pool, _delete_terminated_jobs, engine.kube, namespace, outcome.results
        )
        final = encode_run_status(
            metric_names=names,
            results=outcome.results,
            assessment=outcome.assessment,
            started_at=started_at,
            completed_at=outcome.finished_at,
        )
        await batcher.close(final)
        phase = outcome.phase
        message = outcome.message or f"Analysis completed {phase}"
        if phase is AnalysisPhase.SUCCESSFUL:
            kopf.info(body, reason=f"AnalysisRun{phase}", message=message)
        else:
            kopf.warn(body, reason=f"AnalysisRun{phase}", message=message)

    def observe(self, body: kopf.Body, event_type: str | None) -> None:
        """Every watch event: ``spec.terminate`` flips the run's terminate flag; DELETED cancels the run."""
        uid = str((body.get("metadata") or {}).get("uid") or "")
        active = self.active.get(uid)
        if active is None:
            return
        if event_type == "DELETED" or (body.get("metadata") or {}).get("deletionTimestamp"):
            self.cancel(uid, "AnalysisRun deleted")
            return
        if (body.get("spec") or {}).get("terminate") is True and not active.terminate.is_set():
            active.terminate.set()

    def cancel(self, uid: str, reason: str) -> None:
        engine = self._engine_ref.get("engine")
        active = self.active.get(uid)
        if engine is None or active is None:
            return
        run = engine.executor.runs.get(active.run_id)
        if run is not None:
            run.cancel(reason)


def register_analysis_handlers(registry: kopf.OperatorRegistry, engine_ref: dict[str, Engine]) -> None:
    """Register the AnalysisRun handlers (and the pod watch's cleanup) on ``registry``."""
    handlers = _Handlers(engine_ref)

    @kopf.on.create(GROUP, VERSION, PLURAL, registry=registry)
    async def analysis_run_created(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        await handlers.start(body, patch)

    @kopf.on.resume(GROUP, VERSION, PLURAL, registry=registry)
    async def analysis_run_resumed(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        await handlers.start(body, patch)

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    async def analysis_run_event(body: kopf.Body, type: str | None, **_: Any) -> None:  # noqa: A002
        handlers.observe(body, type)

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, optional=True)
    async def analysis_run_deleted(body: kopf.Body, **_: Any) -> None:
        handlers.cancel(body["metadata"]["uid"], "AnalysisRun deleted")

    @kopf.on.cleanup(registry=registry)
    async def analysis_cleanup(**_: Any) -> None:
        while _CLUSTERS:
            _CLUSTERS.popitem()[1].pods.stop()
