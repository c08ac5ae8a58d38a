"""Which notifications a Rollout's Events call for: the pure decision between the Events a reconcile recorded and
the HTTP requests the sender makes.

As in Argo Rollouts, a notification follows an Event: the Event's reason names its trigger (``RolloutAborted`` ->
``on-rollout-aborted``, :func:`trigger_for`); the Rollout's subscriptions to that trigger are its destinations; the
trigger's conditions (whose ``when`` holds) name the templates, rendered for each destination and merged into one
notification; the destination's service turns it into one request.

Each :class:`Delivery` has a :attr:`~Delivery.key` that is the same whenever the same decision is made again: a
hash of the trigger, templates, destination, the Event (reason and message) and the Rollout's status the Event was
decided from. A controller restarted before its status write re-decides from that same status, so it computes the
same key and finds it in the Rollout's record of sent notifications (:mod:`rollouts.notifications.record`); a later
Event with the same text (a step completed again after a retry) is decided from another status, so it is sent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rollouts.notifications.config import NotificationConfig, NotificationTemplate
from rollouts.notifications.errors import ConfigError, NotificationError, RenderError
from rollouts.notifications.services import HttpRequest, Rendered, Service
from rollouts.notifications.subscriptions import Subscription, subscriptions_of
from workflows.errors import ExpressionError

__all__ = ["Delivery", "Event", "plan_notifications", "trigger_for"]

_FIRST_CAP = re.compile(r"(.)([A-Z][a-z]+)")
_ALL_CAP = re.compile(r"([a-z0-9])([A-Z])")


def trigger_for(reason: str) -> str:
    """The trigger an Event reason fires, as Argo names it: ``ScalingReplicaSet`` -> ``on-scaling-replica-set``."""
    kebab = _ALL_CAP.sub(r"\1-\2", _FIRST_CAP.sub(r"\1-\2", reason))
    return "on-" + kebab.lower()


@dataclass(frozen=True, slots=True)
class Event:
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """One request to make, once."""

    key: str
    trigger: str
    reason: str
    service: Service
    recipient: str
    request: HttpRequest

    def describe(self) -> str:
        """Where it goes, safe to log: service name and type, recipient; never the URL."""
        to = f" to {self.recipient!r}" if self.recipient else ""
        return f"{self.trigger} via {self.service.type} service {self.service.name!r}{to}"


def _status_digest(rollout: Mapping[str, Any]) -> str:
    status = rollout.get("status") or {}
    return hashlib.sha256(json.dumps(status, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def delivery_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()[:20]


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise RenderError(where, f"the rendered text is not JSON ({error})") from None


def render(templates: Sequence[NotificationTemplate], variables: Mapping[str, Any]) -> Rendered:
    """The notification ``templates`` make for ``variables``: rendered fields, later non-empty ones winning."""
    message = ""
    slack: dict[str, Any] = {}
    teams: dict[str, Any] = {}
    webhook: dict[str, dict[str, str]] = {}
    for template in templates:
        if template.message is not None:
            message = template.message.render(variables) or message
        for key, compiled in template.slack.items():
            text = compiled.render(variables)
            if text.strip():
                slack[key] = _json(text, compiled.where) if key in ("attachments", "blocks") else text
        for key, compiled in template.teams.items():
            text = compiled.render(variables)
            if text.strip():
                teams[key] = _json(text, compiled.where) if key in ("facts", "sections", "potentialAction") else text
        for service, hook in template.webhook.items():
            webhook[service] = {
                "method": hook.method,
                "path": hook.path.render(variables) if hook.path is not None else "",
                "body": hook.body.render(variables) if hook.body is not None else "",
            }
    return Rendered(message=message, slack=slack, teams=teams, webhook=webhook)


def _rfc3339(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan_notifications(
    config: NotificationConfig,
    rollout: Mapping[str, Any],
    events: Sequence[Event],
    *,
    prefix: str,
    now: datetime,
) -> tuple[list[Delivery], list[NotificationError]]:
    """The deliveries ``events`` (recorded on ``rollout``, whose body is the one the Events were decided from) call
    for, and every problem found on the way, each naming its key (a subscription to an undefined trigger, a missing
    service, a template that fails on this Rollout). One problem stops only the notification it is about."""
    subscriptions, problems = subscriptions_of(rollout, config, prefix=prefix)
    problems_out: list[NotificationError] = list(problems)
    if not subscriptions:
        return [], problems_out
    by_trigger: dict[str, list[Subscription]] = {}
    for subscription in subscriptions:
        by_trigger.setdefault(subscription.trigger, []).append(subscription)
    digest = _status_digest(rollout)
    deliveries: list[Delivery] = []
    seen: set[str] = set()
    for event in events:
        name = trigger_for(event.reason)
        subscribed = by_trigger.get(name)
        if not subscribed:
            continue
        trigger = config.triggers.get(name)
        if trigger is None:
            broken = config.broken.get(f"trigger.{name}")
            problems_out.append(
                broken
                or ConfigError(
                    subscribed[0].where, f"subscribes to trigger {name!r}, which the ConfigMap does not define"
                )
            )
            continue
        for condition in trigger.conditions:
            if condition.when is not None:
                try:
                    if not condition.when.evaluate({"rollout": rollout}):
                        continue
                except ExpressionError as error:
                    problems_out.append(RenderError(f"{condition.where}.when", str(error)))
                    continue
            templates: list[NotificationTemplate] = []
            for template_name in condition.send:
                template = config.templates.get(template_name)
                if template is None:
                    problems_out.append(
                        config.broken.get(f"template.{template_name}")
                        or ConfigError(f"{condition.where}.send", f"names undefined template {template_name!r}")
                    )
                    break
                templates.append(template)
            else:
                deliveries.extend(
                    _deliveries(config, rollout, event, name, condition.send, subscribed, templates, digest, now, seen,
                                problems_out)
                )  # fmt: skip
    return deliveries, problems_out


def _deliveries(  # noqa: PLR0917 -- one private step of plan_notifications, called once
    config: NotificationConfig,
    rollout: Mapping[str, Any],
    event: Event,
    trigger: str,
    template_names: Sequence[str],
    subscribed: Sequence[Subscription],
    templates: Sequence[NotificationTemplate],
    digest: str,
    now: datetime,
    seen: set[str],
    problems: list[NotificationError],
) -> list[Delivery]:
    out: list[Delivery] = []
    for subscription in subscribed:
        service = config.services.get(subscription.service)
        if service is None:
            problems.append(
                config.broken.get(f"service:{subscription.service}")
                or ConfigError(
                    subscription.where,
                    f"names service {subscription.service!r}, which the ConfigMap does not configure "
                    f"(service.<type>.{subscription.service} or service.{subscription.service})",
                )
            )
            continue
        key = delivery_key(
            trigger, list(template_names), service.name, subscription.recipient, event.reason, event.message, digest
        )
        if key in seen:  # subscribed twice (an annotation and a global subscription): sent once
            continue
        seen.add(key)
        variables = {
            "rollout": rollout,
            "recipient": subscription.recipient,
            "serviceType": service.name,
            "time": {"now": _rfc3339(now)},
        }
        try:
            request = service.request(render(templates, variables), subscription.recipient)
        except NotificationError as error:
            problems.append(error)
            continue
        out.append(Delivery(key, trigger, event.reason, service, subscription.recipient, request))
    return out
