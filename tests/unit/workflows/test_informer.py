"""Informer caches: what a list+watch stream and our own writes leave in the store, and what listeners are told."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any, cast

import pytest

from workflows.runtime.informer import Cache, Change, Informer, controller_uid, selector_matches
from workflows.runtime.kube import REPLICA_SETS, SERVICES, Listing, Resource, WatchEvent


def _obj(name: str, version: int, *, namespace: str = "ns", owner: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "resourceVersion": str(version), "labels": labels}
    if owner:
        meta["ownerReferences"] = [{"controller": True, "uid": owner, "kind": "Rollout", "name": owner}]
    meta["managedFields"] = [{"manager": "someone"}]
    return {"metadata": meta, "spec": {"v": version}}


class ScriptedKube:
    """Answers each list with the next listing and each watch with the next list of events; then the stream stops."""

    def __init__(self, listings: list[list[dict[str, Any]]], watches: list[list[WatchEvent]]) -> None:
        self.listings = listings
        self.watches = watches
        self.lists: list[tuple[str | None, str | None]] = []
        self.gets: list[str] = []
        self.done = threading.Event()
        self.informer: Informer | None = None
        self.cache: Cache | None = None

    def list(self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None) -> Listing:
        self.lists.append((namespace, label_selector))
        if not self.listings:
            raise AssertionError("no more listings")
        return Listing(items=self.listings.pop(0), resource_version="100")

    def watch(self, resource: Resource, namespace: str | None = None, **_: Any) -> Iterator[WatchEvent]:
        if not self.watches:
            if self.cache is not None:
                self.cache.stop()
            else:
                assert self.informer is not None
                self.informer.stop()
            self.done.set()
            return
        yield from self.watches.pop(0)

    def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        self.gets.append(name)
        return {"metadata": {"name": name, "from": "api"}}


def _run(kube: ScriptedKube, **options: Any) -> tuple[Informer, list[Change]]:
    informer = Informer(cast("Any", kube), REPLICA_SETS, **options)
    kube.informer = informer
    changes: list[Change] = []
    informer.add_listener(changes.append)
    informer.start()  # no loop: listeners run inline on the stream thread
    assert kube.done.wait(5)
    return informer, changes


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("", {}, True),
        ("a=b", {"a": "b"}, True),
        ("a==b", {"a": "c"}, False),
        ("a!=b", {}, True),
        ("a!=b", {"a": "b"}, False),
        ("a", {"a": ""}, True),
        ("!a", {"a": "x"}, False),
        ("!a", {"b": "x"}, True),
        ("a in (x, y),b", {"a": "y", "b": "1"}, True),
        ("a in (x,y),b", {"a": "z", "b": "1"}, False),
        ("a notin (x,y)", {}, True),
        ("a notin (x,y)", {"a": "x"}, False),
        ("app=web,rollouts-pod-template-hash", {"app": "web"}, False),
    ],
)
def test_label_selectors_mean_what_the_api_server_makes_them_mean(
    selector: str, labels: Mapping[str, str], matches: bool
) -> None:
    assert selector_matches(selector, labels) is matches


def test_the_list_then_the_watch_fill_the_store_and_tell_each_real_change_once() -> None:
    kube = ScriptedKube(
        [[_obj("a", 1, owner="u1"), _obj("b", 2, owner="u1")]],
        [
            [
                WatchEvent("MODIFIED", _obj("a", 3, owner="u2")),
                WatchEvent("MODIFIED", _obj("a", 3, owner="u2")),  # the same version again: nothing new
                WatchEvent("MODIFIED", _obj("b", 1, owner="u1")),  # older than stored: dropped
                WatchEvent("BOOKMARK", {"metadata": {"resourceVersion": "7"}}),
                WatchEvent("DELETED", _obj("b", 8, owner="u1")),
            ]
        ],
    )
    informer, changes = _run(kube, indexers={"owner": controller_uid})
    assert informer.synced
    assert [(c.old is None, c.new is None) for c in changes] == [
        (True, False),
        (True, False),
        (False, False),
        (False, True),
    ]
    assert informer.get("ns", "a") == {**_stripped(_obj("a", 3, owner="u2"))}
    assert informer.get("ns", "b") is None
    assert [o["metadata"]["name"] for o in informer.by_index("owner", "u2")] == ["a"]
    assert informer.by_index("owner", "u1") == []
    assert "managedFields" not in informer.list("ns")[0]["metadata"]


def _stripped(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "metadata": {k: v for k, v in body["metadata"].items() if k != "managedFields"}}


def test_our_own_write_is_stored_at_once_and_its_watch_echo_is_not_told_again() -> None:
    kube = ScriptedKube([[_obj("a", 1)]], [])
    informer, changes = _run(kube)
    informer.write_back(_obj("a", 5))
    last = changes[-1]
    assert last.own
    assert last.new is not None
    assert last.new["spec"] == {"v": 5}
    told = len(changes)
    informer._handle(WatchEvent("MODIFIED", _obj("a", 5)))  # the echo
    informer._handle(WatchEvent("MODIFIED", _obj("a", 4)))  # a watch event the write overtook
    assert len(changes) == told
    assert informer.get("ns", "a")["spec"] == {"v": 5}  # type: ignore[index]


def test_a_relist_after_an_expired_version_forgets_what_was_deleted_meanwhile() -> None:
    kube = ScriptedKube(
        [[_obj("a", 1), _obj("b", 1)], [_obj("b", 1), _obj("c", 9)]],
        [[WatchEvent("ERROR", {"code": 410, "message": "too old resource version"})]],
    )
    informer, changes = _run(kube)
    assert len(kube.lists) == 2
    assert sorted(o["metadata"]["name"] for o in informer.list()) == ["b", "c"]
    deleted = [c.old["metadata"]["name"] for c in changes if c.new is None and c.old is not None]
    assert deleted == ["a"]


def test_a_selected_informer_drops_an_object_our_write_unlabelled_and_ignores_unfollowed_namespaces() -> None:
    kube = ScriptedKube([[_obj("a", 1, keep="1")], [_obj("x", 1, namespace="other", keep="1")]], [])
    informer = Informer(cast("Any", kube), REPLICA_SETS, label_selector="keep", namespaces=("ns",))
    informer._list("ns")
    informer.write_back(_obj("a", 2))
    assert informer.get("ns", "a") is None
    informer.write_back(_obj("y", 3, namespace="other", keep="1"))
    assert informer.get("other", "y") is None


def test_the_cache_reads_a_synced_informer_the_api_otherwise_and_takes_writes_by_kind() -> None:
    kube = ScriptedKube([[_obj("a", 1, app="web"), _obj("b", 1, app="db")]], [])
    cache = Cache(cast("Any", kube))
    informer = cache.add(Informer(cast("Any", kube), REPLICA_SETS))
    assert cache.get(REPLICA_SETS, "a", "ns") == {"metadata": {"name": "a", "from": "api"}}  # not synced yet
    informer._list(None)
    assert cache.synced
    assert cache.get(REPLICA_SETS, "a", "ns")["spec"] == {"v": 1}  # type: ignore[index]
    assert [o["metadata"]["name"] for o in cache.list(REPLICA_SETS, "ns", label_selector="app=web").items] == ["a"]
    assert cache.get(SERVICES, "s", "ns") == {"metadata": {"name": "s", "from": "api"}}  # no informer for Services
    cache.written(REPLICA_SETS, _obj("a", 2, app="web"))
    cache.written(SERVICES, _obj("s", 2))  # no informer: nothing to do
    assert cache.get(REPLICA_SETS, "a", "ns")["spec"] == {"v": 2}  # type: ignore[index]
    assert kube.gets == ["a", "s"]


def test_a_lazy_kind_is_followed_from_its_first_read_on() -> None:
    kube = ScriptedKube([[_obj("a", 1)]], [])
    cache = Cache(cast("Any", kube), lazy=[(REPLICA_SETS.group, REPLICA_SETS.plural)])
    assert cache.get(REPLICA_SETS, "a", "ns") == {"metadata": {"name": "a", "from": "api"}}  # not started: the API
    assert cache.informer(REPLICA_SETS) is None
    kube.cache = cache
    cache.start()
    assert cache.synced  # lazy kinds are not waited for
    cache.get(REPLICA_SETS, "a", "ns")  # starts it (answered by the API, or the informer if it listed already)
    informer = cache.informer(REPLICA_SETS)
    assert informer is not None
    assert kube.done.wait(5)
    assert cache.get(REPLICA_SETS, "a", "ns")["spec"] == {"v": 1}  # type: ignore[index]
    assert len(kube.lists) == 1


def test_a_listener_of_a_lazy_kind_hears_its_first_list_once_a_read_starts_it() -> None:
    kube = ScriptedKube([[_obj("a", 1)]], [])
    cache = Cache(cast("Any", kube), lazy=[(REPLICA_SETS.group, REPLICA_SETS.plural)])
    heard: list[Change] = []
    cache.listen(REPLICA_SETS, heard.append)  # before the informer exists: attached when a read makes it
    kube.cache = cache
    cache.start()
    assert heard == []
    cache.get(REPLICA_SETS, "a", "ns")
    assert kube.done.wait(5)
    assert [(change.old, (change.new or {}).get("spec")) for change in heard] == [(None, {"v": 1})]


def test_on_a_loop_listeners_hear_every_change_in_order_with_one_wake_up_per_batch() -> None:
    import asyncio

    kube = ScriptedKube([[_obj(f"o{i}", i + 1) for i in range(50)]], [])
    informer = Informer(cast("Any", kube), REPLICA_SETS)
    kube.informer = informer
    names: list[str] = []
    informer.add_listener(lambda change: names.append(change.body["metadata"]["name"]))

    async def main() -> int:
        loop = asyncio.get_running_loop()
        wakeups = 0
        original = loop.call_soon_threadsafe

        def counted(callback: Any, *args: Any, **kw: Any) -> Any:
            nonlocal wakeups
            wakeups += 1
            return original(callback, *args, **kw)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        informer.start(loop)
        assert kube.done.wait(5)  # the loop is held up meanwhile, as a busy loop would be
        for _ in range(100):
            if len(names) == 50:
                break
            await asyncio.sleep(0.01)
        return wakeups

    wakeups = asyncio.run(main())
    assert names == [f"o{i}" for i in range(50)]
    assert wakeups == 1  # the 50 changes that came while the loop was busy woke it once
