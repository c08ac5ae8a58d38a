"""Who is subscribed to what: a Rollout's subscription annotations and the ConfigMap's global ``subscriptions``.

``<prefix>/subscribe.<trigger>.<service>: <recipient>[;<recipient>...]`` (prefix ``notifications.argoproj.io`` in
drop-in mode): the recipients are separated by ``;`` and trimmed, an empty value is one empty recipient (a webhook
needs none). ``<prefix>/subscribe.<service>`` subscribes to the default triggers (``defaultTriggers.<service>``,
else ``defaultTriggers``). Any other annotation under the prefix is reported, never silently skipped.

Pure (the label selector of a global subscription is matched by the same function the informers use).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from rollouts.notifications.config import NotificationConfig
from rollouts.notifications.errors import ConfigError
from workflows.runtime.informer import selector_matches

__all__ = ["Subscription", "subscriptions_of"]

_PART: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class Subscription:
    trigger: str
    service: str
    recipient: str
    where: str  # the annotation key, or subscriptions[i] of the ConfigMap


def _recipients(value: str) -> tuple[str, ...]:
    if value == "":
        return ("",)
    return tuple(part.strip() for part in value.split(";") if part.strip())


def subscriptions_of(
    rollout: Mapping[str, object], config: NotificationConfig, *, prefix: str
) -> tuple[list[Subscription], list[ConfigError]]:
    """Every (trigger, service, recipient) the Rollout is subscribed to, with the problems of its annotations."""
    meta = rollout.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), Mapping) else {}
    labels = meta.get("labels") if isinstance(meta.get("labels"), Mapping) else {}
    assert isinstance(annotations, Mapping)
    assert isinstance(labels, Mapping)
    out: list[Subscription] = []
    problems: list[ConfigError] = []
    subscribe = f"{prefix}/subscribe."
    for key in sorted(annotations):
        if not str(key).startswith(f"{prefix}/"):
            continue
        value = str(annotations[key] or "")
        if not key.startswith(subscribe):
            problems.append(
                ConfigError(f"annotation {key}", f"not understood (expected {subscribe}<trigger>.<service>)")
            )
            continue
        parts = key[len(subscribe) :].split(".")
        if len(parts) > 2 or not all(_PART.fullmatch(part) for part in parts):
            problems.append(ConfigError(f"annotation {key}", f"expected {subscribe}<trigger>.<service>"))
            continue
        if len(parts) == 2:
            triggers: tuple[str, ...] = (parts[0],)
            service = parts[1]
        else:
            service = parts[0]
            triggers = config.service_default_triggers.get(service, config.default_triggers)
            if not triggers:
                problems.append(
                    ConfigError(f"annotation {key}", "names no trigger and the ConfigMap sets no defaultTriggers")
                )
                continue
        out.extend(
            Subscription(trigger, service, recipient, f"annotation {key}")
            for recipient in _recipients(value)
            for trigger in triggers
        )
    for subscription in config.subscriptions:
        plain_labels = {str(k): str(v) for k, v in labels.items()}
        if subscription.selector and not selector_matches(subscription.selector, plain_labels):
            continue
        triggers = subscription.triggers or config.default_triggers
        out.extend(
            Subscription(trigger, service, recipient, subscription.where)
            for service, recipient in subscription.destinations
            for trigger in triggers
        )
    return out, problems
