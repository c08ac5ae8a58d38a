"""The working state of one planning pass: who is new/stable/old, the status being built, the actions so far.

Private to the planner. Why a mutable builder in a pure core: the strategies (:mod:`rollouts.core.canary`,
:mod:`rollouts.core.bluegreen`) read as flat ladders of decisions, and each decision appends an action and a
one-line reason here instead of threading a dozen values through return tuples. It never touches anything outside
itself; :meth:`Context.finish` turns it into an immutable :class:`~rollouts.core.actions.Plan`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from analysis.assess import AnalysisPhase
from rollouts.core.actions import (
    Action,
    AdoptReplicaSet,
    AnnotateReplicaSet,
    CreateAnalysisRun,
    CreateReplicaSet,
    EmitEvent,
    EventType,
    MarkAnalysisRunSuperseded,
    ScaleReplicaSet,
    SetPodMetadata,
    SetServiceSelector,
    TerminateAnalysisRun,
)
from rollouts.core.affinity import inject_anti_affinity
from rollouts.core.hashing import POD_TEMPLATE_HASH_LABEL, steps_hash, template_hash, templates_equal
from rollouts.core.observed import (
    AnalysisKind,
    AnalysisRunView,
    Observed,
    ReplicaSetView,
)
from rollouts.core.spec import AnalysisRef, HashSource, PodMetadata, RolloutSpec
from workflows.model.times import format_time

__all__ = ["Context"]

CANARY_PAUSE = "CanaryPauseStep"
BLUE_GREEN_PAUSE = "BlueGreenPause"
INCONCLUSIVE_PAUSE = "InconclusiveAnalysisRun"
ABORTED_PREFIX = "RolloutAborted: "
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # orders runs whose creation time is unknown first
_FIELD_SEGMENT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


class Context:
    """Everything one ``plan()`` call knows and decides; ``observed`` stays untouched, the rest is being built."""

    def __init__(self, spec: RolloutSpec, observed: Observed, now: datetime) -> None:
        self.spec = spec
        self.observed = observed
        self.mode = observed.mode  # the label/annotation names this cluster speaks
        self.now = now
        self.actions: list[Action] = []
        self.reasons: list[str] = []
        self.timers: list[datetime] = []
        self.message = ""
        self.complete = False  # the strategy says: fully rolled out, nothing in flight
        self.progress_message = ""  # why the rollout is still Progressing
        self.needed_runs: set[str] = set()
        self.retired_runs: set[str] = set()  # superseded by this plan: no longer "current" for it either
        self.run_status: dict[AnalysisKind, dict[str, str]] = {}
        self._identify()
        self._load_status()
        for rs in observed.replica_sets:
            if rs.orphan:
                self.actions.insert(0, AdoptReplicaSet(name=rs.name))
                self.reason(f"adopt orphan ReplicaSet {rs.name} (its template is the Rollout's)")

    def _identify(self) -> None:
        """Find the new ReplicaSet (by name, else by an equal template), the stable one and the older ones."""
        spec, status = self.spec, self.observed.status
        sets = list(self.observed.replica_sets)
        wanted = template_hash(self.mode, spec.template, collision_count=status.collision_count)
        by_name = next((rs for rs in sets if rs.name == f"{spec.name}-{wanted}"), None)
        if by_name is None:
            stored = self.observed.stored_template
            equal = [
                rs
                for rs in sets
                if rs.pod_hash
                and any(
                    templates_equal(
                        rs.template,
                        template,
                        ephemeral_labels=rs.pod_metadata.labels,
                        ephemeral_annotations=rs.pod_metadata.annotations,
                    )
                    for template in (spec.template, stored)
                    if template is not None
                )
            ]
            by_name = max(equal, key=lambda rs: (rs.revision, rs.name), default=None)
        self.new_rs: ReplicaSetView | None = by_name
        self.new_hash = by_name.pod_hash if by_name is not None else wanted
        self.stable_rs: ReplicaSetView | None = (
            next((rs for rs in sets if rs.pod_hash == status.stable_rs), None) if status.stable_rs else None
        )
        self.older = sorted(
            (rs for rs in sets if rs is not self.new_rs and rs is not self.stable_rs),
            key=lambda rs: (rs.revision, rs.name),
        )
        top = max((rs.revision for rs in sets), default=0)
        if self.new_rs is None:
            self.revision = top + 1
        elif self.new_rs.revision < top or self.new_rs.revision == 0:
            self.revision = top + 1  # a rollback to an older template becomes the newest revision, as in Argo
            self.annotate(self.new_rs, {self.mode.revision_annotation: str(self.revision)})
        else:
            self.revision = self.new_rs.revision

    def _load_status(self) -> None:
        """Start the status being built from what is recorded; a new template (or new steps) starts over."""
        spec, status = self.spec, self.observed.status
        self.step_index = status.current_step_index
        self.abort = status.abort
        self.aborted_at = status.aborted_at
        self.promote_full = status.promote_full
        self.controller_pause = status.controller_pause
        self.pauses: dict[str, datetime] = {c.reason: c.start_time for c in status.pause_conditions}
        self.stable_hash = status.stable_rs if self.stable_rs is not None else ""
        self.canary_weight = status.canary_weight
        self.traffic_hash = status.canary_weight_hash  # the hash ``canary_weight`` goes to
        self.traffic_declared = False  # this plan has a SetTrafficWeight
        self.scale_up_preview = status.scale_up_preview_check_point
        self.restarted_at = status.restarted_at
        self.selectors: dict[str, str] = {}  # service name -> hash it points at after this plan
        canary = spec.canary
        if canary is None:
            self.steps_hash = ""
        else:
            self.steps_hash = steps_hash(list(canary.steps_raw) if canary.steps_raw is not None else None)
        self.template_changed = bool(status.current_pod_hash) and status.current_pod_hash != self.new_hash
        steps_changed = bool(status.current_step_hash) and status.current_step_hash != self.steps_hash
        recorded = str(status.raw.get("message") or "")
        if self.abort and recorded.startswith(ABORTED_PREFIX):
            self.message = recorded[len(ABORTED_PREFIX) :]  # why it was aborted, kept while it stays aborted
        self.reset = self.template_changed or (steps_changed and canary is not None)
        if self.reset:
            what = "pod template" if self.template_changed else "canary steps"
            self.reason(f"the {what} changed: the update restarts from step 0")
            self.step_index = 0
            self.abort = False
            self.aborted_at = None
            self.promote_full = False
            self.controller_pause = False
            self.pauses.clear()
            self.scale_up_preview = False
            self.message = ""
            if self.template_changed:
                self.supersede_runs(final_only=False)
        self._detect_rollbacks()
        if self.full_promotion and self.abort:
            # A full promotion (or a rollback within the window) overrides an abort, as in Argo (its RemoveAbort):
            # the user chose to release this version after all.
            self.reason("promote --full after an abort: the abort is lifted")
            self.abort = False
            self.aborted_at = None
            self.message = ""
            self.pauses.clear()

    def _detect_rollbacks(self) -> None:
        """The rollbacks Argo fast-tracks (steps, pauses and analysis skipped): see :attr:`full_promotion`."""
        self.rollback_within_window = self._rollback_within_window()
        if self.rollback_within_window:
            self.reason("a rollback within spec.rollbackWindow: steps and analysis are skipped")
        self.fast_rollback = not self.rollback_within_window and self._blue_green_rollback_within_delay()
        if self.fast_rollback:
            self.reason("a blue-green rollback to a version still up (scale-down delay): pause and analysis skipped")

    def _rollback_within_window(self) -> bool:
        """Argo's ``isRollbackWithinWindow``: the new ReplicaSet is older than the stable one (a version coming back)
        and fewer than ``rollbackWindow.revisions`` ReplicaSets were created between the two."""
        window = self.spec.rollback_window_revisions
        new, stable = self.new_rs, self.stable_rs
        if window <= 0 or new is None or stable is None or new is stable:
            return False
        if new.revision == 0 or new.created_at is None or stable.created_at is None:
            return False
        if not new.created_at < stable.created_at:
            return False
        between = sum(
            1
            for rs in self.observed.replica_sets
            if rs.created_at is not None and new.created_at < rs.created_at < stable.created_at
        )
        return between < window

    def _blue_green_rollback_within_delay(self) -> bool:
        """Argo's fast rollback for blue-green: the new ReplicaSet is older than the stable one and still up,
        waiting out its scale-down delay (a deadline not yet passed), so it can take the traffic back at once."""
        new, stable = self.new_rs, self.stable_rs
        if self.spec.blue_green is None or new is None or stable is None or new is stable:
            return False
        if new.created_at is None or stable.created_at is None or not new.created_at < stable.created_at:
            return False
        return new.scale_down_deadline is not None and new.scale_down_deadline > self.now

    @property
    def full_promotion(self) -> bool:
        """Go straight to the new version: ``promote --full``, a rollback within the window, or a blue-green
        rollback to a version still within its scale-down delay."""
        return self.promote_full or self.rollback_within_window or self.fast_rollback

    # --- small helpers ------------------------------------------------------------------------------------------

    def reason(self, text: str) -> None:
        self.reasons.append(text)

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        self.actions.append(
            EmitEvent(type=EventType.WARNING if warning else EventType.NORMAL, reason=reason, message=message)
        )

    def timer(self, when: datetime) -> None:
        self.timers.append(when)

    @property
    def replicas(self) -> int:
        return self.spec.replicas

    def rs_name(self, pod_hash: str) -> str:
        return f"{self.spec.name}-{pod_hash}"

    def older_spec(self) -> int:
        return sum(rs.replicas for rs in self.older)

    # --- ReplicaSets --------------------------------------------------------------------------------------------

    def ensure_new(self, replicas: int, metadata: PodMetadata) -> None:
        """Create the new ReplicaSet with ``replicas`` pods, or scale it; keep its ephemeral metadata current."""
        if self.new_rs is None:
            template = inject_anti_affinity(
                self.spec.template,
                self.spec.anti_affinity,
                stable_hash=self.stable_hash,
                new_hash=self.new_hash,
                namespace=self.spec.namespace,
            )
            meta = dict(template.get("metadata") or {})
            labels = dict(meta.get("labels") or {})
            labels[POD_TEMPLATE_HASH_LABEL] = self.new_hash
            meta["labels"] = labels
            template["metadata"] = meta
            self.actions.append(
                CreateReplicaSet(
                    name=self.rs_name(self.new_hash),
                    pod_hash=self.new_hash,
                    template=template,
                    replicas=replicas,
                    revision=self.revision,
                    annotations={self.mode.revision_annotation: str(self.revision)},
                    pod_metadata=metadata,
                )
            )
            self.reason(f"create ReplicaSet {self.rs_name(self.new_hash)} (revision {self.revision}) with {replicas}")
            return
        self.set_metadata(self.new_rs, metadata)
        if self.new_rs.scale_down_deadline is not None:
            self.annotate(self.new_rs, {self.mode.scale_down_deadline_annotation: None})
        self.scale(self.new_rs, replicas, "new version")

    def scale(self, rs: ReplicaSetView | None, replicas: int, why: str) -> None:
        if rs is None or rs.replicas == replicas:
            return
        self.actions.append(ScaleReplicaSet(name=rs.name, replicas=replicas, reason=why))
        self.reason(f"scale {rs.name} ({why}) {rs.replicas} -> {replicas}")

    def annotate(self, rs: ReplicaSetView, annotations: Mapping[str, str | None]) -> None:
        self.actions.append(AnnotateReplicaSet(name=rs.name, annotations=dict(annotations)))

    def set_metadata(self, rs: ReplicaSetView | None, metadata: PodMetadata) -> None:
        if rs is not None and rs.pod_metadata != metadata:
            self.actions.append(SetPodMetadata(name=rs.name, metadata=metadata, previous=rs.pod_metadata))

    def scale_down_after(self, rs: ReplicaSetView, delay_seconds: int | None, why: str) -> None:
        """Scale ``rs`` to 0 once its scale-down deadline passes; ``None`` delay: never; 0: now.

        The deadline is stored on the ReplicaSet (an annotation), so it survives controller restarts.
        """
        if rs.replicas == 0:
            if rs.scale_down_deadline is not None:
                self.annotate(rs, {self.mode.scale_down_deadline_annotation: None})
            return
        if delay_seconds is None:
            return
        if delay_seconds == 0:
            self.scale(rs, 0, why)
            return
        deadline = rs.scale_down_deadline
        if deadline is None:
            deadline = self.now + timedelta(seconds=delay_seconds)
            self.annotate(rs, {self.mode.scale_down_deadline_annotation: format_time(deadline)})
            self.reason(f"{rs.name} scales down at {format_time(deadline)} ({why})")
        if self.now >= deadline:
            self.scale(rs, 0, why)
        else:
            self.timer(deadline)

    def scale_down_older_after(
        self, sets: Iterable[ReplicaSetView], delay_seconds: int | None, limit: int | None, why: str
    ) -> None:
        """:meth:`scale_down_after` for old versions, with ``scaleDownDelayRevisionLimit`` (Argo's
        ``scaleDownDelayHelper``): newest revision first, only the first ``limit`` ReplicaSets that still have pods
        wait out the delay; the older ones are scaled down now. ``limit`` ``None``: every one waits; 0: none does.
        """
        waiting = 0
        for rs in sorted(sets, key=lambda rs: (rs.revision, rs.name), reverse=True):
            if rs.replicas > 0 and limit is not None:
                if waiting >= limit:
                    self.scale_down_after(rs, 0, f"{why}, beyond scaleDownDelayRevisionLimit {limit}")
                    continue
                waiting += 1
            self.scale_down_after(rs, delay_seconds, why)

    def keep_up(self, rs: ReplicaSetView | None, replicas: int, why: str) -> None:
        """A ReplicaSet that must stay at ``replicas``: cancel a pending scale-down and scale it back if needed."""
        if rs is None:
            return
        if rs.scale_down_deadline is not None:
            self.annotate(rs, {self.mode.scale_down_deadline_annotation: None})
        self.scale(rs, replicas, why)

    # --- Services -----------------------------------------------------------------------------------------------

    def point(self, service: str | None, pod_hash: str) -> None:
        """Pin ``service`` to ``pod_hash`` unless it already is; a missing Service is reported, not created."""
        if not service or not pod_hash:
            return
        view = self.observed.services.get(service)
        if view is None:
            self.reason(f"Service {service} not found: cannot point it at {pod_hash}")
            return
        self.selectors[service] = pod_hash
        if view.pod_hash != pod_hash:
            self.actions.append(SetServiceSelector(service=service, pod_hash=pod_hash))
            self.reason(f"point Service {service} at {pod_hash}")

    def service_hash(self, service: str | None) -> str | None:
        """The hash ``service`` selects after this plan (what was decided, else what is observed)."""
        if not service:
            return None
        if service in self.selectors:
            return self.selectors[service]
        view = self.observed.services.get(service)
        return view.pod_hash if view is not None else None

    # --- pauses -------------------------------------------------------------------------------------------------

    def pause(self, reason: str) -> None:
        if reason not in self.pauses:
            self.pauses[reason] = self.now
            self.controller_pause = True
            self.reason(f"pause: {reason}")

    def resume(self, reason: str) -> None:
        self.pauses.pop(reason, None)
        if not self.pauses:
            self.controller_pause = False

    def pause_released(self) -> bool:
        """The controller paused and someone (``promote``) cleared every pause condition since: carry on.

        Argo's rule: ``controllerPause`` set with no pause condition left means "promoted".
        """
        status = self.observed.status
        return status.controller_pause and not status.pause_conditions and not self.reset

    # --- analysis -----------------------------------------------------------------------------------------------

    def runs_for(self, kind: AnalysisKind, step_index: int | None) -> list[AnalysisRunView]:
        return [
            run
            for run in self.observed.analysis_runs
            if run.pod_hash == self.new_hash and run.kind == kind and run.step_index == step_index
        ]

    def current_run(self, kind: AnalysisKind, step_index: int | None) -> AnalysisRunView | None:
        live = [
            run for run in self.runs_for(kind, step_index) if not run.superseded and run.name not in self.retired_runs
        ]
        return max(live, key=lambda run: run.name, default=None)

    def keep_run(self, kind: AnalysisKind, step_index: int | None = None) -> None:
        """Keep the current run of ``kind`` going (and reported) without judging it: a pause holds a step, it
        does not cancel the step's analysis (as in Argo, whose step run goes on measuring while paused)."""
        run = self.current_run(kind, step_index)
        if run is not None:
            self.needed_runs.add(run.name)
            self.run_status[kind] = {"name": run.name, "status": run.phase.value, "message": run.message}

    def ensure_run(self, kind: AnalysisKind, ref: AnalysisRef, step_index: int | None = None) -> AnalysisPhase | None:
        """The phase of the current run of ``kind`` (creating it if there is none); ``None`` when just created."""
        run = self.current_run(kind, step_index)
        if run is not None:
            self.needed_runs.add(run.name)
            self.run_status[kind] = {"name": run.name, "status": run.phase.value, "message": run.message}
            return run.phase
        attempt = len(self.runs_for(kind, step_index)) + 1
        tag = {
            AnalysisKind.STEP: f"step{step_index}",
            AnalysisKind.BACKGROUND: "background",
            AnalysisKind.PRE_PROMOTION: "pre",
            AnalysisKind.POST_PROMOTION: "post",
        }[kind]
        name = f"{self.spec.name}-{self.new_hash}-{self.revision}-{tag}" + (f"-{attempt}" if attempt > 1 else "")
        labels = {
            **ref.run_labels,
            self.mode.analysis_kind_label: kind.value,
            POD_TEMPLATE_HASH_LABEL: self.new_hash,
        }
        if step_index is not None:
            labels[self.mode.step_index_label] = str(step_index)
        self.actions.append(
            CreateAnalysisRun(
                name=name,
                kind=kind,
                pod_hash=self.new_hash,
                templates=ref.templates,
                args=tuple(
                    (arg.name, self._arg_value(arg.value, arg.pod_template_hash, arg.field_path)) for arg in ref.args
                ),
                step_index=step_index,
                labels=labels,
                annotations=dict(ref.run_annotations),
                dry_run=ref.dry_run,
                measurement_retention=ref.measurement_retention,
            )
        )
        self.needed_runs.add(name)
        self.run_status[kind] = {"name": name, "status": AnalysisPhase.PENDING.value, "message": ""}
        self.reason(f"create AnalysisRun {name}")
        return None

    def _arg_value(self, value: str | None, source: HashSource | None, field_path: str | None) -> str | None:
        if source is HashSource.LATEST:
            return self.new_hash
        if source is HashSource.STABLE:
            return self.stable_hash or self.new_hash
        if field_path is not None:
            return _lookup(self.spec.body, field_path)
        return value

    def analysis_passed(self, kind: AnalysisKind, ref: AnalysisRef, step_index: int | None = None) -> bool:
        """An analysis gate: go on once the run is Successful; an Inconclusive run pauses until released (promote).

        The run is created when there is none (a Failed/Error verdict is the caller's ``failed_run`` check).
        """
        phase = self.ensure_run(kind, ref, step_index)
        if phase is AnalysisPhase.SUCCESSFUL:
            return True
        if phase is AnalysisPhase.INCONCLUSIVE:
            if self.pause_released():
                return True
            self.pause(INCONCLUSIVE_PAUSE)
        return False

    def failed_run(self, kinds: Iterable[tuple[AnalysisKind, int | None]]) -> AnalysisRunView | None:
        for kind, step in kinds:
            run = self.current_run(kind, step)
            if run is not None and run.phase in {AnalysisPhase.FAILED, AnalysisPhase.ERROR}:
                return run
        return None

    def supersede_runs(self, *, final_only: bool) -> None:
        """Retire every run of the new version: finished ones are labelled superseded, running ones terminated."""
        for run in self.observed.analysis_runs:
            if run.pod_hash != self.new_hash or run.superseded:
                continue
            if not run.phase.completed:
                if not run.terminating:
                    self.actions.append(TerminateAnalysisRun(name=run.name))
                if final_only:
                    continue
            self.actions.append(MarkAnalysisRunSuperseded(name=run.name))
            self.retired_runs.add(run.name)

    def report_aborted_runs(self) -> None:
        """Keep the newest run of each kind of the aborted update in the status, verdict and all.

        Aborting retires the runs (superseded, terminated), so nothing "current" would be reported and the status
        would lose which run failed and why. Argo keeps them in ``status.canary``/``status.blueGreen``; so do we.
        """
        newest: dict[AnalysisKind, AnalysisRunView] = {}
        for run in self.observed.analysis_runs:
            if run.pod_hash != self.new_hash or run.kind in self.run_status:
                continue
            best = newest.get(run.kind)
            if best is None or (run.created_at or _EPOCH, run.name) > (best.created_at or _EPOCH, best.name):
                newest[run.kind] = run
        for kind, run in newest.items():
            self.run_status[kind] = {"name": run.name, "status": run.phase.value, "message": run.message}

    def supersede_runs_of(self, kind: AnalysisKind) -> None:
        """Retire the current run of ``kind`` so that the next plan starts a fresh one."""
        run = self.current_run(kind, None)
        if run is not None:
            self.needed_runs.discard(run.name)
            self.retired_runs.add(run.name)
            self.actions.append(MarkAnalysisRunSuperseded(name=run.name))

    def terminate_unneeded_runs(self) -> None:
        for run in self.observed.analysis_runs:
            if run.name in self.needed_runs or run.phase.completed or run.terminating:
                continue
            if any(isinstance(a, TerminateAnalysisRun) and a.name == run.name for a in self.actions):
                continue
            self.actions.append(TerminateAnalysisRun(name=run.name))
            self.reason(f"terminate AnalysisRun {run.name}: no longer needed")

    # --- abort -------------------------------------------------------------------------------------------------

    def enter_aborted(self) -> None:
        """What every strategy does while an update is aborted: no promotion, no pauses, the update's runs retired."""
        if self.aborted_at is None:
            self.aborted_at = self.now
        if not self.message:
            self.message = f"Rollout aborted update to revision {self.revision}"
        self.promote_full = False
        self.pauses.clear()
        self.controller_pause = False
        self.supersede_runs(final_only=False)
        self.report_aborted_runs()

    def abort_for_failed_run(self, run: AnalysisRunView) -> None:
        """Start the abort a failed (or errored) AnalysisRun of this update calls for, naming it and its verdict."""
        detail = f": {run.message}" if run.message else ""
        self.start_abort(
            f"Rollout aborted update to revision {self.revision}: AnalysisRun {run.name} {run.phase.value}{detail}"
        )

    def start_abort(self, message: str) -> None:
        self.abort = True
        self.message = message
        self.reason(f"abort: {message}")


def _lookup(owner: Mapping[str, Any], path: str) -> str | None:
    """``metadata.name`` / ``metadata.labels['app']`` looked up in the Rollout object (analysis ``fieldRef``)."""
    current: Any = owner
    position = 0
    while position < len(path):
        if path[position] == ".":
            position += 1
        if path.startswith("['", position) or path.startswith('["', position):
            end = path.find(path[position + 1] + "]", position + 2)
            if end < 0:
                return None
            key = path[position + 2 : end]
            position = end + 2
        else:
            end = position
            while end < len(path) and path[end] in _FIELD_SEGMENT_CHARS:
                end += 1
            if end == position:
                return None
            key = path[position:end]
            position = end
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    if current is None or isinstance(current, (Mapping, list)):
        return None
    return str(current).lower() if isinstance(current, bool) else str(current)
