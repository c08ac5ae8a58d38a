"""`kubectl rollouts list rollouts`: Argo's columns, values and layout, byte for byte (the expected tables are the
ones Argo's own list_test.go pins for the same Rollouts)."""

from __future__ import annotations

from typing import Any

import pytest

from rollouts.commands.listing import format_rollout_table, set_weight
from tests.support.fake_kube import FakeKube, Plugin
from workflows.api import ARGO, ROLLOUTS_DEV, ApiMode


def canary(name: str = "can-guestbook", namespace: str = "test", **status: Any) -> dict[str, Any]:
    """Argo's newCanaryRollout."""
    return {
        "apiVersion": ROLLOUTS_DEV.api_version,
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 5,
            "strategy": {"canary": {"steps": [{"setWeight": 10}, {"pause": {"duration": 60}}, {"setWeight": 20}]}},
        },
        "status": {
            "currentStepIndex": 1,
            "replicas": 4,
            "readyReplicas": 1,
            "updatedReplicas": 3,
            "availableReplicas": 2,
            **status,
        },
    }


def blue_green() -> dict[str, Any]:
    """Argo's newBlueGreenRollout."""
    body = canary("bg-guestbook")
    body["spec"]["strategy"] = {"blueGreen": {}}
    return body


def test_a_canary_row_as_argo_prints_it() -> None:
    assert format_rollout_table([canary()]) == (
        "NAME           STRATEGY   STATUS        STEP  SET-WEIGHT  READY  DESIRED  UP-TO-DATE  AVAILABLE\n"
        "can-guestbook  Canary     Progressing   1/3   10          1/4    5        3           2        \n"
    )


def test_a_blue_green_row_and_the_order_given() -> None:
    assert format_rollout_table([blue_green(), canary()]) == (
        "NAME           STRATEGY   STATUS        STEP  SET-WEIGHT  READY  DESIRED  UP-TO-DATE  AVAILABLE\n"
        "bg-guestbook   BlueGreen  Progressing   -     -           1/4    5        3           2        \n"
        "can-guestbook  Canary     Progressing   1/3   10          1/4    5        3           2        \n"
    )


def test_all_namespaces_adds_the_namespace_column() -> None:
    table = format_rollout_table([canary()], all_namespaces=True)
    assert table.splitlines()[0] == (
        "NAMESPACE  NAME           STRATEGY   STATUS        STEP  SET-WEIGHT  READY  DESIRED  UP-TO-DATE  AVAILABLE"
    )
    assert table.splitlines()[1].startswith("test       can-guestbook  Canary     Progressing   1/3   10")


def test_long_values_widen_their_column() -> None:
    long = canary("a-rollout-with-a-long-name", phase="Healthy", observedGeneration="1")
    lines = format_rollout_table([long, canary()]).splitlines()
    assert lines[0].index("STRATEGY") == lines[1].index("Canary") == lines[2].index("Canary") == 28
    assert "Healthy" in lines[1]


@pytest.mark.parametrize(
    ("steps", "status", "routing", "weight"),
    [
        ([{"setWeight": 10}, {"pause": {}}, {"setWeight": 20}], {"currentStepIndex": 1}, None, 10),
        ([{"setWeight": 10}, {"pause": {}}, {"setWeight": 20}], {"currentStepIndex": 2}, None, 20),
        ([{"setWeight": 10}, {"pause": {}}], {"currentStepIndex": 2}, None, 100),  # past the last step
        ([{"setWeight": 10}], {"currentStepIndex": 2}, {"maxTrafficWeight": 1000}, 1000),
        ([{"pause": {}}, {"setWeight": 20}], {"currentStepIndex": 0}, None, 0),
        ([{"pause": {}}, {"setWeight": 20}], {}, None, 0),  # no index yet: step 0
        ([{"setWeight": 10}], {"currentStepIndex": 0, "abort": True}, None, 0),
        ([], {}, None, 100),
    ],
)
def test_set_weight_is_the_current_steps(
    steps: list[Any], status: dict[str, Any], routing: dict[str, Any] | None, weight: int
) -> None:
    strategy: dict[str, Any] = {"steps": steps}
    if routing:
        strategy["trafficRouting"] = routing
    assert set_weight({"spec": {"strategy": {"canary": strategy}}, "status": status}) == weight


@pytest.mark.parametrize("mode", [ROLLOUTS_DEV, ARGO], ids=["rollouts.dev", "argoproj.io"])
def test_the_command_lists_the_namespace_or_all(api: FakeKube, plugin: Plugin, mode: ApiMode) -> None:
    api.add({**canary("web", "shop"), "apiVersion": mode.api_version})
    api.add({**canary("api", "other"), "apiVersion": mode.api_version})
    code, out, _ = plugin("list", "rollouts", "--api-group", mode.group)
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["NAME", "web"]
    code, out, _ = plugin("list", "ro", "-A", "--api-group", mode.group)
    assert [line.split()[:2] for line in out.splitlines()] == [["NAMESPACE", "NAME"], ["other", "api"], ["shop", "web"]]
    code, out, _ = plugin("list", "rollouts", "-A", "--name", "web", "--api-group", mode.group)
    assert [line.split()[1] for line in out.splitlines()[1:]] == ["web"]
    lists = [r for r in api.requests if r.verb == "list"]
    assert [(r.resource.group, r.namespace) for r in lists] == [
        (mode.group, "shop"),
        (mode.group, None),
        (mode.group, None),
    ]
    assert lists[-1].body == (None, "metadata.name=web")


def test_no_rollouts_is_said_on_stderr_as_argo(api: FakeKube, plugin: Plugin) -> None:
    assert plugin("list", "rollouts") == (0, "", "No resources found.\n")
