"""`rollouts controller`'s leader-election flags: on by default, one Lease per controller that may run beside
another, durations that leave the leader room to renew."""

from __future__ import annotations

from typing import Any, cast

import pytest

import rollouts.controller
from rollouts.cli import main
from rollouts.controller import Election
from workflows.runtime.kube import Kube


@pytest.fixture
def elections(monkeypatch: pytest.MonkeyPatch) -> list[Election | None]:
    seen: list[Election | None] = []

    def fake_run_controller(*, election: Election | None = None, **_: Any) -> int:
        seen.append(election)
        return 0

    monkeypatch.setattr(rollouts.controller, "run_controller", fake_run_controller)
    monkeypatch.delenv("ROLLOUTS_API_GROUP", raising=False)
    return seen


def test_leader_election_is_on_by_default_with_argos_durations(elections: list[Election | None]) -> None:
    assert main(["controller"]) == 0
    assert elections == [Election(lease_name="rollouts-controller")]
    election = elections[0]
    assert election is not None
    assert (election.lease_duration, election.renew_deadline, election.retry_period) == (15.0, 10.0, 2.0)


def test_each_instance_and_group_has_its_own_lease(elections: list[Election | None]) -> None:
    main(["controller", "--instance-id", "blue"])
    main(["controller", "--api-group", "argoproj.io", "--instance-id", "blue"])
    main(["controller", "--lease-name", "mine", "--lease-namespace", "ops"])
    assert [(e.lease_name, e.lease_namespace) for e in elections if e is not None] == [
        ("rollouts-controller-blue", ""),
        ("rollouts-controller-blue-argoproj", ""),
        ("mine", "ops"),
    ]


def test_a_single_local_process_can_go_without(elections: list[Election | None]) -> None:
    assert main(["controller", "--no-leader-elect"]) == 0
    assert elections == [None]


def test_durations_that_leave_no_time_to_renew_are_a_usage_error(
    elections: list[Election | None], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["controller", "--leader-election-renew-deadline", "20"])
    assert exited.value.code == 2
    assert "--leader-election-renew-deadline < --leader-election-lease-duration" in capsys.readouterr().err
    assert elections == []


def test_the_lease_defaults_to_the_pods_name_and_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    kube = cast("Kube", type("K", (), {"namespace": "from-kubeconfig"})())
    monkeypatch.setenv("POD_NAME", "rollouts-7d9f-abcde")
    monkeypatch.setenv("POD_NAMESPACE", "rollouts-system")
    lease = Election().lease(kube)
    assert (lease.identity, lease.namespace, lease.name) == (
        "rollouts-7d9f-abcde",
        "rollouts-system",
        "rollouts-controller",
    )
    monkeypatch.delenv("POD_NAMESPACE")
    assert Election().lease(kube).namespace == "from-kubeconfig"
