"""The results block of docs/conformance.md: rendered from measurements, read back, merged per controller and suite."""

from __future__ import annotations

from tools.conformance.catalog import TestId
from tools.conformance.report import BEGIN, END, merge, parse, render, update_document
from tools.conformance.results import Measurement, Outcome, TestResult


def _result(test: str, outcome: Outcome, reason: str = "") -> TestResult:
    return TestResult(test=TestId.parse(test), outcome=outcome, reason=reason)


ARGO = Measurement(
    controller="argo",
    description="Argo Rollouts v1.10.1 (rollouts-controller)",
    date="2026-12-07 06:45",
    seconds=3725.0,
    results=(
        _result("Functional/TestControllerMetrics", Outcome.PASSED),
        _result("Functional/TestRolloutRestart", Outcome.FAILED, "timeout after 1m30s | waiting (when.go:555)"),
        _result("Canary/TestCanaryScaleDownOnAbort", Outcome.PASSED),
        _result("Analysis/TestMultipleAnalysis", Outcome.NOT_APPLICABLE, "needs the internet: api.github.com"),
    ),
    suite_seconds={"Functional": 1800.0, "Canary": 1200.0, "Analysis": 700.0},
)
OURS = Measurement(
    controller="ours",
    description="rollouts controller --api-group argoproj.io at abc1234",
    date="2026-12-08 10:00",
    seconds=120.0,
    results=(
        _result("Functional/TestControllerMetrics", Outcome.FAILED, "not run: the controller did not start"),
        _result("Canary/TestCanaryScaleDownOnAbort", Outcome.FAILED, "not run: the controller did not start"),
    ),
    note="the controller did not start: exit code 2",
    suite_seconds={"Functional": 60.0},
)


def test_the_block_sums_up_each_controller_with_its_applicable_pass_rate() -> None:
    block = render([ARGO])

    assert block.startswith(BEGIN + "\n")
    assert block.endswith(END + "\n")
    # 2 passed of 3 applicable (the n/a test is outside the denominator).
    assert "| argo | Argo Rollouts v1.10.1 (rollouts-controller) | 2026-12-07 06:45 | 2 | 1 | 1 | 66% (2/3) |" in block
    assert "| 1 h 02 min 05 s |" in block
    assert "| Functional | 1 | 1 | 0 | 50% (1/2) | 30 min 00 s |" in block
    assert "| Analysis | 0 | 0 | 1 | — | 11 min 40 s |" in block


def test_suites_and_tests_are_listed_in_run_order_with_escaped_reasons() -> None:
    block = render([ARGO])
    rows = [line for line in block.splitlines() if line.startswith("| Functional | Test") or "| Test" in line]

    assert [row.split(" | ")[1] for row in rows] == [
        "TestControllerMetrics",
        "TestRolloutRestart",
        "TestCanaryScaleDownOnAbort",
        "TestMultipleAnalysis",
    ]
    assert "timeout after 1m30s \\| waiting (when.go:555)" in block


def test_two_controllers_side_by_side_with_a_dash_where_one_did_not_measure() -> None:
    block = render([OURS, ARGO])  # argo's column first whatever the order given

    assert "| suite | test | argo | argo: reason | ours | ours: reason |" in block
    restart = "| Functional | TestRolloutRestart | failed | timeout after 1m30s \\| waiting (when.go:555) | — |  |"
    assert restart in block
    assert "| Analysis | 0 | 0 | 1 | — | 11 min 40 s | — | — | — | — | — |" in block
    assert "- **ours**: the controller did not start: exit code 2" in block


def test_a_rendered_block_reads_back_as_the_same_measurements() -> None:
    parsed = parse("# Conformance\n\nprose\n\n" + render([ARGO, OURS]))

    assert [m.controller for m in parsed] == ["argo", "ours"]
    argo, ours = parsed
    assert argo.description == ARGO.description
    assert argo.date == ARGO.date
    assert argo.seconds == ARGO.seconds
    assert argo.suite_seconds == ARGO.suite_seconds
    assert sorted(argo.results, key=lambda r: r.test) == sorted(ARGO.results, key=lambda r: r.test)
    assert ours.note == OURS.note
    assert render(parsed) == render([ARGO, OURS])


def test_a_document_without_a_block_has_no_measurements() -> None:
    assert parse("# Conformance\n\nnothing measured yet\n") == []


def test_updating_keeps_the_prose_and_the_other_controllers_column() -> None:
    document = "# Conformance\n\nHow to run it.\n\n" + render([ARGO]) + "\nAfter the block.\n"

    updated = update_document(document, [OURS])

    assert updated.startswith("# Conformance\n\nHow to run it.\n\n" + BEGIN)
    assert updated.endswith(END + "\n\nAfter the block.\n")
    assert [m.controller for m in parse(updated)] == ["argo", "ours"]
    assert update_document(updated, [OURS]) == updated  # idempotent


def test_a_first_update_appends_the_block_after_the_prose() -> None:
    updated = update_document("# Conformance\n", [ARGO])

    assert updated.startswith("# Conformance\n\n" + BEGIN)


def test_measuring_a_suite_again_replaces_only_its_rows_and_says_what_was_carried_over() -> None:
    canary_again = Measurement(
        controller="argo",
        description=ARGO.description,
        date="2026-12-08 09:00",
        seconds=600.0,
        results=(_result("Canary/TestCanaryScaleDownOnAbort", Outcome.FAILED, "flaked"),),
        suite_seconds={"Canary": 590.0},
    )

    (merged,) = merge([ARGO], [canary_again])

    by_test = {str(r.test): r for r in merged.results}
    assert by_test["Canary/TestCanaryScaleDownOnAbort"].reason == "flaked"
    assert by_test["Functional/TestRolloutRestart"].outcome is Outcome.FAILED  # carried over
    assert merged.suite_seconds == {"Functional": 1800.0, "Analysis": 700.0, "Canary": 590.0}
    assert merged.seconds == 600.0 + 1800.0 + 700.0
    assert merged.date == "2026-12-08 09:00"
    carried = "3 test(s) of Functional, Analysis carried over from an earlier run (measured 2026-12-07 06:45)"
    assert merged.note == carried


def test_measuring_one_test_again_keeps_the_rest_of_its_suite_and_adds_up_the_suites_time() -> None:
    restart_again = Measurement(
        controller="argo",
        description="Argo Rollouts v1.10.2",
        date="2026-12-08 09:00",
        seconds=100.0,
        results=(_result("Functional/TestRolloutRestart", Outcome.PASSED),),
        suite_seconds={"Functional": 90.0},
    )

    (merged,) = merge([ARGO], [restart_again])

    by_test = {str(r.test): r.outcome for r in merged.results}
    assert by_test["Functional/TestRolloutRestart"] is Outcome.PASSED
    assert by_test["Functional/TestControllerMetrics"] is Outcome.PASSED  # carried over
    assert len(merged.results) == len(ARGO.results)
    assert merged.suite_seconds["Functional"] == 1890.0
    assert "(measured 2026-12-07 06:45 with Argo Rollouts v1.10.1 (rollouts-controller))" in merged.note


def test_measuring_every_suite_again_replaces_the_whole_column() -> None:
    (merged,) = merge([ARGO], [ARGO])

    assert merged == ARGO
