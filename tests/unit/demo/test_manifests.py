"""The demo's manifests are valid for our own parsers, and its analysis judges the two profiles as intended."""

from __future__ import annotations

import pytest

from analysis import AnalysisPhase, build_run_spec, judge_measurement, parse_template_manifest, resolve_metrics
from analysis.args import Argument
from rollouts.core import parse_rollout
from rollouts.demo import manifests
from rollouts.demo.app import BAD, HEALTHY


@pytest.mark.parametrize("timing", [manifests.Timing.default(), manifests.Timing.fast()], ids=["default", "fast"])
def test_the_template_resolves_with_the_canary_hash(timing: manifests.Timing) -> None:
    doc = manifests.analysis_template(namespace="ns", prometheus="http://127.0.0.1:9090", timing=timing)
    template = parse_template_manifest(doc)
    run = build_run_spec(template, args=[Argument(name="canary-hash", value="5fd49fbb7d")])
    (metric,) = resolve_metrics(run)
    assert metric.name == "success-rate"
    assert metric.provider.kind == "prometheus"
    query = str(metric.provider.body["query"])
    assert query.count('version="5fd49fbb7d"') == 2
    assert f"[{timing.window}s]" in query
    assert "vector(1)" not in query  # no traffic is no evidence, never a pass


@pytest.mark.parametrize("timing", [manifests.Timing.default(), manifests.Timing.fast()], ids=["default", "fast"])
def test_timings_leave_room_for_enough_samples(timing: manifests.Timing) -> None:
    """Prometheus scrapes every second: the window must hold several scrapes, the first measurement must wait until
    the canary has served for a good part of it, and two failures (failureLimit 1) must fit in the count."""
    assert timing.window >= 5
    assert timing.initial_delay >= timing.window / 2
    assert timing.count >= 2


@pytest.mark.parametrize(
    ("result", "phase"),
    [
        ([1 - HEALTHY.error_rate], AnalysisPhase.SUCCESSFUL),
        ([1 - BAD.error_rate], AnalysisPhase.FAILED),
        ([0.95], AnalysisPhase.SUCCESSFUL),
        ([], AnalysisPhase.ERROR),  # no canary traffic yet: an error (retried), not a verdict
    ],
)
def test_the_condition_separates_the_profiles(result: list[float], phase: AnalysisPhase) -> None:
    doc = manifests.analysis_template(namespace="ns", prometheus="http://p", timing=manifests.Timing.fast())
    condition = doc["spec"]["metrics"][0]["successCondition"]
    assert judge_measurement(result=result, success_condition=condition, failure_condition=None).phase == phase


def test_the_rollout_parses_as_a_replica_weighted_canary_with_two_analyses() -> None:
    body = manifests.rollout(namespace="ns", image=manifests.INITIAL_IMAGE, timing=manifests.Timing.default())
    body["metadata"]["generation"] = 1
    spec = parse_rollout(body)
    assert spec.replicas == manifests.REPLICAS
    canary = spec.canary
    assert canary is not None
    assert canary.traffic_routing is None
    kinds = [next(iter(raw)) for raw in canary.steps_raw]
    assert kinds == ["setWeight", "analysis", "setWeight", "pause", "analysis"]
    containers = body["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == [manifests.CONTAINER]
