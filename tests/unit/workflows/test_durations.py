"""Duration strings: one grammar (Go's ParseDuration, or a plain integer of seconds) for every field and the CRDs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.errors import DurationError
from workflows.model.durations import DURATION_PATTERN, format_duration, parse_duration, parse_seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)), ("1h", timedelta(hours=1)),
     ("1m30s", timedelta(seconds=90)), ("1.5h", timedelta(minutes=90)), ("300", timedelta(minutes=5)),
     (300, timedelta(minutes=5)), ("0", timedelta(0)), ("500ms", timedelta(milliseconds=500)),
     (".5s", timedelta(milliseconds=500)),     ("1.s", timedelta(seconds=1)), ("250us", timedelta(microseconds=250)),
     ("3µs", timedelta(microseconds=3)),
     ("3μs", timedelta(microseconds=3)), ("1h2m3s4ms", timedelta(hours=1, minutes=2, seconds=3, milliseconds=4))],
)  # fmt: skip
def test_accepted_forms(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text", ["", "5 m", "1d", "s", "1.5", "²s", "1h-5m", "ten", "9999999999h", True, None, 1.5, "m5", "1m x"]
)
def test_refused_forms_explain_the_accepted_ones(text: object) -> None:
    with pytest.raises(DurationError, match=r"duration|too long"):
        parse_duration(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["-5s", "-1", "-0.5h"])
def test_negative_durations_are_refused_unless_asked_for(text: str) -> None:
    with pytest.raises(DurationError, match="must not be negative"):
        parse_duration(text)
    assert parse_duration(text, allow_negative=True) < timedelta(0)


def test_seconds_for_timers() -> None:
    assert parse_seconds("1m30s") == 90.0
    assert parse_seconds(20) == 20.0


@given(st.integers(min_value=0, max_value=10**9))
def test_format_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


_PIECES = st.sampled_from(["0", "1", "30", "1.5", ".5", "2.", "", ".", "-", "+", "s", "m", "h", "ms", "us", "µs",
                           "ns", "d", " ", "x", "1e3"])  # fmt: skip


@given(st.lists(_PIECES, min_size=1, max_size=6).map("".join))
def test_the_crd_pattern_accepts_exactly_what_the_parser_accepts(text: str) -> None:
    """The API server (schema pattern) and the controller (parser) must never disagree about a duration's form.

    The one thing a pattern cannot express is Go's int64-nanosecond range: such a duration passes the schema and is
    refused by the parser (with the field path, as an InvalidSpec) rather than wrapping around as it would in Go.
    """
    try:
        parse_duration(text)
    except DurationError as error:
        parsed, too_long = False, "too long" in str(error)
    else:
        parsed, too_long = True, False
    matched = re.fullmatch(DURATION_PATTERN, text) is not None
    assert matched == parsed or (matched and too_long)
