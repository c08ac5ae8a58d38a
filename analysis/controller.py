"""The kopf shell of ``AnalysisRun`` resources: parse the object, run it on the shared executor, write status.

Everything that decides lives elsewhere: parsing and validation (:mod:`analysis.spec`), the DAG and the measurement
loop (:mod:`analysis.runner`), the verdict (:mod:`analysis.assess`), the status shape (:mod:`analysis.status`).
This module only translates between kopf events and those:

- create / operator resume of a run that has not concluded -> resolve ``fieldRef`` args against the AnalysisRun
  itself, resolve metrics, and :func:`~analysis.runner.run_analysis` on the engine's executor (the one Workflows
  use) seeded with ``status.metricResults``, so a restarted controller continues counts and re-attaches to Jobs;
- every status body the executor writes for the run (coalesced: at most one per ``status_interval``; the final one,
  with ``completedAt``, at once) -> one merge patch of the status subresource;
- ``spec.terminate: true`` -> the run is terminated (Successful unless something already failed: the core's rule);
- delete -> the run is cancelled; its Jobs are deleted by the provider and, failing that, by their ownerReference;
- an invalid spec -> phase ``Error`` with the field path in ``status.message`` and a Warning Event; handlers never
  raise for bad input, so nothing crash-loops. In drop-in mode (Argo's loose CRDs) the run is first checked against
  our own CRD's schema (:class:`~workflows.runtime.crds.SchemaCheck`): an unknown field is such an invalid spec too.

A run is concluded only once ``completedAt`` is stored (see :class:`analysis.runner.AnalysisStatusSink`): a
controller that dies between "a metric failed" and the final write resumes the run, winds it up and writes the
verdict, instead of leaving Jobs behind a run that looks finished.

Secrets: secret args are read at measurement time by :class:`~analysis.kube.KubeSecretResolver` and exist only in
the request body; status, Events and logs get the redacted forms.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

import kopf

from analysis.args import resolve_field_refs
from analysis.assess import AnalysisPhase, MetricResult
from analysis.errors import SpecError
from analysis.kube import KubeJobBackend, KubeSecretResolver, PodIndex, workflow_template_fetcher
from analysis.providers import default_providers
from analysis.providers.job import JOB_NAME_KEY, JobProvider
from analysis.providers.workflow import WorkflowTemplateProvider
from analysis.runner import METRIC_KIND, TERMINATED_MESSAGE, AnalysisOutcome, MetricRunner, run_analysis
from analysis.spec import AnalysisRunSpec, Metric, ProviderKind, parse_run_spec, resolve_metrics, ttl_of
from analysis.status import decode_metric_results
from workflows import logfields
from workflows.api import ROLLOUTS_DEV, ApiMode, Resource, owner_reference
from workflows.errors import FieldIssue, explained_first
from workflows.model.times import format_time, parse_time
from workflows.runtime.controller import Engine
from workflows.runtime.crds import SchemaCheck
from workflows.runtime.kube import JOBS, ApiError, Kube

__all__ = [
    "PLURAL",
    "AnalysisController",
    "AnalysisOperator",
    "ReconcileObserver",
    "prepare_run",
    "register_analysis_handlers",
]

logger = logging.getLogger(__name__)

PLURAL = "analysisruns"


class ReconcileObserver(Protocol):
    """Told how long the controller's work on an AnalysisRun took, and when it failed (``analysis_run_reconcile`` and
    ``analysis_run_reconcile_error`` on /metrics). A "reconcile" here is what Argo's controller does in one: start or
    resume a run (parse, validate, submit), or write its status (composed from the measurements taken since)."""

    def reconciled(self, namespace: str, name: str, seconds: float) -> None: ...

    def failed(self, namespace: str, name: str) -> None: ...

    def forget(self, namespace: str, name: str) -> None: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _patch_status(
    kube: Kube, runs: Resource, namespace: str, name: str, status: Mapping[str, Any], *, subresource: bool
) -> None:
    # None (deleted meanwhile) needs nothing: there is nothing left to report to.
    kube.patch(runs, name, {"status": dict(status)}, namespace, subresource="status" if subresource else None)


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


def prepare_run(
    body: Mapping[str, Any], *, schema_issues: Sequence[FieldIssue] = ()
) -> tuple[AnalysisRunSpec, tuple[Metric, ...]]:
    """Parse and resolve an AnalysisRun object. ``fieldRef`` args read the AnalysisRun itself (Argo does this for
    runs created directly; runs created by a Rollout arrive with values already filled in). Raises SpecError.

    ``schema_issues`` are what our schema found where the served CRD did not apply it (drop-in mode): any makes the
    run invalid, reported first, with the parser's complaints about the same fields left out as their consequences.
    """
    if not schema_issues:
        return _prepare_run(body)
    try:
        _prepare_run(body)
    except SpecError as error:
        raise SpecError(explained_first(schema_issues, error.issues)) from None
    except (TypeError, ValueError, KeyError, AttributeError, IndexError):
        pass  # a value of the wrong type that no API server refused can trip the parser; the schema said what it is
    raise SpecError(schema_issues)


def _prepare_run(body: Mapping[str, Any]) -> tuple[AnalysisRunSpec, tuple[Metric, ...]]:
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


class AnalysisController:
    """The AnalysisRun handlers' bodies and what they share (one per operator, in its context).

    Built with the engine: it registers the ``metric`` step runner (prometheus, web, job and workflow providers,
    Secrets from the API) on the engine's executor, so AnalysisRuns and Workflows share one executor. The pod watch
    of job metrics starts with :meth:`start` (on the running loop) and stops with :meth:`stop`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        mode: ApiMode = ROLLOUTS_DEV,
        clock: Callable[[], datetime] = _utc_now,
        schema: SchemaCheck | None = None,
        metrics: ReconcileObserver | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.runs = mode.analysis_runs  # the AnalysisRun kind of the group this operator serves
        self._expiries: dict[str, asyncio.TimerHandle] = {}  # uid -> the ttlStrategy deletion of a finished run
        self.mode = mode
        # our CRD schema where the served CRD does not apply it (drop-in mode), shared with the Rollout reconciler
        self.schema = schema or SchemaCheck(mode)
        self.clock = clock
        self.pods = PodIndex(engine.kube, namespaces=engine.namespaces)
        backend = KubeJobBackend(
            engine.kube, jobs=engine.jobs, pods=self.pods, shutting_down=lambda: engine.job_runner.shutting_down
        )
        providers = default_providers(allowed_hosts=engine.allowed_hosts)
        providers.register(ProviderKind.JOB, JobProvider(backend))
        providers.register(
            ProviderKind.WORKFLOW,
            WorkflowTemplateProvider(executor=engine.executor, fetch_template=workflow_template_fetcher(engine.kube)),
        )
        self.runner = MetricRunner(providers=providers, secrets=KubeSecretResolver(engine.kube), clock=clock)
        engine.executor.registry.register(METRIC_KIND, self.runner)
        self.active: dict[str, _ActiveRun] = {}

    def start(self) -> None:
        self.pods.start()

    def stop(self) -> None:
        self.pods.stop()

    async def start_run(self, body: kopf.Body, patch: kopf.Patch) -> None:
        meta, status = body["metadata"], dict(body.get("status") or {})
        uid, name, namespace = meta["uid"], meta["name"], meta["namespace"]
        if (status.get("completedAt") and status.get("phase")) or uid in self.active:
            return
        started = time.monotonic()
        try:
            # the run's task (and so its steps and status writes) copies this context: their log lines name the run
            with logfields.about(namespace=namespace, analysisrun=name):
                await self._start(body, patch)
        except Exception:
            if self.metrics is not None:
                self.metrics.failed(namespace, name)
            raise
        finally:
            if self.metrics is not None:
                self.metrics.reconciled(namespace, name, time.monotonic() - started)

    async def _start(self, body: kopf.Body, patch: kopf.Patch) -> None:
        meta, status = body["metadata"], dict(body.get("status") or {})
        uid, name, namespace = meta["uid"], meta["name"], meta["namespace"]
        now = self.clock()
        schema_issues: tuple[FieldIssue, ...] = ()
        if self.schema.enabled:  # CEL rules cost CPU: off the loop, once per generation
            pool = self.engine.executor.thread_pool
            schema_issues = await asyncio.get_running_loop().run_in_executor(pool, self.schema.issues, body)
        try:
            spec, metrics = prepare_run(body, schema_issues=schema_issues)
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
        active = _ActiveRun(run_id=f"analysisrun/{uid}", terminate=asyncio.Event())
        if spec.terminate or (body.get("spec") or {}).get("terminate") is True:
            active.terminate.set()
        self.active[uid] = active
        kopf.info(
            body,
            reason="AnalysisRunRunning",
            message=("Resumed" if results else "Started") + f" analysis with {len(metrics)} metric(s)",
        )
        active.task = asyncio.get_running_loop().create_task(
            self._drive(body, spec, metrics, active, started_at=started_at, results=results)
        )

    async def _drive(
        self,
        body: kopf.Body,
        spec: AnalysisRunSpec,
        metrics: tuple[Metric, ...],
        active: _ActiveRun,
        *,
        started_at: datetime,
        results: Mapping[str, MetricResult],
    ) -> None:
        meta = body["metadata"]
        uid, name, namespace = meta["uid"], meta["name"], meta["namespace"]
        engine = self.engine
        loop = asyncio.get_running_loop()

        async def report(status: dict[str, Any]) -> None:
            write = partial(_patch_status, subresource=self.mode.analysis_run_status_subresource)
            started = time.monotonic()
            try:
                await loop.run_in_executor(
                    engine.executor.thread_pool, write, engine.kube, self.runs, namespace, name, status
                )
            except Exception:
                if self.metrics is not None:
                    self.metrics.failed(namespace, name)
                raise
            finally:
                if self.metrics is not None:
                    self.metrics.reconciled(namespace, name, time.monotonic() - started)

        outcome: AnalysisOutcome | None = None
        try:
            outcome = await run_analysis(
                engine.executor,
                spec,
                name=name,
                namespace=namespace,
                metrics=metrics,
                started_at=started_at,
                results=results,
                terminate=active.terminate,
                run_id=active.run_id,
                owner=owner_reference(body, kind="AnalysisRun"),
                clock=self.clock,
                report=report,
            )
        except Exception as error:  # never out of the controller: a bug ends this run in Error, visibly
            logger.exception("AnalysisRun %s/%s crashed", namespace, name)
            if self.metrics is not None:
                self.metrics.failed(namespace, name)
            message = f"controller error: {type(error).__name__}"
            final = {"phase": AnalysisPhase.ERROR.value, "message": message, "completedAt": format_time(self.clock())}
            try:
                await report(final)
            except Exception:  # already logged above; the next controller resumes the run
                logger.warning("cannot record the error of AnalysisRun %s/%s", namespace, name, exc_info=True)
            kopf.warn(body, reason="AnalysisRunError", message=message)
            return
        finally:
            self.active.pop(uid, None)
        if outcome.interrupted:  # the controller is stopping: the next one continues from the stored status
            return
        await loop.run_in_executor(
            engine.executor.thread_pool, _delete_terminated_jobs, engine.kube, namespace, outcome.results
        )
        phase = outcome.phase
        message = outcome.message or f"Analysis completed {phase}"
        if phase is AnalysisPhase.SUCCESSFUL:
            kopf.info(body, reason=f"AnalysisRun{phase}", message=message)
        else:
            kopf.warn(body, reason=f"AnalysisRun{phase}", message=message)

    def expire(self, body: Mapping[str, Any], event_type: str | None) -> None:
        """A finished run with ``spec.ttlStrategy`` is deleted when its time is up (a timer per run, set again from
        the stored status after a restart, as every run is listed at start-up)."""
        meta = body.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if event_type == "DELETED" or meta.get("deletionTimestamp"):
            timer = self._expiries.pop(uid, None)
            if timer is not None:
                timer.cancel()
            return
        if uid in self._expiries:
            return
        status = body.get("status") or {}
        ttl = ttl_of(body.get("spec") or {})
        deadline = (
            ttl.deletion_time(str(status.get("phase") or ""), parse_time(status.get("completedAt"))) if ttl else None
        )
        if deadline is None:
            return
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        loop = asyncio.get_running_loop()

        def delete() -> None:
            self._expiries.pop(uid, None)
            logger.info("AnalysisRun %s/%s: deleted, its ttlStrategy expired", namespace, name)
            loop.run_in_executor(self.engine.executor.thread_pool, self.engine.kube.delete, self.runs, name, namespace)

        delay = max(0.0, (deadline - self.clock()).total_seconds())
        self._expiries[uid] = loop.call_later(delay, delete)

    def observe(self, body: kopf.Body, event_type: str | None) -> None:
        """Every watch event: ``spec.terminate`` flips the run's terminate flag; DELETED cancels the run; a finished
        run's ``ttlStrategy`` is timed."""
        self.expire(body, event_type)
        meta = body.get("metadata") or {}
        if event_type == "DELETED" and self.metrics is not None:  # its series go with it
            self.metrics.forget(str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        uid = str(meta.get("uid") or "")
        active = self.active.get(uid)
        if active is None:
            return
        if event_type == "DELETED" or (body.get("metadata") or {}).get("deletionTimestamp"):
            self.cancel(uid, "AnalysisRun deleted")
            return
        if (body.get("spec") or {}).get("terminate") is True and not active.terminate.is_set():
            active.terminate.set()

    def cancel(self, uid: str, reason: str) -> None:
        active = self.active.get(uid)
        if active is None:
            return
        run = self.engine.executor.runs.get(active.run_id)
        if run is not None:
            run.cancel(reason)


class AnalysisOperator(Protocol):
    """What the AnalysisRun handlers need from kopf's ``memo`` (the operator's context)."""

    @property
    def analysis(self) -> AnalysisController: ...


def register_analysis_handlers(
    registry: kopf.OperatorRegistry, *, mode: ApiMode = ROLLOUTS_DEV, labels: Mapping[str, Any] | None = None
) -> None:
    """Register the AnalysisRun handlers for ``mode``'s group on ``registry`` (only objects matching ``labels``: the
    controller instance's filter); they find their controller in kopf's ``memo``."""
    group, version, only = mode.group, mode.version, dict(labels or {})

    @kopf.on.create(group, version, PLURAL, registry=registry, labels=only)
    async def analysis_run_created(body: kopf.Body, patch: kopf.Patch, memo: AnalysisOperator, **_: Any) -> None:
        await memo.analysis.start_run(body, patch)

    @kopf.on.resume(group, version, PLURAL, registry=registry, labels=only)
    async def analysis_run_resumed(body: kopf.Body, patch: kopf.Patch, memo: AnalysisOperator, **_: Any) -> None:
        await memo.analysis.start_run(body, patch)

    @kopf.on.event(group, version, PLURAL, registry=registry, labels=only)
    async def analysis_run_event(body: kopf.Body, type: str | None, memo: AnalysisOperator, **_: Any) -> None:  # noqa: A002
        memo.analysis.observe(body, type)

    @kopf.on.delete(group, version, PLURAL, registry=registry, labels=only, optional=True)
    async def analysis_run_deleted(body: kopf.Body, memo: AnalysisOperator, **_: Any) -> None:
        memo.analysis.cancel(body["metadata"]["uid"], "AnalysisRun deleted")
        memo.analysis.schema.forget(body["metadata"]["uid"])
