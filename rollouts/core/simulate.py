"""A pure, in-memory cluster that applies plans: for property tests, walkthroughs and docs.

It models just enough of Kubernetes for the planner's promises to be checked end to end: ReplicaSets create pods
that become available after a delay chosen by the caller, scale-down removes not-available pods first (as the
ReplicaSet controller does), Services hold a selector hash, AnalysisRuns finish with a caller-chosen verdict after a
caller-chosen time, the traffic router remembers the last weight, and the Rollout status is merged as the API
server would merge the planner's status (``None`` removes a key). Time only moves when :meth:`SimCluster.advance`
is called. No I/O, no clock, no randomness of its own: callers pass functions for delays and verdicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from analysis.assess import AnalysisPhase
from rollouts.core.actions import (
    AnnotateReplicaSet,
    CreateAnalysisRun,
    CreateReplicaSet,
    DeleteAnalysisRun,
    DeleteReplicaSet,
    EmitEvent,
    MarkAnalysisRunSuperseded,
    Plan,
    ReleaseService,
    RestartPod,
    ScaleReplicaSet,
    ScaleWorkload,
    SetPodMetadata,
    SetServiceSelector,
    SetTrafficWeight,
    TerminateAnalysisRun,
)
from rollouts.core.hashing import POD_TEMPLATE_HASH_LABEL
from rollouts.core.observed import (
    AnalysisKind,
    AnalysisRunView,
    Observed,
    PodView,
    ReplicaSetView,
    ServiceView,
    status_from,
)
from rollouts.core.planner import plan_settled
from rollouts.core.references import ReferenceKind
from rollouts.core.spec import PodMetadata, RolloutSpec
from rollouts.core.statuspatch import merge_patch
from workflows.api import ROLLOUTS_DEV
from workflows.model.times import parse_time

__all__ = ["SimCluster", "SimPod", "SimReplicaSet", "SimRun"]

PodDelay = Callable[[str], float]  # pod name -> seconds until available
RunOutcome = Callable[[CreateAnalysisRun], tuple[AnalysisPhase, float]]  # run -> (verdict, seconds until it is reached)


@dataclass(slots=True, kw_only=True)
class SimPod:
    name: str
    created_at: datetime
    available_at: datetime


@dataclass(slots=True, kw_only=True)
class SimReplicaSet:
    name: str
    pod_hash: str
    template: Mapping[str, Any]
    replicas: int
    revision: int
    created_at: datetime
    annotations: dict[str, str] = field(default_factory=dict)
    pod_metadata: PodMetadata = field(default_factory=PodMetadata)
    pods: list[SimPod] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class SimRun:
    name: str
    kind: AnalysisKind
    pod_hash: str
    step_index: int | None
    verdict: AnalysisPhase
    finishes_at: datetime
    created_at: datetime
    superseded: bool = False
    terminating: bool = False
    terminated_phase: AnalysisPhase | None = None


def _never_fails(_: CreateAnalysisRun) -> tuple[AnalysisPhase, float]:
    return AnalysisPhase.SUCCESSFUL, 0.0


class SimCluster:
    """The cluster around one Rollout. ``pod_delay`` and ``run_outcome`` script the world; ``now`` is virtual."""

    def __init__(
        self,
        *,
        now: datetime,
        services: tuple[str, ...] = (),
        pod_delay: PodDelay = lambda _: 0.0,
        run_outcome: RunOutcome = _never_fails,
        objects: dict[tuple[ReferenceKind, str, str], Mapping[str, Any]] | None = None,
        namespace: str = "default",
    ) -> None:
        self.now = now
        # The other objects a Rollout may name (templates, Ingresses, ...) by reference key; with them (not None)
        # the references are observed and checked, the Services above included (in ``namespace``).
        self.objects = objects
        self.namespace = namespace
        self.replica_sets: dict[str, SimReplicaSet] = {}
        self.services: dict[str, str | None] = dict.fromkeys(services)
        self.runs: dict[str, SimRun] = {}
        self.status: dict[str, Any] = {}
        self.router_weight: int | None = None
        self.workload_replicas: int | None = None  # a workloadRef Deployment's replicas, when the test has one
        self.events: list[str] = []
        self._pod_delay = pod_delay
        self._run_outcome = run_outcome
        self._pod_serial = 0

    # --- observation ------------------------------------------------------------------------------------------

    def available(self, rs: SimReplicaSet) -> int:
        return sum(1 for pod in rs.pods if pod.available_at <= self.now)

    def observe(self) -> Observed:
        sets = tuple(
            ReplicaSetView(
                name=rs.name,
                pod_hash=rs.pod_hash,
                replicas=rs.replicas,
                available=self.available(rs),
                ready=self.available(rs),
                pods=len(rs.pods),
                template=rs.template,
                revision=int(rs.annotations.get(ROLLOUTS_DEV.revision_annotation, "0")),
                scale_down_deadline=parse_time(rs.annotations.get(ROLLOUTS_DEV.scale_down_deadline_annotation)),
                pod_metadata=rs.pod_metadata,
                created_at=rs.created_at,
            )
            for rs in self.replica_sets.values()
        )
        runs = tuple(
            AnalysisRunView(
                name=run.name,
                kind=run.kind,
                pod_hash=run.pod_hash,
                step_index=run.step_index,
                phase=self._run_phase(run),
                superseded=run.superseded,
                terminating=run.terminating,
                created_at=run.created_at,
            )
            for run in self.runs.values()
        )
        services = {
            name: ServiceView(name=name, selector={POD_TEMPLATE_HASH_LABEL: h} if h else {})
            for name, h in self.services.items()
        }
        pods = tuple(
            PodView(
                name=pod.name, pod_hash=rs.pod_hash, created_at=pod.created_at, available=pod.available_at <= self.now
            )
            for rs in self.replica_sets.values()
            for pod in rs.pods
        )
        return Observed(
            replica_sets=sets,
            analysis_runs=runs,
            services=services,
            pods=pods,
            status=status_from(self.status),
            workload_replicas=self.workload_replicas,
            referenced=self._referenced(),
        )

    def _referenced(self) -> dict[tuple[ReferenceKind, str, str], Mapping[str, Any]] | None:
        if self.objects is None:
            return None
        services = {
            (ReferenceKind.SERVICE, self.namespace, name): {"metadata": {"name": name}} for name in self.services
        }
        return {**services, **self.objects}

    def _run_phase(self, run: SimRun) -> AnalysisPhase:
        if run.terminated_phase is not None:
            return run.terminated_phase
        return run.verdict if self.now >= run.finishes_at else AnalysisPhase.RUNNING

    # --- actions ------------------------------------------------------------------------------------------------

    def _new_pod(self, rs: SimReplicaSet) -> SimPod:
        self._pod_serial += 1
        name = f"{rs.name}-{self._pod_serial}"
        return SimPod(name=name, created_at=self.now, available_at=self.now + timedelta(seconds=self._pod_delay(name)))

    def _sync_pods(self, rs: SimReplicaSet) -> None:
        while len(rs.pods) < rs.replicas:
            rs.pods.append(self._new_pod(rs))
        if len(rs.pods) > rs.replicas:
            # Unavailable pods go first, then the youngest (the ReplicaSet controller's ranking).
            rs.pods.sort(key=lambda pod: (pod.available_at <= self.now, pod.created_at), reverse=True)
            del rs.pods[rs.replicas :]

    def apply(self, decided: Plan) -> None:
        """Apply every action in order, then merge the status."""
        for action in decided.actions:
            self.apply_action(action)
        self.status = merge_patch(self.status, decided.status)

    def apply_action(self, action: object) -> None:
        if isinstance(action, EmitEvent):
            self.events.append(action.reason)  # posted Events, by reason, in order
            return
        if isinstance(action, CreateReplicaSet):
            if action.name not in self.replica_sets:
                rs = SimReplicaSet(
                    name=action.name,
                    pod_hash=action.pod_hash,
                    template=action.template,
                    replicas=action.replicas,
                    revision=action.revision,
                    created_at=self.now,
                    annotations=dict(action.annotations),
                    pod_metadata=action.pod_metadata,
                )
                self.replica_sets[action.name] = rs
                self._sync_pods(rs)
        elif isinstance(action, ScaleReplicaSet):
            rs = self.replica_sets[action.name]
            rs.replicas = action.replicas
            self._sync_pods(rs)
        elif isinstance(action, AnnotateReplicaSet):
            rs = self.replica_sets[action.name]
            for key, value in action.annotations.items():
                if value is None:
                    rs.annotations.pop(key, None)
                else:
                    rs.annotations[key] = value
        elif isinstance(action, SetPodMetadata):
            self.replica_sets[action.name].pod_metadata = action.metadata
        elif isinstance(action, DeleteReplicaSet):
            self.replica_sets.pop(action.name, None)
        elif isinstance(action, SetServiceSelector):
            self.services[action.service] = action.pod_hash
        elif isinstance(action, ReleaseService):
            self.services.pop(action.service, None)
        elif isinstance(action, ScaleWorkload):
            self.workload_replicas = action.replicas
        elif isinstance(action, CreateAnalysisRun):
            if action.name not in self.runs:
                verdict, seconds = self._run_outcome(action)
                self.runs[action.name] = SimRun(
                    name=action.name,
                    kind=action.kind,
                    pod_hash=action.pod_hash,
                    step_index=action.step_index,
                    verdict=verdict,
                    finishes_at=self.now + timedelta(seconds=seconds),
                    created_at=self.now,
                )
        elif isinstance(action, TerminateAnalysisRun):
            run = self.runs.get(action.name)  # a deleted run counts as terminated
            if run is not None:
                if not self._run_phase(run).completed:
                    run.terminated_phase = AnalysisPhase.SUCCESSFUL
                run.terminating = True
        elif isinstance(action, DeleteAnalysisRun):
            self.runs.pop(action.name, None)
        elif isinstance(action, MarkAnalysisRunSuperseded):
            if action.name in self.runs:
                self.runs[action.name].superseded = True
        elif isinstance(action, SetTrafficWeight):
            self.router_weight = action.weight
        elif isinstance(action, RestartPod):
            for rs in self.replica_sets.values():
                if any(pod.name == action.name for pod in rs.pods):
                    rs.pods = [pod for pod in rs.pods if pod.name != action.name]
                    rs.pods.append(self._new_pod(rs))

    # --- time and commands --------------------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def reconcile(self, spec: RolloutSpec) -> Plan:
        """One controller pass as the controller makes it: observe, plan (chained while only status moves), apply."""
        decided = plan_settled(spec, self.observe(), now=self.now)
        self.apply(decided)
        return decided

    def promote(self) -> None:
        """``kubectl rollouts promote``: clear the pause conditions (or skip the current step when not paused)."""
        if self.status.get("pauseConditions"):
            self.status.pop("pauseConditions")
        elif self.status.get("currentStepIndex") is not None:
            self.status["currentStepIndex"] = int(self.status["currentStepIndex"]) + 1

    def promote_full(self) -> None:
        self.status["promoteFull"] = True

    def abort(self) -> None:
        self.status["abort"] = True

    def retry(self) -> None:
        self.status.pop("abort", None)

    def stable_available(self) -> int:
        stable = self.status.get("stableRS")
        return sum(self.available(rs) for rs in self.replica_sets.values() if rs.pod_hash == stable)

    def total_available(self) -> int:
        return sum(self.available(rs) for rs in self.replica_sets.values())

    def total_spec(self) -> int:
        return sum(rs.replicas for rs in self.replica_sets.values())

    def snapshot(self) -> Any:
        """A comparable picture of the world (for idempotency checks)."""
        return (
            sorted(
                (rs.name, rs.replicas, tuple(sorted(rs.annotations.items())), rs.pod_metadata)
                for rs in self.replica_sets.values()
            ),
            sorted(self.services.items(), key=lambda item: item[0]),
            sorted((r.name, r.superseded, r.terminating) for r in self.runs.values()),
            self.router_weight,
            repr(sorted(self.status.items())),
        )
