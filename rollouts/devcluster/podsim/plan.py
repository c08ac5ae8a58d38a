"""A pod's plan: how the simulated kubelet will run it, decided once from its spec and its steering annotations.

The planner process (:mod:`rollouts.devcluster.podsim.planner`) writes :meth:`PodPlan.annotation` onto every pod as
``kwok.rollouts.dev/plan``; KWOK's pod stages (``rollouts/devcluster/kwok-stages.yaml``) act only on pods that carry
one, and read every delay, exit code and message from it. So this module is the one place where "what would a real
kubelet do with this pod" is decided, and the stages only play it out.

Decisions, in the order a kubelet meets them (the docs list them for users: ``docs/local-cluster.md``):

- **image**: a container image that does not parse is ``InvalidImageName``, one that names something missing is
  ``ErrImagePull``/``ImagePullBackOff`` (:mod:`.images`); the pod stays Pending, never Ready.
- **start**: a command whose executable cannot exist fails to start (``StartError``, exit 128; :mod:`.programs`):
  the pod crash-loops (``CrashLoopBackOff``) unless ``restartPolicy`` is ``Never``, when it fails.
- **run**: Running after the ``postStart`` hooks' time; Ready once the ``startupProbe`` and then the
  ``readinessProbe`` first pass (:func:`probe_pass_time`: ``initialDelaySeconds`` rounded up to the probe's
  ``periodSeconds``, plus ``successThreshold``), or never when a readiness probe recognisably fails; containers
  whose programs end (``sleep 2 && exit 1``) terminate with their exit codes, and the pod then completes, fails or
  restarts as its ``restartPolicy`` says.
- **stop**: deletion waits for the ``preStop`` hooks' time, at most ``terminationGracePeriodSeconds``.

Steering annotations (``kwok.rollouts.dev/*``, on the pod or its template) are explicit and win over inference:
``ready-delay`` (Running and Ready only after it), ``unready`` (``"true"``: never Ready; ``"false"``: Ready whatever
the probes say), ``image-pull-error`` (``"true"``/``"false"``), and for Job pods ``run-duration`` and ``exit-code``;
``infer: "false"`` turns inference from the spec off entirely. An annotation with a bad value, or an unknown
``kwok.rollouts.dev/`` key, is not guessed around: the pod gets a :class:`Refusal` and stays Pending, and the planner
reports why.

A pod is simulated as one unit: its containers start together and, when all of their programs end, end together at
the time of the longest (each with its own exit code). Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from rollouts.devcluster.podsim.images import ImageNotFound, InvalidImage, check_image
from rollouts.devcluster.podsim.programs import (
    Exits,
    NotFound,
    Program,
    RunsForever,
    Unrecognised,
    container_program,
    describe_argv,
    recognise,
)
from workflows.errors import DurationError
from workflows.model.durations import parse_duration

__all__ = [
    "ANNOTATION_PREFIX",
    "PLAN_ANNOTATION",
    "STEERING_ANNOTATIONS",
    "ContainerPlan",
    "Fate",
    "PodPlan",
    "Problem",
    "Refusal",
    "plan_pod",
    "probe_pass_time",
]

ANNOTATION_PREFIX = "kwok.rollouts.dev/"
PLAN_ANNOTATION = f"{ANNOTATION_PREFIX}plan"
READY_DELAY = f"{ANNOTATION_PREFIX}ready-delay"
UNREADY = f"{ANNOTATION_PREFIX}unready"
IMAGE_PULL_ERROR = f"{ANNOTATION_PREFIX}image-pull-error"
RUN_DURATION = f"{ANNOTATION_PREFIX}run-duration"
EXIT_CODE = f"{ANNOTATION_PREFIX}exit-code"
INFER = f"{ANNOTATION_PREFIX}infer"
#: The annotations people set; anything else under the prefix (but the plan itself) is refused as a likely typo.
STEERING_ANNOTATIONS = (READY_DELAY, UNREADY, IMAGE_PULL_ERROR, RUN_DURATION, EXIT_CODE, INFER)
PLAN_VERSION = 1
_DEFAULT_GRACE = timedelta(seconds=30)
_DEFAULT_PROBE_PERIOD = 10
_START_ERROR_CODE = 128


class Fate(StrEnum):
    """How the pod's start goes (the stages select on it)."""

    RUN = "run"  # containers start
    IMAGE_ERROR = "image-error"  # an image cannot be pulled: Pending for ever
    START_ERROR = "start-error"  # an executable does not exist: StartError, then CrashLoopBackOff or Failed


class Problem(StrEnum):
    """What is wrong with one container ("" when nothing is)."""

    NONE = ""
    PULL = "pull"  # ErrImagePull <-> ImagePullBackOff
    INVALID_IMAGE = "invalid-image"  # InvalidImageName
    START = "start"  # StartError (exit 128)


@dataclass(frozen=True, kw_only=True)
class ContainerPlan:
    """One container's part: its problem (with the kubelet's message) or, when it runs, its exit code."""

    name: str
    problem: Problem = Problem.NONE
    message: str = ""
    exit_code: int = 0

    def as_json(self) -> dict[str, Any]:
        code = _START_ERROR_CODE if self.problem is Problem.START else self.exit_code
        reason = "StartError" if self.problem is Problem.START else ("Completed" if code == 0 else "Error")
        return {"problem": str(self.problem), "message": self.message, "exitCode": code, "exitReason": reason}


@dataclass(frozen=True, kw_only=True)
class PodPlan:
    """Everything KWOK's stages need, decided; ``why`` says, in a line per decision, where each part came from."""

    fate: Fate
    containers: tuple[ContainerPlan, ...]
    restart_policy: str = "Always"
    start_after: timedelta = timedelta(0)
    ready: bool = True
    ready_after: timedelta = timedelta(0)
    exit_after: timedelta | None = None  # None: the containers run until the pod is deleted
    stop_after: timedelta = timedelta(0)
    why: tuple[str, ...] = ()

    @property
    def ready_before_exit(self) -> bool:
        """Whether the pod becomes Ready (each time it starts) before its containers end."""
        return self.ready and (self.exit_after is None or self.ready_after < self.exit_after)

    @property
    def ready_at_start(self) -> bool:
        return self.ready_before_exit and self.ready_after == timedelta(0)

    @property
    def exit_phase(self) -> str:
        """The pod's phase once its containers have ended."""
        failed = any(c.exit_code != 0 for c in self.containers)
        if self.restart_policy == "Never":
            return "Failed" if failed else "Succeeded"
        if self.restart_policy == "OnFailure":
            return "Running" if failed else "Succeeded"
        return "Running"

    @property
    def start_error_phase(self) -> str:
        """The pod's phase when some containers cannot start: Failed only if none can and none will be retried."""
        none_started = all(c.problem is Problem.START for c in self.containers)
        return "Failed" if self.restart_policy == "Never" and none_started else "Running"

    def as_json(self) -> dict[str, Any]:
        exit_after_ready = (
            self.exit_after - self.ready_after if self.exit_after is not None and self.ready_before_exit else None
        )
        return {
            "v": PLAN_VERSION,
            "fate": str(self.fate),
            "restartPolicy": self.restart_policy,
            "startAfter": go_duration(self.start_after),
            "readyAtStart": self.ready_at_start,
            "readyBeforeExit": self.ready_before_exit,
            "readyAfter": go_duration(self.ready_after),
            "exitAfter": None if self.exit_after is None else go_duration(self.exit_after),
            "exitAfterReady": None if exit_after_ready is None else go_duration(exit_after_ready),
            "exitPhase": self.exit_phase,
            "startErrorPhase": self.start_error_phase,
            "stopAfterMs": _milliseconds(self.stop_after),
            "containers": {c.name: c.as_json() for c in self.containers},
            "why": list(self.why),
        }

    def annotation(self) -> str:
        """The value of ``kwok.rollouts.dev/plan``: compact JSON, stable for equal plans."""
        return json.dumps(self.as_json(), separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """The pod cannot be simulated as asked (a steering annotation is wrong); it stays Pending. One line per problem,
    each naming the annotation and the fix."""

    problems: tuple[str, ...]

    def annotation(self) -> str:
        body = {"v": PLAN_VERSION, "fate": "refused", "error": "; ".join(self.problems)}
        return json.dumps(body, separators=(",", ":"), sort_keys=True)


def go_duration(value: timedelta) -> str:
    """``value`` as Go's ``time.ParseDuration`` reads it (what KWOK's stage delays parse): ``2s``, ``1500ms``."""
    microseconds = round(value / timedelta(microseconds=1))
    if microseconds % 1_000_000 == 0:
        return f"{microseconds // 1_000_000}s"
    if microseconds % 1000 == 0:
        return f"{microseconds // 1000}ms"
    return f"{microseconds}us"


def _milliseconds(value: timedelta) -> int:
    return round(value / timedelta(milliseconds=1))


# ------------------------------------------------------------------------------------------------------------------
# Steering annotations


@dataclass(frozen=True, kw_only=True)
class _Steering:
    ready_delay: timedelta | None = None
    unready: bool | None = None
    image_pull_error: bool | None = None
    run_duration: timedelta | None = None
    exit_code: int | None = None
    infer: bool = True


def _steering(annotations: Mapping[str, str]) -> _Steering | Refusal:
    problems: list[str] = []

    def flag(key: str) -> bool | None:
        value = annotations.get(key)
        if value is None:
            return None
        if value not in ("true", "false"):
            problems.append(f'{key}: {value!r} is neither "true" nor "false"')
            return None
        return value == "true"

    def duration(key: str) -> timedelta | None:
        value = annotations.get(key)
        if value is None:
            return None
        try:
            return parse_duration(value)
        except DurationError as error:
            problems.append(f"{key}: {error}")
            return None

    exit_code: int | None = None
    if (code := annotations.get(EXIT_CODE)) is not None:
        if code.isascii() and code.isdigit() and int(code) <= 255:
            exit_code = int(code)
        else:
            problems.append(f"{EXIT_CODE}: {code!r} is not an exit code (a whole number from 0 to 255)")
    for key in sorted(annotations):
        if key.startswith(ANNOTATION_PREFIX) and key != PLAN_ANNOTATION and key not in STEERING_ANNOTATIONS:
            known = ", ".join(k.removeprefix(ANNOTATION_PREFIX) for k in STEERING_ANNOTATIONS)
            problems.append(f"{key}: not a steering annotation of the local cluster (known: {known})")
    steering = _Steering(
        ready_delay=duration(READY_DELAY),
        unready=flag(UNREADY),
        image_pull_error=flag(IMAGE_PULL_ERROR),
        run_duration=duration(RUN_DURATION),
        exit_code=exit_code,
        infer=flag(INFER) is not False,
    )
    return Refusal(problems=tuple(problems)) if problems else steering


# ------------------------------------------------------------------------------------------------------------------
# The plan


def plan_pod(pod: Mapping[str, Any]) -> PodPlan | Refusal:
    """How the simulated kubelet runs ``pod`` (a Pod as a plain dict, as the API returns it)."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    steering = _steering(metadata.get("annotations") or {})
    if isinstance(steering, Refusal):
        return steering
    containers: Sequence[Mapping[str, Any]] = spec.get("containers") or []
    is_job_pod = any(ref.get("kind") == "Job" for ref in metadata.get("ownerReferences") or [])
    restart_policy = str(spec.get("restartPolicy") or "Always")
    why: list[str] = []
    if not steering.infer:
        why.append(f"{INFER}: false: nothing inferred from the spec")
    elif spec.get("initContainers"):
        why.append("initContainers: not simulated (taken as done)")
    if steering.infer and spec.get("activeDeadlineSeconds") is not None:
        why.append("activeDeadlineSeconds: not simulated (the pod is never stopped for it)")

    stop_after = _stop_after(spec, steering, why)
    image_problems = _image_problems(containers, steering, why)
    if image_problems:
        return PodPlan(
            fate=Fate.IMAGE_ERROR,
            containers=image_problems,
            restart_policy=restart_policy,
            ready=False,
            stop_after=stop_after,
            why=tuple(why),
        )
    programs = {c["name"]: _program(c, steering) for c in containers}
    missing = {name: p for name, p in programs.items() if isinstance(p, NotFound)}
    if missing:
        plans = tuple(_start_error(c["name"], missing.get(c["name"])) for c in containers)
        why.extend(f"{name}: {p.executable!r} cannot start: {p.why}" for name, p in missing.items())
        return PodPlan(
            fate=Fate.START_ERROR,
            containers=plans,
            restart_policy=restart_policy,
            ready=False,
            stop_after=stop_after,
            why=tuple(why),
        )

    exits = {c["name"]: _exit(c["name"], programs[c["name"]], is_job_pod, steering, why) for c in containers}
    finite = [e for e in exits.values() if e is not None]
    exit_after = max((e.after for e in finite), default=timedelta(0)) if len(finite) == len(exits) else None
    start_after, ready_after, ready = _timing(containers, steering, why)
    return PodPlan(
        fate=Fate.RUN,
        containers=tuple(ContainerPlan(name=n, exit_code=e.code if e else 0) for n, e in exits.items()),
        start_after=start_after,
        ready=ready,
        ready_after=ready_after,
        exit_after=exit_after,
        stop_after=stop_after,
        restart_policy=restart_policy,
        why=tuple(why),
    )


def _program(container: Mapping[str, Any], steering: _Steering) -> Program:
    if not steering.infer:
        return Unrecognised(reason=f"{INFER} is false")
    return container_program(container.get("command"), container.get("args"))


def _image_problems(
    containers: Sequence[Mapping[str, Any]], steering: _Steering, why: list[str]
) -> tuple[ContainerPlan, ...]:
    """Every container's image problem, or () when every image pulls."""
    if steering.image_pull_error:
        why.append(f"{IMAGE_PULL_ERROR}: true: no image pulls")
        return tuple(
            ContainerPlan(
                name=c["name"],
                problem=Problem.PULL,
                message=f"failed to pull image {json.dumps(c.get('image', ''))}: not found ({IMAGE_PULL_ERROR})",
            )
            for c in containers
        )
    if steering.image_pull_error is False or not steering.infer:
        return ()
    plans: list[ContainerPlan] = []
    for container in containers:
        name, image = container["name"], str(container.get("image") or "")
        verdict = check_image(image)
        if isinstance(verdict, InvalidImage):
            why.append(f"{name}: image {image!r} is not a valid reference: InvalidImageName")
            plans.append(ContainerPlan(name=name, problem=Problem.INVALID_IMAGE, message=verdict.message))
        elif isinstance(verdict, ImageNotFound):
            why.append(f"{name}: image {image!r} names something missing ({verdict.marker!r}): ErrImagePull")
            plans.append(ContainerPlan(name=name, problem=Problem.PULL, message=verdict.message))
        else:
            plans.append(ContainerPlan(name=name))
    return tuple(plans) if any(p.problem is not Problem.NONE for p in plans) else ()


def _start_error(name: str, missing: NotFound | None) -> ContainerPlan:
    if missing is None:
        return ContainerPlan(name=name)
    executable = missing.executable
    cause = (
        f"stat {executable}: no such file or directory" if "/" in executable else "executable file not found in $PATH"
    )
    message = (
        "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create "
        f'failed: unable to start container process: exec: "{executable}": {cause}: unknown'
    )
    return ContainerPlan(name=name, problem=Problem.START, message=message)


def _exit(name: str, program: Program, is_job_pod: bool, steering: _Steering, why: list[str]) -> Exits | None:
    """When and how container ``name`` ends (None: it runs until the pod is deleted)."""
    annotated = steering.run_duration is not None or steering.exit_code is not None
    if annotated and not is_job_pod:
        why.append(f"{name}: {RUN_DURATION}/{EXIT_CODE} apply to Job pods only")
    if isinstance(program, Exits):
        inferred: Exits | None = program
        why.append(f"{name}: program ends with {program.code} after {go_duration(program.after)}")
    elif isinstance(program, RunsForever):
        inferred = None
        why.append(f"{name}: program runs until stopped")
    else:
        assert isinstance(program, Unrecognised)  # NotFound was handled by the caller
        # The default the cluster always had: a Job's pod completes at once, any other pod runs.
        inferred = Exits(after=timedelta(0), code=0) if is_job_pod else None
        if steering.infer:
            why.append(f"{name}: {program.reason}; {'completes at once' if is_job_pod else 'runs until stopped'}")
    if not (annotated and is_job_pod):
        return inferred
    if steering.run_duration is None and inferred is None:
        return None
    after = steering.run_duration if steering.run_duration is not None else inferred.after if inferred else None
    code = steering.exit_code if steering.exit_code is not None else inferred.code if inferred else 0
    assert after is not None
    why.append(f"{name}: {RUN_DURATION}/{EXIT_CODE}: ends with {code} after {go_duration(after)}")
    return Exits(after=after, code=code)


def _timing(
    containers: Sequence[Mapping[str, Any]], steering: _Steering, why: list[str]
) -> tuple[timedelta, timedelta, bool]:
    """(start after, Ready after the start, ever Ready) for a pod whose containers start."""
    start_after = timedelta(0)
    ready_after = timedelta(0)
    probes_pass = True
    if steering.infer:
        for container in containers:
            name = container["name"]
            post_start = ((container.get("lifecycle") or {}).get("postStart")) or None
            if post_start:
                start_after = max(start_after, _hook_time(name, "postStart", post_start, why))
            delay = timedelta(0)
            for kind in ("startupProbe", "readinessProbe"):
                probe = container.get(kind)
                if probe:
                    delay += probe_pass_time(probe)
                    probes_pass = _probe_passes(name, kind, probe, why) and probes_pass
            if delay:
                why.append(f"{name}: probes first pass {go_duration(delay)} after start: Ready then")
            ready_after = max(ready_after, delay)
            liveness = container.get("livenessProbe")
            if liveness and not _probe_passes(name, "livenessProbe", liveness, []):
                why.append(f"{name}: livenessProbe would fail: restarts for it are not simulated")
    if steering.ready_delay is not None:
        why.append(f"{READY_DELAY}: Running and Ready after {go_duration(steering.ready_delay)}")
        start_after, ready_after = steering.ready_delay, timedelta(0)
    ready = probes_pass
    if steering.unready is not None:
        why.append(f"{UNREADY}: {str(steering.unready).lower()}")
        ready = not steering.unready
    return start_after, ready_after, ready


def probe_pass_time(probe: Mapping[str, Any]) -> timedelta:
    """When a passing probe first counts as passed, from the container's start, the way the kubelet's prober ticks:
    a probe runs at once and then every ``periodSeconds`` (default 10), a tick before ``initialDelaySeconds`` is
    skipped, and ``successThreshold`` (default 1) passes in a row are needed. So ``initialDelaySeconds: 5`` with the
    default period passes at 10s, with ``periodSeconds: 1`` at 5s; ``successThreshold: 3``, period 2: at 4s."""
    initial = max(0, int(probe.get("initialDelaySeconds") or 0))
    period = max(1, int(probe.get("periodSeconds") or _DEFAULT_PROBE_PERIOD))
    successes = max(1, int(probe.get("successThreshold") or 1))
    first_tick = -(-initial // period) * period  # the first tick at or after the initial delay
    return timedelta(seconds=first_tick + (successes - 1) * period)


def _probe_passes(name: str, kind: str, probe: Mapping[str, Any], why: list[str]) -> bool:
    """False when the probe recognisably fails: an exec that exits non-zero, cannot start, or outlasts its timeout."""
    handler = probe.get("exec")
    if not handler:
        return True  # httpGet / tcpSocket / grpc: nothing listens in a simulated pod, taken as passing
    command = handler.get("command") or []
    program = recognise(command)
    timeout = timedelta(seconds=int(probe.get("timeoutSeconds") or 1))
    failure = None
    if isinstance(program, Exits) and program.after > timeout:
        failure = f"outlasts its timeoutSeconds ({go_duration(timeout)})"
    elif isinstance(program, Exits) and program.code != 0:
        failure = f"exits with {program.code}"
    elif isinstance(program, RunsForever):
        failure = "never ends (timeout)"
    elif isinstance(program, NotFound):
        failure = f"cannot start: {program.why}"
    if failure is None:
        return True
    why.append(f"{name}: {kind} exec {describe_argv(command)} {failure}: never passes")
    return False


def _hook_time(name: str, hook: str, handler: Mapping[str, Any], why: list[str]) -> timedelta:
    """How long a lifecycle hook takes (a sleep action or a recognised exec); a failing hook is not simulated."""
    if "sleep" in handler:
        seconds = timedelta(seconds=int((handler.get("sleep") or {}).get("seconds") or 0))
        why.append(f"{name}: {hook} sleeps {go_duration(seconds)}")
        return seconds
    if "exec" not in handler:
        return timedelta(0)  # httpGet / tcpSocket: answered at once
    command = (handler.get("exec") or {}).get("command") or []
    program = recognise(command)
    if isinstance(program, Exits):
        note = "" if program.code == 0 else f" (exit {program.code}: a failing hook is not simulated)"
        why.append(f"{name}: {hook} exec {describe_argv(command)} takes {go_duration(program.after)}{note}")
        return program.after
    if isinstance(program, RunsForever) and hook == "preStop":
        why.append(f"{name}: {hook} exec {describe_argv(command)} never ends: deletion waits the grace period")
        return timedelta.max
    if isinstance(program, RunsForever):
        why.append(f"{name}: {hook} exec {describe_argv(command)} never ends: not simulated, takes no time")
        return timedelta(0)
    what = program.why if isinstance(program, NotFound) else program.reason
    why.append(f"{name}: {hook} exec {describe_argv(command)}: {what}; takes no time")
    return timedelta(0)


def _stop_after(spec: Mapping[str, Any], steering: _Steering, why: list[str]) -> timedelta:
    """How long deletion waits for the containers' preStop hooks (they run in parallel), within the grace period."""
    if not steering.infer:
        return timedelta(0)
    longest = timedelta(0)
    for container in spec.get("containers") or []:
        pre_stop = ((container.get("lifecycle") or {}).get("preStop")) or None
        if pre_stop:
            longest = max(longest, _hook_time(container["name"], "preStop", pre_stop, why))
    grace_seconds = spec.get("terminationGracePeriodSeconds")
    grace = _DEFAULT_GRACE if grace_seconds is None else timedelta(seconds=int(grace_seconds))
    return min(longest, grace)
