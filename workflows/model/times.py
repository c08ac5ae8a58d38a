"""Timestamps as Kubernetes writes them (``metav1.Time``: RFC 3339 in UTC, whole seconds, ``2024-01-01T00:00:00Z``).

One module for every package, so a time written by one controller reads back identically in another. Rules:

- parsing accepts RFC 3339 with ``Z`` or an offset and an optional fraction, and returns an aware UTC datetime; a
  string without a zone is refused (``None``), as Go's RFC 3339 parser refuses it;
- a naive :class:`~datetime.datetime` handed in by code is taken to be UTC (the product never uses local time);
- formatting drops the fraction, as ``metav1.Time`` serialises.

Pure: callers pass the time in; nothing here reads a clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_epoch", "format_time", "parse_epoch", "parse_time"]

_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def parse_time(value: object) -> datetime | None:
    """``"2024-01-01T00:00:00Z"`` (or with an offset / fraction) -> aware UTC datetime; anything else -> None."""
    if isinstance(value, datetime):
        return _aware(value).astimezone(UTC)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """Datetime -> ``2024-01-01T00:00:00Z`` (UTC, whole seconds)."""
    return _aware(value).astimezone(UTC).strftime(_FORMAT)


def format_epoch(seconds: float) -> str | None:
    """Seconds since the epoch -> :func:`format_time`; ``0`` (never) -> None."""
    if not seconds:
        return None
    return datetime.fromtimestamp(int(seconds), tz=UTC).strftime(_FORMAT)


def parse_epoch(value: object) -> float:
    """:func:`parse_time` as seconds since the epoch; ``0.0`` when absent or unreadable."""
    parsed = parse_time(value)
    return parsed.timestamp() if parsed is not None else 0.0
