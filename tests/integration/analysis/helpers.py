"""Running analyses for real in integration tests: real executor, real providers, wall-clock time."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from analysis.assess import MetricResult
from analysis.providers import default_providers
from analysis.runner import METRIC_KIND, AnalysisOutcome, MetricRunner, run_analysis
from analysis.spec import parse_run_spec
from tests.support.fakes import DictSecrets
from workflows import Executor, ExecutorConfig, RunnerRegistry


async def run_for_real(
    spec: Mapping[str, Any],
    *,
    secrets: Mapping[tuple[str, str], str] | None = None,
    updates: list[tuple[str, MetricResult]] | None = None,
    on_update: Any = None,
    max_threads: int = 32,
) -> AnalysisOutcome:
    runner = MetricRunner(providers=default_providers(), secrets=DictSecrets(secrets))
    executor = Executor(
        registry=RunnerRegistry({METRIC_KIND: runner}),
        config=ExecutorConfig(status_interval=0, max_threads=max_threads),
    )

    def record(name: str, result: MetricResult) -> None:
        if updates is not None:
            updates.append((name, result))
        if on_update is not None:
            on_update(name, result)

    try:
        return await asyncio.wait_for(
            run_analysis(executor, parse_run_spec(dict(spec)), name="it", on_update=record), timeout=45
        )
    finally:
        await executor.close()
