"""The e2e test list is read from the suite's Go source: testify's rules, in testify's order."""

from __future__ import annotations

import pytest

from tools.conformance.catalog import CI_SUBSET, DEFAULT_SUITES, SUITES, TestId, discover, expected_tests, suite_named

# Shaped like Argo's test/e2e/*_test.go files (written for these tests): one suite function per suite, methods on the
# suite struct, helpers and methods of other suites around them.
CANARY_SOURCE = """
//go:build e2e

package e2e

type CanarySuite struct {
	fixtures.E2ESuite
}

func TestCanarySuite(t *testing.T) {
	suite.Run(t, new(CanarySuite))
}

func (s *CanarySuite) SetupSuite() {
	s.E2ESuite.SetupSuite()
}

func (s *CanarySuite) TestRolloutScalingWhenPaused() {
}

func (s *CanarySuite) TestCanaryProgressDeadlineExceeded() {
}

func (s *CanarySuite) helperNotATest() {
}

func (s *FunctionalSuite) TestDefinedInAnotherFile() {
}
"""
HEADER_SOURCE = """
func TestHeaderRoutingSuite(t *testing.T) {
	suite.Run(t, new(HeaderRouteSuite))
}

func (s *HeaderRouteSuite) TestIstioHostHeaderRoute() {
}
"""
FUNCTIONAL_SOURCE = """
func TestFunctionalSuite(t *testing.T) {
	suite.Run(t, new(FunctionalSuite))
}

func (s *FunctionalSuite) TestControllerMetrics() {
}
"""


def test_tests_are_the_suite_structs_test_methods_sorted_by_name() -> None:
    found = discover([CANARY_SOURCE, HEADER_SOURCE, FUNCTIONAL_SOURCE])

    assert found["TestCanarySuite"] == ("TestCanaryProgressDeadlineExceeded", "TestRolloutScalingWhenPaused")
    # The suite function's name and its struct's name need not match.
    assert found["TestHeaderRoutingSuite"] == ("TestIstioHostHeaderRoute",)
    # A method defined in another file still belongs to its struct's suite.
    assert found["TestFunctionalSuite"] == ("TestControllerMetrics", "TestDefinedInAnotherFile")


def test_expected_tests_keep_the_suite_order_and_refuse_a_missing_suite() -> None:
    found = discover([CANARY_SOURCE, HEADER_SOURCE])

    tests = expected_tests([suite_named("HeaderRouting"), suite_named("Canary")], found)

    assert [str(t) for t in tests] == [
        "HeaderRouting/TestIstioHostHeaderRoute",
        "Canary/TestCanaryProgressDeadlineExceeded",
        "Canary/TestRolloutScalingWhenPaused",
    ]
    with pytest.raises(ValueError, match="TestIstioSuite not found"):
        expected_tests([suite_named("Istio")], found)


@pytest.mark.parametrize("name", ["Canary", "canary", "TestCanarySuite", "CanarySuite"])
def test_suites_are_named_loosely(name: str) -> None:
    assert suite_named(name).function == "TestCanarySuite"


def test_an_unknown_suite_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known suites: Functional, Canary"):
        suite_named("AWS")


def test_every_suite_in_scope_runs_by_default_in_a_fixed_order() -> None:
    assert DEFAULT_SUITES == (
        "Functional",
        "Canary",
        "BlueGreen",
        "Analysis",
        "Rollback",
        "HeaderRouting",
        "MirrorRoute",
        "Istio",
        "Experiment",
    )
    assert tuple(s.name for s in SUITES) == DEFAULT_SUITES


def test_test_ids_parse_what_they_print() -> None:
    test = TestId.parse("Canary/TestCanaryScaleDownOnAbort")

    assert test == TestId(suite="Canary", name="TestCanaryScaleDownOnAbort")
    assert str(test) == "Canary/TestCanaryScaleDownOnAbort"
    with pytest.raises(ValueError, match="Suite/TestName"):
        TestId.parse("TestCanaryScaleDownOnAbort")


def test_the_ci_subset_is_of_known_suites_and_without_duplicates() -> None:
    assert len(set(CI_SUBSET)) == len(CI_SUBSET)
    assert {t.suite for t in CI_SUBSET} <= set(DEFAULT_SUITES)
