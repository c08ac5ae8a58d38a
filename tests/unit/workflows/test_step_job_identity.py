"""Container steps run with no ServiceAccount token unless the workflow names an identity (docs/security.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from workflows.runtime.jobs import DEFAULT_STEP_SERVICE_ACCOUNT, build_job
from workflows.runtime.runners import NodeContext


def pod_spec(*, pod: Mapping[str, Any] | None = None, service_account_name: str | None = None) -> dict[str, Any]:
    node = NodeContext(
        run_id="uid",
        workflow_name="wf",
        namespace="ns",
        node_id="wf-1",
        node_name="wf.a",
        display_name="a",
        template_name="step",
        kind="container",
        payload={"image": "busybox"},
        inputs={},
        attempt=1,
        pod=dict(pod or {}),
        service_account_name=service_account_name,
    )
    job = build_job(node, owner=None, default_service_account=DEFAULT_STEP_SERVICE_ACCOUNT)
    return dict(job["spec"]["template"]["spec"])


def test_a_step_that_names_no_identity_runs_as_the_unbound_account_without_a_token() -> None:
    spec = pod_spec()
    assert spec["serviceAccountName"] == DEFAULT_STEP_SERVICE_ACCOUNT
    assert spec["automountServiceAccountToken"] is False


@pytest.mark.parametrize(
    ("pod", "workflow_account", "expected"),
    [
        ({}, "deployer", "deployer"),  # spec.serviceAccountName
        ({"serviceAccountName": "smoke"}, None, "smoke"),  # the template's
    ],
)
def test_a_named_service_account_keeps_its_own_token_setting(
    pod: dict[str, Any], workflow_account: str | None, expected: str
) -> None:
    spec = pod_spec(pod=pod, service_account_name=workflow_account)
    assert spec["serviceAccountName"] == expected
    # Not forced either way: the ServiceAccount's own automountServiceAccountToken decides, as in Argo Workflows.
    assert "automountServiceAccountToken" not in spec
