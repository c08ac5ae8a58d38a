"""The results section of ``docs/conformance.md``: written from measurements, read back to merge with new ones. Pure.

The file keeps a hand-written top (usage, method) and a generated block between two markers. Rewriting the block
keeps what was not measured this time: the columns of other controllers (``--against ours`` adds our column next to
the Argo column measured earlier; ``--against both`` writes both from one invocation), and, within a controller's
column, the tests not run this time (``--suite Canary`` replaces the Canary rows only, ``--run X`` the rows of the
tests it matched; a note says what was carried over and when it was measured).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from tools.conformance.catalog import SUITES, TestId
from tools.conformance.results import Measurement, Outcome, TestResult, pass_rate

__all__ = ["BEGIN", "END", "merge", "parse", "render", "update_document"]

BEGIN = "<!-- BEGIN conformance results: written by `python -m tools.conformance --report`; do not edit by hand -->"
END = "<!-- END conformance results -->"
_ORDER = ("argo", "ours")
_NOT_MEASURED = "—"
_SUITE_COLUMNS = ("passed", "failed", "n/a", "pass rate", "time")


def _controller_order(names: Iterable[str]) -> list[str]:
    return sorted(set(names), key=lambda name: (_ORDER.index(name) if name in _ORDER else len(_ORDER), name))


def _duration(seconds: float) -> str:
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    return f"{minutes} min {secs:02d} s"


def _seconds(text: str) -> float:
    match = re.fullmatch(r"(?:(\d+) h )?(\d+) min (\d+) s", text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    hours, minutes, secs = (int(group or 0) for group in match.groups())
    return float(hours * 3600 + minutes * 60 + secs)


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _cells(row: str) -> list[str]:
    """The cells of a markdown table row, with ``\\|`` and ``\\\\`` unescaped."""
    body = row.strip()
    body = body.removeprefix("|").removesuffix("|")
    cells: list[str] = []
    current: list[str] = []
    escaped = False
    for char in body:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            cells.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    cells.append("".join(current).strip())
    return cells


def _suite_rank(suite: str) -> int:
    names = [known.name for known in SUITES]
    return names.index(suite) if suite in names else len(names)


# ----------------------------------------------------------------------------------------------------------------
def render(measurements: Sequence[Measurement]) -> str:
    """The generated block, markers included."""
    controllers = _controller_order(m.controller for m in measurements)
    by_controller = {m.controller: m for m in measurements}
    results: dict[str, dict[TestId, TestResult]] = {
        name: {r.test: r for r in by_controller[name].results} for name in controllers
    }
    tests = sorted({test for table in results.values() for test in table}, key=lambda t: (_suite_rank(t.suite), t))
    lines = [BEGIN, "## Results", ""]
    lines += [
        "| controller | what ran | measured (UTC) | passed | failed | n/a | pass rate (applicable) | wall time |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in controllers:
        m = by_controller[name]
        counts = m.counts()
        lines.append(
            f"| {name} | {_cell(m.description)} | {m.date} | {counts[Outcome.PASSED]} | {counts[Outcome.FAILED]} "
            f"| {counts[Outcome.NOT_APPLICABLE]} | {pass_rate(m.results)} | {_duration(m.seconds)} |"
        )
    notes = [(name, by_controller[name].note) for name in controllers if by_controller[name].note]
    if notes:
        lines += ["", "Notes:"]
        lines += [f"- **{name}**: {note}" for name, note in notes]
    lines += ["", "### Per suite", ""]
    header = ["suite"] + [f"{name} {kind}" for name in controllers for kind in _SUITE_COLUMNS]
    lines += ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for suite in sorted({t.suite for t in tests}, key=_suite_rank):
        row = [suite]
        for name in controllers:
            suite_results = [r for t, r in results[name].items() if t.suite == suite]
            if not suite_results:
                row += [_NOT_MEASURED] * len(_SUITE_COLUMNS)
                continue
            outcomes = [r.outcome for r in suite_results]
            seconds = by_controller[name].suite_seconds.get(suite)
            row += [str(outcomes.count(kind)) for kind in Outcome]
            row += [pass_rate(suite_results), _duration(seconds) if seconds is not None else _NOT_MEASURED]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "### Per test", ""]
    header = ["suite", "test"] + [f"{name}{extra}" for name in controllers for extra in ("", ": reason")]
    lines += ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for test in tests:
        row = [test.suite, test.name]
        for name in controllers:
            result = results[name].get(test)
            row += [result.outcome.value, _cell(result.reason)] if result else [_NOT_MEASURED, ""]
        lines.append("| " + " | ".join(row) + " |")
    lines += [END]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------------------------
def parse(document: str) -> list[Measurement]:
    """The measurements held by a document's generated block (none when it has no block)."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start:
        return []
    rows = [line for line in document[start:end].splitlines() if line.startswith("|")]
    summaries: dict[str, dict[str, str]] = {}
    notes: dict[str, str] = {}
    for line in document[start:end].splitlines():
        note = re.match(r"^- \*\*(\w+)\*\*: (.*)$", line)
        if note:
            notes[note.group(1)] = note.group(2)
    per_test: dict[str, list[TestResult]] = {}
    suite_seconds: dict[str, dict[str, float]] = {}
    header: list[str] = []
    for row in rows:
        cells = _cells(row)
        if set("".join(cells)) <= {"-", " "}:
            continue
        if cells[0] in {"controller", "suite"}:
            header = cells
            continue
        if header and header[0] == "controller":
            summaries[cells[0]] = dict(zip(header, cells, strict=False))
        elif header[:1] == ["suite"] and header[1:2] != ["test"]:
            suite = cells[0]
            for column, name in enumerate(header):
                if name.endswith(" time") and column < len(cells) and cells[column] != _NOT_MEASURED:
                    suite_seconds.setdefault(name.removesuffix(" time"), {})[suite] = _seconds(cells[column])
        elif header[:2] == ["suite", "test"]:
            test = TestId(suite=cells[0], name=cells[1])
            for column, name in enumerate(header):
                if column < 2 or name.endswith(": reason") or cells[column] == _NOT_MEASURED:
                    continue
                reason = cells[column + 1] if column + 1 < len(cells) else ""
                per_test.setdefault(name, []).append(
                    TestResult(test=test, outcome=Outcome(cells[column]), reason=reason)
                )
    measurements = []
    for name, summary in summaries.items():
        measurements.append(
            Measurement(
                controller=name,
                description=summary["what ran"],
                date=summary["measured (UTC)"],
                seconds=_seconds(summary["wall time"]),
                results=tuple(per_test.get(name, ())),
                note=notes.get(name, ""),
                suite_seconds=suite_seconds.get(name, {}),
            )
        )
    return measurements


def merge(existing: Iterable[Measurement], new: Iterable[Measurement]) -> list[Measurement]:
    """``existing`` updated by ``new``: per controller, the tests measured anew replace the same tests."""
    merged: dict[str, Measurement] = {m.controller: m for m in existing}
    for measurement in new:
        earlier = merged.get(measurement.controller)
        merged[measurement.controller] = measurement if earlier is None else _carry_over(earlier, measurement)
    return [merged[name] for name in _controller_order(merged)]


def _carry_over(earlier: Measurement, new: Measurement) -> Measurement:
    """``new`` plus the tests of ``earlier`` that ``new`` did not measure (with a note saying so).

    A suite's time adds up when only some of its tests were measured again, and is replaced when all were.
    """
    measured = {result.test for result in new.results}
    kept = [result for result in earlier.results if result.test not in measured]
    if not kept:
        return new
    partly = {result.test.suite for result in kept}
    kept_suites = sorted(partly, key=_suite_rank)
    source = f"measured {earlier.date}"
    if earlier.description != new.description:
        source += f" with {earlier.description}"
    notes = [new.note] if new.note else []
    what = f"{len(kept)} test(s) of {', '.join(kept_suites)}"
    notes.append(f"{what} carried over from an earlier run ({source})")
    suite_seconds = {suite: seconds for suite, seconds in earlier.suite_seconds.items() if suite in partly}
    for suite, seconds in new.suite_seconds.items():
        suite_seconds[suite] = suite_seconds.get(suite, 0.0) + seconds
    carried = sum(seconds for suite, seconds in earlier.suite_seconds.items() if suite in partly)
    return Measurement(
        controller=new.controller,
        description=new.description,
        date=new.date,
        seconds=new.seconds + carried,
        results=tuple(kept) + new.results,
        note="; ".join(notes),
        suite_seconds=suite_seconds,
    )


def update_document(document: str, measurements: Sequence[Measurement]) -> str:
    """``document`` with its generated block rewritten for ``measurements`` merged into what it held (or appended)."""
    block = render(merge(parse(document), measurements))
    start, end = document.find(BEGIN), document.find(END)
    if start >= 0 and end > start:
        return document[:start] + block + document[end + len(END) :].removeprefix("\n")
    separator = "" if not document or document.endswith("\n\n") else ("\n" if document.endswith("\n") else "\n\n")
    return document + separator + block
