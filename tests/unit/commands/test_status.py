"""`kubectl rollouts status`: the phase as Argo's plugin reads it, the watch, and Argo's exit codes and messages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rollouts.commands.status import rollout_phase, status_line, status_verdict, watch_status
from tests.support.fake_kube import FakeKube, Plugin
from workflows.api import ARGO, ROLLOUTS_DEV, ApiMode


def rollout(
    phase: str | None = "Healthy",
    message: str = "",
    *,
    generation: int = 2,
    observed: object = "2",
    mode: ApiMode = ROLLOUTS_DEV,
    **status: Any,
) -> dict[str, Any]:
    body_status: dict[str, Any] = {"observedGeneration": observed, **status}
    if phase is not None:
        body_status["phase"] = phase
    if message:
        body_status["message"] = message
    return {
        "apiVersion": mode.api_version,
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "shop", "generation": generation},
        "spec": {"strategy": {"canary": {}}},
        "status": body_status,
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (rollout("Healthy"), ("Healthy", "")),
        (rollout("Paused", "CanaryPauseStep"), ("Paused", "CanaryPauseStep")),
        (rollout("Degraded", "RolloutAborted: aborted"), ("Degraded", "RolloutAborted: aborted")),
        # The spec moved on and the controller has not planned for it yet: not the old version's Healthy.
        (rollout("Healthy", generation=3), ("Progressing", "waiting for rollout spec update to be observed")),
        (rollout("Healthy", generation=3, observed=3), ("Healthy", "")),
        (rollout("Healthy", generation=3, observed=4), ("Healthy", "")),
        (rollout("Healthy", generation=3, observed="abc123"), ("Healthy", "")),  # pre-v0.10 hash: observed
        # A promote cleared the pause conditions; the controller has not released its pause yet.
        (rollout("Paused", controllerPause=True), ("Progressing", "waiting for rollout to unpause")),
        (rollout("Paused", controllerPause=True, pauseConditions=[{"reason": "x"}]), ("Paused", "")),
        (rollout(None), ("Progressing", "waiting for the controller to reconcile the rollout")),
    ],
)
def test_the_phase_is_argos_reading_of_the_status(body: dict[str, Any], expected: tuple[str, str]) -> None:
    assert rollout_phase(body) == expected


def test_an_unobserved_workload_edit_is_progressing() -> None:
    body = rollout("Healthy", workloadObservedGeneration="4")
    body["metadata"]["annotations"] = {"rollout.argoproj.io/workload-generation": "5"}
    assert rollout_phase(body) == (
        "Progressing",
        "waiting for rollout spec update to be observed for the reference workload",
    )
    body["status"]["workloadObservedGeneration"] = "5"
    assert rollout_phase(body) == ("Healthy", "")


@pytest.mark.parametrize(
    ("phase", "message", "watching", "line"),
    [
        ("Healthy", "", True, "Healthy"),
        ("Paused", "CanaryPauseStep", True, "Paused - CanaryPauseStep"),
        ("Degraded", "aborted", True, "Degraded - aborted"),
        ("Degraded", "aborted", False, "Degraded"),  # one-shot Healthy/Degraded: the phase alone, as Argo
        ("Healthy", "x", False, "Healthy"),
        ("Paused", "CanaryPauseStep", False, "Paused - CanaryPauseStep"),
    ],
)
def test_status_lines(phase: str, message: str, watching: bool, line: str) -> None:
    assert status_line(phase, message, watching=watching) == line


@pytest.mark.parametrize(
    ("phase", "watched", "code", "error"),
    [
        ("Healthy", True, 0, None),
        ("Healthy", False, 0, None),
        ("Degraded", True, 1, "The rollout is in a degraded state with message: m"),
        ("Degraded", False, 1, "The rollout is in a degraded state with message: m"),
        ("Progressing", True, 1, "Rollout status watch exceeded timeout"),
        ("Paused", False, 0, None),  # one look at an unfinished rollout is not a failure
    ],
)
def test_exit_codes_are_argos(phase: str, watched: bool, code: int, error: str | None) -> None:
    verdict = status_verdict(phase, "m", watched=watched)
    assert (verdict.code, verdict.error) == (code, error)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_watch_reports_each_change_once_and_ends_on_healthy() -> None:
    bodies = iter(
        [
            rollout("Healthy", generation=3),
            rollout("Progressing", "more replicas", generation=3, observed="3"),
            rollout("Progressing", "more replicas", generation=3, observed="3"),
            rollout("Paused", "CanaryPauseStep", generation=3, observed="3"),
            rollout("Healthy", generation=3, observed="3"),
        ]
    )
    clock = Clock()
    lines: list[str] = []
    result = watch_status(lambda: next(bodies), timeout=None, report=lines.append, clock=clock, sleep=clock.sleep)
    assert result == ("Healthy", "")
    assert lines == [
        "Progressing - waiting for rollout spec update to be observed",
        "Progressing - more replicas",
        "Paused - CanaryPauseStep",
        "Healthy",
    ]
    assert clock.sleeps == [1.0, 1.0, 1.0, 1.0]


def test_the_watch_ends_on_degraded() -> None:
    clock = Clock()
    result = watch_status(
        lambda: rollout("Degraded", "RolloutAborted"), timeout=None, report=print, clock=clock, sleep=clock.sleep
    )
    assert result == ("Degraded", "RolloutAborted")


def test_the_watch_gives_up_at_the_timeout_and_sleeps_no_longer_than_it() -> None:
    clock = Clock()
    result = watch_status(
        lambda: rollout("Paused", "CanaryPauseStep"),
        timeout=timedelta(seconds=2.5),
        report=lambda _: None,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result == ("Paused", "CanaryPauseStep")
    assert clock.sleeps == [1.0, 1.0, 0.5]


def test_a_zero_timeout_waits_forever_as_argo() -> None:
    bodies = iter([rollout("Paused")] * 5 + [rollout("Healthy")])
    clock = Clock()
    result = watch_status(
        lambda: next(bodies), timeout=timedelta(0), report=lambda _: None, clock=clock, sleep=clock.sleep
    )
    assert result == ("Healthy", "")


# -- the command -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [ROLLOUTS_DEV, ARGO], ids=["rollouts.dev", "argoproj.io"])
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (rollout("Healthy"), (0, "Healthy\n", "")),
        (rollout("Degraded", "RolloutAborted: x"), (1, "Degraded\n", "degraded state with message: RolloutAborted: x")),
        (rollout("Paused", "CanaryPauseStep"), (0, "Paused - CanaryPauseStep\n", "")),
    ],
)
def test_status_once(
    api: FakeKube, plugin: Plugin, mode: ApiMode, body: dict[str, Any], expected: tuple[int, str, str]
) -> None:
    code, out, err = expected
    api.add({**body, "apiVersion": mode.api_version})
    result = plugin("status", "web", "--watch=false", "--api-group", mode.group)
    assert result[:2] == (code, out)
    assert err in result[2]
    assert api.writes() == []


def test_status_watches_by_default_and_exits_1_on_timeout(api: FakeKube, plugin: Plugin) -> None:
    api.add(rollout("Paused", "CanaryPauseStep"))
    code, out, err = plugin("status", "web", "--timeout", "0.01s")
    assert (code, out) == (1, "Paused - CanaryPauseStep\n")
    assert "Error: Rollout status watch exceeded timeout" in err


def test_status_watch_of_a_healthy_rollout_exits_0_at_once(api: FakeKube, plugin: Plugin) -> None:
    api.add(rollout("Healthy"))
    assert plugin("status", "web", "--timeout", "60s") == (0, "Healthy\n", "")


def test_status_of_a_missing_rollout_exits_1(api: FakeKube, plugin: Plugin) -> None:
    code, _, err = plugin("status", "ghost")
    assert code == 1
    assert "rollout shop/ghost not found" in err
