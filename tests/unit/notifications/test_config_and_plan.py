# ruff: noqa: E501 -- case tables: one case per line reads better than wrapped strings
"""The notifications ConfigMap and Secret read as Argo's engine reads them (every problem with its key, no secret in
any message), subscriptions from annotations, and the plan from Events to the exact requests each service makes."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rollouts.notifications import Event, parse_config, plan_notifications, trigger_for
from rollouts.notifications.record import MAX_ENTRIES, recorded, with_delivery
from rollouts.notifications.services import Rendered, SlackService, TeamsService, WebhookService
from workflows.api import ARGO, ROLLOUTS_DEV

NOW = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
SECRETS = {"hook-token": "hook-secret-value", "slack-token": "xoxb-slack-secret", "teams-path": "teams-secret-path"}
CONFIG = {
    "service.webhook.hook": "url: https://hooks.example/base\nheaders:\n- name: X-Token\n  value: $hook-token\n"
    "basicAuth:\n  username: u\n  password: $hook-token\n",
    "service.slack": "token: $slack-token\nusername: rollouts\nicon: ':rocket:'\n",
    "service.slack.hooked": "webhookURL: https://hooks.slack.example/services/T0/B0/$slack-token\n",
    "service.teams": "recipientUrls:\n  ops: https://teams.example/webhook/$teams-path\n",
    "template.rollout-aborted": (
        "message: Rollout {{.rollout.metadata.name}} aborted\n"
        "webhook:\n  hook:\n    method: POST\n    path: /events/{{.rollout.metadata.name}}\n"
        '    body: \'{"rollout": "{{.rollout.metadata.name}}", "to": "{{.recipient}}"}\'\n'
        'slack:\n  attachments: \'[{"title": "{{.rollout.metadata.name}}"}]\'\n'
        'teams:\n  title: Aborted\n  facts: \'[{"name": "Rollout", "value": "{{.rollout.metadata.name}}"}]\'\n'
        "email:\n  subject: unused here\n"
    ),
}
PREFIX = ROLLOUTS_DEV.notifications_annotation_prefix


def a_rollout(annotations: dict[str, str], *, status: dict[str, Any] | None = None, **labels: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "labels": labels, "annotations": annotations},
        "spec": {"replicas": 2, "strategy": {"canary": {}}, "template": {"spec": {"containers": []}}},
        "status": status if status is not None else {"phase": "Degraded", "currentPodHash": "abc"},
    }


def plan(config: Any, rollout: dict[str, Any], *reasons: str) -> Any:
    events = [Event(reason, f"{reason} happened") for reason in reasons]
    return plan_notifications(config, rollout, events, prefix=PREFIX, now=NOW)


@pytest.mark.parametrize(
    ("reason", "trigger"),
    [
        ("RolloutCompleted", "on-rollout-completed"),
        ("RolloutStepCompleted", "on-rollout-step-completed"),
        ("RolloutUpdated", "on-rollout-updated"),
        ("RolloutPaused", "on-rollout-paused"),
        ("RolloutAborted", "on-rollout-aborted"),
        ("AnalysisRunRunning", "on-analysis-run-running"),
        ("AnalysisRunFailed", "on-analysis-run-failed"),
        ("AnalysisRunError", "on-analysis-run-error"),
        ("ScalingReplicaSet", "on-scaling-replica-set"),
        ("RolloutAddedToInformer", "on-rollout-added-to-informer"),
    ],
)
def test_event_reasons_name_argos_triggers(reason: str, trigger: str) -> None:
    assert trigger_for(reason) == trigger


def test_the_built_in_triggers_are_the_ones_users_rely_on() -> None:
    assert set(parse_config({}, {}).triggers) == {
        "on-rollout-completed", "on-rollout-step-completed", "on-rollout-updated", "on-rollout-paused",
        "on-rollout-aborted", "on-analysis-run-running", "on-analysis-run-failed", "on-analysis-run-error",
        "on-scaling-replica-set",
    }  # fmt: skip


def test_modes_name_argos_configmap_secret_and_annotations_in_drop_in_mode() -> None:
    assert (ARGO.notifications_config_map, ARGO.notifications_secret, ARGO.notifications_annotation_prefix) == (
        "argo-rollouts-notification-configmap",
        "argo-rollouts-notification-secret",
        "notifications.argoproj.io",
    )
    assert ROLLOUTS_DEV.notifications_annotation_prefix == "notifications.rollouts.dev"


def test_one_event_makes_one_exact_request_per_subscribed_destination() -> None:
    config = parse_config(CONFIG, SECRETS)
    assert not config.issues
    rollout = a_rollout(
        {
            f"{PREFIX}/subscribe.on-rollout-aborted.hook": "",
            f"{PREFIX}/subscribe.on-rollout-aborted.slack": "chan-a; chan-b",
            f"{PREFIX}/subscribe.on-rollout-aborted.hooked": "",
            f"{PREFIX}/subscribe.on-rollout-aborted.teams": "ops",
            f"{PREFIX}/subscribe.on-rollout-completed.slack": "chan-a",
        }
    )
    deliveries, problems = plan(config, rollout, "RolloutAborted", "ScalingReplicaSet")
    assert problems == []
    by = {(d.service.name, d.recipient): d.request for d in deliveries}
    assert set(by) == {("hook", ""), ("slack", "chan-a"), ("slack", "chan-b"), ("hooked", ""), ("teams", "ops")}

    hook = by["hook", ""]
    basic = base64.b64encode(b"u:hook-secret-value").decode()
    assert (hook.method, hook.url) == ("POST", "https://hooks.example/base/events/web")
    assert hook.headers == (("X-Token", "hook-secret-value"), ("Authorization", f"Basic {basic}"))
    assert json.loads(hook.body) == {"rollout": "web", "to": ""}

    api = by["slack", "chan-b"]
    assert (api.method, api.url) == ("POST", "https://slack.com/api/chat.postMessage")
    assert ("Authorization", "Bearer xoxb-slack-secret") in api.headers
    assert json.loads(api.body) == {
        "text": "Rollout web aborted",
        "channel": "chan-b",
        "username": "rollouts",
        "icon_emoji": ":rocket:",
        "attachments": [{"title": "web"}],
    }
    hooked = by["hooked", ""]
    assert hooked.url == "https://hooks.slack.example/services/T0/B0/xoxb-slack-secret"
    assert not any(name == "Authorization" for name, _ in hooked.headers)
    assert json.loads(hooked.body) == {"text": "Rollout web aborted", "attachments": [{"title": "web"}]}

    teams = by["teams", "ops"]
    assert teams.url == "https://teams.example/webhook/teams-secret-path"
    assert json.loads(teams.body) == {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "title": "Aborted",
        "summary": "",
        "text": "Rollout web aborted",
        "sections": [{"facts": [{"name": "Rollout", "value": "web"}]}],
    }


def test_a_webhook_without_a_template_section_gets_the_message_by_get() -> None:
    config = parse_config(CONFIG, SECRETS)
    rollout = a_rollout({f"{PREFIX}/subscribe.on-rollout-completed.hook": ""})
    [delivery], _ = plan(config, rollout, "RolloutCompleted")
    assert (delivery.request.method, delivery.request.url) == ("GET", "https://hooks.example/base")
    assert delivery.request.body == b"Rollout web has been completed."


def test_keys_repeat_for_the_same_decision_and_differ_for_another_status() -> None:
    config = parse_config(CONFIG, SECRETS)
    annotations = {f"{PREFIX}/subscribe.on-rollout-step-completed.slack": "chan"}
    first, _ = plan(config, a_rollout(annotations), "RolloutStepCompleted")
    again, _ = plan(config, a_rollout(annotations), "RolloutStepCompleted")
    later, _ = plan(
        config, a_rollout(annotations, status={"phase": "Paused", "currentStepIndex": 1}), "RolloutStepCompleted"
    )
    assert [d.key for d in first] == [d.key for d in again]
    assert {d.key for d in first}.isdisjoint(d.key for d in later)


def test_default_triggers_and_global_subscriptions() -> None:
    data = {
        **CONFIG,
        "defaultTriggers": "[on-rollout-completed]",
        "defaultTriggers.teams": "[on-rollout-aborted]",
        "subscriptions": "- recipients: [slack:release-feed]\n  triggers: [on-rollout-updated]\n  selector: team=shop\n",
    }
    config = parse_config(data, SECRETS)
    assert not config.issues
    rollout = a_rollout({f"{PREFIX}/subscribe.slack": "chan", f"{PREFIX}/subscribe.teams": "ops"}, team="shop")
    deliveries, problems = plan(config, rollout, "RolloutCompleted", "RolloutAborted", "RolloutUpdated")
    assert problems == []
    assert sorted((d.trigger, d.service.name, d.recipient) for d in deliveries) == [
        ("on-rollout-aborted", "teams", "ops"),
        ("on-rollout-completed", "slack", "chan"),
        ("on-rollout-updated", "slack", "release-feed"),
    ]
    other_team = a_rollout({}, team="billing")
    assert plan(config, other_team, "RolloutUpdated") == ([], [])


def test_when_narrows_a_trigger() -> None:
    data = {**CONFIG, "trigger.on-rollout-updated": "- send: [rollout-updated]\n  when: rollout.spec.replicas > 3\n"}
    config = parse_config(data, SECRETS)
    rollout = a_rollout({f"{PREFIX}/subscribe.on-rollout-updated.slack": "chan"})
    assert plan(config, rollout, "RolloutUpdated")[0] == []
    rollout["spec"]["replicas"] = 5
    assert len(plan(config, rollout, "RolloutUpdated")[0]) == 1


@pytest.mark.parametrize(
    ("data", "annotation", "reason", "message"),
    [
        (
            {},
            "subscribe.on-rollout-aborted.pager",
            "RolloutAborted",
            "annotation notifications.rollouts.dev/subscribe.on-rollout-aborted.pager: names service 'pager', which the ConfigMap does not configure",
        ),
        (
            {},
            "subscribe.on-my-trigger.slack",
            "MyTrigger",
            "subscribes to trigger 'on-my-trigger', which the ConfigMap does not define",
        ),
        (
            {"service.pager": "url: x"},
            "subscribe.on-rollout-aborted.pager",
            "RolloutAborted",
            "service.pager: service type 'pager' is not supported (supported: webhook, slack, teams)",
        ),
        (
            {"template.rollout-aborted": "message: '{{ .rollout.metadata.name.x }}'"},
            "subscribe.on-rollout-aborted.slack",
            "RolloutAborted",
            "template.rollout-aborted: message: can't evaluate field x in type string",
        ),
        (
            {"template.rollout-aborted": "message: '{{ nope }}'"},
            "subscribe.on-rollout-aborted.slack",
            "RolloutAborted",
            "template.rollout-aborted: message: line 1: function 'nope' is not supported",
        ),
        (
            {"template.rollout-aborted": "slack:\n  blocks: 'not json'"},
            "subscribe.on-rollout-aborted.slack",
            "RolloutAborted",
            "template.rollout-aborted: slack.blocks: the rendered text is not JSON",
        ),
        (
            {"trigger.on-rollout-aborted": "- send: [missing]"},
            "subscribe.on-rollout-aborted.slack",
            "RolloutAborted",
            "trigger.on-rollout-aborted[0].send: names undefined template 'missing'",
        ),
        ({}, "subscribe.on-rollout-aborted.teams", "RolloutAborted", "recipientUrls has no entry for recipient 'x'"),
        ({}, "subscribe.a.b.c", "RolloutAborted", "expected notifications.rollouts.dev/subscribe.<trigger>.<service>"),
    ],
)
def test_problems_name_the_key_to_fix(data: dict[str, str], annotation: str, reason: str, message: str) -> None:
    config = parse_config({**CONFIG, **data}, SECRETS)
    recipient = "x" if annotation.endswith("teams") else "chan"
    deliveries, problems = plan(config, a_rollout({f"{PREFIX}/{annotation}": recipient}), reason)
    assert deliveries == []
    assert [message in str(problem) for problem in problems] == [True], problems


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("service.slack", "token: $nope", "service.slack: $nope names no key of the Secret"),
        ("service.slack", "token: t\nchannels: [a]", "service.slack: channels: used by Argo's Slack bot"),
        ("service.webhook.x", "url: https://a\nbogus: 1", "service.webhook.x: unknown option(s) bogus"),
        ("service.webhook.x", "url: not-a-url/$hook-token", "service.webhook.x: url must be an http(s) URL"),
        ("service.teams", "recipientUrls: {}", "recipientUrls must map each recipient"),
        ("trigger.on-x", "send: [a]", "trigger.on-x: expected a list of conditions"),
        ("trigger.on-x", "- send: [a]\n  oncePer: rollout.x", "trigger.on-x[0].oncePer: not supported"),
        ("trigger.on-x", "- send: [a]\n  when: 'rollout.x ==='", "trigger.on-x[0].when:"),
        (
            "template.t",
            "slack:\n  groupingKey: x",
            "template.t: slack.groupingKey: Slack threads (groupingKey) are not supported",
        ),
        ("template.t", "bogus: x", "template.t: bogus: unknown field"),
        ("template.t", "message: [unclosed", "template.t:"),
        ("context", "a: b", "context: not a notifications setting"),
    ],
)
def test_config_problems_leave_out_the_entry_and_name_its_key(key: str, value: str, message: str) -> None:
    config = parse_config({**CONFIG, key: value}, SECRETS)
    assert len(config.issues) == 1
    assert message in str(config.issues[0])
    assert set(config.services) >= {"hook", "teams"} - {key.rpartition(".")[2]}  # the others still work


@settings(deadline=None, max_examples=40)  # each example parses a whole ConfigMap, the catalog included
@given(
    st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters="$'\"\\{}[]#:,&*!|>%@`"),
        min_size=4,
        max_size=30,
    )
)
def test_no_problem_message_quotes_a_secret(secret: str) -> None:
    """Tokens and webhook URLs reach requests only: every error, whatever breaks, names keys, never values."""
    secrets = {"hook-token": secret, "slack-token": secret, "teams-path": secret}
    broken = {
        **CONFIG,
        "service.webhook.bad": f"url: ftp://x/{secret}",
        "service.slack.bad2": f"token: {secret}\nbogus: {secret}",
        "template.rollout-aborted": "message: '{{ .rollout.metadata.name.x }}'",
    }
    config = parse_config(broken, secrets)
    annotations = {
        f"{PREFIX}/subscribe.on-rollout-aborted.{service}": "nobody"
        for service in ("hook", "slack", "teams", "bad", "bad2", "missing")
    }
    _, problems = plan(config, a_rollout(annotations), "RolloutAborted")
    texts = [str(issue) for issue in config.issues] + [str(problem) for problem in problems]
    assert len(texts) >= 4
    assert not any(secret in text for text in texts)
    assert config.redact(f"GET https://teams.example/webhook/{secret}") == "GET ***"


def test_services_judge_answers_as_their_apis_mean_them() -> None:
    config = parse_config(CONFIG, SECRETS)
    webhook, slack, hooked, teams = (config.services[name] for name in ("hook", "slack", "hooked", "teams"))
    assert isinstance(webhook, WebhookService)
    assert isinstance(slack, SlackService)
    assert isinstance(teams, TeamsService)
    assert webhook.judge(204, {}, b"").outcome == "delivered"
    assert webhook.judge(503, {"retry-after": "2"}, b"").outcome == "retry"
    assert webhook.judge(503, {"retry-after": "2"}, b"").wait == 2.0
    assert webhook.judge(404, {}, b"").outcome == "failed"
    assert slack.judge(200, {}, b'{"ok": true}').outcome == "delivered"
    assert slack.judge(200, {}, b'{"ok": false, "error": "channel_not_found"}').reason.endswith("channel_not_found")
    assert slack.judge(429, {"retry-after": "1"}, b"").outcome == "retry"
    assert hooked.judge(200, {}, b"ok").outcome == "delivered"
    assert teams.judge(200, {}, b"1").outcome == "delivered"
    assert teams.judge(200, {}, b"Webhook message delivery failed").outcome == "failed"
    assert webhook.retry.attempts == 4  # retryMax 3 (Argo's default) + the first try
    assert teams.request(Rendered(message="m"), "ops").method == "POST"


def test_the_record_keeps_the_newest_keys() -> None:
    record: dict[str, str] = {}
    for index in range(MAX_ENTRIES + 10):
        when = NOW + dt.timedelta(seconds=index)
        record = json.loads(with_delivery(record, f"key{index:03d}", when))
    assert len(record) == MAX_ENTRIES
    assert "key000" not in record
    assert f"key{MAX_ENTRIES + 9:03d}" in record
    body = {"metadata": {"annotations": {"a": json.dumps(record)}}}
    assert recorded(body, "a") == record
    assert recorded({"metadata": {"annotations": {"a": "garbage"}}}, "a") == {}
