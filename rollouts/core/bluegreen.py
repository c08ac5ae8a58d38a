"""The blue-green strategy: the new version runs beside the old one and the active Service switches at promotion.

Ladder (one reason each):

1. **No update in flight** — the desired template is the stable one (first deploy: the active Service points at the
   first ReplicaSet at once): keep it at ``replicas``, point active and preview at it, retire older versions after
   ``scaleDownDelaySeconds``.
2. **Aborted** — the active Service goes (or stays) on stable; the preview Service keeps selecting the aborted
   version (as in Argo: it is what a person inspects after the abort), which is scaled down after
   ``abortScaleDownDelaySeconds`` (0: never).
3. **Updating** — bring the preview up (``previewReplicaCount`` first), point the preview Service at it, run
   ``prePromotionAnalysis`` and honour the promotion pause (``autoPromotionEnabled: false`` until promoted,
   ``autoPromotionSeconds`` until elapsed) in parallel; then scale the preview to full size, switch the active
   Service once every pod is available, run ``postPromotionAnalysis``, and only then make the new version stable.
   A failed post-promotion analysis switches the active Service back (the old version is still up: its scale-down
   delay only starts when the new version becomes stable).
"""

from __future__ import annotations

from datetime import timedelta

from rollouts.core.context import BLUE_GREEN_PAUSE, Context
from rollouts.core.observed import AnalysisKind
from rollouts.core.replicas import preview_target
from rollouts.core.spec import AnalysisRef, BlueGreenStrategy

__all__ = ["plan_blue_green"]


def plan_blue_green(ctx: Context, strategy: BlueGreenStrategy) -> None:
    if ctx.stable_rs is None:
        ctx.reason("no stable ReplicaSet: the active Service points at this version at once")
        ctx.stable_hash = ctx.new_hash
    if ctx.new_hash == ctx.stable_hash:
        _settled(ctx, strategy)
        return
    if ctx.abort:
        _aborted(ctx, strategy)
        return
    _updating(ctx, strategy)


def _settled(ctx: Context, strategy: BlueGreenStrategy) -> None:
    n = ctx.replicas
    ctx.abort = False
    ctx.aborted_at = None
    ctx.promote_full = False
    ctx.pauses.clear()
    ctx.controller_pause = False
    ctx.scale_up_preview = False
    ctx.ensure_new(n, strategy.active_metadata)
    new = ctx.new_rs
    if new is not None and new.available >= n:
        # Traffic moves once every pod can take it (a first deploy too, as in Argo); until then the Services keep
        # whatever they select.
        ctx.point(strategy.active_service, ctx.new_hash)
        ctx.point(strategy.preview_service, ctx.new_hash)
    ctx.scale_down_older_after(
        ctx.older,
        strategy.scale_down_delay_seconds,
        strategy.scale_down_delay_revision_limit,
        "previous version, after scaleDownDelaySeconds",
    )
    if new is not None and new.replicas == n and new.available >= n:
        ctx.complete = True
    else:
        ctx.progress_message = "updated replicas are still becoming available"


def _aborted(ctx: Context, strategy: BlueGreenStrategy) -> None:
    ctx.scale_up_preview = False
    ctx.enter_aborted()
    ctx.keep_up(ctx.stable_rs, ctx.replicas, "stable takes all traffic back")
    ctx.point(strategy.active_service, ctx.stable_hash)
    ctx.set_metadata(ctx.stable_rs, strategy.active_metadata)
    if ctx.new_rs is not None:
        ctx.point(strategy.preview_service, ctx.new_hash)
        delay = strategy.abort_scale_down_delay_seconds
        ctx.scale_down_after(ctx.new_rs, delay if delay > 0 else None, "aborted preview")
    for rs in ctx.older:
        ctx.scale_down_after(rs, 0, "older version")


def _analysis(ctx: Context, kind: AnalysisKind, ref: AnalysisRef | None) -> bool:
    """Whether the analysis of ``kind`` allows going on (absent, skipped by promoteFull, or Successful)."""
    if ref is None or ctx.full_promotion:
        return True
    return ctx.analysis_passed(kind, ref)


def _promotion_pause_over(ctx: Context, strategy: BlueGreenStrategy) -> bool:
    """The promotion pause: until promoted (autoPromotionEnabled false) or autoPromotionSeconds elapsed."""
    if ctx.full_promotion or ctx.scale_up_preview:
        return True
    if strategy.auto_promotion_enabled and strategy.auto_promotion_seconds is None:
        return True
    if ctx.pause_released():
        ctx.resume(BLUE_GREEN_PAUSE)
        return True
    ctx.pause(BLUE_GREEN_PAUSE)
    if strategy.auto_promotion_enabled and strategy.auto_promotion_seconds is not None:
        end = ctx.pauses[BLUE_GREEN_PAUSE] + timedelta(seconds=strategy.auto_promotion_seconds)
        if ctx.now >= end:
            ctx.resume(BLUE_GREEN_PAUSE)
            ctx.reason("autoPromotionSeconds elapsed")
            return True
        ctx.timer(end)
    return False


def _updating(ctx: Context, strategy: BlueGreenStrategy) -> None:
    n = ctx.replicas
    failed = (
        None
        if ctx.full_promotion
        else ctx.failed_run([(AnalysisKind.PRE_PROMOTION, None), (AnalysisKind.POST_PROMOTION, None)])
    )
    if failed is not None:
        ctx.abort_for_failed_run(failed)
        _aborted(ctx, strategy)
        return
    ctx.keep_up(ctx.stable_rs, n, "active version")
    ctx.set_metadata(ctx.stable_rs, strategy.active_metadata)
    active = ctx.service_hash(strategy.active_service)
    for rs in ctx.older:
        if rs.pod_hash == active:
            # Still serving production (a newer template arrived before it became stable): keep it whole.
            ctx.keep_up(rs, n, "selected by the active Service")
    ctx.scale_down_older_after(
        [rs for rs in ctx.older if rs.pod_hash != active],
        strategy.scale_down_delay_seconds,
        strategy.scale_down_delay_revision_limit,
        "older version",
    )
    active_is_new = ctx.service_hash(strategy.active_service) == ctx.new_hash
    target = preview_target(
        replicas=n,
        preview_replica_count=strategy.preview_replica_count,
        scale_up=ctx.scale_up_preview or ctx.full_promotion or active_is_new,
    )
    ctx.ensure_new(target, strategy.active_metadata if active_is_new else strategy.preview_metadata)
    new = ctx.new_rs
    ready = new is not None and new.replicas == target and new.available >= target
    if ready:
        ctx.point(strategy.preview_service, ctx.new_hash)

    if active_is_new:
        # Switched: post-promotion analysis decides whether the new version becomes stable.
        if ctx.spec.paused:
            ctx.reason("spec.paused: holding after the switch")
            return
        if _analysis(ctx, AnalysisKind.POST_PROMOTION, strategy.post_promotion_analysis):
            _make_stable(ctx)
        else:
            ctx.progress_message = "waiting for post-promotion analysis"
        return
    if not ready:
        ctx.progress_message = "waiting for the preview to become available"
        return
    analysis_ok = _analysis(ctx, AnalysisKind.PRE_PROMOTION, strategy.pre_promotion_analysis)
    if ctx.spec.paused:
        ctx.reason("spec.paused: holding before the switch")
        return
    pause_over = analysis_ok and _promotion_pause_over(ctx, strategy)
    if not (analysis_ok and pause_over):
        ctx.progress_message = "waiting for pre-promotion analysis" if not analysis_ok else ""
        return
    if not ctx.scale_up_preview:
        ctx.scale_up_preview = True
        ctx.reason("promotion: the preview scales to full size")
    if target < n:
        ctx.ensure_new(n, strategy.preview_metadata)
        ctx.progress_message = "waiting for the preview to scale up"
        return
    # Every pod of the new version is available: switch the active Service.
    ctx.point(strategy.active_service, ctx.new_hash)
    ctx.set_metadata(new, strategy.active_metadata)
    if strategy.post_promotion_analysis is None or ctx.full_promotion:
        _make_stable(ctx)
    else:
        ctx.progress_message = "waiting for post-promotion analysis"


def _make_stable(ctx: Context) -> None:
    ctx.stable_hash = ctx.new_hash
    ctx.reason(f"{ctx.rs_name(ctx.new_hash)} is stable")
