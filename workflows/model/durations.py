"""Argo duration strings: ``"30"`` (seconds, Argo's default unit), ``"2m"``, ``"1h30m"``, ``"500ms"``, or a number.

One parser for retry backoff, ``timeout`` and ``suspend.duration`` so they cannot disagree about units.
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(value: object) -> float:
    """Return seconds for an Argo duration; raise ``ValueError`` with the offending text otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")  # noqa: TRY004 -- callers map ValueError to a path
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"negative duration: {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"not a duration: {value!r}")  # noqa: TRY004 -- callers map ValueError to a path
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds < 0:
            raise ValueError(f"negative duration: {value!r}")
        return seconds
    total = 0.0
    position = 0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f"not a duration (use e.g. 30, 30s, 2m, 1h30m): {value!r}")
    return total
