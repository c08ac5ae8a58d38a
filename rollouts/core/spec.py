"""The Rollout spec as typed, frozen values: what the planner reads instead of raw dicts.

:func:`parse_rollout` takes the object *after* the API server's defaulting and schema/CEL validation, so it does not
repeat those checks; it adds what only code can see (percent strings, Argo duration strings, a selector that does
not match the template's labels, a template resolved from a ``workloadRef``) and reports every problem at once as
:class:`~rollouts.core.errors.InvalidSpecError` with field paths. It never raises anything else for user input.

In drop-in mode the served CRDs (Argo's) validate almost nothing, so the controller validates the object against our
own schema first (:class:`workflows.runtime.crds.SchemaCheck`) and hands the issues in (``schema_issues``): they
are reported through the same error, first, with the parser's complaints about the same fields left out as their
consequences (:func:`workflows.errors.explained_first`); the object is then never read as valid, even if the
parser alone would have accepted it (an unknown field it would have ignored).

Nothing here reads the cluster; a ``workloadRef``'s template is passed in by the observer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from rollouts.core.errors import InvalidSpecError
from rollouts.core.refused import refuse_unimplemented
from rollouts.core.routing import (
    ManagedRoute,
    RoutingSpec,
    check_managed_route,
    parse_managed_route,
    parse_routing,
)
from workflows.api import configured
from workflows.errors import DurationError, FieldIssue, Issues, explained_first
from workflows.model.durations import parse_duration
from workflows.model.times import parse_time

__all__ = [
    "DEFAULT_MAX_TRAFFIC_WEIGHT",
    "AnalysisArg",
    "AnalysisRef",
    "AntiAffinity",
    "BlueGreenStrategy",
    "CanaryStep",
    "CanaryStrategy",
    "HashSource",
    "PingPong",
    "PodMetadata",
    "RolloutSpec",
    "StepKind",
    "analysis_refs",
    "parse_rollout",
]

_REFUSED_STEPS = ("experiment", "plugin")  # Argo step kinds refused by name (rollouts.core.refused)
_INTSTR = re.compile(r"^[0-9]+%?$")
DEFAULT_MAX_TRAFFIC_WEIGHT = 100  # the total of a weight when trafficRouting.maxTrafficWeight is not set

# Argo's validation messages (pkg/apis/rollouts/validation), so a manifest refused by Argo reads the same here.
SCALE_DOWN_DELAY_NEEDS_ROUTING = "Canary scaleDownDelaySeconds can only be used with traffic routing"
DYNAMIC_STABLE_SCALE_NEEDS_ROUTING = "Canary dynamicStableScale can only be used with traffic routing"
DYNAMIC_STABLE_SCALE_WITH_DELAY = "Canary dynamicStableScale cannot be used with scaleDownDelaySeconds"
SET_CANARY_SCALE_NEEDS_ROUTING = "SetCanaryScale requires TrafficRouting to be set"
MIN_PODS_NEEDS_ROUTING = "minPodsPerReplicaSet can only be used with traffic routing"
ROUTING_NEEDS_SERVICES = "Canary service and Stable service must to be set to use Traffic Routing"
PING_PONG_SERVICES_REQUIRED = "Ping service and Pong service must to be set to use Ping-Pong feature"
PING_PONG_SAME_SERVICE = (
    "This rollout uses the same service for the ping and pong services, but two different services are required."
)
PING_PONG_ROUTERS = "Ping-pong feature works with the ALB, Istio, and plugin-based traffic routers only"
PING_PONG_ALB_ROOT_SERVICE = (
    "Root service field is required for the configuration with ALB and ping-pong feature enabled"
)
SCALE_DOWN_LIMIT_ABOVE_HISTORY = (
    "This rollout's revision history limit can not be smaller than the rollout's scale down limit"
)


class HashSource(StrEnum):
    """``valueFrom.podTemplateHashValue``: which version's hash an analysis argument receives."""

    STABLE = "Stable"
    LATEST = "Latest"


class StepKind(StrEnum):
    SET_WEIGHT = "setWeight"
    PAUSE = "pause"
    SET_CANARY_SCALE = "setCanaryScale"
    ANALYSIS = "analysis"
    SET_HEADER_ROUTE = "setHeaderRoute"
    SET_MIRROR_ROUTE = "setMirrorRoute"


@dataclass(frozen=True, slots=True, kw_only=True)
class PodMetadata:
    """Ephemeral labels/annotations put on the pods of a ReplicaSet while it has a role (canary, stable, ...)."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.labels and not self.annotations


@dataclass(frozen=True, slots=True, kw_only=True)
class AntiAffinity:
    """``antiAffinity``: keep the pods of an update off the nodes that run the stable version's pods.

    Injected into the new ReplicaSet's pod template as a pod anti-affinity term against the stable hash (topology
    ``kubernetes.io/hostname``): preferred with ``weight`` (1..100), or required when ``weight`` is ``None``.
    """

    weight: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisArg:
    """One argument: a literal ``value``, a pod-template hash, or a field of the Rollout (``fieldRef``)."""

    name: str
    value: str | None = None
    pod_template_hash: HashSource | None = None
    field_path: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalysisRef:
    """A ``RolloutAnalysis``: templates merged into one AnalysisRun, with args and pass-through run options."""

    templates: tuple[tuple[str, bool], ...]  # (templateName, clusterScope)
    args: tuple[AnalysisArg, ...] = ()
    starting_step: int | None = None  # background analysis only
    dry_run: tuple[Mapping[str, Any], ...] = ()
    measurement_retention: tuple[Mapping[str, Any], ...] = ()
    run_labels: Mapping[str, str] = field(default_factory=dict)
    run_annotations: Mapping[str, str] = field(default_factory=dict)
    path: str = ""  # where it is in the Rollout (``spec.strategy.canary.steps[2].analysis``), for error messages


@dataclass(frozen=True, slots=True, kw_only=True)
class CanaryStep:
    """One canary step; exactly one of the payload fields is set, as ``kind`` says."""

    kind: StepKind
    weight: int | None = None  # setWeight
    pause_duration: timedelta | None = None  # pause with a duration; None with kind PAUSE: until promoted
    scale_weight: int | None = None  # setCanaryScale.weight
    scale_replicas: int | None = None  # setCanaryScale.replicas
    match_traffic_weight: bool = False  # setCanaryScale.matchTrafficWeight
    analysis: AnalysisRef | None = None
    route: ManagedRoute | None = None  # setHeaderRoute / setMirrorRoute, for the traffic router


@dataclass(frozen=True, slots=True, kw_only=True)
class PingPong:
    """``canary.pingPong``: two Services that take turns as stable and canary (``status.canary.stablePingPong``
    says which is stable now; :mod:`rollouts.core.pingpong` decides the roles)."""

    ping_service: str
    pong_service: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CanaryStrategy:
    steps: tuple[CanaryStep, ...] = ()
    steps_raw: tuple[Mapping[str, Any], ...] | None = None  # hashed into status.currentStepHash (None: no field)
    canary_service: str | None = None
    stable_service: str | None = None
    traffic_routing: RoutingSpec | None = None  # None: the weight is replica-based
    ping_pong: PingPong | None = None  # routed through ping/pong Services instead of stableService/canaryService
    max_surge: int | str = "25%"
    max_unavailable: int | str = "25%"
    analysis: AnalysisRef | None = None  # background analysis
    scale_down_delay_seconds: int = 30
    abort_scale_down_delay_seconds: int = 30
    canary_metadata: PodMetadata = field(default_factory=PodMetadata)
    stable_metadata: PodMetadata = field(default_factory=PodMetadata)
    dynamic_stable_scale: bool = False
    min_pods_per_replica_set: int | None = None  # routed only: a non-empty canary/stable has at least this many
    anti_affinity: AntiAffinity | None = None
    scale_down_delay_revision_limit: int | None = None  # None: every old version waits its scaleDownDelaySeconds

    @property
    def routed(self) -> bool:
        """A traffic router splits traffic: the weight is traffic, not replicas."""
        return self.traffic_routing is not None

    @property
    def max_weight(self) -> int:
        """The total every weight counts in: ``trafficRouting.maxTrafficWeight``, else 100 (a percentage).

        ``setWeight``, ``setCanaryScale.weight``, the weight sent to the routers and ``status.canary.weights`` are all
        in these units, as in Argo: with ``maxTrafficWeight: 1000``, ``setWeight: 5`` is 0.5% of the traffic.
        """
        routing = self.traffic_routing
        if routing is not None and routing.max_traffic_weight is not None:
            return routing.max_traffic_weight
        return DEFAULT_MAX_TRAFFIC_WEIGHT


@dataclass(frozen=True, slots=True, kw_only=True)
class BlueGreenStrategy:
    active_service: str
    preview_service: str | None = None
    auto_promotion_enabled: bool = True
    auto_promotion_seconds: int | None = None
    preview_replica_count: int | None = None
    pre_promotion_analysis: AnalysisRef | None = None
    post_promotion_analysis: AnalysisRef | None = None
    scale_down_delay_seconds: int = 30
    abort_scale_down_delay_seconds: int = 30
    active_metadata: PodMetadata = field(default_factory=PodMetadata)
    preview_metadata: PodMetadata = field(default_factory=PodMetadata)
    max_unavailable: int | str = "25%"  # only paces restartAt (pods evicted at once), as in Argo
    anti_affinity: AntiAffinity | None = None
    scale_down_delay_revision_limit: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RolloutSpec:
    """Everything the planner needs from the Rollout object (metadata + spec), parsed once per reconcile."""

    name: str
    namespace: str = ""
    generation: int = 0
    replicas: int = 1
    selector: Mapping[str, Any] = field(default_factory=dict)
    template: Mapping[str, Any] = field(default_factory=dict)
    min_ready_seconds: int = 0
    revision_history_limit: int = 10
    paused: bool = False
    progress_deadline_seconds: int = 600
    progress_deadline_abort: bool = False
    restart_at: datetime | None = None
    rollback_window_revisions: int = 0  # spec.rollbackWindow.revisions: a rollback this recent skips steps/analysis
    successful_run_history_limit: int = 5
    unsuccessful_run_history_limit: int = 5
    # spec.workloadRef: the Deployment whose template the Rollout runs, and how it is retired (Argo's scaleDown).
    workload_name: str | None = None
    workload_scale_down: str = "never"  # never | onsuccess | progressively
    strategy: CanaryStrategy | BlueGreenStrategy = field(default_factory=CanaryStrategy)
    body: Mapping[str, Any] = field(default_factory=dict)  # the raw object, for analysis fieldRef args

    @property
    def canary(self) -> CanaryStrategy | None:
        return self.strategy if isinstance(self.strategy, CanaryStrategy) else None

    @property
    def blue_green(self) -> BlueGreenStrategy | None:
        return self.strategy if isinstance(self.strategy, BlueGreenStrategy) else None

    @property
    def anti_affinity(self) -> AntiAffinity | None:
        return self.strategy.anti_affinity


# ----------------------------------------------------------------------------------------------------------------


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _intstr(value: object, default: int | str, path: str, issues: Issues) -> int | str:
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and _INTSTR.match(value):
        if value.endswith("%") and int(value[:-1]) > 100:
            issues.add(path, f"{value!r} is more than 100%")
        return value
    issues.add(path, f"{value!r} is neither a count nor a percentage such as 25%")
    return default


def _metadata(value: object) -> PodMetadata:
    raw = _map(value)
    return PodMetadata(
        labels={str(k): str(v) for k, v in _map(raw.get("labels")).items()},
        annotations={str(k): str(v) for k, v in _map(raw.get("annotations")).items()},
    )


def _anti_affinity(value: object, path: str, issues: Issues) -> AntiAffinity | None:
    """Exactly one of preferred (with a weight of 1..100) or required, as Argo validates it."""
    if value is None:
        return None
    raw = _map(value)
    preferred, required = (
        raw.get("preferredDuringSchedulingIgnoredDuringExecution"),
        raw.get("requiredDuringSchedulingIgnoredDuringExecution"),
    )
    if (preferred is None) == (required is None):
        issues.add(path, "AntiAffinity must have exactly one strategy listed")
        return None
    if preferred is None:
        return AntiAffinity()
    weight = _opt_int(_map(preferred).get("weight"))
    if weight is None or not 1 <= weight <= 100:
        issues.add(
            f"{path}.preferredDuringSchedulingIgnoredDuringExecution.weight",
            "AntiAffinity weight must be between 1-100",
        )
        return None
    return AntiAffinity(weight=weight)


def _analysis(value: object, path: str, issues: Issues) -> AnalysisRef | None:
    if value is None:
        return None
    raw = _map(value)
    templates = tuple(
        (str(_map(t).get("templateName", "")), bool(_map(t).get("clusterScope", False)))
        for t in raw.get("templates") or ()
    )
    if not templates or any(not name for name, _ in templates):
        issues.add(f"{path}.templates", "needs at least one entry with a templateName")
    args: list[AnalysisArg] = []
    for index, item in enumerate(raw.get("args") or ()):
        arg = _map(item)
        name = str(arg.get("name", ""))
        source = _map(arg.get("valueFrom"))
        if "podTemplateHashValue" in source:
            try:
                hash_source = HashSource(source["podTemplateHashValue"])
            except ValueError:
                issues.add(f"{path}.args[{index}].valueFrom.podTemplateHashValue", "must be Stable or Latest")
                continue
            args.append(AnalysisArg(name=name, pod_template_hash=hash_source))
        elif "fieldRef" in source:
            field_path = str(_map(source["fieldRef"]).get("fieldPath", ""))
            if not field_path:
                issues.add(f"{path}.args[{index}].valueFrom.fieldRef.fieldPath", "is required")
            args.append(AnalysisArg(name=name, field_path=field_path))
        else:
            literal = arg.get("value")
            args.append(AnalysisArg(name=name, value=None if literal is None else str(literal)))
    metadata = _metadata(raw.get("analysisRunMetadata"))
    return AnalysisRef(
        templates=templates,
        args=tuple(args),
        starting_step=_opt_int(raw.get("startingStep")),
        dry_run=tuple(_map(d) for d in raw.get("dryRun") or ()),
        measurement_retention=tuple(_map(m) for m in raw.get("measurementRetention") or ()),
        run_labels=metadata.labels,
        run_annotations=metadata.annotations,
        path=path,
    )


def analysis_refs(spec: RolloutSpec) -> list[AnalysisRef]:
    """Every analysis the strategy references: background, each step's, blue-green pre/post-promotion."""
    refs: list[AnalysisRef | None] = []
    if spec.canary is not None:
        refs.append(spec.canary.analysis)
        refs.extend(step.analysis for step in spec.canary.steps)
    if spec.blue_green is not None:
        refs += [spec.blue_green.pre_promotion_analysis, spec.blue_green.post_promotion_analysis]
    return [ref for ref in refs if ref is not None]


def _max_weight(routing: RoutingSpec | None) -> int:
    if routing is not None and routing.max_traffic_weight is not None:
        return routing.max_traffic_weight
    return DEFAULT_MAX_TRAFFIC_WEIGHT


def _step(raw: Mapping[str, Any], path: str, issues: Issues, routing: RoutingSpec | None) -> CanaryStep | None:
    present = [kind for kind in StepKind if kind.value in raw]
    if not present and any(key in raw for key in _REFUSED_STEPS):
        return None  # refused by name (rollouts.core.refused), not as a malformed step
    if len(present) != 1:
        issues.add(path, "needs exactly one of " + ", ".join(kind.value for kind in StepKind))
        return None
    kind = present[0]
    payload = raw[kind.value]
    total = _max_weight(routing)
    if kind is StepKind.SET_WEIGHT:
        weight = _opt_int(payload)
        if weight is None or not 0 <= weight <= total:
            issues.add(
                f"{path}.setWeight", f"SetWeight needs to be between 0 and {total} (trafficRouting.maxTrafficWeight)"
            )
            return None
        return CanaryStep(kind=kind, weight=weight)
    if kind is StepKind.PAUSE:
        duration = _map(payload).get("duration")
        if duration is None:
            return CanaryStep(kind=kind)
        try:
            parsed = parse_duration(duration)
        except DurationError as error:
            issues.add(f"{path}.pause.duration", str(error))
            return None
        return CanaryStep(kind=kind, pause_duration=parsed)
    if kind is StepKind.SET_CANARY_SCALE:
        if routing is None:
            issues.add(f"{path}.setCanaryScale", SET_CANARY_SCALE_NEEDS_ROUTING)
            return None
        scale = _map(payload)
        scale_weight = _opt_int(scale.get("weight"))
        if scale_weight is not None and not 0 <= scale_weight <= total:
            issues.add(
                f"{path}.setCanaryScale.weight", f"must be between 0 and {total} (trafficRouting.maxTrafficWeight)"
            )
            return None
        return CanaryStep(
            kind=kind,
            scale_weight=_opt_int(scale.get("weight")),
            scale_replicas=_opt_int(scale.get("replicas")),
            match_traffic_weight=bool(scale.get("matchTrafficWeight", False)),
        )
    if kind is StepKind.ANALYSIS:
        return CanaryStep(kind=kind, analysis=_analysis(payload, f"{path}.analysis", issues))
    if routing is None:
        issues.add(path, f"{kind.value} needs trafficRouting")
        return None
    route = _map(payload)
    try:
        managed = parse_managed_route(
            kind=kind.value,
            name=str(route.get("name", "")),
            route=route,
            declared=routing.managed_routes,
            step_path=path,
        )
    except InvalidSpecError as error:
        issues.extend(error.issues)
        return None
    check_managed_route(managed, routing, f"{path}.{kind.value}", issues)
    return CanaryStep(kind=kind, route=managed)


def _ping_pong(raw: Mapping[str, Any], path: str, issues: Issues) -> PingPong | None:
    """``pingPong`` with Argo's checks (both Services, two different ones, a router that supports it), plus two of
    ours: it needs trafficRouting, and it replaces stableService/canaryService rather than running beside them."""
    if raw.get("pingPong") is None:
        return None
    given = _map(raw["pingPong"])
    here = f"{path}.pingPong"
    ping, pong = str(given.get("pingService") or ""), str(given.get("pongService") or "")
    if not ping:
        issues.add(f"{here}.pingService", PING_PONG_SERVICES_REQUIRED)
    if not pong:
        issues.add(f"{here}.pongService", PING_PONG_SERVICES_REQUIRED)
    if ping and ping == pong:
        issues.add(f"{here}.pingService", PING_PONG_SAME_SERVICE)
    routing = raw.get("trafficRouting")
    if routing is None:
        # Argo's validation lets this through, then only moves a selector: without a router nothing would route
        # by the two Services, so it is refused rather than half-done.
        issues.add(here, "pingPong needs trafficRouting (Istio host-level routing, or ALB)")
    else:
        routers = _map(routing)
        # gatewayAPI is our spelling of the argoproj-labs/gatewayAPI plugin, so it is accepted as the plugin is.
        if not any(routers.get(key) for key in ("alb", "istio", "plugins", "gatewayAPI")):
            issues.add(f"{path}.trafficRouting.alb", PING_PONG_ROUTERS)
        elif isinstance(routers.get("alb"), Mapping) and not _map(routers["alb"]).get("rootService"):
            # The ALB action annotation is keyed by the root Service; stableService would change at every flip.
            issues.add(f"{path}.trafficRouting.alb.rootService", PING_PONG_ALB_ROOT_SERVICE)
        if routers.get("nginx") is not None:
            # Argo requires stableService/canaryService for nginx, which we refuse beside pingPong.
            issues.add(
                f"{path}.trafficRouting.nginx",
                "nginx routes by stableService and canaryService, which pingPong replaces: not supported together",
            )
    for key in ("stableService", "canaryService"):
        if raw.get(key):
            issues.add(
                f"{path}.{key}",
                "not supported together with pingPong: the ping and pong Services are the stable and canary "
                "Services (remove one or the other)",
            )
    return PingPong(ping_service=ping, pong_service=pong) if ping and pong and ping != pong else None


def _canary(raw: Mapping[str, Any], path: str, issues: Issues, metadata: Mapping[str, Any]) -> CanaryStrategy:
    raw_routing = raw.get("trafficRouting")
    routing = None
    if raw_routing is not None:
        routing = parse_routing(
            _map(raw_routing),
            rollout=str(metadata.get("name", "")),
            namespace=str(metadata.get("namespace") or "default"),
            stable_service=str(raw.get("stableService") or ""),
            canary_service=str(raw.get("canaryService") or ""),
            issues=issues,
            path=f"{path}.trafficRouting",
        )
        if isinstance(_map(raw_routing).get("alb"), Mapping) and raw.get("pingPong") is None:
            # As Argo: the ALB action forwards to both Services by name (ping-pong, refused, would name its own).
            for key in ("stableService", "canaryService"):
                if not raw.get(key):
                    issues.add(f"{path}.{key}", ROUTING_NEEDS_SERVICES)
    steps_raw = tuple(_map(s) for s in raw["steps"] or ()) if raw.get("steps") is not None else None
    steps = [_step(s, f"{path}.steps[{i}]", issues, routing) for i, s in enumerate(steps_raw or ())]
    max_surge = _intstr(raw.get("maxSurge"), "25%", f"{path}.maxSurge", issues)
    max_unavailable = _intstr(raw.get("maxUnavailable"), "25%", f"{path}.maxUnavailable", issues)
    background = _analysis(raw.get("analysis"), f"{path}.analysis", issues)
    if background is not None and background.starting_step is not None and background.starting_step < 0:
        # A startingStep past the last step is allowed, as in Argo: the background analysis then never starts.
        issues.add(f"{path}.analysis.startingStep", "must not be negative")
    dynamic = bool(raw.get("dynamicStableScale", False))
    min_pods = _opt_int(raw.get("minPodsPerReplicaSet"))
    if raw_routing is None:
        # Argo refuses these without a router rather than ignoring them: each only means something for traffic.
        if raw.get("scaleDownDelaySeconds") is not None:
            issues.add(f"{path}.scaleDownDelaySeconds", SCALE_DOWN_DELAY_NEEDS_ROUTING)
        if dynamic:
            issues.add(f"{path}.dynamicStableScale", DYNAMIC_STABLE_SCALE_NEEDS_ROUTING)
        if min_pods is not None:
            issues.add(f"{path}.minPodsPerReplicaSet", MIN_PODS_NEEDS_ROUTING)
    elif dynamic and raw.get("scaleDownDelaySeconds") is not None:
        issues.add(f"{path}.dynamicStableScale", DYNAMIC_STABLE_SCALE_WITH_DELAY)
    ping_pong = _ping_pong(raw, path, issues)
    return CanaryStrategy(
        steps=tuple(s for s in steps if s is not None),
        steps_raw=steps_raw,
        canary_service=raw.get("canaryService") or None,
        stable_service=raw.get("stableService") or None,
        traffic_routing=routing,
        ping_pong=ping_pong,
        max_surge=max_surge,
        max_unavailable=max_unavailable,
        analysis=background,
        scale_down_delay_seconds=_int(raw.get("scaleDownDelaySeconds"), 30),
        abort_scale_down_delay_seconds=_int(raw.get("abortScaleDownDelaySeconds"), 30),
        canary_metadata=_metadata(raw.get("canaryMetadata")),
        stable_metadata=_metadata(raw.get("stableMetadata")),
        dynamic_stable_scale=dynamic,
        min_pods_per_replica_set=min_pods,
        anti_affinity=_anti_affinity(raw.get("antiAffinity"), f"{path}.antiAffinity", issues),
        scale_down_delay_revision_limit=_opt_int(raw.get("scaleDownDelayRevisionLimit")),
    )


def _blue_green(raw: Mapping[str, Any], path: str, issues: Issues) -> BlueGreenStrategy:
    active = str(raw.get("activeService") or "")
    if not active:
        issues.add(f"{path}.activeService", "is required")
    preview = raw.get("previewService") or None
    if preview is not None and preview == active:
        issues.add(f"{path}.previewService", "must differ from activeService")
    return BlueGreenStrategy(
        active_service=active,
        preview_service=preview,
        auto_promotion_enabled=bool(raw.get("autoPromotionEnabled", True)),
        auto_promotion_seconds=_opt_int(raw.get("autoPromotionSeconds")),
        preview_replica_count=_opt_int(raw.get("previewReplicaCount")),
        pre_promotion_analysis=_analysis(raw.get("prePromotionAnalysis"), f"{path}.prePromotionAnalysis", issues),
        post_promotion_analysis=_analysis(raw.get("postPromotionAnalysis"), f"{path}.postPromotionAnalysis", issues),
        scale_down_delay_seconds=_int(raw.get("scaleDownDelaySeconds"), 30),
        abort_scale_down_delay_seconds=_int(raw.get("abortScaleDownDelaySeconds"), 30),
        active_metadata=_metadata(raw.get("activeMetadata")),
        preview_metadata=_metadata(raw.get("previewMetadata")),
        max_unavailable=_intstr(raw.get("maxUnavailable"), "25%", f"{path}.maxUnavailable", issues),
        anti_affinity=_anti_affinity(raw.get("antiAffinity"), f"{path}.antiAffinity", issues),
        scale_down_delay_revision_limit=_opt_int(raw.get("scaleDownDelayRevisionLimit")),
    )


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    for key, value in _map(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for requirement in selector.get("matchExpressions") or ():
        req = _map(requirement)
        key, operator, values = str(req.get("key", "")), req.get("operator"), list(req.get("values") or ())
        if (
            (operator == "In" and labels.get(key) not in values)
            or (operator == "NotIn" and key in labels and labels.get(key) in values)
            or (operator == "Exists" and key not in labels)
            or (operator == "DoesNotExist" and key in labels)
        ):
            return False
    return True


def parse_rollout(
    body: Mapping[str, Any],
    *,
    workload_template: Mapping[str, Any] | None = None,
    workload_selector: Mapping[str, Any] | None = None,
    schema_issues: Sequence[FieldIssue] = (),
) -> RolloutSpec:
    """Parse a Rollout object (as stored, defaults applied) into a :class:`RolloutSpec`.

    ``workload_template``/``workload_selector`` are the pod template and selector of the workload named by
    ``spec.workloadRef``, read by the observer. ``schema_issues`` are what a schema the API server did not apply
    found (drop-in mode): any makes the Rollout invalid. Raises :class:`InvalidSpecError` listing every problem.
    """
    if not schema_issues:
        return _parse_rollout(body, workload_template=workload_template, workload_selector=workload_selector)
    try:
        _parse_rollout(body, workload_template=workload_template, workload_selector=workload_selector)
    except InvalidSpecError as error:
        raise InvalidSpecError(explained_first(schema_issues, error.issues)) from None
    except (TypeError, ValueError, KeyError, AttributeError, IndexError):
        # A value of the wrong type that no API server refused can trip the parser; the schema said what it is.
        pass
    raise InvalidSpecError(schema_issues)


def _parse_rollout(
    body: Mapping[str, Any],
    *,
    workload_template: Mapping[str, Any] | None,
    workload_selector: Mapping[str, Any] | None,
) -> RolloutSpec:
    issues = Issues()
    metadata = _map(body.get("metadata"))
    spec = _map(body.get("spec"))
    template = workload_template if workload_template is not None else _map(spec.get("template"))
    selector = workload_selector if workload_selector is not None else _map(spec.get("selector"))
    if spec.get("workloadRef") is not None and workload_template is None:
        issues.add("spec.workloadRef", "the referenced workload was not found or has no pod template")
    if spec.get("workloadRef") is not None and configured(spec.get("template")):
        # Argo refuses both at once rather than picking one: the inline template would be silently ignored.
        issues.add("spec.template", "template must be empty for workload reference rollout")
    if not template:
        issues.add("spec.template", "is required")
    elif not selector:
        issues.add("spec.selector", "is required")
    elif not _selector_matches(selector, _map(_map(template.get("metadata")).get("labels"))):
        issues.add("spec.selector", "does not match the template's labels (spec.template.metadata.labels)")
    strategy_raw = _map(spec.get("strategy"))
    strategy: CanaryStrategy | BlueGreenStrategy
    if "blueGreen" in strategy_raw:
        strategy = _blue_green(_map(strategy_raw["blueGreen"]), "spec.strategy.blueGreen", issues)
    elif "canary" in strategy_raw:
        strategy = _canary(_map(strategy_raw["canary"]), "spec.strategy.canary", issues, metadata)
    else:
        issues.add("spec.strategy", "needs exactly one of canary or blueGreen")
        strategy = CanaryStrategy()
    history_limit = _int(spec.get("revisionHistoryLimit"), 10)
    limit = _opt_int(_map(strategy_raw.get("blueGreen")).get("scaleDownDelayRevisionLimit"))
    if limit is not None and limit > history_limit:  # Argo checks blue-green only
        issues.add("spec.strategy.blueGreen.scaleDownDelayRevisionLimit", SCALE_DOWN_LIMIT_ABOVE_HISTORY)
    workload_ref = _map(spec.get("workloadRef"))
    scale_down = str(workload_ref.get("scaleDown") or "never")
    if workload_ref and scale_down not in {"never", "onsuccess", "progressively"}:
        issues.add("spec.workloadRef.scaleDown", "must be never, onsuccess or progressively")
    restart_at = None
    if spec.get("restartAt"):
        restart_at = parse_time(spec.get("restartAt"))
        if restart_at is None:
            issues.add("spec.restartAt", "must be an RFC 3339 time such as 2024-01-01T00:00:00Z")
    window = _map(spec.get("rollbackWindow"))
    window_revisions = _int(window.get("revisions"), 0)
    if window_revisions < 0:
        issues.add("spec.rollbackWindow.revisions", "must not be negative")
    refuse_unimplemented(body, issues)
    issues.raise_if_any(InvalidSpecError)
    return RolloutSpec(
        name=str(metadata.get("name", "")),
        namespace=str(metadata.get("namespace", "")),
        generation=_int(metadata.get("generation"), 0),
        replicas=_int(spec.get("replicas"), 1),
        selector=selector,
        template=template,
        min_ready_seconds=_int(spec.get("minReadySeconds"), 0),
        revision_history_limit=history_limit,
        paused=bool(spec.get("paused", False)),
        progress_deadline_seconds=_int(spec.get("progressDeadlineSeconds"), 600),
        progress_deadline_abort=bool(spec.get("progressDeadlineAbort", False)),
        restart_at=restart_at,
        rollback_window_revisions=max(0, window_revisions),
        successful_run_history_limit=_int(_map(spec.get("analysis")).get("successfulRunHistoryLimit"), 5),
        unsuccessful_run_history_limit=_int(_map(spec.get("analysis")).get("unsuccessfulRunHistoryLimit"), 5),
        workload_name=str(workload_ref["name"]) if workload_ref.get("name") else None,
        workload_scale_down=scale_down,
        strategy=strategy,
        body=body,
    )
