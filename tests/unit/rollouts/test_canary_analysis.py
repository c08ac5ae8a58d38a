"""Step and background analysis: created from templates with resolved args; failed aborts, inconclusive pauses."""

from __future__ import annotations

from analysis.assess import AnalysisPhase
from rollouts.core import (
    AnalysisKind,
    AnalysisRunView,
    CreateAnalysisRun,
    MarkAnalysisRunSuperseded,
    Observed,
    Plan,
    ReplicaSetView,
    ServiceView,
    TerminateAnalysisRun,
    plan,
    pod_template_hash,
    status_from,
)
from rollouts.core.simulate import SimCluster
from tests.support.rollouts import T0, canary_spec, cluster, settle

ANALYSIS = {
    "templates": [{"templateName": "success-rate"}, {"templateName": "shared", "clusterScope": True}],
    "args": [
        {"name": "service", "value": "web"},
        {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
        {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
        {"name": "app", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "missing", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['nope']"}}},
    ],
}
STEPS = [{"setWeight": 20}, {"analysis": ANALYSIS}, {"setWeight": 60}]


def scripted(verdicts: dict[str, list[AnalysisPhase]]) -> SimCluster:
    """Runs of each kind get the next verdict from the list (the last one repeats)."""
    seen: dict[str, int] = {}

    def outcome(run: CreateAnalysisRun) -> tuple[AnalysisPhase, float]:
        kind = run.kind.value
        options = verdicts.get(kind, [AnalysisPhase.SUCCESSFUL])
        index = seen.get(kind, 0)
        seen[kind] = index + 1
        return options[min(index, len(options) - 1)], 2.0

    return cluster(run_outcome=outcome)


def test_a_step_analysis_run_gets_templates_and_resolved_args() -> None:
    sim = scripted({})
    settle(sim, canary_spec(steps=STEPS))
    stable = sim.status["stableRS"]
    spec = canary_spec("v2", steps=STEPS)
    created: list[CreateAnalysisRun] = []

    def record(decided: Plan) -> bool:
        created.extend(decided.of_type(CreateAnalysisRun))
        return decided.status["phase"] == "Healthy"

    settle(sim, spec, until=record)
    assert len(created) == 1
    run = created[0]
    new = sim.status["currentPodHash"]
    assert run.kind is AnalysisKind.STEP
    assert run.step_index == 1
    assert run.name == f"app-{new}-2-step1"
    assert run.templates == (("success-rate", False), ("shared", True))
    assert dict(run.args) == {
        "service": "web",
        "canary-hash": new,
        "stable-hash": stable,
        "app": "app",
        "missing": None,
    }
    assert run.labels["rollouts.dev/analysis-kind"] == "Step"
    assert run.labels["rollouts-pod-template-hash"] == new
    assert run.labels["rollouts.dev/step-index"] == "1"
    assert sim.status["phase"] == "Healthy"


def test_a_failed_step_analysis_aborts_and_a_retry_runs_a_fresh_analysis() -> None:
    sim = scripted({"Step": [AnalysisPhase.FAILED, AnalysisPhase.SUCCESSFUL]})
    settle(sim, canary_spec(steps=STEPS))
    spec = canary_spec("v2", steps=STEPS)
    aborted = settle(sim, spec, ticks=30)
    assert aborted.status["phase"] == "Degraded"
    assert "AnalysisRun" in aborted.status["message"]
    assert "Failed" in aborted.status["message"]
    first = next(iter(sim.runs.values()))
    assert first.superseded
    # The aborting run stays in the status with its verdict (found on the real cluster: it used to vanish).
    assert aborted.status["canary"]["currentStepAnalysisRunStatus"]["name"] == first.name
    assert aborted.status["canary"]["currentStepAnalysisRunStatus"]["status"] == "Failed"
    again = sim.reconcile(spec)  # and keeps it on later reconciles while aborted
    assert again.status["canary"]["currentStepAnalysisRunStatus"]["status"] == "Failed"
    sim.retry()
    final = settle(sim, spec, ticks=40)
    assert final.status["phase"] == "Healthy"
    names = sorted(sim.runs)
    assert len(names) == 2
    assert names[1] == names[0] + "-2"


def test_an_inconclusive_step_analysis_pauses_until_promoted() -> None:
    sim = scripted({"Step": [AnalysisPhase.INCONCLUSIVE]})
    settle(sim, canary_spec(steps=STEPS))
    spec = canary_spec("v2", steps=STEPS)
    paused = settle(sim, spec, ticks=30)
    assert paused.status["phase"] == "Paused"
    assert paused.status["message"] == "InconclusiveAnalysisRun"
    assert paused.status["currentStepIndex"] == 1
    sim.promote()
    final = settle(sim, spec, ticks=30)
    assert final.status["phase"] == "Healthy"


def test_a_pause_for_an_inconclusive_background_run_keeps_the_step_analysis_going() -> None:
    """Argo's TestCanaryBackgroundAnalysisInvalidImageJob: the background run turns Inconclusive while the step's
    analysis runs; the rollout pauses, and the step's run keeps measuring (not terminated, still reported)."""
    steps = [{"setWeight": 10}, {"analysis": {"templates": [{"templateName": "long"}]}}]
    background = {"templates": [{"templateName": "bad-image"}]}

    def outcome(run: CreateAnalysisRun) -> tuple[AnalysisPhase, float]:
        if run.kind is AnalysisKind.BACKGROUND:
            return AnalysisPhase.INCONCLUSIVE, 3.0
        return AnalysisPhase.SUCCESSFUL, 1000.0  # the step's Job runs for a long time

    sim = cluster(run_outcome=outcome)
    settle(sim, canary_spec(steps=steps, analysis=background))
    spec = canary_spec("v2", steps=steps, analysis=background)
    paused = settle(sim, spec, ticks=20)
    assert paused.status["message"] == "InconclusiveAnalysisRun"
    step = next(r for r in sim.runs.values() if r.kind is AnalysisKind.STEP)
    assert not step.terminating
    assert paused.status["canary"]["currentStepAnalysisRunStatus"]["status"] == "Running"
    settle(sim, spec, ticks=5)
    assert not step.terminating


def test_background_analysis_starts_at_its_starting_step_and_is_terminated_at_promotion() -> None:
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 40}, {"pause": {}}]
    background = {"templates": [{"templateName": "bg"}], "startingStep": 2}
    sim = scripted({"Background": [AnalysisPhase.SUCCESSFUL]})
    sim._run_outcome = lambda run: (AnalysisPhase.SUCCESSFUL, 1000.0)  # keeps running
    settle(sim, canary_spec(steps=steps, analysis=background))
    spec = canary_spec("v2", steps=steps, analysis=background)
    settle(sim, spec)
    assert sim.status["currentStepIndex"] == 1
    assert not sim.runs  # before startingStep
    sim.promote()
    settle(sim, spec)
    assert [r.kind for r in sim.runs.values()] == [AnalysisKind.BACKGROUND]
    assert sim.status["canary"]["currentBackgroundAnalysisRunStatus"]["status"] == "Running"
    sim.promote()
    terminated: list[TerminateAnalysisRun] = []
    for _ in range(10):
        terminated += sim.reconcile(spec).of_type(TerminateAnalysisRun)
        sim.advance(1)
    assert sim.status["phase"] == "Healthy"
    assert [t.name for t in terminated] == list(sim.runs)


def test_a_failed_background_analysis_aborts() -> None:
    sim = scripted({"Background": [AnalysisPhase.FAILED]})
    background = {"templates": [{"templateName": "bg"}]}
    settle(sim, canary_spec(steps=[{"setWeight": 20}, {"pause": {}}], analysis=background))
    spec = canary_spec("v2", steps=[{"setWeight": 20}, {"pause": {}}], analysis=background)
    final = settle(sim, spec, ticks=30)
    assert final.status["phase"] == "Degraded"
    assert final.status["abort"] is True
    assert final.status["canary"]["currentBackgroundAnalysisRunStatus"]["status"] == "Failed"


def test_promote_full_skips_analysis() -> None:
    sim = scripted({"Step": [AnalysisPhase.FAILED]})
    sim._run_outcome = lambda run: (AnalysisPhase.FAILED, 1000.0)
    settle(sim, canary_spec(steps=STEPS))
    spec = canary_spec("v2", steps=STEPS)
    settle(sim, spec, until=lambda p: bool(sim.runs))
    sim.promote_full()
    final = settle(sim, spec, ticks=30)
    assert final.status["phase"] == "Healthy"
    assert all(run.terminating for run in sim.runs.values())


def test_promote_full_starts_no_background_analysis() -> None:
    # Argo's TestCanaryPromoteFull: a background analysis starting at the step after the last never runs when the
    # update is fully promoted.
    steps = [{"pause": {}}, {"setWeight": 50}]
    background = {"templates": [{"templateName": "bg"}], "startingStep": len(steps)}
    sim = cluster()
    settle(sim, canary_spec(steps=steps, analysis=background))
    spec = canary_spec("v2", steps=steps, analysis=background)
    settle(sim, spec)
    sim.promote_full()
    final = settle(sim, spec, ticks=30)
    assert final.status["phase"] == "Healthy"
    assert sim.runs == {}


def test_coming_back_to_a_template_runs_its_analysis_afresh() -> None:
    background = {"templates": [{"templateName": "bg"}]}
    v1 = canary_spec(steps=[{"setWeight": 20}, {"pause": {}}], analysis=background)
    v2 = canary_spec("v2", steps=[{"setWeight": 20}, {"pause": {}}], analysis=background)
    h1, h2 = pod_template_hash(v1.template), pod_template_hash(v2.template)
    observed = Observed(
        replica_sets=(
            ReplicaSetView(name=f"app-{h1}", pod_hash=h1, replicas=10, available=10, pods=10, revision=1),
            ReplicaSetView(name=f"app-{h2}", pod_hash=h2, replicas=0, revision=2),
        ),
        # A verdict from an earlier attempt at v2 that was never acted on (v3 arrived first).
        analysis_runs=(
            AnalysisRunView(name="old", kind=AnalysisKind.BACKGROUND, pod_hash=h2, phase=AnalysisPhase.FAILED),
        ),
        services={"canary": ServiceView(name="canary"), "stable": ServiceView(name="stable")},
        status=status_from({"currentPodHash": "v3hash", "stableRS": h1, "currentStepIndex": 1}),
    )
    decided = plan(v2, observed, now=T0)
    assert decided.status["abort"] is None
    assert decided.status["phase"] == "Progressing"
    assert MarkAnalysisRunSuperseded(name="old") in decided.actions
    created = decided.of_type(CreateAnalysisRun)
    assert [run.name for run in created] == [f"app-{h2}-2-background-2"]
