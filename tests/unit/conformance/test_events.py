"""test2json events of one e2e invocation -> per-test runs, and the one line that says why a test failed."""

from __future__ import annotations

import json

import pytest

from tools.conformance.catalog import TestId, suite_named
from tools.conformance.events import Invocation, Status, exit_summary, failure_summary, parse_event

SUITE = "TestBlueGreenSuite"


def _events(*rows: tuple[str, str | None, str | None]) -> list[str]:
    """(action, test, output) rows as test2json lines, with the fields Go's test2json -t writes."""
    lines = []
    for action, test, output in rows:
        event: dict[str, object] = {"Time": "2026-12-07T06:21:03.906Z", "Action": action, "Package": "e2e"}
        if test is not None:
            event["Test"] = test
        if output is not None:
            event["Output"] = output
        if action in {"pass", "fail", "skip"}:
            event["Elapsed"] = 91.51
        lines.append(json.dumps(event))
    return lines


def _feed(lines: list[str]) -> tuple[Invocation, list[str]]:
    invocation = Invocation(suite=suite_named("BlueGreen"))
    finished = []
    for line in lines:
        event = parse_event(line)
        assert event is not None
        run = invocation.feed(event)
        if run is not None:
            finished.append(f"{run.test.name}:{run.status}")
    return invocation, finished


def test_a_suite_invocation_gives_each_test_its_status_time_and_own_output() -> None:
    passing, failing = f"{SUITE}/TestBlueGreenPreviewReplicaCount", f"{SUITE}/TestBlueGreenProgressDeadline"
    lines = _events(
        ("start", None, None),
        ("run", SUITE, None),
        ("output", SUITE, "=== RUN   TestBlueGreenSuite\n"),
        ("run", passing, None),
        ("output", passing, 'time="2026-12-07T06:21:03Z" level=info msg="Deleting e2e-test-name=X"\n'),
        ("pass", passing, None),
        ("run", failing, None),
        ("output", failing, "    when.go:555: timeout after 1m30s waiting for condition status=Degraded\n"),
        ("fail", failing, None),
        ("fail", SUITE, None),
        ("output", None, "FAIL\n"),
        ("fail", None, None),
    )

    invocation, finished = _feed(lines)

    assert finished == ["TestBlueGreenPreviewReplicaCount:pass", "TestBlueGreenProgressDeadline:fail"]
    runs = invocation.runs()
    assert list(runs) == [
        TestId("BlueGreen", "TestBlueGreenPreviewReplicaCount"),
        TestId("BlueGreen", "TestBlueGreenProgressDeadline"),
    ]
    failed = runs[TestId("BlueGreen", "TestBlueGreenProgressDeadline")]
    assert failed.seconds == pytest.approx(91.51)
    assert failed.output == ("    when.go:555: timeout after 1m30s waiting for condition status=Degraded\n",)
    assert invocation.suite_status is Status.FAIL
    assert invocation.package_output == ["FAIL\n"]
    assert invocation.running is None


def test_a_test_without_a_final_event_is_unfinished_and_still_running() -> None:
    cut = f"{SUITE}/TestEphemeralMetadata"
    invocation, finished = _feed(_events(("run", SUITE, None), ("run", cut, None), ("output", cut, "waiting\n")))

    assert finished == []
    assert invocation.running == TestId("BlueGreen", "TestEphemeralMetadata")
    assert invocation.runs()[TestId("BlueGreen", "TestEphemeralMetadata")].status is Status.UNFINISHED


def test_a_parallel_test_is_running_again_once_it_continues() -> None:
    parallel, sequential = f"{SUITE}/TestBlueGreenPreviewReplicaCount", f"{SUITE}/TestEphemeralMetadata"
    rows: list[tuple[str, str | None, str | None]] = [("run", SUITE, None), ("run", parallel, None)]
    invocation, _ = _feed(_events(*rows, ("pause", parallel, None)))
    assert invocation.running is None

    invocation, finished = _feed(
        _events(*rows, ("pause", parallel, None), ("run", sequential, None), ("pass", sequential, None))
        + _events(("cont", parallel, None))
    )

    assert finished == ["TestEphemeralMetadata:pass"]
    assert invocation.running == TestId("BlueGreen", "TestBlueGreenPreviewReplicaCount")


def test_events_of_other_suites_and_subtests_do_not_end_a_test() -> None:
    test = f"{SUITE}/TestEphemeralMetadata"
    invocation, finished = _feed(
        _events(
            ("run", "TestCanarySuite/TestOther", None),
            ("pass", "TestCanarySuite/TestOther", None),
            ("run", test, None),
            ("pass", f"{test}/step", None),
        )
    )

    assert finished == []
    assert list(invocation.runs()) == [TestId("BlueGreen", "TestEphemeralMetadata")]


def test_a_skipped_suite_is_recorded_with_its_output() -> None:
    invocation, _ = _feed(
        _events(
            ("run", "TestBlueGreenSuite", None),
            ("output", "TestBlueGreenSuite", "    e2e_suite.go:144: no Istio\n"),
            ("skip", "TestBlueGreenSuite", None),
        )
    )

    assert invocation.suite_status is Status.SKIP
    assert failure_summary(invocation.suite_output) == "no Istio (e2e_suite.go:144)"


@pytest.mark.parametrize("line", ["", "FAIL\te2e\t1.2s", "{not json", '{"Test": "no action"}', "[1, 2]"])
def test_anything_but_an_event_is_ignored(line: str) -> None:
    assert parse_event(line) is None


# ----------------------------------------------------------------------------------------------------------------
# Failure lines, in the three shapes the e2e fixtures fail in (snippets written for these tests).
FIXTURE_TIMEOUT = [
    'time="2026-12-07T06:21:07Z" level=info msg="Waiting for condition: status=Degraded" rollout=bg\n',
    "    when.go:555: timeout after 1m30s waiting for condition status=Degraded\n",
    "Name:            bg\n",
    'time="2026-12-07T06:22:40Z" level=error msg="later noise" rollout=bg\n',
]
TESTIFY_ASSERTION = [
    'time="2026-12-07T06:30:00Z" level=info msg="Condition met" rollout=canary\n',
    "    canary_test.go:412: \n",
    "        \tError Trace:\t/src/test/e2e/canary_test.go:412\n",
    "        \tError:      \tNot equal: \n",
    "        \t            \texpected: 2\n",
    "        \t            \tactual  : 3\n",
    "        \tTest:       \tTestCanarySuite/TestCanaryScaleDownDelay\n",
    "        \tMessages:   \tcanary replicas\n",
]
LOGRUS_EXPECTATION = [
    'time="2026-12-07T06:40:00Z" level=info msg="Waiting for condition: status=Paused" rollout=ro\n',
    'time="2026-12-07T06:40:31Z" level=error msg="AnalysisRun expectation \'phase=Failed\' failed" rollout=ro\n',
    "    then.go:290: \n",
]
PANIC = ["panic: runtime error: invalid memory address or nil pointer dereference [recovered]\n", "goroutine 7\n"]


@pytest.mark.parametrize(
    ("output", "summary"),
    [
        (FIXTURE_TIMEOUT, "timeout after 1m30s waiting for condition status=Degraded (when.go:555)"),
        (TESTIFY_ASSERTION, "Not equal: expected: 2 actual : 3 (canary replicas)"),
        (LOGRUS_EXPECTATION, "AnalysisRun expectation 'phase=Failed' failed"),
        (PANIC, "panic: runtime error: invalid memory address or nil pointer dereference [recovered]"),
        (["=== RUN   TestX\n", "--- FAIL: TestX (0.00s)\n"], None),
    ],
    ids=["fixture-fatal", "testify", "logrus-error", "panic", "no-message"],
)
def test_the_first_failure_message_is_the_reason(output: list[str], summary: str | None) -> None:
    assert failure_summary(output) == summary


def test_output_chunks_are_joined_before_reading_lines() -> None:
    chunks = ["    when.go:555: timeout after ", "1m30s waiting for condition Healthy\n"]

    assert failure_summary(chunks) == "timeout after 1m30s waiting for condition Healthy (when.go:555)"


def test_a_long_reason_is_cut_to_one_short_line() -> None:
    long = "    when.go:1: " + "x" * 500 + "\n"

    reason = failure_summary([long])

    assert reason is not None
    assert len(reason) == 240
    assert reason.endswith("…")


def test_the_binarys_panic_outside_tests_explains_its_exit() -> None:
    output = ["panic: test timed out after 12m0s\n", "\trunning tests:\n", "\t\tTestCanarySuite/TestX (10m0s)\n"]

    assert exit_summary(output) == "panic: test timed out after 12m0s"
    assert exit_summary(["FAIL\n"]) is None
