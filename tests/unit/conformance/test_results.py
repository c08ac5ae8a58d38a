"""A test's outcome for one controller, decided in one place from what the e2e binary reported."""

from __future__ import annotations

import pytest

from tools.conformance import applicability
from tools.conformance.applicability import Category, Rule
from tools.conformance.catalog import TestId
from tools.conformance.events import Status, TestRun
from tools.conformance.results import Outcome, TestResult, judge, pass_rate

TEST = TestId("Functional", "TestRolloutRestart")
TIMEOUT = ("    when.go:555: timeout after 1m30s waiting for condition Healthy\n",)
RULE = Rule(
    test=TEST,
    category=Category.FAKE_KUBELET,
    reason="restarted pods never come back",
    justification="for the test",
    evidence=r"waiting for condition Healthy",
)


def _run(status: Status, output: tuple[str, ...] = ()) -> TestRun:
    return TestRun(test=TEST, status=status, seconds=12.5, output=output)


@pytest.fixture
def with_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(applicability, "RULES", (RULE,))


@pytest.fixture
def without_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(applicability, "RULES", ())


@pytest.mark.usefixtures("without_rules")
@pytest.mark.parametrize(
    ("run", "outcome", "reason"),
    [
        (_run(Status.PASS), Outcome.PASSED, ""),
        (_run(Status.FAIL, TIMEOUT), Outcome.FAILED, "timeout after 1m30s waiting for condition Healthy (when.go:555)"),
        (_run(Status.FAIL), Outcome.FAILED, "failed without a failure message"),
        (_run(Status.UNFINISHED, TIMEOUT), Outcome.FAILED, "cut short: the per-test bound"),
        (None, Outcome.FAILED, "not run: the suite failed before the test"),
    ],
    ids=["pass", "fail", "fail-silently", "cut-short", "never-started"],
)
def test_outcomes_from_the_binarys_report(run: TestRun | None, outcome: Outcome, reason: str) -> None:
    result = judge(
        TEST, run, not_run_reason="the suite failed before the test", cut_reason="cut short: the per-test bound"
    )

    assert (result.outcome, result.reason) == (outcome, reason)


@pytest.mark.usefixtures("without_rules")
def test_a_test_the_suite_skips_is_not_applicable_with_the_suites_words() -> None:
    skipped = _run(Status.SKIP, ("    istio_test.go:40: Istio not installed\n",))

    result = judge(TEST, skipped, not_run_reason="", cut_reason="")

    assert result.outcome is Outcome.NOT_APPLICABLE
    assert result.reason == "skipped by the suite: Istio not installed (istio_test.go:40)"


@pytest.mark.usefixtures("with_rule")
def test_a_failure_with_the_listed_evidence_is_environmental() -> None:
    result = judge(TEST, _run(Status.FAIL, TIMEOUT), not_run_reason="", cut_reason="")

    assert result.outcome is Outcome.NOT_APPLICABLE
    assert result.reason == "environment: fake kubelet: restarted pods never come back"
    assert result.seconds == 12.5


@pytest.mark.usefixtures("with_rule")
def test_a_failure_without_the_evidence_stays_a_failure() -> None:
    other = ("    then.go:12: expected 2 replicas, got 3\n",)

    result = judge(TEST, _run(Status.FAIL, other), not_run_reason="", cut_reason="")

    assert result.outcome is Outcome.FAILED
    assert result.reason == "expected 2 replicas, got 3 (then.go:12)"


@pytest.mark.usefixtures("with_rule")
def test_a_pass_of_a_test_listed_as_environmental_is_flagged_for_re_measuring() -> None:
    result = judge(TEST, _run(Status.PASS), not_run_reason="", cut_reason="")

    assert result.outcome is Outcome.PASSED
    assert "listed as environment: fake kubelet in applicability.py, but passed" in result.reason


def _results(*outcomes: Outcome) -> list[TestResult]:
    return [TestResult(test=TestId("Canary", f"Test{i}"), outcome=outcome) for i, outcome in enumerate(outcomes)]


@pytest.mark.parametrize(
    ("outcomes", "rate"),
    [
        ((Outcome.PASSED, Outcome.PASSED, Outcome.FAILED, Outcome.NOT_APPLICABLE), "66% (2/3)"),
        ((Outcome.PASSED,), "100% (1/1)"),
        ((Outcome.FAILED,), "0% (0/1)"),
        ((Outcome.NOT_APPLICABLE,), "—"),
        ((), "—"),
    ],
)
def test_the_pass_rate_counts_only_applicable_tests_and_never_rounds_up_to_all(
    outcomes: tuple[Outcome, ...], rate: str
) -> None:
    assert pass_rate(_results(*outcomes)) == rate


def test_199_of_200_is_not_reported_as_everything() -> None:
    assert pass_rate(_results(*[Outcome.PASSED] * 199, Outcome.FAILED)) == "99% (199/200)"
