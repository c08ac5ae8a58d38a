"""What each Rollout command sends, in both API groups: the patches Argo's plugin sends, to the object that holds the
field (a workloadRef Rollout's template is its Deployment's), and what the terminal shows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from rollouts.commands import CommandError
from rollouts.commands.rollouts import RolloutClient, image_patch
from tests.support.fake_kube import FakeKube, Plugin, Request
from workflows.api import ARGO, ROLLOUTS_DEV, ApiMode
from workflows.runtime.kube import DEPLOYMENTS, REPLICA_SETS

MODES = pytest.mark.parametrize("mode", [ROLLOUTS_DEV, ARGO], ids=["rollouts.dev", "argoproj.io"])


def group_flags(mode: ApiMode) -> list[str]:
    return ["--api-group", mode.group]


def template(image: str, *, init_image: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": image}, {"name": "proxy", "image": "envoy:1"}]}
    if init_image:
        spec["initContainers"] = [{"name": "setup", "image": init_image}]
    return {"metadata": {"labels": {"app": "web"}}, "spec": spec}


def rollout(
    mode: ApiMode, name: str = "web", *, workload: str | None = None, kind: str = "Deployment", **status: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": 3,
        "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}},
    }
    if workload:
        spec["workloadRef"] = {"apiVersion": "apps/v1", "kind": kind, "name": workload}
    else:
        spec["selector"] = {"matchLabels": {"app": "web"}}
        spec["template"] = template("demo:1")
    return {
        "apiVersion": mode.api_version,
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": spec,
        "status": status,
    }


def deployment(name: str, image: str = "demo:1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}}, "template": template(image)},
    }


def replica_set(mode: ApiMode, pod_hash: str, revision: int, image: str, *, owner: str = "web") -> dict[str, Any]:
    pod_template = template(image)
    pod_template["metadata"]["labels"]["rollouts-pod-template-hash"] = pod_hash
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{owner}-{pod_hash}",
            "namespace": "shop",
            "labels": {"app": "web", "rollouts-pod-template-hash": pod_hash},
            "annotations": {mode.revision_annotation: str(revision)},
            "ownerReferences": [{"kind": "Rollout", "name": owner, "uid": f"uid-{owner}", "controller": True}],
        },
        "spec": {"replicas": 1, "template": pod_template},
    }


def patches(api: FakeKube) -> list[tuple[str, str | None, str | None, Any]]:
    """(plural, name, subresource, body) of every write, in order."""
    return [(r.resource.plural, r.name, r.subresource, r.body) for r in api.writes()]


# -- promote / abort / retry / pause / resume --------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    argv: list[str]
    status: dict[str, Any]
    sent: list[tuple[str | None, Any]]  # (subresource, merge patch) in order
    line: str


STATE_COMMANDS = [
    Case(["abort", "web"], {}, [("status", {"status": {"abort": True}})], "rollout 'web' aborted"),
    Case(["retry", "rollout", "web"], {"abort": True}, [("status", {"status": {"abort": False}})], "retried"),
    Case(["retry", "web"], {"abort": True}, [("status", {"status": {"abort": False}})], "rollout 'web' retried"),
    Case(["pause", "web"], {}, [(None, {"spec": {"paused": True}})], "rollout 'web' paused"),
    Case(["resume", "web"], {}, [(None, {"spec": {"paused": False}})], "rollout 'web' resumed"),
    Case(
        ["promote", "web"],
        {"pauseConditions": [{"reason": "CanaryPauseStep"}], "controllerPause": True, "currentStepIndex": 1},
        [("status", {"status": {"pauseConditions": None}})],
        "rollout 'web' promoted",
    ),
    Case(
        ["promote", "web", "--full"],
        {"currentStepIndex": 1},
        [("status", {"status": {"promoteFull": True}})],
        "rollout 'web' fully promoted",
    ),
    Case(["promote", "web"], {"currentStepIndex": 0}, [("status", {"status": {"currentStepIndex": 1}})], "skipped"),
]


@MODES
@pytest.mark.parametrize("case", STATE_COMMANDS, ids=[" ".join(case.argv) for case in STATE_COMMANDS])
def test_state_commands_patch_the_rollout(api: FakeKube, plugin: Plugin, mode: ApiMode, case: Case) -> None:
    api.add(rollout(mode, **case.status))
    code, out, err = plugin(*case.argv, *group_flags(mode))
    assert (code, err) == (0, "")
    assert case.line in out
    assert patches(api) == [("rollouts", "web", sub, body) for sub, body in case.sent]
    assert all(r.resource.group == mode.group for r in api.writes())
    assert api.closed


def test_abort_pause_and_retry_take_several_names_as_argo(api: FakeKube, plugin: Plugin) -> None:
    api.add(rollout(ROLLOUTS_DEV, "a"))
    api.add(rollout(ROLLOUTS_DEV, "b"))
    code, out, _ = plugin("abort", "a", "b")
    assert code == 0
    assert out.splitlines() == ["rollout 'a' aborted", "rollout 'b' aborted"]
    assert [name for _, name, _, _ in patches(api)] == ["a", "b"]


def test_the_namespace_is_the_flag_else_the_kubeconfig_context(api: FakeKube, plugin: Plugin) -> None:
    api.add({**rollout(ROLLOUTS_DEV), "metadata": {"name": "web", "namespace": "other"}})
    api.add(rollout(ROLLOUTS_DEV))
    assert plugin("pause", "web", "-n", "other", "--kubeconfig", "/tmp/kc", "--context", "ci")[0] == 0
    assert plugin("pause", "web")[0] == 0
    assert [request.namespace for request in api.writes()] == ["other", "shop"]
    assert api.connections == [("/tmp/kc", "ci"), (None, None)]


def test_a_missing_rollout_exits_1_naming_it(api: FakeKube, plugin: Plugin) -> None:
    code, out, err = plugin("abort", "ghost")
    assert (code, out) == (1, "")
    assert "rollout shop/ghost not found" in err


def test_the_group_comes_from_the_environment_too(
    api: FakeKube, plugin: Plugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLLOUTS_API_GROUP", "argoproj.io")
    api.add(rollout(ARGO))
    assert plugin("pause", "web")[0] == 0
    assert api.writes()[0].resource == ARGO.rollouts


# -- restart ---------------------------------------------------------------------------------------------------------
def test_restart_in_a_duration_sets_restart_at_that_much_later(api: FakeKube, plugin: Plugin) -> None:
    api.add(rollout(ROLLOUTS_DEV))
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    code, out, _ = plugin("restart", "web", "--in", "1m30s")
    after = dt.datetime.now(dt.UTC)
    assert (code, out) == (0, "rollout 'web' restarts in 1m30s\n")
    [(_, _, subresource, body)] = patches(api)
    assert subresource is None
    restart_at = dt.datetime.strptime(body["spec"]["restartAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert before + dt.timedelta(seconds=90) <= restart_at <= after + dt.timedelta(seconds=90)


def test_restart_now_is_restart_in_zero_seconds() -> None:
    api = FakeKube(namespace="shop")
    api.add(rollout(ROLLOUTS_DEV))
    client = RolloutClient(kube=api, namespace="shop")
    now = dt.datetime(2025, 5, 1, 12, 0, 0, 700_000, tzinfo=dt.UTC)
    assert client.restart("web", now=now) == "rollout 'web' restarts in 0s"
    assert api.stored(ROLLOUTS_DEV.rollouts, "web")["spec"]["restartAt"] == "2025-05-01T12:00:00Z"


# -- set image -------------------------------------------------------------------------------------------------------
@MODES
def test_set_image_patches_the_rollouts_template(api: FakeKube, plugin: Plugin, mode: ApiMode) -> None:
    api.add(rollout(mode))
    code, out, _ = plugin("set", "image", "web", "proxy=envoy:2", *group_flags(mode))
    assert (code, out) == (0, 'rollout "web" image updated\n')
    assert patches(api) == [
        (
            "rollouts",
            "web",
            None,
            [
                {"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "proxy"},
                {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": "envoy:2"},
            ],
        )
    ]
    assert api.writes()[0].patch_type == "json"
    containers = api.stored(mode.rollouts, "web")["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == ["demo:1", "envoy:2"]


@MODES
def test_set_image_on_a_workload_ref_rollout_edits_the_deployment(api: FakeKube, plugin: Plugin, mode: ApiMode) -> None:
    api.add(rollout(mode, workload="web-deploy"))
    api.add(deployment("web-deploy"))
    code, out, _ = plugin("set", "image", "web", "app=demo:2", *group_flags(mode))
    assert (code, out) == (0, 'deployment "web-deploy" image updated\n')
    [write] = api.writes()
    assert (write.resource, write.name, write.patch_type) == (DEPLOYMENTS, "web-deploy", "json")
    stored = api.stored(DEPLOYMENTS, "web-deploy")
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "demo:2"
    assert "template" not in api.stored(mode.rollouts, "web")["spec"]  # the Rollout is not touched


def test_set_image_star_sets_every_container_init_containers_included() -> None:
    body = {"spec": {"template": template("demo:1", init_image="busybox:1")}}
    operations = image_patch(body, "*", "demo:2")
    replaced = [op["path"] for op in operations if op["op"] == "replace"]
    assert replaced == [
        "/spec/template/spec/initContainers/0/image",
        "/spec/template/spec/containers/0/image",
        "/spec/template/spec/containers/1/image",
    ]
    assert image_patch(body, "missing", "demo:2") == []


def test_set_image_of_an_unknown_container_is_refused(api: FakeKube, plugin: Plugin) -> None:
    api.add(rollout(ROLLOUTS_DEV))
    code, _, err = plugin("set", "image", "web", "sidecar=x:1")
    assert code == 1
    assert "unable to find container named 'sidecar'" in err
    assert api.writes() == []


def test_set_image_needs_container_equals_image(api: FakeKube, plugin: Plugin) -> None:
    api.add(rollout(ROLLOUTS_DEV))
    code, _, err = plugin("set", "image", "web", "demo:2")
    assert code == 2
    assert "CONTAINER=IMAGE" in err


def test_a_template_reordered_since_it_was_read_is_not_patched_in_the_wrong_place() -> None:
    api = FakeKube(namespace="shop")
    api.add(rollout(ROLLOUTS_DEV))
    operations = image_patch(rollout(ROLLOUTS_DEV), "proxy", "envoy:2")
    stored = api.stored(ROLLOUTS_DEV.rollouts, "web")
    stored["spec"]["template"]["spec"]["containers"].reverse()
    client = RolloutClient(kube=api, namespace="shop")
    with pytest.raises(CommandError, match="test of /spec/template/spec/containers/1/name failed"):
        client._send(ROLLOUTS_DEV.rollouts, "web", operations, patch_type="json")


@pytest.mark.parametrize(
    ("workload", "kind", "message"),
    [
        ("missing", "Deployment", "names deployment shop/missing, which does not exist"),
        ("web-rs", "ReplicaSet", "spec.workloadRef.kind 'ReplicaSet' is not supported"),
    ],
)
def test_a_workload_ref_that_cannot_be_edited_is_reported(
    api: FakeKube, plugin: Plugin, workload: str, kind: str, message: str
) -> None:
    api.add(rollout(ROLLOUTS_DEV, workload=workload, kind=kind))
    code, _, err = plugin("set", "image", "web", "app=demo:2")
    assert code == 1
    assert message in err


# -- undo ------------------------------------------------------------------------------------------------------------
def history(api: FakeKube, mode: ApiMode) -> None:
    api.add(replica_set(mode, "aaa", 1, "demo:1"))
    api.add(replica_set(mode, "bbb", 2, "demo:2"))
    api.add(replica_set(mode, "ccc", 3, "demo:3"))
    api.add(replica_set(mode, "zzz", 9, "other:1", owner="someone-else"))


@MODES
def test_undo_puts_the_previous_revisions_template_back(api: FakeKube, plugin: Plugin, mode: ApiMode) -> None:
    api.add(rollout(mode, currentPodHash="ccc", stableRS="bbb"))
    history(api, mode)
    code, out, _ = plugin("undo", "web", *group_flags(mode))
    assert (code, out) == (0, "rollout 'web' rolled back to revision 2\n")
    [write] = api.writes()
    assert (write.resource, write.name, write.patch_type) == (mode.rollouts, "web", "json")
    [operation] = write.body
    assert operation["op"] == "replace"
    assert operation["path"] == "/spec/template"
    assert operation["value"]["spec"]["containers"][0]["image"] == "demo:2"
    assert "rollouts-pod-template-hash" not in operation["value"]["metadata"]["labels"]  # the controller's label


@MODES
def test_undo_on_a_workload_ref_rollout_edits_the_deployment(api: FakeKube, plugin: Plugin, mode: ApiMode) -> None:
    api.add(rollout(mode, workload="web-deploy", currentPodHash="ccc", stableRS="ccc"))
    api.add(deployment("web-deploy", "demo:3"))
    history(api, mode)
    code, out, _ = plugin("undo", "web", "--to-revision", "1", *group_flags(mode))
    assert code == 0
    assert out == "rollout 'web' rolled back to revision 1 (deployment 'web-deploy')\n"
    [write] = api.writes()
    assert (write.resource, write.name) == (DEPLOYMENTS, "web-deploy")
    stored = api.stored(DEPLOYMENTS, "web-deploy")["spec"]["template"]
    assert stored == template("demo:1")
    assert "template" not in api.stored(mode.rollouts, "web")["spec"]


def test_undo_to_the_current_revision_is_skipped_as_argo(api: FakeKube, plugin: Plugin) -> None:
    api.add(rollout(ROLLOUTS_DEV, currentPodHash="ccc"))
    history(api, ROLLOUTS_DEV)
    code, out, _ = plugin("undo", "web", "--to-revision=3")
    assert (code, out) == (0, "skipped rollback (current template already matches revision 3)\n")
    assert api.writes() == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["undo", "web", "--to-revision", "7"], "no revision 7 (known: 1, 2, 3)"),
    ],
)
def test_undo_to_an_unknown_revision_lists_the_known_ones(
    api: FakeKube, plugin: Plugin, argv: list[str], message: str
) -> None:
    api.add(rollout(ROLLOUTS_DEV, currentPodHash="ccc"))
    history(api, ROLLOUTS_DEV)
    code, _, err = plugin(*argv)
    assert code == 1
    assert message in err


def test_undo_with_one_revision_has_nowhere_to_go(api: FakeKube, plugin: Plugin) -> None:
    api.add(rollout(ROLLOUTS_DEV, currentPodHash="aaa"))
    api.add(replica_set(ROLLOUTS_DEV, "aaa", 1, "demo:1"))
    code, _, err = plugin("undo", "web")
    assert code == 1
    assert "no previous revision" in err


def test_undo_reads_the_history_from_the_rollouts_own_replica_sets(api: FakeKube, plugin: Plugin) -> None:
    api.add(rollout(ROLLOUTS_DEV, currentPodHash="ccc"))
    history(api, ROLLOUTS_DEV)
    plugin("undo", "web")
    lists = [r for r in api.requests if r.verb == "list"]
    assert lists == [Request("list", REPLICA_SETS, None, "shop", body=(None, None))]


# -- experiments -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ["retry", "experiment", "e"],
        ["get", "experiment", "e"],
        ["get", "exp", "e", "-w", "--no-color"],  # Argo's flags reach the refusal, not a usage error
        ["list", "experiments"],
        ["list", "experiments", "-A"],
        ["terminate", "experiment", "e"],
    ],
)
def test_experiment_forms_are_refused_clearly(api: FakeKube, plugin: Plugin, argv: list[str]) -> None:
    code, out, err = plugin(*argv)
    assert (code, out) == (1, "")
    assert "experiments are not supported yet" in err
    assert api.requests == []
