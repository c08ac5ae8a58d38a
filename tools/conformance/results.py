"""A test's result for one controller (passed / failed / not applicable, with a one-line reason), and a measurement.

:func:`judge` is where a test's outcome is decided from what the e2e binary reported and the applicability table;
nothing else turns events into outcomes. Pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from tools.conformance import applicability
from tools.conformance.catalog import TestId
from tools.conformance.events import Status, TestRun, failure_summary

__all__ = ["FLAKY", "Measurement", "Outcome", "TestResult", "judge", "not_applicable", "pass_rate"]


FLAKY = "flaky: "  # the reason of a test that failed, then passed when run again


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class TestResult:
    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name

    test: TestId
    outcome: Outcome
    reason: str = ""
    seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """One controller measured by one run of the harness."""

    controller: str  # "argo" or "ours": the report's column
    description: str  # what ran, e.g. "Argo Rollouts v1.10.1 (rollouts-controller)"
    date: str  # when, ISO 8601 (UTC, minutes)
    seconds: float  # wall time of the measurement, cluster start to teardown
    results: tuple[TestResult, ...]
    note: str = ""  # anything that concerns every test (the controller did not start, the run's bound was hit)
    # Wall time of each suite's e2e invocations (restarts included), by suite name; suites not run are absent.
    suite_seconds: Mapping[str, float] = field(default_factory=dict)

    def counts(self, suite: str | None = None) -> Counter[Outcome]:
        return Counter(r.outcome for r in self.results if suite is None or r.test.suite == suite)

    def summary(self) -> str:
        counts = self.counts()
        return (
            f"{counts[Outcome.PASSED]} passed, {counts[Outcome.FAILED]} failed "
            f"(+ {counts[Outcome.NOT_APPLICABLE]} not applicable; pass rate {pass_rate(self.results)})"
        )


def pass_rate(results: Iterable[TestResult]) -> str:
    """Passed over applicable (passed + failed), e.g. ``"85% (17/20)"``; ``"—"`` when nothing was applicable."""
    outcomes = Counter(result.outcome for result in results)
    passed, applicable = outcomes[Outcome.PASSED], outcomes[Outcome.PASSED] + outcomes[Outcome.FAILED]
    if not applicable:
        return "—"
    return f"{100 * passed // applicable}% ({passed}/{applicable})"


def judge(test: TestId, run: TestRun | None, *, not_run_reason: str, cut_reason: str) -> TestResult:
    """The outcome of ``test`` from its run in the e2e binary (None: it never started).

    ``not_run_reason`` says why a test that never started did not (suite setup failed, the binary died before it,
    the run's bound); ``cut_reason`` why a test that started never finished (the per-test bound, a panic).
    """
    if run is None:
        return TestResult(test=test, outcome=Outcome.FAILED, reason=f"not run: {not_run_reason}")
    output = "".join(run.output)
    if run.status is Status.PASS:
        stale = applicability.listed_environmental(test)
        reason = f"listed as {stale.category} in applicability.py, but passed: re-measure" if stale else ""
        return TestResult(test=test, outcome=Outcome.PASSED, reason=reason, seconds=run.seconds)
    if run.status is Status.SKIP:
        skipped = failure_summary(run.output) or "no message"
        return TestResult(test=test, outcome=Outcome.NOT_APPLICABLE, reason=f"skipped by the suite: {skipped}")
    rule = applicability.environmental_failure(test, output)
    if rule is not None:
        return TestResult(test=test, outcome=Outcome.NOT_APPLICABLE, reason=rule.describe(), seconds=run.seconds)
    if run.status is Status.UNFINISHED:
        return TestResult(test=test, outcome=Outcome.FAILED, reason=cut_reason, seconds=run.seconds)
    reason = failure_summary(run.output) or "failed without a failure message"
    return TestResult(test=test, outcome=Outcome.FAILED, reason=reason, seconds=run.seconds)


def not_applicable(test: TestId, rule: applicability.Rule) -> TestResult:
    """A test the table says not to run at all."""
    return TestResult(test=test, outcome=Outcome.NOT_APPLICABLE, reason=rule.describe())
