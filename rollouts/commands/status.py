"""``kubectl rollouts status``: a Rollout's phase as Argo's plugin reads it, the watch, and what the exit code says.

The phase is not just ``status.phase``: like Argo's ``GetRolloutPhase``, a spec the controller has not observed yet
(``metadata.generation`` ahead of ``status.observedGeneration``), a pause released but not yet acted upon
(``controllerPause`` with no pause condition left) and a workloadRef Deployment edit not yet observed all read as
``Progressing``, so a script that just changed the Rollout never sees the previous version's ``Healthy``.

Exit codes, as Argo's (cobra turns any error into 1): 0 when Healthy; 1 when Degraded (``The rollout is in a
degraded state with message: ...``) or when the watch gave up (``Rollout status watch exceeded timeout``). A one-shot
read (``--watch=false``) of a Rollout still progressing exits 0.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

__all__ = ["StatusVerdict", "rollout_phase", "status_line", "status_verdict", "watch_status"]

HEALTHY = "Healthy"
DEGRADED = "Degraded"
PROGRESSING = "Progressing"
#: Argo's controller's annotation on a Rollout recording the workloadRef Deployment's generation it resolved, compared
#: with ``status.workloadObservedGeneration``. Our controller writes neither (in either mode: it follows Deployment
#: edits by watching them), so this reads only what Argo's controller left on a Rollout, whatever the group; the
#: check applies only when both are present, as in Argo's plugin.
WORKLOAD_GENERATION_ANNOTATION = "rollout.argoproj.io/workload-generation"


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def rollout_phase(rollout: Mapping[str, Any]) -> tuple[str, str]:
    """``(phase, message)`` of a Rollout body, as Argo's plugin computes it (``rolloututil.GetRolloutPhase``)."""
    metadata, status = rollout.get("metadata") or {}, rollout.get("status") or {}
    observed = _int_or_none(status.get("observedGeneration"))
    generation = _int_or_none(metadata.get("generation")) or 0
    # A non-numeric observedGeneration (a pre-v0.10 hash) counts as observed, as in Argo.
    if observed is not None and observed < generation:
        return PROGRESSING, "waiting for rollout spec update to be observed"
    if status.get("controllerPause") and not status.get("pauseConditions"):
        return PROGRESSING, "waiting for rollout to unpause"
    workload_generation = _int_or_none((metadata.get("annotations") or {}).get(WORKLOAD_GENERATION_ANNOTATION))
    workload_observed = _int_or_none(status.get("workloadObservedGeneration"))
    if workload_generation is not None and workload_observed is not None and workload_observed != workload_generation:
        return PROGRESSING, "waiting for rollout spec update to be observed for the reference workload"
    if status.get("phase"):
        return str(status["phase"]), str(status.get("message") or "")
    # Nothing written yet: the controller has not reconciled this Rollout once.
    return PROGRESSING, "waiting for the controller to reconcile the rollout"


def status_line(phase: str, message: str, *, watching: bool) -> str:
    """One line of output: ``Phase - message``; a one-shot Healthy or Degraded prints the phase alone (as Argo)."""
    if not message or (not watching and phase in (HEALTHY, DEGRADED)):
        return phase
    return f"{phase} - {message}"


@dataclass(frozen=True, slots=True)
class StatusVerdict:
    """The exit code of ``status`` and, for a failure, the error to print."""

    code: int
    error: str | None = None


def status_verdict(phase: str, message: str, *, watched: bool) -> StatusVerdict:
    """Argo's ending: Degraded fails; a watch that ended on anything but Healthy timed out."""
    if phase == DEGRADED:
        return StatusVerdict(1, f"The rollout is in a degraded state with message: {message}")
    if phase != HEALTHY and watched:
        return StatusVerdict(1, "Rollout status watch exceeded timeout")
    return StatusVerdict(0)


def watch_status(
    read: Callable[[], Mapping[str, Any]],
    *,
    timeout: timedelta | None,
    report: Callable[[str], None],
    interval: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[str, str]:
    """Read until Healthy or Degraded (or ``timeout``; None or zero waits forever), reporting each new line.

    Returns the last ``(phase, message)`` read: what :func:`status_verdict` judges.
    """
    deadline = clock() + timeout.total_seconds() if timeout else None
    last_line = None
    while True:
        phase, message = rollout_phase(read())
        line = status_line(phase, message, watching=True)
        if line != last_line:
            report(line)
            last_line = line
        if phase in (HEALTHY, DEGRADED):
            return phase, message
        if deadline is not None and clock() >= deadline:
            return phase, message
        sleep(interval if deadline is None else max(0.0, min(interval, deadline - clock())))
