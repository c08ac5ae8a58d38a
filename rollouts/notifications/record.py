"""The durable record of delivered notifications: one annotation on the Rollout, a JSON map of delivery keys to the
times they were delivered (``notified.notifications.argoproj.io`` in drop-in mode, as Argo CD's engine records).

Why on the Rollout: it is the one object every controller replica reads anyway (from its cache), it goes away with
the Rollout, and only the leader writes it (through the client's write gate). It is bounded: the newest
:data:`MAX_ENTRIES` keys are kept; an older key can only match a decision made from a status the Rollout left long
ago, which a restarted controller never re-decides.

Pure: reading and updating the annotation's value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

__all__ = ["MAX_ENTRIES", "recorded", "with_delivery"]

#: Keys kept in the record (newest first); a Rollout's recent steps, updates and aborts fit many times over.
MAX_ENTRIES: Final = 64


def recorded(rollout: Mapping[str, Any], annotation: str) -> dict[str, str]:
    """The record on ``rollout`` (key -> RFC 3339 time); an absent or unreadable one is empty (it is rewritten
    whole at the next delivery)."""
    annotations = (rollout.get("metadata") or {}).get("annotations") or {}
    text = annotations.get(annotation)
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(value, dict):
        return {}
    return {str(key): str(when) for key, when in value.items()}


def with_delivery(record: Mapping[str, str], key: str, now: datetime) -> str:
    """The annotation's new value: ``record`` plus ``key`` delivered at ``now``, the oldest entries dropped."""
    entries = dict(record)
    entries[key] = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    newest = sorted(entries.items(), key=lambda item: (item[1], item[0]), reverse=True)[:MAX_ENTRIES]
    return json.dumps(dict(sorted(newest)), separators=(",", ":"))
