"""The notifications ConfigMap and Secret -> one typed :class:`NotificationConfig`, every problem with its key.

The ConfigMap is Argo's notifications engine's (``argo-rollouts-notification-configmap`` in drop-in mode):

* ``trigger.<name>``: a YAML list of conditions ``{send: [template, ...], when: <expr-lang condition>,
  description}``; a trigger fires on the Rollout Event it is named after (``on-rollout-aborted``), and each condition
  whose ``when`` holds (or that has none) sends its templates. ``when`` sees ``rollout`` (Argo's controller ignores
  ``when`` for these triggers; here it is evaluated, so a user can narrow one);
* ``template.<name>``: ``message`` plus per-service fields (``slack``, ``teams``, ``webhook.<service name>``); fields
  for services of Argo's engine that do not exist here (``email``, ``github``, ...) are accepted and unused (the
  catalog's templates carry ``email`` sections), anything else is an error;
* ``service.<type>`` / ``service.<type>.<name>``: see :mod:`rollouts.notifications.services`; ``$key`` in any string
  option is the Secret's ``key`` (a key the Secret lacks is an error, never sent literally);
* ``defaultTriggers`` (YAML list), ``defaultTriggers.<service>``: triggers for subscriptions that name none;
* ``subscriptions``: YAML list of ``{recipients: [service:recipient, ...], triggers: [...], selector: labels}``
  applied to every Rollout whose labels match.

A broken entry is left out and reported (:attr:`NotificationConfig.issues`); the rest works. Built-in triggers and
templates (:mod:`rollouts.notifications.catalog`) are there unless the ConfigMap redefines the same key.

Pure: the shell passes the ConfigMap's ``data`` and the Secret's decoded ``data``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import yaml

from rollouts.notifications.catalog import BUILT_IN
from rollouts.notifications.errors import ConfigError
from rollouts.notifications.services import Service, parse_service
from rollouts.notifications.templates import GoTemplate, compile_template
from workflows.errors import ExpressionSyntaxError
from workflows.model.expr import Condition, compile_condition

__all__ = [
    "GlobalSubscription",
    "NotificationConfig",
    "NotificationTemplate",
    "Trigger",
    "TriggerCondition",
    "WebhookTemplate",
    "parse_config",
]

#: Template sections for services of Argo's engine that this controller does not have: accepted, never used.
OTHER_ENGINE_SECTIONS: Final = frozenset(
    {
        "email", "github", "gitlab", "googlechat", "grafana", "mattermost", "newrelic", "opsgenie", "pagerduty",
        "pagerdutyv2", "pushover", "rocketchat", "telegram", "webex", "alertmanager", "awssqs", "pubsub", "matrix",
        "datadog", "teams-workflows", "kafka", "nats",
    }
)  # fmt: skip
_SLACK_FIELDS: Final = ("username", "icon", "attachments", "blocks")
_SLACK_REFUSED: Final = {
    "groupingKey": "Slack threads (groupingKey) are not supported",
    "notifyBroadcast": "Slack threads (notifyBroadcast) are not supported",
    "deliveryPolicy": "Slack threads (deliveryPolicy) are not supported",
}
_TEAMS_FIELDS: Final = ("template", "title", "summary", "text", "themeColor", "facts", "sections", "potentialAction")
_SECRET_REFERENCE: Final = re.compile(r"\$[\w-]+")
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True, slots=True)
class TriggerCondition:
    where: str  # trigger.<name>[i]
    send: tuple[str, ...]
    when: Condition | None = None


@dataclass(frozen=True, slots=True)
class Trigger:
    name: str
    conditions: tuple[TriggerCondition, ...]
    built_in: bool = False


@dataclass(frozen=True, slots=True)
class WebhookTemplate:
    method: str
    path: GoTemplate | None
    body: GoTemplate | None


@dataclass(frozen=True, slots=True)
class NotificationTemplate:
    name: str
    message: GoTemplate | None = None
    slack: Mapping[str, GoTemplate] = field(default_factory=dict)
    teams: Mapping[str, GoTemplate] = field(default_factory=dict)
    webhook: Mapping[str, WebhookTemplate] = field(default_factory=dict)
    built_in: bool = False


@dataclass(frozen=True, slots=True)
class GlobalSubscription:
    where: str  # subscriptions[i]
    destinations: tuple[tuple[str, str], ...]  # (service, recipient)
    triggers: tuple[str, ...]  # empty: the default triggers
    selector: str


@dataclass(frozen=True, slots=True)
class NotificationConfig:
    triggers: Mapping[str, Trigger] = field(default_factory=dict)
    templates: Mapping[str, NotificationTemplate] = field(default_factory=dict)
    services: Mapping[str, Service] = field(default_factory=dict)
    default_triggers: tuple[str, ...] = ()
    service_default_triggers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    subscriptions: tuple[GlobalSubscription, ...] = ()
    #: Entries left out, each naming its key; ``broken`` maps a left-out trigger/template/service key to its error.
    issues: tuple[ConfigError, ...] = ()
    broken: Mapping[str, ConfigError] = field(default_factory=dict)
    #: Every value to keep out of logs, Events and errors (the Secret's values, URLs and tokens of the services).
    sensitive: frozenset[str] = frozenset()

    def redact(self, text: str) -> str:
        """``text`` with every sensitive value replaced by ``***`` (longest first, so a value containing another
        is hidden whole)."""
        for value in sorted(self.sensitive, key=len, reverse=True):
            text = text.replace(value, "***")
        return text


def _yaml(text: str, where: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise ConfigError(where, f"{problem}{at}") from None


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ConfigError(where, "expected a list of names")
    return tuple(value)


def _trigger(name: str, text: str, *, built_in: bool) -> Trigger:
    where = f"trigger.{name}"
    raw = _yaml(text, where)
    if not isinstance(raw, list) or not raw:
        raise ConfigError(where, "expected a list of conditions ({send: [...], when: ...})")
    conditions: list[TriggerCondition] = []
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(at, "expected {send: [...], when: ...}")
        unknown = set(item) - {"send", "when", "description", "oncePer"}
        if unknown:
            raise ConfigError(at, f"unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        if item.get("oncePer"):
            raise ConfigError(f"{at}.oncePer", "not supported: each notification is sent once per Rollout Event")
        send = _strings(item.get("send"), f"{at}.send")
        if not send:
            raise ConfigError(f"{at}.send", "names no template")
        when = None
        if item.get("when") not in (None, ""):
            try:
                when = compile_condition(str(item["when"]), names=frozenset({"rollout"}))
            except ExpressionSyntaxError as error:
                raise ConfigError(f"{at}.when", str(error)) from None
        conditions.append(TriggerCondition(where=at, send=send, when=when))
    return Trigger(name, tuple(conditions), built_in=built_in)


def _compiled(value: Any, where: str) -> GoTemplate:
    if not isinstance(value, str):
        raise ConfigError(where, "expected a string")
    return compile_template(value, where=where)


def _template(name: str, text: str, *, built_in: bool) -> NotificationTemplate:
    where = f"template.{name}"
    raw = _yaml(text, where)
    if not isinstance(raw, Mapping):
        raise ConfigError(where, "expected a map with message and per-service fields")
    message = _compiled(raw["message"], f"{where}: message") if raw.get("message") is not None else None
    slack: dict[str, GoTemplate] = {}
    teams: dict[str, GoTemplate] = {}
    webhook: dict[str, WebhookTemplate] = {}
    for section, content in raw.items():
        at = f"{where}: {section}"
        if section == "message" or section in OTHER_ENGINE_SECTIONS:
            continue
        if section not in {"slack", "teams", "webhook"}:
            raise ConfigError(
                at, "unknown field (expected message, slack, teams, webhook, or a section of another Argo service)"
            )
        if not isinstance(content, Mapping):
            raise ConfigError(at, "expected a map")
        if section == "slack":
            for key, value in content.items():
                if key in _SLACK_REFUSED:
                    raise ConfigError(f"{at}.{key}", _SLACK_REFUSED[key])
                if key not in _SLACK_FIELDS:
                    raise ConfigError(f"{at}.{key}", f"unknown field (expected {', '.join(_SLACK_FIELDS)})")
                slack[key] = _compiled(value, f"{at}.{key}")
        elif section == "teams":
            for key, value in content.items():
                if key not in _TEAMS_FIELDS:
                    raise ConfigError(f"{at}.{key}", f"unknown field (expected {', '.join(_TEAMS_FIELDS)})")
                teams[key] = _compiled(value, f"{at}.{key}")
        else:
            for service, hook in content.items():
                hook_at = f"{at}.{service}"
                if not isinstance(hook, Mapping) or set(hook) - {"method", "path", "body"}:
                    raise ConfigError(hook_at, "expected {method, path, body}")
                method = str(hook.get("method") or "")
                if method and not re.fullmatch(r"[A-Za-z]+", method):
                    raise ConfigError(f"{hook_at}.method", "expected an HTTP method")
                webhook[str(service)] = WebhookTemplate(
                    method=method,
                    path=_compiled(hook["path"], f"{hook_at}.path") if hook.get("path") is not None else None,
                    body=_compiled(hook["body"], f"{hook_at}.body") if hook.get("body") is not None else None,
                )
    return NotificationTemplate(name, message, slack, teams, webhook, built_in=built_in)


def _substitute(value: Any, secrets: Mapping[str, str], where: str, used: set[str], secret_name: str) -> Any:
    """Every ``$key`` in the strings of ``value`` replaced by the Secret's value (as Argo's engine does)."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            key = match.group(0)[1:]
            if key not in secrets:
                raise ConfigError(where, f"${key} names no key of the Secret {secret_name}")
            used.add(secrets[key])
            return secrets[key]

        return _SECRET_REFERENCE.sub(replace, value)
    if isinstance(value, Mapping):
        return {k: _substitute(v, secrets, where, used, secret_name) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, secrets, where, used, secret_name) for v in value]
    return value


def _subscriptions(text: str) -> tuple[GlobalSubscription, ...]:
    raw = _yaml(text, "subscriptions")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError("subscriptions", "expected a list of {recipients, triggers, selector}")
    out: list[GlobalSubscription] = []
    for index, item in enumerate(raw):
        at = f"subscriptions[{index}]"
        if not isinstance(item, Mapping) or set(item) - {"recipients", "triggers", "selector"}:
            raise ConfigError(at, "expected {recipients, triggers, selector}")
        recipients = _strings(item.get("recipients"), f"{at}.recipients")
        if not recipients:
            raise ConfigError(f"{at}.recipients", "names no recipient (service:recipient)")
        destinations = tuple((service, recipient) for service, _, recipient in (r.partition(":") for r in recipients))
        selector = item.get("selector") or ""
        if not isinstance(selector, str):
            raise ConfigError(f"{at}.selector", "expected a label selector string")
        out.append(GlobalSubscription(at, destinations, _strings(item.get("triggers"), f"{at}.triggers"), selector))
    return tuple(out)


def _service(
    key: str,
    name: str,
    text: str,
    *,
    secrets: Mapping[str, str],
    used: set[str],
    secret_name: str,
    taken: Mapping[str, Service],
) -> Service:
    service_type, _, service_name = name.partition(".")
    service_name = service_name or service_type
    if "." in service_name or not _NAME.fullmatch(service_name):
        raise ConfigError(key, "expected service.<type> or service.<type>.<name>")
    if service_name in taken:
        raise ConfigError(key, f"a second service named {service_name!r}")
    options = _substitute(_yaml(text, key), secrets, key, used, secret_name)
    return parse_service(service_type, service_name, options, where=key)


def _unknown(key: str) -> None:
    raise ConfigError(
        key,
        "not a notifications setting (expected trigger.<name>, template.<name>, service.<type>[.<name>], "
        "defaultTriggers[.<service>] or subscriptions)",
    )


def parse_config(
    data: Mapping[str, str] | None,
    secrets: Mapping[str, str] | None,
    *,
    secret_name: str = "the notifications Secret",  # noqa: S107 -- a name for messages
    built_in: bool = True,
) -> NotificationConfig:
    """The configuration ``data`` (a ConfigMap's, None when there is none) and ``secrets`` (the Secret's decoded
    values) describe; broken entries are left out and listed in ``issues`` with their keys."""
    secrets = dict(secrets or {})
    entries: dict[str, tuple[str, bool]] = {key: (value, True) for key, value in (BUILT_IN if built_in else {}).items()}
    entries.update({key: (str(value), False) for key, value in (data or {}).items()})
    triggers: dict[str, Trigger] = {}
    templates: dict[str, NotificationTemplate] = {}
    services: dict[str, Service] = {}
    default_triggers: tuple[str, ...] = ()
    service_defaults: dict[str, tuple[str, ...]] = {}
    subscriptions: tuple[GlobalSubscription, ...] = ()
    issues: list[ConfigError] = []
    broken: dict[str, ConfigError] = {}
    sensitive: set[str] = {value for value in secrets.values() if len(value) >= 4}
    for key in sorted(entries):
        text, is_built_in = entries[key]
        kind, _, name = key.partition(".")
        try:
            if kind == "trigger" and name:
                triggers[name] = _trigger(name, text, built_in=is_built_in)
            elif kind == "template" and name:
                templates[name] = _template(name, text, built_in=is_built_in)
            elif kind == "service" and name:
                used: set[str] = set()
                service = _service(key, name, text, secrets=secrets, used=used, secret_name=secret_name, taken=services)
                services[service.name] = service
                sensitive |= service.sensitive | used
            elif key == "defaultTriggers":
                default_triggers = _strings(_yaml(text, key), key)
            elif kind == "defaultTriggers" and name:
                service_defaults[name] = _strings(_yaml(text, key), key)
            elif key == "subscriptions":
                subscriptions = _subscriptions(text)
            else:
                _unknown(key)
        except ConfigError as error:
            issues.append(error)
            broken[key] = error
            if kind == "service" and name:  # subscriptions name services by name: find the broken one by it
                broken.setdefault(f"service:{name.partition('.')[2] or name}", error)
    return NotificationConfig(
        triggers=triggers,
        templates=templates,
        services=services,
        default_triggers=default_triggers,
        service_default_triggers=service_defaults,
        subscriptions=subscriptions,
        issues=tuple(issues),
        broken=broken,
        sensitive=frozenset(v for v in sensitive if len(v) >= 4),
    )
