"""Timestamps as metav1.Time writes them: one reading for every controller (RFC 3339, UTC, whole seconds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from workflows.model.times import format_epoch, format_time, parse_epoch, parse_time

T0 = datetime(2024, 5, 1, 12, 0, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T12:00:03Z", T0),
        ("2024-05-01T12:00:03z", T0),
        ("2024-05-01T12:00:03.250000Z", T0 + timedelta(milliseconds=250)),
        ("2024-05-01T14:00:03+02:00", T0),
        ("2024-05-01T12:00:03", None),  # no zone: Go's RFC 3339 parser refuses it, so do we
        ("yesterday", None),
        ("", None),
        (None, None),
        (17, None),
        (T0, T0),
        (datetime(2024, 5, 1, 12, 0, 3), T0),  # naive datetimes from code are UTC  # noqa: DTZ001
        (datetime(2024, 5, 1, 14, 0, 3, tzinfo=timezone(timedelta(hours=2))), T0),
    ],
)
def test_parse_time_reads_rfc3339_with_a_zone(value: object, expected: datetime | None) -> None:
    parsed = parse_time(value)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is UTC


def test_format_time_is_utc_whole_seconds() -> None:
    assert (
        format_time(datetime(2024, 5, 1, 14, 0, 3, 999999, tzinfo=UTC) - timedelta(hours=2)) == "2024-05-01T12:00:03Z"
    )
    assert format_time(datetime(2024, 5, 1, 12, 0, 3)) == "2024-05-01T12:00:03Z"  # noqa: DTZ001


def test_epoch_forms_round_trip_and_zero_means_never() -> None:
    assert format_epoch(T0.timestamp()) == "2024-05-01T12:00:03Z"
    assert parse_epoch("2024-05-01T12:00:03Z") == T0.timestamp()
    assert format_epoch(0) is None
    assert parse_epoch(None) == 0.0
