"""The built-in triggers and templates: what a user gets without writing any.

Argo Rollouts ships its catalog as a ConfigMap to apply (``notifications-install.yaml``); here the same trigger and
template names are built in, so configuring a service and subscribing a Rollout is enough. A key of the same name in
the notifications ConfigMap replaces the built-in one. The texts are ours; the names and the events they follow are
Argo's (each trigger fires on the Rollout Event whose reason it is named after, e.g. ``RolloutAborted`` ->
``on-rollout-aborted``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["BUILT_IN"]

_FIELDS = """[{
      "title": "{{ .rollout.metadata.name }}",
      "color": "%s",
      "fields": [
        {"title": "Strategy", "short": true,
         "value": "{{ if .rollout.spec.strategy.blueGreen }}BlueGreen{{ else }}Canary{{ end }}"}
        {{- range $c := .rollout.spec.template.spec.containers }},
        {"title": "{{ $c.name }}", "value": "{{ $c.image }}", "short": true}
        {{- end }}
      ]
    }]"""


def _template(message: str, color: str) -> str:
    attachments = _FIELDS % color
    indented = "\n".join("    " + line for line in attachments.splitlines())
    return f"message: |-\n  {message}\nslack:\n  attachments: |\n{indented}\n"


# (trigger, template, message, Slack colour)
_ENTRIES: Final = (
    ("on-rollout-completed", "rollout-completed", "Rollout {{.rollout.metadata.name}} has been completed.", "#18be52"),
    (
        "on-rollout-step-completed",
        "rollout-step-completed",
        (
            "Rollout {{.rollout.metadata.name}} step number {{ .rollout.status.currentStepIndex }}/"
            "{{ len .rollout.spec.strategy.canary.steps }} has been completed."
        ),
        "#18be52",
    ),
    ("on-rollout-updated", "rollout-updated", "Rollout {{.rollout.metadata.name}} has been updated.", "#18be52"),
    ("on-rollout-paused", "rollout-paused", "Rollout {{.rollout.metadata.name}} has been paused.", "#18be52"),
    ("on-rollout-aborted", "rollout-aborted", "Rollout {{.rollout.metadata.name}} has been aborted.", "#E01E5A"),
    (
        "on-analysis-run-running",
        "analysis-run-running",
        "Rollout {{.rollout.metadata.name}}'s analysis run is running.",
        "#18be52",
    ),
    (
        "on-analysis-run-failed",
        "analysis-run-failed",
        "Rollout {{.rollout.metadata.name}}'s analysis run failed.",
        "#E01E5A",
    ),
    (
        "on-analysis-run-error",
        "analysis-run-error",
        "Rollout {{.rollout.metadata.name}}'s analysis run is in error state.",
        "#ECB22E",
    ),
    (
        "on-scaling-replica-set",
        "scaling-replicaset",
        "Scaling Rollout {{.rollout.metadata.name}}'s replicaset to {{.rollout.spec.replicas}}.",
        "#18be52",
    ),
)


def _catalog() -> dict[str, str]:
    data: dict[str, str] = {}
    for trigger, template, message, color in _ENTRIES:
        data[f"trigger.{trigger}"] = f"- send: [{template}]\n"
        data[f"template.{template}"] = _template(message, color)
    return data


#: ConfigMap keys -> values, as a user would write them; parsed by the same code as the user's ConfigMap.
BUILT_IN: Final[Mapping[str, str]] = _catalog()
