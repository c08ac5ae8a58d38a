"""The metric runner on the real executor with a scripted provider and virtual time: schedules, limits, fail-fast,
dependencies, dry-run, secrets and the restart seam behave as the pure planner says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from analysis.args import REDACTED
from analysis.assess import AnalysisPhase, Measurement, MetricResult
from analysis.providers.base import ProviderError, ProviderRegistry
from analysis.runner import METRIC_KIND, RunContext, compile_analysis
from analysis.spec import AnalysisRunSpec, ProviderKind, parse_run_spec, resolve_metrics
from tests.support.fakes import ScriptedProvider
from tests.support.metric_runner import metric_executor, run_in_virtual_time
from tests.support.virtual_time import T0, VirtualTime
from workflows import Executor


def metric(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "provider": {"prometheus": {"query": f"q_{name}"}}, **fields}


def run_spec(*metrics: dict[str, Any], **extra: Any) -> AnalysisRunSpec:
    return parse_run_spec({"metrics": list(metrics), **extra})


@pytest.fixture
def provider() -> ScriptedProvider:
    return ScriptedProvider()


@pytest.fixture
async def executor(vt: VirtualTime, provider: ScriptedProvider) -> AsyncIterator[Executor]:
    providers = ProviderRegistry({ProviderKind.PROMETHEUS: provider})
    executor = metric_executor(providers, secrets={("creds", "token"): "s3cr3t-value"}, vt=vt)
    yield executor
    await executor.close()


def seconds(vt_times: list[Any]) -> list[float]:
    return [(t - T0).total_seconds() for t in vt_times]


async def test_count_and_interval_schedule_measurements_and_succeed(vt, executor, provider) -> None:
    spec = run_spec(metric("rate", count=3, interval="1m", successCondition="result >= 0.5"))
    updates: list[tuple[str, MetricResult]] = []
    outcome = await run_in_virtual_time(vt, executor, spec, updates=updates)
    assert outcome.phase is AnalysisPhase.SUCCESSFUL
    assert seconds(provider.times("rate")) == [0, 60, 120]
    result = outcome.results["rate"]
    assert (result.count, result.successful, result.phase) == (3, 3, AnalysisPhase.SUCCESSFUL)
    # the status written as the run went showed every measurement, then the completion
    assert sorted({r.count for _, r in updates}) == [1, 2, 3]
    assert [r.count for _, r in updates] == sorted(r.count for _, r in updates)
    assert updates[-1][1].phase is AnalysisPhase.SUCCESSFUL


async def test_initial_delay_postpones_the_first_measurement(vt, executor, provider) -> None:
    await run_in_virtual_time(vt, executor, run_spec(metric("late", initialDelay="90s")))
    assert seconds(provider.times("late")) == [90]


async def test_failure_beyond_limit_fails_the_run_and_stops_other_metrics_at_once(vt, executor, provider) -> None:
    provider.scripts["bad"] = [0.1, 0.1]
    spec = run_spec(
        metric("bad", count=5, interval="30s", successCondition="result > 0.5", failureLimit=1),
        metric("slow", count=100, interval="10s"),
    )
    outcome = await run_in_virtual_time(vt, executor, spec)
    assert outcome.phase is AnalysisPhase.FAILED
    assert 'Metric "bad" assessed Failed due to failed (2) > failureLimit (1)' in outcome.message
    assert seconds(provider.times("bad")) == [0, 30]
    # the other metric stopped when the run failed (t=30), it did not keep measuring to its count
    assert max(seconds(provider.times("slow"))) <= 30
    assert outcome.results["slow"].phase is AnalysisPhase.SUCCESSFUL  # Argo: terminated metrics wind up Successful
    assert outcome.finished_at - T0 == timedelta(seconds=30)


async def test_dry_run_metric_reports_but_never_decides(vt, executor, provider) -> None:
    provider.scripts["noisy"] = [0.0]
    spec = run_spec(
        metric("noisy", successCondition="result > 0.5"),
        metric("good", count=2, interval="1m"),
        dryRun=[{"metricName": "noisy"}],
    )
    outcome = await run_in_virtual_time(vt, executor, spec)
    assert outcome.phase is AnalysisPhase.SUCCESSFUL
    assert outcome.results["noisy"].phase is AnalysisPhase.FAILED
    assert 'dry-run metric "noisy" assessed Failed' in outcome.message
    assert seconds(provider.times("good")) == [0, 60]


async def test_errors_retry_after_ten_seconds_then_error_the_run(vt, executor, provider) -> None:
    provider.scripts["flaky"] = [ProviderError("connection refused")] * 10
    spec = run_spec(metric("flaky", count=3, interval="5m", consecutiveErrorLimit=2))
    outcome = await run_in_virtual_time(vt, executor, spec)
    assert outcome.phase is AnalysisPhase.ERROR
    assert seconds(provider.times("flaky")) == [0, 10, 20]  # error retry, not the 5m interval
    assert outcome.results["flaky"].consecutive_error == 3
    assert "connection refused" in outcome.message


async def test_an_error_then_a_success_resets_the_streak(vt, executor, provider) -> None:
    provider.scripts["m"] = [ProviderError("blip"), 1.0, ProviderError("blip"), 1.0]
    outcome = await run_in_virtual_time(
        vt, executor, run_spec(metric("m", count=2, interval="1m", consecutiveErrorLimit=1))
    )
    assert outcome.phase is AnalysisPhase.SUCCESSFUL
    assert seconds(provider.times("m")) == [0, 10, 70, 80]
    assert outcome.results["m"].error == 2


async def test_inconclusive_ends_the_run_inconclusive(vt, executor, provider) -> None:
    provider.scripts["m"] = [0.5]
    spec = run_spec(metric("m", successCondition="result > 0.9", failureCondition="result < 0.1"))
    outcome = await run_in_virtual_time(vt, executor, spec)
    assert outcome.phase is AnalysisPhase.INCONCLUSIVE


async def test_dependency_starts_after_its_dependency_succeeds(vt, executor, provider) -> None:
    spec = run_spec(
        metric("smoke", count=2, interval="20s"),
        metric("gate", initialDelay="5s", dependencies=["smoke"]),
    )
    outcome = await run_in_virtual_time(vt, executor, spec)
    assert outcome.phase is AnalysisPhase.SUCCESSFUL
    assert seconds(provider.times("smoke")) == [0, 20]
    assert seconds(provider.times("gate")) == [25]  # initialDelay counts from the dependency's completion


async def test_a_failed_dependency_means_the_dependent_never_measures(vt, executor, provider) -> None:
    provider.scripts["smoke"] = [0.0]
    spec = run_spec(
        metric("smoke", successCondition="result == 1"),
        metric("gate", dependencies=["smoke"]),
    )
    outcome = await run_in_virtual_time(vt, executor, spec)
    assert outcome.phase is AnalysisPhase.FAILED
    assert provider.times("gate") == []


async def test_restart_continues_counts_and_schedule(vt, executor, provider) -> None:
    spec = run_spec(metric("rate", count=3, interval="1m"), metric("done", count=1))
    previous_measurement = Measurement(
        phase=AnalysisPhase.SUCCESSFUL, started_at=T0, finished_at=T0 + timedelta(seconds=61), value="1"
    )
    previous = {
        "rate": MetricResult(
            name="rate", phase=AnalysisPhase.RUNNING, measurements=(previous_measurement,) * 2, count=2, successful=2
        ),
        "done": MetricResult(
            name="done",
            phase=AnalysisPhase.SUCCESSFUL,
            measurements=(previous_measurement,),
            count=1,
            successful=1,
        ),
    }
    outcome = await run_in_virtual_time(vt, executor, spec, results=previous)
    assert outcome.phase is AnalysisPhase.SUCCESSFUL
    assert seconds(provider.times("rate")) == [121]  # one more, an interval after the last one finished
    assert provider.times("done") == []
    assert outcome.results["rate"].count == 3


async def test_a_run_already_decided_by_stored_results_does_not_measure(vt, executor, provider) -> None:
    spec = run_spec(metric("a"), metric("b"))
    stored = {"a": MetricResult(name="a", phase=AnalysisPhase.FAILED, failed=1, count=1)}
    outcome = await run_in_virtual_time(vt, executor, spec, results=stored)
    assert outcome.phase is AnalysisPhase.FAILED
    assert provider.calls == []


async def test_terminate_ends_the_run_successful(vt, executor, provider) -> None:
    stop = asyncio.Event()
    provider.hook = lambda name: stop.set() if len(provider.calls) >= 3 else None
    spec = run_spec(metric("forever", interval="1m"))  # no count: measures until stopped
    outcome = await run_in_virtual_time(vt, executor, spec, terminate=stop)
    assert outcome.phase is AnalysisPhase.SUCCESSFUL
    assert len(provider.calls) == 3
    assert outcome.results["forever"].phase is AnalysisPhase.SUCCESSFUL


async def test_secret_args_reach_the_provider_but_never_the_records(vt, executor, provider) -> None:
    provider.scripts["auth"] = [ProviderError("401 for token s3cr3t-value")]
    spec = parse_run_spec(
        {
            "args": [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}],
            "metrics": [
                {
                    "name": "auth",
                    "consecutiveErrorLimit": 0,
                    "provider": {
                        "prometheus": {
                            "query": "up",
                            "headers": [{"key": "Authorization", "value": "Bearer {{args.token}}"}],
                        }
                    },
                }
            ],
        }
    )
    updates: list[tuple[str, MetricResult]] = []
    outcome = await run_in_virtual_time(vt, executor, spec, updates=updates)
    assert provider.calls[0].body["headers"] == [{"key": "Authorization", "value": "Bearer s3cr3t-value"}]
    assert outcome.phase is AnalysisPhase.ERROR
    recorded = repr(outcome) + repr(updates)
    assert "s3cr3t-value" not in recorded
    assert REDACTED in outcome.results["auth"].measurements[0].message


async def test_an_unreadable_secret_is_an_error_measurement_naming_the_secret(vt, executor, provider) -> None:
    spec = parse_run_spec(
        {
            "args": [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "missing", "key": "k"}}}],
            "metrics": [
                {
                    "name": "auth",
                    "consecutiveErrorLimit": 0,
                    "provider": {"prometheus": {"query": "up{t='{{args.token}}'}"}},
                }
            ],
        }
    )
    outcome = await run_in_virtual_time(vt, executor, spec)
    assert outcome.phase is AnalysisPhase.ERROR
    assert provider.calls == []
    assert "Secret 'missing'" in outcome.results["auth"].measurements[0].message


async def test_a_metric_without_a_provider_here_errors_instead_of_hanging(vt, executor, provider) -> None:
    spec = run_spec(
        {
            "name": "web",
            "consecutiveErrorLimit": 0,
            "provider": {"web": {"url": "http://127.0.0.1:1/x"}},
        }
    )
    outcome = await run_in_virtual_time(vt, executor, spec)
    assert outcome.phase is AnalysisPhase.ERROR
    assert "no web provider" in outcome.results["web"].measurements[0].message


async def test_independent_metrics_measure_concurrently(vt, executor, provider) -> None:
    spec = run_spec(*(metric(f"m{i}", count=2, interval="1m") for i in range(20)))
    outcome = await run_in_virtual_time(vt, executor, spec)
    assert outcome.phase is AnalysisPhase.SUCCESSFUL
    assert {seconds(provider.times(f"m{i}"))[1] for i in range(20)} == {60.0}
    assert outcome.finished_at - T0 == timedelta(seconds=60)


def test_compile_makes_one_metric_node_per_metric_with_dependency_edges() -> None:
    spec = run_spec(metric("a.b"), metric("c", dependencies=["a.b"]))
    plan = compile_analysis(RunContext(name="r", namespace="ns"), resolve_metrics(spec))
    assert plan.kinds() == frozenset({METRIC_KIND})
    assert plan.leaf_count == 2
    [dependent] = [node for node in plan.nodes if node.display_name == "c"]
    assert [plan.nodes[dep].display_name for dep in dependent.deps] == ["a-b-0"]  # '.' cannot be in a node name


async def test_one_attempt_is_one_measurement_and_the_result_is_the_node_state(vt, executor, provider) -> None:
    """Argo's loop on the executor: each attempt measures once and requeues itself at the next due time."""
    spec = run_spec(metric("rate", count=3, interval="1m"))
    outcome = await run_in_virtual_time(vt, executor, spec, run_id="r1")
    assert outcome.phase is AnalysisPhase.SUCCESSFUL
    assert executor.dispatched == 3  # t=0, 60, 120: no attempt only to sleep, none repeated
    assert executor.max_observed_running == 0  # waiting for the next interval holds no admission slot
