"""Blue-green: preview first, promotion pause, active switch only to fully available pods, analysis around it."""

from __future__ import annotations

from typing import Any

from analysis.assess import AnalysisPhase
from rollouts.core import AnalysisKind, CreateAnalysisRun, SetServiceSelector, plan
from rollouts.core.observed import Observed
from rollouts.core.simulate import SimCluster
from tests.support.rollouts import blue_green_spec, cluster, deployed, settle

ANALYSIS = {"templates": [{"templateName": "smoke"}]}


def by_hash(sim: SimCluster) -> dict[str, int]:
    return {rs.pod_hash: rs.replicas for rs in sim.replica_sets.values()}


def test_the_first_deploy_points_active_at_the_first_replica_set() -> None:
    spec = blue_green_spec()
    decided = plan(spec, Observed(services={}), now=cluster().now)
    assert decided.status["stableRS"] == decided.status["currentPodHash"]
    sim = deployed(spec)
    assert sim.services["active"] == sim.services["preview"] == sim.status["stableRS"]
    assert sim.status["blueGreen"]["activeSelector"] == sim.status["stableRS"]


def test_auto_promotion_switches_active_once_the_preview_is_fully_available() -> None:
    sim = deployed(blue_green_spec(), delay=2)
    old = sim.status["stableRS"]
    spec = blue_green_spec("v2")
    switched_at_available: list[int] = []
    for _ in range(10):
        available = {rs.pod_hash: sim.available(rs) for rs in sim.replica_sets.values()}
        decided = sim.reconcile(spec)
        if any(a.service == "active" for a in decided.of_type(SetServiceSelector)):
            switched_at_available.append(available.get(decided.status["currentPodHash"], 0))
        sim.advance(1)
    assert switched_at_available == [10]
    final = settle(sim, spec)
    assert final.status["phase"] == "Healthy"
    assert sim.services["active"] == final.status["stableRS"] != old
    assert by_hash(sim)[old] == 10  # scaleDownDelaySeconds (30 by default) not over yet
    sim.advance(31)
    settle(sim, spec)
    assert by_hash(sim)[old] == 0


def test_without_auto_promotion_it_pauses_until_promoted_and_respects_preview_replica_count() -> None:
    sim = deployed(blue_green_spec(autoPromotionEnabled=False, previewReplicaCount=2))
    old = sim.status["stableRS"]
    spec = blue_green_spec("v2", autoPromotionEnabled=False, previewReplicaCount=2)
    paused = settle(sim, spec)
    new = paused.status["currentPodHash"]
    assert paused.status["phase"] == "Paused"
    assert paused.status["pauseConditions"][0]["reason"] == "BlueGreenPause"
    assert by_hash(sim) == {old: 10, new: 2}
    assert sim.services == {**sim.services, "active": old, "preview": new}
    sim.promote()
    done = settle(sim, spec)
    assert done.status["phase"] == "Healthy"
    assert by_hash(sim)[new] == 10
    assert sim.services["active"] == new
    assert "scaleUpPreviewCheckPoint" not in sim.status["blueGreen"]


def test_auto_promotion_seconds_promotes_after_the_delay() -> None:
    sim = deployed(blue_green_spec(autoPromotionSeconds=20))
    spec = blue_green_spec("v2", autoPromotionSeconds=20)
    paused = settle(sim, spec)
    assert paused.status["phase"] == "Paused"
    assert paused.requeue_after is not None
    assert 0 < paused.requeue_after <= 20
    sim.advance(paused.requeue_after - 1)
    assert sim.reconcile(spec).status["phase"] == "Paused"
    sim.advance(1)
    assert settle(sim, spec).status["phase"] == "Healthy"


def test_abort_keeps_active_on_stable_and_scales_the_preview_down_after_the_abort_delay() -> None:
    """The preview Service keeps selecting the aborted version (Argo's e2e ExpectPreviewRevision after an abort)."""
    sim = deployed(blue_green_spec(autoPromotionEnabled=False, abortScaleDownDelaySeconds=5))
    old = sim.status["stableRS"]
    spec = blue_green_spec("v2", autoPromotionEnabled=False, abortScaleDownDelaySeconds=5)
    settle(sim, spec)
    sim.abort()
    aborted = settle(sim, spec)
    assert aborted.status["phase"] == "Degraded"
    assert sim.services["active"] == old
    assert sim.services["preview"] == aborted.status["currentPodHash"] != old
    assert by_hash(sim)[aborted.status["currentPodHash"]] == 10
    sim.advance(6)
    settle(sim, spec)
    assert by_hash(sim)[aborted.status["currentPodHash"]] == 0


def _verdicts(**by_kind: AnalysisPhase) -> Any:
    def outcome(run: CreateAnalysisRun) -> tuple[AnalysisPhase, float]:
        return by_kind.get(run.kind.value, AnalysisPhase.SUCCESSFUL), 3.0

    return outcome


def test_a_failed_pre_promotion_analysis_aborts_before_any_switch() -> None:
    sim = cluster(run_outcome=_verdicts(PrePromotion=AnalysisPhase.FAILED))
    settle(sim, blue_green_spec(prePromotionAnalysis=ANALYSIS))
    old = sim.status["stableRS"]
    spec = blue_green_spec("v2", prePromotionAnalysis=ANALYSIS)
    final = settle(sim, spec, ticks=30)
    assert final.status["phase"] == "Degraded"
    assert sim.services["active"] == old
    runs = list(sim.runs.values())
    assert [r.kind for r in runs] == [AnalysisKind.PRE_PROMOTION]
    assert runs[0].superseded
    reported = final.status["blueGreen"]["prePromotionAnalysisRunStatus"]  # the verdict stays visible while aborted
    assert (reported["name"], reported["status"]) == (runs[0].name, "Failed")


def test_a_failed_post_promotion_analysis_switches_active_back() -> None:
    sim = cluster(run_outcome=_verdicts(PostPromotion=AnalysisPhase.FAILED))
    settle(sim, blue_green_spec(postPromotionAnalysis=ANALYSIS))
    old = sim.status["stableRS"]
    spec = blue_green_spec("v2", postPromotionAnalysis=ANALYSIS)
    switched = settle(sim, spec, until=lambda p: sim.services["active"] != old)
    assert switched.status["stableRS"] == old  # not stable until post-promotion analysis passes
    assert by_hash(sim)[old] == 10
    final = settle(sim, spec, ticks=30)
    assert final.status["phase"] == "Degraded"
    assert sim.services["active"] == old


def test_successful_analyses_let_the_promotion_complete() -> None:
    sim = cluster()
    settle(sim, blue_green_spec(prePromotionAnalysis=ANALYSIS, postPromotionAnalysis=ANALYSIS))
    spec = blue_green_spec("v2", prePromotionAnalysis=ANALYSIS, postPromotionAnalysis=ANALYSIS)
    final = settle(sim, spec, ticks=60)
    assert final.status["phase"] == "Healthy"
    kinds = sorted(r.kind.value for r in sim.runs.values())
    assert kinds == ["PostPromotion", "PrePromotion"]


def test_a_version_still_selected_by_active_is_never_scaled_down() -> None:
    sim = cluster(run_outcome=lambda run: (AnalysisPhase.SUCCESSFUL, 1000.0))  # post-promotion analysis never ends
    settle(sim, blue_green_spec(postPromotionAnalysis=ANALYSIS, scaleDownDelaySeconds=1))
    v1 = sim.status["stableRS"]
    settle(
        sim,
        blue_green_spec("v2", postPromotionAnalysis=ANALYSIS, scaleDownDelaySeconds=1),
        until=lambda p: sim.services["active"] != v1,
    )
    v2 = sim.services["active"]
    sim._pod_delay = lambda _: 50.0  # v3 takes its time: v2 must keep serving meanwhile
    spec = blue_green_spec("v3", postPromotionAnalysis=ANALYSIS, scaleDownDelaySeconds=1)
    for _ in range(20):
        sim.reconcile(spec)
        sim.advance(1)
        active = sim.services["active"]
        assert sim.available(next(rs for rs in sim.replica_sets.values() if rs.pod_hash == active)) == 10
    assert sim.services["active"] == v2


def test_a_rollback_to_a_version_still_in_its_scale_down_delay_is_fast_tracked() -> None:
    """Argo's TestBlueGreenAnalysis: re-applying the previous template while its ReplicaSet waits out
    scaleDownDelaySeconds switches back at once: no pause, no analysis run."""
    options: dict[str, Any] = {
        "autoPromotionEnabled": False,
        "prePromotionAnalysis": ANALYSIS,
        "postPromotionAnalysis": ANALYSIS,
    }
    sim = cluster()
    settle(sim, blue_green_spec(**options))
    old = sim.status["stableRS"]
    update = blue_green_spec("v2", **options)
    settle(sim, update, ticks=30)
    sim.promote()
    final = settle(sim, update, ticks=60)
    assert final.status["phase"] == "Healthy"
    assert final.status["stableRS"] != old
    runs = len(sim.runs)
    assert by_hash(sim)[old] == 10  # still within scaleDownDelaySeconds (30)
    back = settle(sim, blue_green_spec(**options), ticks=3)
    assert back.status["phase"] == "Healthy"
    assert back.status["stableRS"] == old == sim.services["active"] == sim.services["preview"]
    assert len(sim.runs) == runs


def test_a_rollback_after_the_scale_down_delay_is_an_ordinary_update() -> None:
    sim = cluster()
    settle(sim, blue_green_spec(autoPromotionEnabled=False))
    old = sim.status["stableRS"]
    update = blue_green_spec("v2", autoPromotionEnabled=False)
    settle(sim, update)
    sim.promote()
    settle(sim, update)
    sim.advance(31)
    settle(sim, update)
    assert by_hash(sim)[old] == 0
    back = settle(sim, blue_green_spec(autoPromotionEnabled=False))
    assert back.status["phase"] == "Paused"
    assert sim.services["active"] != old
