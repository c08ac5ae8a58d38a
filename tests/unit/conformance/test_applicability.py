"""The applicability table: every entry explained, evidence that compiles, and the two kinds of entry kept apart."""

from __future__ import annotations

import re

import pytest

from tools.conformance import applicability
from tools.conformance.applicability import (
    RULES,
    Category,
    Rule,
    environmental_failure,
    listed_environmental,
    not_run,
)
from tools.conformance.catalog import CI_SUBSET, DEFAULT_SUITES, TestId

INTERNET = Rule(
    test=TestId("Analysis", "TestMultipleAnalysis"),
    category=Category.INTERNET,
    reason="queries api.github.com",
    justification="web metrics",
)
KUBELET = Rule(
    test=TestId("Functional", "TestRolloutRestart"),
    category=Category.FAKE_KUBELET,
    reason="restarted pods never come back",
    justification="KWOK",
    evidence=r"waiting for condition Healthy",
)


@pytest.mark.parametrize("rule", RULES, ids=[str(rule.test) for rule in RULES])
def test_every_entry_says_why_for_the_report_and_for_reviewers(rule: Rule) -> None:
    assert rule.test.suite in DEFAULT_SUITES
    assert rule.reason.strip()
    assert "|" not in rule.reason  # one table cell
    assert len(rule.justification) > len(rule.reason)
    if rule.evidence is not None:
        re.compile(rule.evidence)
        assert rule.evidence.strip(), "empty evidence would match every failure"


def test_the_table_lists_each_test_once() -> None:
    tests = [rule.test for rule in RULES]

    assert len(tests) == len(set(tests))


def test_the_ci_subset_holds_no_test_the_table_excuses() -> None:
    assert not {rule.test for rule in RULES} & set(CI_SUBSET)


def test_tests_that_need_the_internet_are_not_run_environmental_ones_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(applicability, "RULES", (INTERNET, KUBELET))
    other = TestId("Canary", "TestCanaryScaleDownOnAbort")

    assert not_run([INTERNET.test, KUBELET.test, other]) == {INTERNET.test: INTERNET}


def test_an_environmental_failure_needs_its_evidence_in_the_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(applicability, "RULES", (INTERNET, KUBELET))

    assert environmental_failure(KUBELET.test, "x\ntimeout waiting for condition Healthy\n") is KUBELET
    assert environmental_failure(KUBELET.test, "expected 2 replicas, got 3") is None
    assert environmental_failure(INTERNET.test, "anything") is None  # not run at all, never judged by output
    assert listed_environmental(KUBELET.test) is KUBELET
    assert listed_environmental(INTERNET.test) is None


def test_the_report_shows_the_category_and_the_reason() -> None:
    assert KUBELET.describe() == "environment: fake kubelet: restarted pods never come back"


def test_tests_that_use_experiments_are_deferred_and_not_run() -> None:
    experiment = TestId.parse("Experiment/TestRolloutWithExperimentAndAnalysis")
    step = TestId.parse("Istio/TestIstioHostSplitExperimentStep")
    other = TestId.parse("Istio/TestIstioHostSplit")
    deferred = not_run([experiment, step, other])
    assert set(deferred) == {experiment, step}
    assert all(rule.category is Category.DEFERRED for rule in deferred.values())
