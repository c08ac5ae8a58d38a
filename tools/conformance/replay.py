"""Judge a finished run again from its files: the applicability table re-applied to the saved e2e output.

A run keeps the binary's raw events (``e2e-<Suite>-<n>.jsonl``) and its judged results (``results.json``) in its
work directory. When ``applicability.py`` changes (an entry added from a measured failure, or a stale one removed),
:func:`rejudge` gives the results that run would have had, without running the hours-long suite again: every test
that ran is judged again from its own output (its first run: reruns are not read, and a test that passed on a
rerun keeps that result); a test that never started keeps its recorded reason (or becomes not applicable when the
table now says not to run it). Reads files, runs nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tools.conformance import applicability
from tools.conformance.catalog import TestId, suite_named
from tools.conformance.events import Invocation, Status, TestRun, parse_event
from tools.conformance.results import FLAKY, Measurement, Outcome, TestResult, judge, not_applicable

__all__ = ["load", "rejudge", "replay_events"]

_EVENTS_FILE = re.compile(r"^e2e-(\w+)-(\d+)\.jsonl$")


def replay_events(suite: str, lines: Iterable[str]) -> dict[TestId, TestRun]:
    """The test runs recorded in one invocation's events, exactly as the live run saw them."""
    invocation = Invocation(suite=suite_named(suite))
    for line in lines:
        event = parse_event(line)
        if event is not None:
            invocation.feed(event)
    return invocation.runs()


def rejudge(recorded: dict[str, Any], runs: dict[TestId, TestRun]) -> Measurement:
    """A measurement from ``results.json`` (as parsed) with every test in ``runs`` judged again."""
    results: list[TestResult] = []
    for row in recorded["results"]:
        test = TestId.parse(row["test"])
        before = TestResult(test=test, outcome=Outcome(row["outcome"]), reason=row["reason"], seconds=row["seconds"])
        run = runs.get(test)
        unrun = applicability.not_run([test]).get(test)
        if unrun is not None:
            results.append(not_applicable(test, unrun))  # measured then, but not run (nor counted) now
            continue
        if before.reason.startswith(FLAKY):
            results.append(before)  # passed on a rerun: its first failure is not what decides it
            continue
        if run is None:
            results.append(before)
            continue
        # Only an unfinished test needs what the events do not hold: why it was cut short, as recorded then.
        cut = before.reason if before.outcome is Outcome.FAILED else "cut short (the recorded reason was not kept)"
        after = judge(test, run, not_run_reason="", cut_reason=cut if run.status is Status.UNFINISHED else "")
        results.append(after)
    return Measurement(
        controller=recorded["controller"],
        description=recorded["description"],
        date=recorded["date"],
        seconds=float(recorded["seconds"]),
        results=tuple(results),
        note=recorded.get("note", ""),
        suite_seconds={name: float(seconds) for name, seconds in recorded.get("suite_seconds", {}).items()},
    )


def load(work: Path) -> Measurement:
    """Re-judge the run whose files are in ``work`` (a controller's directory, holding ``results.json``)."""
    recorded = json.loads((work / "results.json").read_text())
    files = []
    for path in work.glob("e2e-*.jsonl"):
        match = _EVENTS_FILE.match(path.name)
        if match:
            files.append((match.group(1), int(match.group(2)), path))
    runs: dict[TestId, TestRun] = {}
    for suite, _, path in sorted(files, key=lambda item: (item[0], item[1])):
        with path.open(errors="replace") as lines:
            runs.update(replay_events(suite, lines))
    return rejudge(recorded, runs)
