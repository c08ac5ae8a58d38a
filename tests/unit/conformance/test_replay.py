"""A finished run judged again from its saved events, after the applicability table changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.conformance import applicability
from tools.conformance.applicability import Category, Rule
from tools.conformance.catalog import TestId
from tools.conformance.replay import load, replay_events
from tools.conformance.results import Outcome

SUITE = "TestFunctionalSuite"
RESTART = TestId("Functional", "TestRolloutRestart")
METRICS = TestId("Functional", "TestControllerMetrics")
CUT = TestId("Functional", "TestWorkloadRef")
NEVER = TestId("Functional", "TestWorkloadRefTemplate")
RULE = Rule(
    test=RESTART,
    category=Category.FAKE_KUBELET,
    reason="restarted pods never come back",
    justification="KWOK keeps the old pods",
    evidence=r"waiting for condition Healthy",
)


def _event(action: str, test: str | None = None, output: str | None = None) -> str:
    event: dict[str, object] = {"Action": action, "Package": "e2e"}
    if test:
        event["Test"] = f"{SUITE}/{test}" if test != SUITE else SUITE
    if output is not None:
        event["Output"] = output
    if action in {"pass", "fail"}:
        event["Elapsed"] = 3.0
    return json.dumps(event)


EVENTS = [
    _event("run", SUITE),
    _event("run", "TestControllerMetrics"),
    _event("pass", "TestControllerMetrics"),
    _event("run", "TestRolloutRestart"),
    _event("output", "TestRolloutRestart", "    when.go:555: timeout after 1m30s waiting for condition Healthy\n"),
    _event("fail", "TestRolloutRestart"),
    "not an event",
    _event("run", "TestWorkloadRef"),
    _event("output", "TestWorkloadRef", "waiting\n"),
]
RECORDED = {
    "controller": "argo",
    "description": "Argo Rollouts v1.10.1",
    "date": "2026-12-07 06:45",
    "seconds": 900.0,
    "note": "",
    "suite_seconds": {"Functional": 880.0},
    "results": [
        {"test": str(METRICS), "outcome": "passed", "reason": "", "seconds": 3.0},
        {"test": str(RESTART), "outcome": "failed", "reason": "timeout after 1m30s (when.go:555)", "seconds": 3.0},
        {"test": str(CUT), "outcome": "failed", "reason": "cut short: the per-test bound of 600 s", "seconds": None},
        {"test": str(NEVER), "outcome": "failed", "reason": "not run: the run's bound was reached", "seconds": None},
    ],
}


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    (tmp_path / "results.json").write_text(json.dumps(RECORDED))
    (tmp_path / "e2e-Functional-1.jsonl").write_text("\n".join(EVENTS[:6]) + "\n")
    (tmp_path / "e2e-Functional-2.jsonl").write_text("\n".join(EVENTS[6:]) + "\n")
    (tmp_path / "e2e-Functional-1.log").write_text("the text twin is not read\n")
    return tmp_path


def test_the_saved_events_give_back_each_tests_run() -> None:
    runs = replay_events("Functional", EVENTS)

    assert list(runs) == [METRICS, RESTART, CUT]
    assert runs[RESTART].output == ("    when.go:555: timeout after 1m30s waiting for condition Healthy\n",)


def test_a_new_environmental_entry_turns_its_recorded_failure_into_not_applicable(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(applicability, "RULES", (RULE,))

    measurement = load(run_dir)

    outcomes = {r.test: (r.outcome, r.reason) for r in measurement.results}
    assert outcomes == {
        METRICS: (Outcome.PASSED, ""),
        RESTART: (Outcome.NOT_APPLICABLE, "environment: fake kubelet: restarted pods never come back"),
        CUT: (Outcome.FAILED, "cut short: the per-test bound of 600 s"),
        NEVER: (Outcome.FAILED, "not run: the run's bound was reached"),
    }
    assert measurement.suite_seconds == {"Functional": 880.0}
    assert (measurement.controller, measurement.date, measurement.seconds) == ("argo", "2026-12-07 06:45", 900.0)


def test_without_the_entry_the_failure_reads_from_the_output_again(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(applicability, "RULES", ())

    by_test = {r.test: r for r in load(run_dir).results}

    assert by_test[RESTART].outcome is Outcome.FAILED
    assert by_test[RESTART].reason == "timeout after 1m30s waiting for condition Healthy (when.go:555)"


def test_a_test_the_table_now_says_not_to_run_becomes_not_applicable(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offline = Rule(test=NEVER, category=Category.INTERNET, reason="queries a public host", justification="a web metric")
    monkeypatch.setattr(applicability, "RULES", (offline,))

    by_test = {r.test: r for r in load(run_dir).results}

    assert by_test[NEVER].outcome is Outcome.NOT_APPLICABLE
    assert by_test[NEVER].reason == "needs the internet: queries a public host"


def test_a_test_that_passed_on_a_rerun_keeps_its_result_and_reruns_are_not_read(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = json.loads((run_dir / "results.json").read_text())
    flaky = "flaky: passed on rerun 1 after: timeout after 1m30s (when.go:555)"
    recorded["results"][1] |= {"outcome": "passed", "reason": flaky}
    (run_dir / "results.json").write_text(json.dumps(recorded))
    (run_dir / "e2e-Functional-rerun1-1.jsonl").write_text(_event("fail", "TestControllerMetrics") + "\n")
    monkeypatch.setattr(applicability, "RULES", (RULE,))

    by_test = {r.test: r for r in load(run_dir).results}

    assert (by_test[RESTART].outcome, by_test[RESTART].reason) == (Outcome.PASSED, flaky)
    assert by_test[METRICS].outcome is Outcome.PASSED


def test_a_test_that_ran_then_but_is_not_run_now_is_not_applicable(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A passed or failed test the table now keeps out of the set (deferred, or found to need the internet)."""
    deferred = Rule(test=METRICS, category=Category.DEFERRED, reason="uses Experiments", justification="issue 14")
    offline = Rule(test=RESTART, category=Category.INTERNET, reason="a public host", justification="a web metric")
    monkeypatch.setattr(applicability, "RULES", (deferred, offline))

    by_test = {r.test: r for r in load(run_dir).results}

    assert by_test[METRICS].outcome is Outcome.NOT_APPLICABLE
    assert by_test[METRICS].reason == "deferred until Experiments exist: uses Experiments"
    assert by_test[RESTART].outcome is Outcome.NOT_APPLICABLE
