"""Hypothesis drives random blue-green Rollouts: the active Service only ever selects a fully available version,
with one plan per reconcile and with plans chained as the controller makes them (``plan_settled``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.assess import AnalysisPhase
from rollouts.core import CreateAnalysisRun, Plan, RolloutSpec, SetServiceSelector, plan, plan_settled
from rollouts.core.simulate import SimCluster
from tests.support.rollouts import T0, blue_green_spec, operate, pod_delays

ANALYSIS = {"templates": [{"templateName": "t"}]}
COMMANDS = ("promote", "abort", "retry", "promoteFull", "new-template", "nothing")


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    blue_green: dict[str, Any] = {
        "activeService": "active",
        "previewService": "preview",
        "autoPromotionEnabled": draw(st.booleans()),
        "scaleDownDelaySeconds": draw(st.integers(0, 5)),
        "abortScaleDownDelaySeconds": draw(st.integers(0, 5)),
    }
    if draw(st.booleans()):
        blue_green["previewReplicaCount"] = draw(st.integers(0, 6))
    if draw(st.booleans()):
        blue_green["autoPromotionSeconds"] = draw(st.integers(0, 5))
    if draw(st.booleans()):
        blue_green["prePromotionAnalysis"] = ANALYSIS
    if draw(st.booleans()):
        blue_green["postPromotionAnalysis"] = ANALYSIS
    return {
        "replicas": draw(st.integers(0, 6)),
        "blueGreen": blue_green,
        "delays": draw(st.lists(st.integers(0, 4), min_size=1, max_size=6)),
        "verdicts": draw(st.lists(st.sampled_from(list(AnalysisPhase)[2:]), min_size=1, max_size=4)),
        "commands": draw(st.lists(st.tuples(st.integers(0, 20), st.sampled_from(COMMANDS)), max_size=4)),
    }


def _spec(case: dict[str, Any], image: str) -> RolloutSpec:
    return blue_green_spec(image, replicas=case["replicas"], **case["blueGreen"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_blue_green_keeps_its_promises(case: dict[str, Any]) -> None:
    run(case, plan)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_blue_green_keeps_its_promises_with_settled_plans(case: dict[str, Any]) -> None:
    run(case, plan_settled)


def run(case: dict[str, Any], planner: Callable[..., Plan]) -> None:
    delays, verdicts = case["delays"], case["verdicts"]
    serial = iter(range(10_000))

    def outcome(_: CreateAnalysisRun) -> tuple[AnalysisPhase, float]:
        return verdicts[next(serial) % len(verdicts)], 2.0

    sim = SimCluster(
        now=T0,
        services=("active", "preview"),
        pod_delay=pod_delays(delays),
        run_outcome=outcome,
    )
    n = case["replicas"]
    spec = _spec(case, "v0")
    images = 1

    def reconcile() -> None:
        observed = sim.observe()
        decided = planner(spec, observed, now=sim.now)
        available = {rs.pod_hash: rs.available for rs in observed.replica_sets}
        stable = sim.status.get("stableRS")
        for action in decided.of_type(SetServiceSelector):
            if action.service == "active" and stable and action.pod_hash != stable:
                assert available.get(action.pod_hash, 0) >= n, "active switched to a version not fully available"
        sim.apply(decided)
        once = sim.snapshot()
        sim.apply(decided)
        assert sim.snapshot() == once
        if sim.status.get("abort"):
            assert sim.services["active"] == sim.status["stableRS"]

    for _ in range(5):
        reconcile()
        sim.advance(1)
    spec = _spec(case, "v1")
    schedule = sorted(case["commands"])
    for tick in range(25):
        for _, name in [c for c in schedule if c[0] == tick]:
            if not operate(sim, name) and name == "new-template":
                images += 1
                spec = _spec(case, f"v{images}")
        reconcile()
        sim.advance(1)
    for _ in range(200):
        if sim.status.get("phase") == "Paused":
            sim.promote()
        reconcile()
        phase = sim.status.get("phase")
        stable = sim.status.get("stableRS")
        replicas = {rs.pod_hash: rs.replicas for rs in sim.replica_sets.values()}
        if phase == "Healthy":
            assert stable == sim.status["currentPodHash"]
            assert sim.services["active"] == stable
            if all(v == 0 for h, v in replicas.items() if h != stable):
                return
        if phase == "Degraded" and sim.status.get("abort"):
            assert sim.services["active"] == stable
            assert replicas[stable] == n
            return
        sim.advance(1)
    raise AssertionError(f"did not terminate: {sim.status.get('phase')} {sim.status.get('message')}")
