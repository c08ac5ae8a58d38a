"""Whole analyses through the metric runner on the real executor, wired as the controller wires them.

In virtual time (the unit tier): an inline thread pool and the :class:`~tests.support.virtual_time.VirtualTime`
clock, so hours of schedule take microseconds and measurement instants are exact. For real (the integration tier):
the default providers, real threads and the wall clock, against real Prometheus and HTTP servers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from analysis.assess import MetricResult
from analysis.providers import default_providers
from analysis.providers.base import ProviderRegistry
from analysis.runner import METRIC_KIND, AnalysisOutcome, MetricRunner, run_analysis
from analysis.spec import AnalysisRunSpec, parse_run_spec
from analysis.status import decode_metric_results
from tests.support.fakes import DictSecrets
from tests.support.virtual_time import T0, InlinePool, VirtualTime
from workflows import Executor, ExecutorConfig, RunnerRegistry

__all__ = ["metric_executor", "run_for_real", "run_in_virtual_time"]

Secrets = Mapping[tuple[str, str], str]  # (secret name, key) -> value


def metric_executor(
    providers: ProviderRegistry, *, secrets: Secrets | None = None, vt: VirtualTime | None = None, max_threads: int = 32
) -> Executor:
    """An executor whose ``metric`` nodes run on a :class:`MetricRunner` with ``providers``; in virtual time when
    ``vt`` is given (``max_threads`` then sizes nothing: the pool is inline). The caller closes it."""
    timing: dict[str, Any] = {"clock": vt.clock} if vt is not None else {}
    runner = MetricRunner(providers=providers, secrets=DictSecrets(secrets), **timing)
    return Executor(
        registry=RunnerRegistry({METRIC_KIND: runner}),
        config=ExecutorConfig(status_interval=0, max_threads=max_threads),
        thread_pool=InlinePool() if vt is not None else None,
        clock=(lambda: vt.clock().timestamp()) if vt is not None else time.time,
    )


def _recorder(
    updates: list[tuple[str, MetricResult]] | None, on_update: Callable[[str, MetricResult], None] | None = None
) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """A ``report`` for run_analysis handing every metric result of every written status body to ``updates`` and
    ``on_update`` (bodies decoded as a restarted controller would read them)."""

    async def report(status: dict[str, Any]) -> None:
        for name, result in decode_metric_results(status, fallback_time=T0).items():
            if updates is not None:
                updates.append((name, result))
            if on_update is not None:
                on_update(name, result)

    return report


async def run_in_virtual_time(
    vt: VirtualTime,
    executor: Executor,
    spec: AnalysisRunSpec,
    *,
    updates: list[tuple[str, MetricResult]] | None = None,
    **options: Any,
) -> AnalysisOutcome:
    """``run_analysis`` of a run named ``run`` started at ``T0``, advancing virtual time whenever all is idle;
    ``updates`` collects every result handed over, ``options`` go to ``run_analysis`` (results, terminate, ...)."""
    outcome: AnalysisOutcome = await vt.run(
        run_analysis(executor, spec, name="run", clock=vt.clock, started_at=T0, report=_recorder(updates), **options)
    )
    return outcome


async def run_for_real(
    spec: Mapping[str, Any],
    *,
    secrets: Secrets | None = None,
    updates: list[tuple[str, MetricResult]] | None = None,
    on_update: Callable[[str, MetricResult], None] | None = None,
    max_threads: int = 32,
) -> AnalysisOutcome:
    """Run an AnalysisRun spec with the default providers on real threads and the wall clock (45 s at most)."""
    executor = metric_executor(default_providers(), secrets=secrets, max_threads=max_threads)
    try:
        return await asyncio.wait_for(
            run_analysis(executor, parse_run_spec(dict(spec)), name="it", report=_recorder(updates, on_update)),
            timeout=45,
        )
    finally:
        await executor.close()
