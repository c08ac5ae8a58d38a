"""Argo duration strings: what Go's ParseDuration (or a plain integer) accepts, and nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.durations import format_duration, parse_duration
from analysis.errors import DurationError


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)), ("1h", timedelta(hours=1)),
     ("1m30s", timedelta(seconds=90)), ("1.5h", timedelta(minutes=90)), ("300", timedelta(minutes=5)),
     (300, timedelta(minutes=5)), ("0", timedelta(0)), ("500ms", timedelta(milliseconds=500)),
     ("1h2m3s4ms", timedelta(hours=1, minutes=2, seconds=3, milliseconds=4)), ("-5s", timedelta(seconds=-5))],
)  # fmt: skip
def test_accepted_forms(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5 m", "1d", "s", "1.5", "²s", "1h-5m", "ten", "9999999999h", True])
def test_refused_forms_explain_the_accepted_ones(text: object) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10**9))
def test_format_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value
