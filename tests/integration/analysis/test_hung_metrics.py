"""Hung metric endpoints take nothing from anyone else, and a terminated run lets go of them at once.

One executor, sized as the controller's (16 pool threads), runs an AnalysisRun of 200 web metrics whose endpoint
never answers in time, beside an unrelated AnalysisRun against a healthy endpoint. Web (and Prometheus) measurements
are awaited on the event loop, so the hung requests hold no pool thread: the unrelated run finishes about as fast as
it does alone (measured against a baseline taken in the same test, on the same executor). Terminating the hung run
ends it promptly and closes every one of its 200 connections.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from analysis.assess import AnalysisPhase
from analysis.providers import default_providers
from analysis.runner import AnalysisOutcome, run_analysis
from analysis.spec import parse_run_spec
from tests.support.analysis_manifests import web_metric
from tests.support.http import JsonServer
from tests.support.hung import hung_server
from tests.support.metric_runner import metric_executor
from workflows import Executor, ExecutorConfig

HUNG_METRICS = 200
ALLOWED_DELAY = 1.0  # seconds the unrelated analysis may lose to the hung one (the bound)


def _unrelated(url: str) -> dict[str, Any]:
    return {"metrics": [web_metric("healthy", url, count=3, interval="200ms", successCondition="result.ok")]}


async def _timed(executor: Executor, spec: dict[str, Any], name: str) -> tuple[float, AnalysisOutcome]:
    started = time.monotonic()
    outcome = await run_analysis(executor, parse_run_spec(spec), name=name)
    return time.monotonic() - started, outcome


async def test_200_hung_metrics_neither_delay_an_unrelated_analysis_nor_outlive_termination(web: JsonServer) -> None:
    healthy = web.route("/healthy", {"ok": True})
    executor = metric_executor(default_providers(), max_threads=ExecutorConfig().max_threads)
    terminate = asyncio.Event()
    try:
        with hung_server(hang=60.0) as hung:
            baseline, alone = await _timed(executor, _unrelated(healthy), "alone")
            assert alone.phase is AnalysisPhase.SUCCESSFUL, alone.message

            hung_spec = {
                "metrics": [
                    web_metric(f"hung-{i}", f"{hung.url}/m{i}", web={"timeoutSeconds": 50}, successCondition="true")
                    for i in range(HUNG_METRICS)
                ]
            }
            stuck = asyncio.ensure_future(
                run_analysis(executor, parse_run_spec(hung_spec), name="hung", terminate=terminate)
            )
            all_in_flight = await asyncio.to_thread(hung.wait_until, lambda s: s.received >= HUNG_METRICS, 30.0)
            assert all_in_flight, f"only {hung.received} of {HUNG_METRICS} hung requests arrived"

            loaded, beside = await _timed(executor, _unrelated(healthy), "beside")
            assert beside.phase is AnalysisPhase.SUCCESSFUL, beside.message
            delay = loaded - baseline
            print(f"unrelated analysis: alone {baseline:.2f}s, beside {HUNG_METRICS} hung metrics {loaded:.2f}s")
            assert delay < ALLOWED_DELAY, f"delayed {delay:.2f}s by the hung metrics (alone {baseline:.2f}s)"
            assert not stuck.done()

            terminate.set()
            ended = time.monotonic()
            outcome = await asyncio.wait_for(stuck, timeout=10)
            took = time.monotonic() - ended
            print(f"terminated run with {HUNG_METRICS} requests in flight ended in {took:.2f}s")
            assert took < ALLOWED_DELAY, f"termination took {took:.2f}s"
            assert outcome.phase is AnalysisPhase.SUCCESSFUL, outcome.message  # Argo: terminate ends it Successful
            closed = await asyncio.to_thread(hung.wait_until, lambda s: s.abandoned >= HUNG_METRICS, 5.0)
            assert closed, f"{hung.abandoned} of {HUNG_METRICS} hung connections closed"
            assert hung.answered == 0
    finally:
        terminate.set()
        await executor.close()
