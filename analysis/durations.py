"""Argo's duration strings: ``30s``, ``5m``, ``1h``, Go-style ``1m30s`` / ``1.5h``, or a plain integer of seconds.

Argo's ``DurationString`` first tries an integer (seconds), then Go's ``time.ParseDuration``. We accept exactly that
grammar so a template that works there works here, and refuse what Go refuses (``5 m``, ``1d``, ``""``) with a
message that shows the accepted forms. Negative durations parse (Go allows them); callers that need a wait time
refuse them with the field path.
"""

from __future__ import annotations

import re
from datetime import timedelta

from analysis.errors import DurationError

__all__ = ["format_duration", "parse_duration"]

_UNIT_NANOSECONDS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # Go accepts both the micro sign and the Greek mu
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_COMPONENT = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", re.ASCII)
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
# Go's time.Duration is an int64 of nanoseconds; beyond that Go reports overflow, and so do we.
_MAX_NANOSECONDS = 2**63 - 1
_HINT = "use a number with a unit such as 30s, 5m, 1h or 1m30s, or a plain number of seconds"


def parse_duration(text: str | int) -> timedelta:
    """Parse an Argo duration. Raises :class:`DurationError` naming the accepted forms."""
    if isinstance(text, bool):
        raise DurationError(f"{text!r} is not a duration: {_HINT}")
    if isinstance(text, int):
        return _checked(text * 1_000_000_000, str(text))
    if not isinstance(text, str):
        raise DurationError(f"{text!r} is not a duration: {_HINT}")
    if _INTEGER.fullmatch(text):
        return _checked(int(text) * 1_000_000_000, text)
    body = text
    sign = 1
    if body[:1] in "+-" and body:
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return timedelta(0)
    if not body:
        raise DurationError(f"{text!r} is not a duration: {_HINT}")
    position = 0
    total = 0
    while position < len(body):
        match = _COMPONENT.match(body, position)
        if match is None:
            raise DurationError(f"{text!r} is not a duration: {_HINT}")
        number, unit = match.group(1), match.group(2)
        whole, _, fraction = number.partition(".")
        scale = _UNIT_NANOSECONDS[unit]
        total += int(whole or "0") * scale
        if fraction:
            # Exact integer arithmetic, as Go does, so "1.5h" is exactly 5400 s.
            total += int(fraction) * scale // 10 ** len(fraction)
        if total > _MAX_NANOSECONDS:
            raise DurationError(f"{text!r} is too long: durations must be under about 292 years")
        position = match.end()
    return _checked(sign * total, text)


def format_duration(value: timedelta) -> str:
    """Render a duration the way Argo users write it (``1m30s``), for messages and status."""
    micros = value // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    seconds, micros = divmod(micros, 1_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if micros:
        parts.append(f"{seconds}.{micros:06d}".rstrip("0") + "s")
    elif seconds or not parts:
        parts.append(f"{seconds}s")
    return sign + "".join(parts)


def _checked(nanoseconds: int, text: str) -> timedelta:
    if abs(nanoseconds) > _MAX_NANOSECONDS:
        raise DurationError(f"{text!r} is too long: durations must be under about 292 years")
    return timedelta(microseconds=nanoseconds // 1000 if nanoseconds >= 0 else -((-nanoseconds) // 1000))
