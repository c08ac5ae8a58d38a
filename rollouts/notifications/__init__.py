"""Notifications in Argo's notifications-engine model: triggers, templates and services in a ConfigMap, tokens in a
Secret, subscriptions as annotations on the Rollout (docs/notifications.md is the user's guide).

Pure parts, each one concept:

* :mod:`~rollouts.notifications.config`: ConfigMap + Secret -> :class:`NotificationConfig` (every problem with its
  key); :mod:`~rollouts.notifications.catalog`: the built-in triggers and templates;
* :mod:`~rollouts.notifications.templates`: Go-template bodies -> sandboxed Jinja2 (what is supported, what refused);
* :mod:`~rollouts.notifications.subscriptions`: who is subscribed (annotations, global subscriptions);
* :mod:`~rollouts.notifications.services`: webhook, Slack, Teams: options, the request to make, the answer judged;
* :mod:`~rollouts.notifications.plan`: Events -> deliveries (the trigger of a reason, the key that makes a delivery
  happen once); :mod:`~rollouts.notifications.record`: the record annotation of what was delivered.

The shell, :mod:`~rollouts.notifications.sender` (:class:`Notifier`): follows the ConfigMap and Secret, takes the
Events a reconcile recorded, and delivers on a worker thread, only as leader, recording each delivery.
"""

from __future__ import annotations

from rollouts.notifications.config import NotificationConfig, parse_config
from rollouts.notifications.errors import ConfigError, NotificationError, RenderError
from rollouts.notifications.plan import Delivery, Event, plan_notifications, trigger_for
from rollouts.notifications.templates import compile_template

__all__ = [
    "ConfigError",
    "Delivery",
    "Event",
    "NotificationConfig",
    "NotificationError",
    "RenderError",
    "compile_template",
    "parse_config",
    "plan_notifications",
    "trigger_for",
]
