"""One e2e invocation's ``test2json`` events -> what happened to each test, and why a failed one failed. Pure.

The e2e binary runs with ``-test.v=test2json`` and its output goes through Go's ``test2json -t``, which turns it into
one JSON event per line: ``{"Action": "run"|"output"|"pass"|"fail"|"skip"|"pause"|"cont", "Test": ...}``.
Output that the binary writes outside Go's framing (the suite's logrus lines, on stderr) is attributed to the test
running at the time, so every test's output is its own and a failure reason can be read from it.

A test that started but has no final event was cut short: by our per-test watchdog, by ``-test.timeout`` or by the
binary dying. A test that never started did not run (suite setup failed, the binary died earlier, the run's bound).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from tools.conformance.catalog import Suite, TestId

__all__ = ["Invocation", "Status", "TestRun", "failure_summary", "parse_event"]


class Status(StrEnum):
    """How a test ended in one invocation, as the binary reported it (``UNFINISHED``: it never reported)."""

    PASS = "pass"  # noqa: S105 -- a test status, not a password
    FAIL = "fail"
    SKIP = "skip"
    UNFINISHED = "unfinished"


@dataclass(frozen=True)
class TestRun:
    __test__: ClassVar[bool] = False  # not a pytest test class, despite its name

    test: TestId
    status: Status
    seconds: float | None
    output: tuple[str, ...]


_FINAL = {"pass": Status.PASS, "fail": Status.FAIL, "skip": Status.SKIP}


def parse_event(line: str) -> dict[str, Any] | None:
    """One line of test2json output as an event, or None for anything else (a partial line, stray text)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("Action"), str) else None


@dataclass
class _Open:
    output: list[str] = field(default_factory=list)
    status: Status = Status.UNFINISHED
    seconds: float | None = None


@dataclass
class Invocation:
    """Accumulates the events of one run of the e2e binary over one suite."""

    suite: Suite
    _tests: dict[TestId, _Open] = field(default_factory=dict)
    _order: list[TestId] = field(default_factory=list)
    running: TestId | None = None
    suite_status: Status = Status.UNFINISHED
    suite_output: list[str] = field(default_factory=list)
    # Output outside any test (the binary's last words: "FAIL", a panic after the tests, build-time errors).
    package_output: list[str] = field(default_factory=list)

    def feed(self, event: Mapping[str, Any]) -> TestRun | None:
        """Take one event; return the test's result when this event finished a test of the suite."""
        action = event.get("Action")
        name = event.get("Test")
        if not isinstance(name, str) or not name:
            if action == "output":
                self.package_output.append(str(event.get("Output", "")))
            return None
        function, sep, method = name.partition("/")
        if function != self.suite.function:
            return None
        if not sep:
            self._feed_suite(action, event)
            return None
        test = TestId(suite=self.suite.name, name=method.split("/", 1)[0])
        current = self._tests.get(test)
        if current is None:
            current = self._tests[test] = _Open()
            self._order.append(test)
        if action in {"run", "cont"}:  # "cont": a parallel test (t.Parallel) resumes after the sequential ones
            self.running = test
        elif action == "pause" and self.running == test:
            self.running = None
        elif action == "output":
            current.output.append(str(event.get("Output", "")))
        elif action in _FINAL and "/" not in method:
            current.status = _FINAL[action]
            elapsed = event.get("Elapsed")
            current.seconds = float(elapsed) if isinstance(elapsed, int | float) else None
            if self.running == test:
                self.running = None
            return self._run(test)
        return None

    def _feed_suite(self, action: object, event: Mapping[str, Any]) -> None:
        if action == "output":
            self.suite_output.append(str(event.get("Output", "")))
        elif action in _FINAL:
            self.suite_status = _FINAL[str(action)]
            self.running = None

    def _run(self, test: TestId) -> TestRun:
        state = self._tests[test]
        return TestRun(test=test, status=state.status, seconds=state.seconds, output=tuple(state.output))

    def runs(self) -> dict[TestId, TestRun]:
        """Every test that started, finished or not, in the order they started."""
        return {test: self._run(test) for test in self._order}


# --------------------------------------------------------------------------------------------------------------
# Why a test failed, in one line.
#
# The e2e fixtures fail in three shapes: t.Fatalf from a fixture ("    when.go:555: timeout after 1m30s waiting for
# condition Healthy"), a testify assertion (a "    canary_test.go:95: " line, then "Error Trace:", "Error:" and
# "Messages:" lines), or a logrus error followed by FailNow ('level=error msg="Rollout expectation \'x\' failed"').
# The first of these in the test's output is the cause; later ones are usually consequences (and the fixture's
# after-test dump of the Rollout follows all of them).
_GO_LINE = re.compile(r"^ {4,}(\w+\.go:\d+): (\S.*)$")
_GO_LINE_EMPTY = re.compile(r"^ {4,}\w+\.go:\d+: ?$")  # testify's failures start with an empty t.Errorf line
_TESTIFY_FIELD = re.compile(r"^\s+(Error Trace|Error|Test|Messages):\s*(.*)$")
_TESTIFY_CONTINUATION = re.compile(r"^\s+\t\s+(\S.*)$")
_LOGRUS_ERROR = re.compile(r'level=(?:error|fatal|panic) msg="((?:[^"\\]|\\.)*)"')
_PANIC = re.compile(r"^(panic: .*)$")
_MAX_REASON = 240


def _one_line(text: str) -> str:
    text = " ".join(text.replace("\\n", " ").replace('\\"', '"').split())
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


def _lines(output: Iterable[str]) -> list[str]:
    return "".join(output).splitlines()


def failure_summary(output: Iterable[str]) -> str | None:
    """The first failure message in a test's output, on one line; None when the output holds none."""
    lines = _lines(output)
    for index, line in enumerate(lines):
        go_line = _GO_LINE.match(line)
        if go_line:
            return _one_line(f"{go_line.group(2)} ({go_line.group(1)})")
        if _GO_LINE_EMPTY.match(line):
            testify = _testify_error(lines[index + 1 :])
            if testify:
                return testify
            continue
        logrus = _LOGRUS_ERROR.search(line)
        if logrus:
            return _one_line(logrus.group(1))
        panic = _PANIC.match(line)
        if panic:
            return _one_line(panic.group(1))
    return None


def _testify_error(lines: list[str]) -> str | None:
    """The ``Error:`` (and ``Messages:``) of a testify failure block starting at ``lines[0]``."""
    error: list[str] = []
    messages = ""
    current = ""
    for line in lines[:40]:
        field_match = _TESTIFY_FIELD.match(line)
        if field_match:
            current = field_match.group(1)
            if current == "Error":
                error.append(field_match.group(2))
            elif current == "Messages":
                messages = field_match.group(2)
            continue
        continuation = _TESTIFY_CONTINUATION.match(line)
        if continuation and current == "Error":
            error.append(continuation.group(1))
            continue
        if not continuation:
            break
    if not error:
        return None
    summary = " ".join(error)
    return _one_line(f"{summary} ({messages})" if messages else summary)


def exit_summary(lines: Iterable[str]) -> str | None:
    """Why the binary stopped, from output outside the tests: a panic or ``-test.timeout``, else None."""
    for line in _lines(lines):
        panic = _PANIC.match(line)
        if panic:
            return _one_line(panic.group(1))
    return None
