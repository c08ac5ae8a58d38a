"""Analyses against a real Prometheus scraping a test-controlled exporter: the data decides the outcome."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from analysis.assess import AnalysisPhase, MetricResult
from tests.support.analysis_manifests import prometheus_metric
from tests.support.metric_runner import run_for_real
from tests.support.prometheus import PrometheusServer


@pytest.mark.parametrize(
    ("case", "phase"),
    [("ok", AnalysisPhase.SUCCESSFUL), ("bad", AnalysisPhase.FAILED), ("meh", AnalysisPhase.INCONCLUSIVE)],
)
async def test_the_data_decides_the_run(rates: str, case: str, phase: AnalysisPhase) -> None:
    outcome = await run_for_real(
        {
            "metrics": [
                prometheus_metric(
                    "success-rate",
                    f'canary_success_rate{{case="{case}"}}',
                    rates,
                    count=2,
                    interval="200ms",
                    successCondition="result[0] >= 0.95",
                    failureCondition="result[0] < 0.6",
                )
            ]
        }
    )
    assert outcome.phase is phase, outcome.message
    first = outcome.results["success-rate"].measurements[0]
    assert first.value == {"ok": "[0.99]", "bad": "[0.5]", "meh": "[0.8]"}[case]
    assert first.metadata["ResolvedPrometheusQuery"] == f'canary_success_rate{{case="{case}"}}'


async def test_empty_nan_and_scalar_results_reach_conditions_as_argo_shapes_them(rates: str) -> None:
    outcome = await run_for_real(
        {
            "metrics": [
                prometheus_metric("empty", "no_such_metric_anywhere", rates, successCondition="len(result) == 0"),
                prometheus_metric("nan", 'canary_success_rate{case="nan"}', rates, successCondition="isNaN(result[0])"),
                prometheus_metric(
                    "scalar", 'scalar(canary_success_rate{case="ok"})', rates, successCondition="result > 0.9"
                ),
            ]
        }
    )
    assert outcome.phase is AnalysisPhase.SUCCESSFUL, outcome.message
    values = {name: result.measurements[0].value for name, result in outcome.results.items()}
    assert values == {"empty": "[]", "nan": "[NaN]", "scalar": "0.99"}


async def test_a_bad_query_is_an_error_measurement_and_an_error_run(rates: str) -> None:
    outcome = await run_for_real(
        {"metrics": [prometheus_metric("broken", "sum(rate(", rates, consecutiveErrorLimit=0)]}
    )
    assert outcome.phase is AnalysisPhase.ERROR
    assert "Prometheus refused the query" in outcome.results["broken"].measurements[0].message


async def test_secrets_in_the_query_never_reach_records_even_when_prometheus_echoes_them(rates: str) -> None:
    secret = "tok-8f3a9c1e"
    updates: list[tuple[str, MetricResult]] = []
    outcome = await run_for_real(
        {
            "args": [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "prom", "key": "token"}}}],
            "metrics": [
                {
                    "name": "echo",
                    "consecutiveErrorLimit": 0,
                    "provider": {
                        "prometheus": {
                            "address": rates,
                            "query": 'canary_success_rate{case="{{args.token}}"',  # unclosed: Prometheus echoes it
                            "headers": [{"key": "Authorization", "value": "Bearer {{args.token}}"}],
                        }
                    },
                }
            ],
        },
        secrets={("prom", "token"): secret},
        updates=updates,
    )
    assert outcome.phase is AnalysisPhase.ERROR
    measurement = outcome.results["echo"].measurements[0]
    assert "*****" in measurement.message or "*****" in measurement.metadata["ResolvedPrometheusQuery"]
    assert secret not in repr(outcome)
    assert secret not in repr(updates)


async def test_a_failing_metric_stops_the_others_promptly(rates: str) -> None:
    started = time.monotonic()
    outcome = await run_for_real(
        {
            "metrics": [
                prometheus_metric(
                    "bad",
                    'canary_success_rate{case="bad"}',
                    rates,
                    initialDelay="300ms",
                    successCondition="result[0] > 0.9",
                ),
                prometheus_metric("steady", 'canary_success_rate{case="ok"}', rates, count=100, interval="100ms"),
            ]
        }
    )
    elapsed = time.monotonic() - started
    assert outcome.phase is AnalysisPhase.FAILED
    assert outcome.results["steady"].count < 20
    assert elapsed < 5, f"the run took {elapsed:.1f}s to stop after the failure"


async def test_prometheus_going_away_mid_run_errors_the_run_never_succeeds(
    tmp_path: Path, history_prometheus: type[PrometheusServer]
) -> None:
    server = history_prometheus.start(tmp_path / "doomed")
    stopper: threading.Thread | None = None

    def on_update(name: str, result: MetricResult) -> None:
        nonlocal stopper
        if result.successful == 2 and stopper is None:
            stopper = threading.Thread(target=server.stop)
            stopper.start()

    try:
        outcome = await run_for_real(
            {
                "metrics": [
                    prometheus_metric(
                        "up",
                        "vector(1)",
                        server.url,
                        count=1000,
                        interval="200ms",
                        consecutiveErrorLimit=0,
                        successCondition="result[0] == 1",
                    )
                ]
            },
            on_update=on_update,
        )
    finally:
        server.stop()
        if stopper is not None:
            stopper.join()
    result = outcome.results["up"]
    assert outcome.phase is AnalysisPhase.ERROR, outcome.message
    assert result.successful >= 2
    assert result.error == 1
    assert "cannot reach Prometheus" in result.measurements[-1].message
