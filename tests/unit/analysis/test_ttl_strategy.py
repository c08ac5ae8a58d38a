"""AnalysisRun spec.ttlStrategy: parsed with paths, and the deletion time Argo's isAnalysisRunTtlExceeded implies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analysis.errors import SpecError
from analysis.spec import TTLStrategy, parse_run_spec, ttl_of

DONE = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
METRICS = [{"name": "ok", "provider": {"web": {"url": "http://127.0.0.1:1/"}}}]


@pytest.mark.parametrize(
    ("ttl", "phase", "seconds"),
    [
        (TTLStrategy(after_completion=60), "Successful", 60),
        (TTLStrategy(after_completion=60, after_success=5), "Successful", 5),
        (TTLStrategy(after_completion=60, after_success=5), "Failed", 60),
        (TTLStrategy(after_failure=7), "Failed", 7),
        (TTLStrategy(after_failure=7, after_completion=60), "Error", 60),  # Error/Inconclusive: the general one
        (TTLStrategy(after_success=5), "Inconclusive", None),
        (TTLStrategy(after_completion=0), "Successful", 0),
        (TTLStrategy(after_completion=60), "Running", None),  # not finished: never
    ],
)
def test_the_phase_picks_its_setting(ttl: TTLStrategy, phase: str, seconds: int | None) -> None:
    expected = None if seconds is None else DONE + timedelta(seconds=seconds + 1)  # "more than" the whole seconds
    assert ttl.deletion_time(phase, DONE) == expected


def test_no_completion_time_no_deletion() -> None:
    assert TTLStrategy(after_completion=1).deletion_time("Successful", None) is None


def test_parsed_from_the_run_spec() -> None:
    spec = parse_run_spec({"metrics": METRICS, "ttlStrategy": {"secondsAfterSuccess": 30, "secondsAfterFailure": 600}})
    assert spec.ttl == TTLStrategy(after_success=30, after_failure=600)
    assert parse_run_spec({"metrics": METRICS}).ttl is None


def test_bad_values_are_refused_with_their_paths() -> None:
    with pytest.raises(SpecError) as caught:
        parse_run_spec({"metrics": METRICS, "ttlStrategy": {"secondsAfterSuccess": -1, "secondsAfterX": 1}})
    paths = sorted(issue.path for issue in caught.value.issues)
    assert paths == ["spec.ttlStrategy.secondsAfterSuccess", "spec.ttlStrategy.secondsAfterX"]
    assert ttl_of({"ttlStrategy": {"secondsAfterSuccess": -1}}) is None
