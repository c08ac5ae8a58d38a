"""Duration strings, one grammar for the whole product: pause steps, metric intervals, retry backoff, timeouts.

Argo Rollouts' ``DurationString`` and Argo Workflows' ``ParseStringToDuration`` agree: first a plain integer (seconds),
then Go's ``time.ParseDuration``: an optional sign and one or more ``<number><unit>`` parts (``30s``, ``1h30m``,
``1.5h``, ``.5s``, ``250ms``; units ``ns us µs μs ms s m h``) or a bare ``0``. We accept exactly that, so a manifest
that works there works here, and refuse what Go refuses (``5 m``, ``1d``, ``""``, ``1.5``) with a message that shows
the accepted forms. The CRD schemas use :data:`DURATION_PATTERN`, built from the same pieces, so the API server and
this parser accept the same strings. A minus sign (even ``-0``) is refused unless a caller asks for negative
durations (none does today).

Durations are exact: Go's integer nanoseconds, so ``1.5h`` is exactly 5400 s, kept as a :class:`~datetime.timedelta`.
"""

from __future__ import annotations

import re
from datetime import timedelta

from workflows.errors import DurationError

__all__ = ["DURATION_PATTERN", "format_duration", "parse_duration", "parse_seconds"]

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
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_UNIT = "(?:ns|us|µs|μs|ms|s|m|h)"
_COMPONENT = re.compile(f"({_NUMBER})({_UNIT})")
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
#: What the CRDs accept for a duration field (non-negative): Go's grammar, or a plain number of seconds.
DURATION_PATTERN = f"^\\+?(({_NUMBER}{_UNIT})+|[0-9]+)$"
# Go's time.Duration is an int64 of nanoseconds; beyond that Go reports overflow, and so do we.
_MAX_NANOSECONDS = 2**63 - 1
_HINT = "use a number with a unit such as 30s, 5m, 1h or 1m30s, or a plain number of seconds"


def parse_duration(value: str | int, *, allow_negative: bool = False) -> timedelta:
    """Parse a duration (a string, or an integer number of seconds). Raises :class:`DurationError` with the fix."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DurationError(f"{value!r} is not a duration: {_HINT}")
    text = str(value)
    nanoseconds = _nanoseconds(text)
    if (nanoseconds < 0 or text.startswith("-")) and not allow_negative:
        raise DurationError(f"{text!r} must not be negative")
    return timedelta(microseconds=nanoseconds // 1000 if nanoseconds >= 0 else -((-nanoseconds) // 1000))


def parse_seconds(value: str | int) -> float:
    """:func:`parse_duration` in seconds, for timers (``loop.call_later``)."""
    return parse_duration(value).total_seconds()


def _nanoseconds(text: str) -> int:
    if _INTEGER.fullmatch(text):
        return _checked(int(text) * 1_000_000_000, text)
    body = text
    sign = 1
    if body[:1] in ("+", "-") and body:
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return 0
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
            total += int(fraction) * scale // 10 ** len(fraction)  # exact integer arithmetic, as Go does
        if total > _MAX_NANOSECONDS:
            raise DurationError(f"{text!r} is too long: durations must be under about 292 years")
        position = match.end()
    return _checked(sign * total, text)


def _checked(nanoseconds: int, text: str) -> int:
    if abs(nanoseconds) > _MAX_NANOSECONDS:
        raise DurationError(f"{text!r} is too long: durations must be under about 292 years")
    return nanoseconds


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
