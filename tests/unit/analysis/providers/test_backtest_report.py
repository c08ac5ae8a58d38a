"""Backtest pure parts: instant parsing, the timeline, and report assembly (verdicts, dry-run, failure rate)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.assess import AnalysisPhase, Measurement
from analysis.backtest import assemble_report, backtest_instants, parse_instant
from analysis.errors import SpecError

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("-6h", NOW - timedelta(hours=6)),
        ("now-30m", NOW - timedelta(minutes=30)),
        ("-1h30m", NOW - timedelta(minutes=90)),
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ],
)
def test_instants_parse(text: str, expected: datetime) -> None:
    assert parse_instant(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "-6 days", "2024-05-01T10:00:00", "-1d"])
def test_bad_instants_are_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(SpecError):
        parse_instant(text, now=NOW)


def test_timeline_includes_both_ends() -> None:
    instants = backtest_instants(start=NOW, end=NOW + timedelta(minutes=10), every=timedelta(minutes=5))
    assert instants == (NOW, NOW + timedelta(minutes=5), NOW + timedelta(minutes=10))


@pytest.mark.parametrize(("end", "every"), [(NOW - timedelta(minutes=1), timedelta(minutes=1)), (NOW, timedelta(0))])
def test_reversed_or_zero_step_timelines_are_refused(end: datetime, every: timedelta) -> None:
    with pytest.raises(SpecError):
        backtest_instants(start=NOW, end=end, every=every)


def test_huge_timelines_are_refused() -> None:
    with pytest.raises(SpecError, match="larger step"):
        backtest_instants(start=NOW, end=NOW + timedelta(days=365), every=timedelta(seconds=1))


def m(phase: AnalysisPhase, value: str = "1") -> Measurement:
    return Measurement(phase=phase, started_at=NOW, finished_at=NOW, value=value)


def test_report_takes_the_worst_deciding_metric_per_instant_and_counts_failures() -> None:
    t = [NOW + timedelta(minutes=i) for i in range(4)]
    ok, bad, meh, err = AnalysisPhase.SUCCESSFUL, AnalysisPhase.FAILED, AnalysisPhase.INCONCLUSIVE, AnalysisPhase.ERROR
    measurements = {
        (t[0], "rate"): m(ok), (t[0], "latency"): m(ok), (t[0], "shadow"): m(bad),
        (t[1], "rate"): m(bad), (t[1], "latency"): m(ok), (t[1], "shadow"): m(ok),
        (t[2], "rate"): m(ok), (t[2], "latency"): m(meh), (t[2], "shadow"): m(ok),
        (t[3], "rate"): m(err), (t[3], "latency"): m(ok), (t[3], "shadow"): m(ok),
    }  # fmt: skip
    report = assemble_report(
        metrics=["rate", "latency", "shadow", "smoke"],
        measurements=measurements,
        instants=t,
        every=timedelta(minutes=1),
        skipped={"smoke": "web metrics cannot be replayed at past instants"},
        dry_run=frozenset({"shadow"}),
    )
    assert [row.phase for row in report.instants] == [ok, bad, meh, err]  # the dry-run failure at t0 decides nothing
    assert report.metrics == ("rate", "latency", "shadow")
    assert report.summary() == "would have failed 1 of 4 instants (25.0%); 1 inconclusive, 1 error"


@given(st.lists(st.sampled_from(list(AnalysisPhase)[2:]), min_size=1, max_size=60))
def test_failure_rate_is_failed_instants_over_all(phases: list[AnalysisPhase]) -> None:
    instants = [NOW + timedelta(minutes=i) for i in range(len(phases))]
    measurements = {(at, "x"): m(phase) for at, phase in zip(instants, phases, strict=True)}
    report = assemble_report(
        metrics=["x"], measurements=measurements, instants=instants, every=timedelta(minutes=1), skipped={}
    )
    failed = phases.count(AnalysisPhase.FAILED)
    assert report.failed == failed
    assert report.failure_rate == pytest.approx(failed / len(phases))
    assert f"would have failed {failed} of {len(phases)} instants" in report.summary()
