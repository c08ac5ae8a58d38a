"""observe() reads the same world from the informer cache (through its owner and orphan indexes) as from the API."""

from __future__ import annotations

from typing import Any, cast

from rollouts.controller.observe import observe
from rollouts.controller.rollouts import rollout_cache
from rollouts.core.spec import parse_rollout
from tests.support.fake_kube import FakeKube
from tests.support.rollouts import rollout
from workflows.api import ROLLOUTS_DEV
from workflows.runtime.kube import REPLICA_SETS

OWNER = {"apiVersion": "rollouts.dev/v1alpha1", "kind": "Rollout", "name": "app", "uid": "uid-app", "controller": True}
OTHER = {**OWNER, "name": "other", "uid": "uid-other"}
TEMPLATE = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "v1"}]}}


def _replica_set(name: str, pod_hash: str, owner: dict[str, Any] | None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "default",
        "labels": {"app": "x", "rollouts-pod-template-hash": pod_hash, **labels},
    }
    if owner:
        meta["ownerReferences"] = [owner]
    template = {**TEMPLATE, "metadata": {"labels": {"app": "x", "rollouts-pod-template-hash": pod_hash}}}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": meta,
        "spec": {"replicas": 1, "template": template},
    }


def _run(name: str, owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": {"rollouts.dev/analysis-kind": "Step", "rollouts-pod-template-hash": "h1"},
            "ownerReferences": [owner],
        },
        "spec": {"metrics": []},
        "status": {"phase": "Running"},
    }


def test_the_cache_and_the_api_server_give_observe_the_same_world() -> None:
    kube = FakeKube()
    body = {**rollout(replicas=2), "apiVersion": "rollouts.dev/v1alpha1", "kind": "Rollout"}
    stored = kube.add(body)
    for rs in (
        _replica_set("app-h1", "h1", OWNER),
        _replica_set("app-h2", "h2", OWNER),
        _replica_set("other-h1", "h1", OTHER),  # another Rollout's, same labels: not ours
        _replica_set("stray", "h3", None),  # an orphan with the Rollout's template: to adopt
        _replica_set("elsewhere", "h4", None, app="y"),  # an orphan the selector does not match
    ):
        kube.add(rs)
    kube.add(_run("app-h1-1", OWNER))
    kube.add(_run("other-h1-1", OTHER))
    cache = rollout_cache(cast("Any", kube), mode=ROLLOUTS_DEV)
    for informer in cache:
        informer._list(None)
    assert cache.synced
    spec = parse_rollout(stored)
    direct = observe(cast("Any", kube), stored, spec, mode=ROLLOUTS_DEV)
    kube.requests.clear()
    cached = observe(cast("Any", kube), stored, spec, mode=ROLLOUTS_DEV, reads=cache)
    assert cached == direct
    assert sorted(view.name for view in cached.replica_sets) == ["app-h1", "app-h2", "stray"]
    assert [view.name for view in cached.analysis_runs] == ["app-h1-1"]
    assert kube.requests == []  # every read came from the cache
    assert cache.by_index(REPLICA_SETS, "orphan", "default") is not None
