"""``workflows.runtime.kube.Kube`` against the real API server: every answer callers rely on, as the server gives it.

The product's only client turns HTTP answers into values and types (None for a missing object, False for a delete
of one that is gone, ConflictError, InvalidError, NotServedError). These tests pin each of those mappings, the
three patch flavours and the status subresource, watches from a resourceVersion (with bookmarks and with an
expired version), server-side apply with field managers, eviction, and the shared watch index built on top.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cluster import Kube, wait_for
from workflows.api import API_VERSION
from workflows.runtime.kube import (
    NAMESPACES,
    PODS,
    SERVICE_ACCOUNTS,
    SERVICES,
    WORKFLOWS,
    ApiError,
    ConflictError,
    InvalidError,
    NotServedError,
    Resource,
)
from workflows.runtime.kube import Kube as Client
from workflows.runtime.watching import Key, WatchIndex

# Kinds the product does not use are described the same way: a Resource is just where a kind lives in the API.
CONFIG_MAPS = Resource("", "v1", "configmaps", "ConfigMap")
PDBS = Resource("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget")
NOT_INSTALLED = Resource("nothing.rollouts.dev", "v1", "widgets", "Widget")


def config_map(name: str, *, labels: Mapping[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": dict(labels or {})},
        "data": data,
    }


def workflow(name: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "suspend": {}}]},
    }


# -- reads ------------------------------------------------------------------------------------------------------------
def test_get_returns_the_object_or_none(kube_client: Client, namespace: str) -> None:
    kube_client.create(CONFIG_MAPS, config_map("present", colour="blue"), namespace)
    assert kube_client.get(CONFIG_MAPS, "present", namespace)["data"] == {"colour": "blue"}  # type: ignore[index]
    assert kube_client.get(CONFIG_MAPS, "absent", namespace) is None
    assert kube_client.get(CONFIG_MAPS, "present", "no-such-namespace") is None


def test_list_filters_by_label_and_field_selectors(kube_client: Client, namespace: str) -> None:
    for name, tier in (("a", "web"), ("b", "web"), ("c", "db")):
        kube_client.create(CONFIG_MAPS, config_map(name, labels={"tier": tier}), namespace)
    web = kube_client.list(CONFIG_MAPS, namespace, label_selector="tier=web")
    assert sorted(item["metadata"]["name"] for item in web.items) == ["a", "b"]
    assert int(web.resource_version) > 0
    only_c = kube_client.list(CONFIG_MAPS, namespace, field_selector="metadata.name=c")
    assert [item["metadata"]["name"] for item in only_c.items] == ["c"]
    everywhere = kube_client.list(CONFIG_MAPS, label_selector="tier=db")  # no namespace: all of them
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere.items] == [(namespace, "c")]


# -- errors as types --------------------------------------------------------------------------------------------------
def test_a_second_create_is_a_conflict(kube_client: Client, namespace: str) -> None:
    created = kube_client.create(CONFIG_MAPS, config_map("once"), namespace)
    assert created["metadata"]["uid"]
    with pytest.raises(ConflictError) as raised:
        kube_client.create(CONFIG_MAPS, config_map("once"), namespace)
    assert raised.value.status == 409
    assert raised.value.reason == "AlreadyExists"


def test_replace_with_a_stale_resource_version_is_a_conflict(kube_client: Client, namespace: str) -> None:
    first = kube_client.create(CONFIG_MAPS, config_map("guarded", value="1"), namespace)
    second = kube_client.replace(CONFIG_MAPS, {**first, "data": {"value": "2"}})
    assert second is not None
    assert second["data"] == {"value": "2"}
    with pytest.raises(ConflictError) as raised:
        kube_client.replace(CONFIG_MAPS, {**first, "data": {"value": "3"}})  # built from the first version
    assert "the object has been modified" in raised.value.message
    assert kube_client.get(CONFIG_MAPS, "guarded", namespace)["data"] == {"value": "2"}  # type: ignore[index]
    gone = config_map("gone")
    gone["metadata"]["namespace"] = namespace
    assert kube_client.replace(CONFIG_MAPS, gone) is None


def test_delete_says_whether_there_was_something_to_delete(kube_client: Client, namespace: str) -> None:
    kube_client.create(CONFIG_MAPS, config_map("doomed"), namespace)
    assert kube_client.delete(CONFIG_MAPS, "doomed", namespace, propagation="Background") is True
    assert kube_client.delete(CONFIG_MAPS, "doomed", namespace) is False
    assert kube_client.get(CONFIG_MAPS, "doomed", namespace) is None


def test_a_kind_the_server_does_not_serve_is_not_served_never_missing(kube_client: Client, namespace: str) -> None:
    for call in (
        lambda: kube_client.get(NOT_INSTALLED, "w", namespace),
        lambda: kube_client.list(NOT_INSTALLED, namespace),
        lambda: kube_client.delete(NOT_INSTALLED, "w", namespace),
        lambda: kube_client.patch(NOT_INSTALLED, "w", {"spec": {}}, namespace),
    ):
        with pytest.raises(NotServedError) as raised:
            call()
        assert raised.value.status == 404


def test_validation_refusals_carry_the_servers_message(
    kube_client: Client, namespace: str, crds_installed: list[str]
) -> None:
    with pytest.raises(InvalidError) as raised:
        kube_client.create(CONFIG_MAPS, config_map("Not_A_Name"), namespace)
    assert raised.value.status == 422
    assert "metadata.name" in raised.value.message
    assert "Not_A_Name" in raised.value.message
    bad = workflow("no-entrypoint")
    del bad["spec"]["entrypoint"]
    with pytest.raises(InvalidError) as schema:
        kube_client.create(WORKFLOWS, bad, namespace)  # our CRD's schema, enforced by the API server
    assert "spec.entrypoint" in schema.value.message
    assert schema.value.details.get("kind") == "Workflow"


def test_a_dry_run_create_stores_nothing_and_strict_validation_refuses_undeclared_fields(
    kube_client: Client, namespace: str, crds_installed: list[str]
) -> None:
    created = kube_client.create(WORKFLOWS, workflow("dry"), namespace, dry_run=True, field_validation="Strict")
    assert created["metadata"]["name"] == "dry"
    assert kube_client.get(WORKFLOWS, "dry", namespace) is None
    typo = workflow("typo")
    typo["spec"]["entrypont"] = "main"
    with pytest.raises(ApiError) as strict:
        kube_client.create(WORKFLOWS, typo, namespace, dry_run=True, field_validation="Strict")
    assert strict.value.status == 400
    assert 'unknown field "spec.entrypont"' in strict.value.message
    pruned = kube_client.create(WORKFLOWS, typo, namespace, dry_run=True, field_validation="Ignore")
    assert "entrypont" not in pruned["spec"]


# -- patches ----------------------------------------------------------------------------------------------------------
def test_merge_json_and_strategic_patches(kube_client: Client, namespace: str) -> None:
    kube_client.create(CONFIG_MAPS, config_map("patched", keep="yes", drop="yes"), namespace)
    merged = kube_client.patch(CONFIG_MAPS, "patched", {"data": {"drop": None, "new": "1"}}, namespace)
    assert merged is not None
    assert merged["data"] == {"keep": "yes", "new": "1"}  # null removes a key in a merge patch
    ops = [{"op": "test", "path": "/data/new", "value": "1"}, {"op": "replace", "path": "/data/new", "value": "2"}]
    assert kube_client.patch(CONFIG_MAPS, "patched", ops, namespace, patch_type="json")["data"]["new"] == "2"  # type: ignore[index]
    with pytest.raises(InvalidError):  # a failed JSON patch "test" is refused as a whole
        kube_client.patch(CONFIG_MAPS, "patched", [{"op": "test", "path": "/data/new", "value": "1"}], namespace,
                          patch_type="json")  # fmt: skip
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "ports"},
        "spec": {"ports": [{"name": "http", "port": 80}]},
    }
    kube_client.create(SERVICES, service, namespace)
    more = {"spec": {"ports": [{"name": "metrics", "port": 9090}]}}
    strategic = kube_client.patch(SERVICES, "ports", more, namespace, patch_type="strategic")
    assert strategic is not None
    assert sorted(p["port"] for p in strategic["spec"]["ports"]) == [80, 9090]  # merged by the list's key
    merged_service = kube_client.patch(SERVICES, "ports", more, namespace)
    assert [p["port"] for p in merged_service["spec"]["ports"]] == [9090]  # type: ignore[index]  # list replaced
    assert kube_client.patch(CONFIG_MAPS, "absent", {"data": {}}, namespace) is None


def test_status_is_written_through_its_subresource_only(
    kube_client: Client, namespace: str, crds_installed: list[str]
) -> None:
    kube_client.create(WORKFLOWS, workflow("with-status"), namespace)
    ignored = kube_client.patch(WORKFLOWS, "with-status", {"status": {"phase": "Running"}}, namespace)
    assert ignored is not None
    assert "status" not in ignored or not ignored["status"].get("phase")  # the main resource ignores status
    written = kube_client.patch(
        WORKFLOWS, "with-status", {"status": {"phase": "Running", "message": "hi"}}, namespace, subresource="status"
    )
    assert written is not None
    assert written["status"]["phase"] == "Running"
    read = kube_client.get(WORKFLOWS, "with-status", namespace, subresource="status")
    assert read is not None
    assert read["status"]["message"] == "hi"
    assert kube_client.patch(WORKFLOWS, "absent", {"status": {}}, namespace, subresource="status") is None


# -- watches ----------------------------------------------------------------------------------------------------------
def test_watch_from_a_resource_version_sees_later_changes_and_bookmarks(kube_client: Client, namespace: str) -> None:
    kube_client.create(CONFIG_MAPS, config_map("before", labels={"w": "1"}), namespace)
    listing = kube_client.list(CONFIG_MAPS, namespace, label_selector="w=1")
    kube_client.create(CONFIG_MAPS, config_map("after", labels={"w": "1"}), namespace)
    kube_client.patch(CONFIG_MAPS, "after", {"data": {"k": "v"}}, namespace)
    kube_client.delete(CONFIG_MAPS, "before", namespace)
    seen = [
        (event.type, event.object["metadata"].get("name"))
        for event in kube_client.watch(
            CONFIG_MAPS, namespace, label_selector="w=1", resource_version=listing.resource_version, timeout_seconds=3
        )
    ]
    # Bookmarks (best effort: the server sends them when it sees fit) carry only the version to resume from.
    changes = [item for item in seen if item[0] != "BOOKMARK"]
    assert changes == [("ADDED", "after"), ("MODIFIED", "after"), ("DELETED", "before")]
    assert all(name is None for kind, name in seen if kind == "BOOKMARK")
    by_name = kube_client.watch(
        CONFIG_MAPS, namespace, field_selector="metadata.name=after", resource_version=listing.resource_version,
        timeout_seconds=2,
    )  # fmt: skip
    assert [(e.type, e.object["metadata"]["name"]) for e in by_name if e.type != "BOOKMARK"] == [
        ("ADDED", "after"),
        ("MODIFIED", "after"),
    ]


def test_a_watch_from_an_expired_version_yields_an_error_event(
    kube_client: Client, namespace: str, crds_installed: list[str]
) -> None:
    started = time.monotonic()
    events = list(kube_client.watch(WORKFLOWS, namespace, resource_version="1", timeout_seconds=10))
    assert [event.type for event in events] == ["ERROR"]
    assert events[0].object["code"] == 410
    assert events[0].object["reason"] == "Expired"
    assert time.monotonic() - started < 8  # yielded at once, not after the stream's timeout


class _NamesIndex(WatchIndex[str]):
    """Objects by (namespace, name) -> their ``value`` annotation."""

    def classify(self, obj: Mapping[str, Any]) -> tuple[Key, str] | None:
        meta = obj["metadata"]
        value = (meta.get("annotations") or {}).get("value")
        return ((meta["namespace"], meta["name"]), value) if value else None


def annotated(body: dict[str, Any], *, labels: Mapping[str, str], value: str) -> dict[str, Any]:
    body["metadata"].update({"labels": dict(labels), "annotations": {"value": value}})
    return body


class _ExpiredFirstIndex(_NamesIndex):
    """Its first listing claims a version that has long expired, as after a long disconnection."""

    def _list(self, namespace: str | None) -> str:
        version = super()._list(namespace)
        return "1" if self.lists == 1 else version


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_the_watch_index_resumes_ended_streams_without_re_listing(
    kube_client: Client, namespace: str, loop: asyncio.AbstractEventLoop
) -> None:
    selector = f"index={uuid.uuid4().hex[:8]}"
    index = _NamesIndex(kube_client, CONFIG_MAPS, selector=selector, loop=loop, name="test-index")
    index.watch_timeout = 2  # the server ends each stream after 2 s
    labels = dict([selector.split("=")])
    kube_client.create(CONFIG_MAPS, annotated(config_map("first"), labels=labels, value="1"), namespace)
    index.start()
    try:
        assert loop.run_until_complete(asyncio.wait_for(index.wait_for((namespace, "first")), 20)) == "1"
        time.sleep(5)  # two or three streams end meanwhile
        kube_client.create(CONFIG_MAPS, annotated(config_map("second"), labels=labels, value="2"), namespace)
        assert loop.run_until_complete(asyncio.wait_for(index.wait_for((namespace, "second")), 20)) == "2"
        assert index.lists == 1
    finally:
        index.stop()


def test_the_watch_index_re_lists_when_its_version_expired(
    kube_client: Client, namespace: str, crds_installed: list[str], loop: asyncio.AbstractEventLoop
) -> None:
    selector = f"index={uuid.uuid4().hex[:8]}"
    labels = dict([selector.split("=")])
    # Workflows: a custom resource's watch cache starts when its CRD is installed, so version "1" is long gone (for
    # built-in kinds a young cluster may still serve it).
    index = _ExpiredFirstIndex(kube_client, WORKFLOWS, selector=selector, loop=loop, name="test-expired")
    kube_client.create(WORKFLOWS, annotated(workflow("early"), labels=labels, value="1"), namespace)
    index.start()
    try:
        assert loop.run_until_complete(asyncio.wait_for(index.wait_for((namespace, "early")), 20)) == "1"
        kube_client.create(WORKFLOWS, annotated(workflow("late"), labels=labels, value="2"), namespace)
        assert loop.run_until_complete(asyncio.wait_for(index.wait_for((namespace, "late")), 20)) == "2"
        assert index.lists == 2  # the expired version cost exactly one re-list, and nothing was missed
    finally:
        index.stop()


# -- server-side apply ------------------------------------------------------------------------------------------------
def test_server_side_apply_tracks_field_managers(kube_client: Client, namespace: str) -> None:
    def account(team: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "applied", "namespace": namespace, "labels": {"team": team}},
        }

    first = kube_client.apply(account("a"), field_manager="installer-a")
    assert first["metadata"]["labels"] == {"team": "a"}
    again = kube_client.apply(account("a"), field_manager="installer-a")  # idempotent: nothing changes
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    with pytest.raises(ConflictError) as raised:  # another manager may not take a field without force
        kube_client.apply(account("b"), field_manager="installer-b", force=False)
    assert "installer-a" in raised.value.message
    taken = kube_client.apply(account("b"), field_manager="installer-b")  # force (the default) takes it over
    assert taken["metadata"]["labels"] == {"team": "b"}
    managers = {(entry["manager"], entry["operation"]) for entry in taken["metadata"]["managedFields"]}
    assert ("installer-b", "Apply") in managers
    default = kube_client.apply({**account("b"), "metadata": {**account("b")["metadata"], "name": "by-default"}})
    assert {entry["manager"] for entry in default["metadata"]["managedFields"]} == {kube_client.field_manager}
    assert kube_client.get(SERVICE_ACCOUNTS, "applied", namespace)["metadata"]["labels"] == {"team": "b"}  # type: ignore[index]


# -- eviction ---------------------------------------------------------------------------------------------------------
def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
    }


def is_ready(kube_client: Client, namespace: str, name: str) -> bool:
    body = kube_client.get(PODS, name, namespace) or {}
    conditions = (body.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def test_evict_honours_disruption_budgets(kube_client: Client, namespace: str) -> None:
    for name in ("free", "guarded"):
        kube_client.create(PODS, pod(name), namespace)
    kube_client.create(
        PDBS,
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "guard"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "guarded"}}},
        },
        namespace,
    )
    wait_for(lambda: is_ready(kube_client, namespace, "guarded"), timeout=60, what="the guarded pod to be Ready")
    assert kube_client.evict("guarded", namespace) is False  # 429: the budget allows no disruption
    assert kube_client.get(PODS, "guarded", namespace) is not None
    assert kube_client.evict("free", namespace) is True

    def evicted() -> bool:
        body = kube_client.get(PODS, "free", namespace)
        return body is None or bool(body["metadata"].get("deletionTimestamp"))

    wait_for(evicted, timeout=60, what="the evicted pod to be deleted")
    assert kube_client.evict("never-existed", namespace) is False


# -- construction -----------------------------------------------------------------------------------------------------
def test_from_kubeconfig_knows_the_context_namespace_and_the_credentials(kube: Kube, tmp_path: Path) -> None:
    config = yaml.safe_load(kube.kubeconfig.read_text())
    config["contexts"].append({"name": "team", "context": {**config["contexts"][0]["context"], "namespace": "team-a"}})
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    plain = Client.from_kubeconfig(str(path))
    team = Client.from_kubeconfig(str(path), context="team", request_timeout=7.0)
    try:
        assert plain.namespace == "default"
        assert team.namespace == "team-a"
        assert team.request_timeout == 7.0
        credentials = team.credentials()
        assert credentials.server == config["clusters"][0]["cluster"]["server"]
        assert credentials.verify is True
        assert credentials.ca_path
        assert Path(credentials.ca_path).exists()
        assert credentials.certificate_path  # the local cluster's admin identity is a client certificate
        assert credentials.private_key_path
        assert team.list(NAMESPACES).items  # and it works
        quick = team.with_timeout(1.5)
        assert quick.request_timeout == 1.5
        assert quick.api is team.api
    finally:
        plain.close()
        team.close()


def test_the_client_is_safe_to_share_between_threads(kube_client: Client, namespace: str) -> None:
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            kube_client.create(CONFIG_MAPS, config_map(f"thread-{index}"), namespace)
            assert kube_client.get(CONFIG_MAPS, f"thread-{index}", namespace) is not None
        except BaseException as error:  # noqa: BLE001 -- collected and re-raised on the test's thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(kube_client.list(CONFIG_MAPS, namespace, field_selector="metadata.name!=kube-root-ca.crt").items) == 8
