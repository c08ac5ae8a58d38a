"""Notifications on the real cluster with real receivers on 127.0.0.1: a subscribed Rollout's update and abort reach
the webhook, Slack (chat.postMessage) and Teams receivers exactly once each, across a controller restart; a
restarted process deciding the same Event again sends nothing; a non-leader sends nothing; bad configuration is a
Warning Event naming the key while the Rollout keeps being served; no secret reaches the controller's log."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollouts.core.actions import EmitEvent, EventType
from rollouts.notifications.sender import FAILED_REASON, INVALID_REASON, Notifier
from tests.support.cluster import ControllerProcess, Kube, apply, events, wait_for
from tests.support.cluster_rollouts import (
    get_rollout,
    kubectl_rollouts,
    rollout,
    set_image,
    wait_healthy,
    wait_status,
)
from tests.support.http import JsonServer, json_server
from workflows.api import ROLLOUTS_DEV
from workflows.runtime.events import EventRecorder
from workflows.runtime.kube import Kube as ApiKube

PREFIX = ROLLOUTS_DEV.notifications_annotation_prefix
RECORD = ROLLOUTS_DEV.notifications_record_annotation
SECRETS = {"hook-token": "hook-token-3f9a1c", "slack-token": "xoxb-slack-7d2e4b", "teams-path": "teams-path-5c8f0e"}


def notification_objects(server: JsonServer, **extra: str) -> list[dict[str, Any]]:
    data = {
        "service.webhook.hook": f"url: {server.url}/hook\nheaders:\n- name: X-Token\n  value: $hook-token\n",
        "service.slack": f"token: $slack-token\napiURL: {server.url}/slack/\n",
        "service.teams": f"recipientUrls:\n  ops: {server.url}/teams/$teams-path\n",
        **{
            f"template.rollout-{kind}": (
                f"message: '{kind}: {{{{ .rollout.metadata.name }}}} at {{{{ .rollout.status.currentStepIndex }}}}'\n"
                f"webhook:\n  hook:\n    method: POST\n    path: /{kind}\n"
                f'    body: \'{{"rollout": "{{{{ .rollout.metadata.name }}}}", "event": "{kind}"}}\'\n'
            )
            for kind in ("updated", "step-completed")
        },
        **extra,
    }
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": ROLLOUTS_DEV.notifications_secret},
         "stringData": SECRETS},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ROLLOUTS_DEV.notifications_config_map},
         "data": data},
    ]  # fmt: skip


@pytest.fixture
def receivers() -> Iterator[JsonServer]:
    with json_server() as server:
        for path in ("/hook/updated", "/hook/step-completed"):
            server.route(path, {})
        server.route("/slack/chat.postMessage", {"ok": True, "ts": "1"})
        server.route(f"/teams/{SECRETS['teams-path']}", raw=b"1")
        yield server


@pytest.fixture
def notifying_controller(
    kube: Kube, namespace: str, crds_installed: list[str], tmp_path: Path
) -> Iterator[ControllerProcess]:
    handle = ControllerProcess(
        kube=kube,
        namespace=namespace,
        log=tmp_path / "controller.log",
        args=(f"--notifications-namespace={namespace}", "--no-leader-elect"),
    )
    handle.start()
    yield handle
    handle.stop()


def hits(server: JsonServer) -> Counter[str]:
    with server.lock:
        return Counter(seen.path for seen in server.seen)


def recorded_keys(kube: Kube, namespace: str, name: str) -> dict[str, str]:
    annotations = get_rollout(kube, namespace, name)["metadata"].get("annotations") or {}
    return dict(json.loads(annotations.get(RECORD) or "{}"))


def test_update_and_abort_notify_each_receiver_exactly_once_across_a_restart(
    kube: Kube, namespace: str, receivers: JsonServer, notifying_controller: ControllerProcess
) -> None:
    apply(kube, namespace, *notification_objects(receivers))
    name = "notified"
    body = rollout(name, replicas=2, strategy={"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}})
    body["metadata"]["annotations"] = {
        f"{PREFIX}/subscribe.on-rollout-updated.hook": "",
        f"{PREFIX}/subscribe.on-rollout-step-completed.hook": "",
        f"{PREFIX}/subscribe.on-rollout-aborted.slack": "releases",
        f"{PREFIX}/subscribe.on-rollout-aborted.teams": "ops",
    }
    apply(kube, namespace, body)
    wait_healthy(kube, namespace, name, timeout=60)
    wait_for(lambda: hits(receivers)["/hook/updated"] == 1, timeout=30, what="the first revision's webhook")

    set_image(kube, namespace, name, "demo:green")
    wait_status(kube, namespace, name, what="paused at the second step", currentStepIndex=1, phase="Paused")
    wait_for(lambda: hits(receivers)["/hook/step-completed"] == 1, timeout=30, what="the step's webhook")
    wait_for(lambda: len(recorded_keys(kube, namespace, name)) == 3, timeout=30, what="three deliveries recorded")

    # A restart: the new process reads the record and the status it left; nothing is sent again.
    notifying_controller.kill()
    notifying_controller.start()
    kubectl_rollouts(kube, namespace, "abort", name)
    wait_status(kube, namespace, name, what="aborted", phase="Degraded")
    slack = "/slack/chat.postMessage"
    teams = f"/teams/{SECRETS['teams-path']}"
    wait_for(lambda: hits(receivers)[slack] == 1 and hits(receivers)[teams] == 1, timeout=30, what="abort notices")
    wait_for(lambda: len(recorded_keys(kube, namespace, name)) == 5, timeout=30, what="five deliveries recorded")

    assert hits(receivers) == Counter(
        {"/hook/updated": 2, "/hook/step-completed": 1, slack: 1, teams: 1}  # revision 1 and 2 each updated once
    )
    with receivers.lock:
        seen = {request.path: request for request in receivers.seen}
    step = seen["/hook/step-completed"]
    assert step.method == "POST"
    assert step.headers["X-Token"] == SECRETS["hook-token"]
    assert json.loads(step.body) == {"rollout": name, "event": "step-completed"}
    posted = json.loads(seen[slack].body)
    assert seen[slack].headers["Authorization"] == f"Bearer {SECRETS['slack-token']}"
    assert posted["channel"] == "releases"
    assert posted["text"] == f"Rollout {name} has been aborted."  # the built-in template
    assert posted["attachments"][0]["title"] == name  # the built-in template's attachment
    card = json.loads(seen[teams].body)
    assert (card["@type"], card["text"]) == ("MessageCard", f"Rollout {name} has been aborted.")

    log = notifying_controller.output()
    assert "delivered" in log
    for secret in SECRETS.values():
        assert secret not in log


def test_bad_configuration_is_a_warning_event_naming_the_key_and_the_rollout_is_still_served(
    kube: Kube, namespace: str, receivers: JsonServer, notifying_controller: ControllerProcess
) -> None:
    broken = {"template.rollout-completed": "message: '{{ nope .rollout }}'", "service.pager": "url: http://x"}
    apply(kube, namespace, *notification_objects(receivers, **broken))
    name = "misconfigured"
    body = rollout(name, replicas=1, strategy={"canary": {"steps": [{"setWeight": 50}]}})
    body["metadata"]["annotations"] = {
        f"{PREFIX}/subscribe.on-rollout-updated.pagerduty": "on-call",
        f"{PREFIX}/subscribe.on-rollout-completed.hook": "",
        f"{PREFIX}/subscribe.on-rollout-updated.hook": "",
    }
    apply(kube, namespace, body)
    wait_healthy(kube, namespace, name, timeout=60)

    def warnings() -> list[str]:
        return [str(e.message) for e in events(kube, namespace, name) if e.reason == INVALID_REASON]

    found = wait_for(lambda: warnings() if len(warnings()) >= 2 else None, timeout=30, what="two Warning Events")
    assert any(
        f"annotation {PREFIX}/subscribe.on-rollout-updated.pagerduty: names service 'pagerduty'" in m for m in found
    ), found
    assert any("template.rollout-completed: message: line 1: function 'nope' is not supported" in m for m in found)
    # The good subscription still works, and the controller kept serving: an update goes through.
    wait_for(lambda: hits(receivers)["/hook/updated"] == 1, timeout=30, what="the webhook of the good subscription")
    set_image(kube, namespace, name, "demo:green")
    wait_healthy(kube, namespace, name, timeout=60)
    assert notifying_controller.process is not None
    assert notifying_controller.process.poll() is None
    assert "service.pager: service type 'pager' is not supported" in notifying_controller.output()


def test_a_restarted_process_deciding_the_same_event_sends_nothing_and_a_follower_sends_nothing(
    kube: Kube, namespace: str, receivers: JsonServer, crds_installed: list[str]
) -> None:
    apply(kube, namespace, *notification_objects(receivers))
    body = rollout("same", replicas=1, strategy={"canary": {"steps": [{"setWeight": 50}]}})
    body["metadata"]["annotations"] = {f"{PREFIX}/subscribe.on-rollout-step-completed.hook": ""}
    apply(kube, namespace, body)
    decided_from = get_rollout(kube, namespace, "same")
    step = EmitEvent(type=EventType.NORMAL, reason="RolloutStepCompleted", message="Rollout step 1/1 completed")

    def process(*, leading: bool) -> Notifier:
        api = ApiKube.from_kubeconfig(str(kube.kubeconfig))
        api.write_gate = lambda: leading
        notifier = Notifier(api, mode=ROLLOUTS_DEV, namespace=namespace, recorder=EventRecorder(api, "test"))
        notifier.start()
        notifier.submit(decided_from, [step])
        assert notifier.flush(60)
        notifier.stop()
        return notifier

    follower = process(leading=False)
    assert (follower.delivered, hits(receivers)["/hook/step-completed"]) == (0, 0)
    first = process(leading=True)
    assert (first.delivered, hits(receivers)["/hook/step-completed"]) == (1, 1)
    assert len(recorded_keys(kube, namespace, "same")) == 1
    restarted = process(leading=True)  # a new process: nothing in memory, the record on the Rollout
    assert (restarted.delivered, hits(receivers)["/hook/step-completed"]) == (0, 1)
    assert restarted.failed == 0


def test_a_failing_receiver_is_retried_a_bounded_number_of_times_then_reported(
    kube: Kube, namespace: str, receivers: JsonServer, crds_installed: list[str]
) -> None:
    # The token is part of the URL's path here: the Warning Event must not show it.
    receivers.route(f"/hook/{SECRETS['hook-token']}/step-completed", {"error": "down"}, status=503)
    retrying = f"url: {receivers.url}/hook/$hook-token\nretryMax: 2\nretryWaitMin: 10ms\nretryWaitMax: 20ms\n"
    apply(kube, namespace, *notification_objects(receivers, **{"service.webhook.hook": retrying}))
    body = rollout("failing", replicas=1, strategy={"canary": {"steps": [{"setWeight": 50}]}})
    body["metadata"]["annotations"] = {f"{PREFIX}/subscribe.on-rollout-step-completed.hook": ""}
    apply(kube, namespace, body)
    api = ApiKube.from_kubeconfig(str(kube.kubeconfig))
    recorder = EventRecorder(api, "test")
    notifier = Notifier(api, mode=ROLLOUTS_DEV, namespace=namespace, recorder=recorder)
    notifier.start()
    step = EmitEvent(type=EventType.NORMAL, reason="RolloutStepCompleted", message="Rollout step 1/1 completed")
    notifier.submit(get_rollout(kube, namespace, "failing"), [step])
    assert notifier.flush(60)
    assert recorder.flush(30)
    notifier.stop()
    assert (notifier.delivered, notifier.failed) == (0, 1)
    assert sum(n for path, n in hits(receivers).items() if path.startswith("/hook/")) == 3  # 1 + retryMax 2
    [failure] = [e for e in events(kube, namespace, "failing") if e.reason == FAILED_REASON]
    assert "webhook 'hook' answered HTTP 503" in str(failure.message)
    assert SECRETS["hook-token"] not in str(failure.message)
    assert recorded_keys(kube, namespace, "failing") == {}
