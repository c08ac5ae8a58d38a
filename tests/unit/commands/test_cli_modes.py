"""`--api-group` and `--instance-id`: the CLI turns them into the one mode value the controller uses."""

from __future__ import annotations

from typing import Any

import pytest

import rollouts.controller
from rollouts.cli import main
from rollouts.controller import ControllerConfig
from workflows.api import ARGO, ROLLOUTS_DEV


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[ControllerConfig]:
    seen: list[ControllerConfig] = []

    def fake_run_controller(*, config: ControllerConfig | None = None, **_: Any) -> int:
        assert config is not None
        seen.append(config)
        return 0

    monkeypatch.setattr(rollouts.controller, "run_controller", fake_run_controller)
    monkeypatch.delenv("ROLLOUTS_API_GROUP", raising=False)
    return seen


def test_the_controller_serves_our_group_by_default(started: list[ControllerConfig]) -> None:
    assert main(["controller"]) == 0
    assert started[0].mode is ROLLOUTS_DEV
    assert started[0].instance_id == ""
    assert started[0].label_filter() == {
        "argo-rollouts.argoproj.io/controller-instance-id": rollouts.controller.kopf.ABSENT
    }


def test_drop_in_mode_with_an_instance_id(started: list[ControllerConfig]) -> None:
    assert main(["controller", "--api-group", "argoproj.io", "--instance-id", "e2e"]) == 0
    assert started[0].mode is ARGO
    assert started[0].label_filter() == {"argo-rollouts.argoproj.io/controller-instance-id": "e2e"}


def test_the_group_can_come_from_the_environment(
    started: list[ControllerConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLLOUTS_API_GROUP", "argoproj.io")
    assert main(["controller"]) == 0
    assert started[0].mode is ARGO


def test_an_unknown_group_is_refused_by_the_parser(started: list[ControllerConfig]) -> None:
    with pytest.raises(SystemExit):
        main(["controller", "--api-group", "example.com"])
    assert started == []
