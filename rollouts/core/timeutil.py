"""RFC 3339 timestamps as Kubernetes writes them (``2024-01-01T00:00:00Z``), parsed to aware UTC datetimes.

Pure helpers: the planner receives ``now`` from its caller and only converts between text and datetimes here.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_time", "parse_time"]


def parse_time(value: object) -> datetime | None:
    """``"2024-01-01T00:00:00Z"`` (or with an offset / fraction) -> aware UTC datetime; anything else -> None."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """Aware datetime -> ``2024-01-01T00:00:00Z`` (whole seconds, as metav1.Time serialises)."""
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
