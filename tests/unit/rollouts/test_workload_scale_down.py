"""``workloadRef.scaleDown``: never, onsuccess and progressively retire the referenced Deployment (Argo's modes)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from rollouts.core import parse_rollout
from rollouts.core.actions import ScaleWorkload
from rollouts.core.errors import InvalidSpecError
from rollouts.core.simulate import SimCluster
from tests.support.rollouts import T0, cluster, rollout

TEMPLATE = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "v1"}]}}
SELECTOR = {"matchLabels": {"app": "x"}}


def workload_spec(scale_down: str | None) -> Any:
    body = rollout(replicas=4, canary={"maxSurge": 1, "maxUnavailable": 0})
    del body["spec"]["template"], body["spec"]["selector"]
    ref: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "legacy"}
    if scale_down is not None:
        ref["scaleDown"] = scale_down
    body["spec"]["workloadRef"] = ref
    return parse_rollout(body, workload_template=TEMPLATE, workload_selector=SELECTOR)


def deployment_sizes(scale_down: str | None) -> list[int | None]:
    """The Deployment's replicas after each reconcile, from 4 while the Rollout's pods come up one by one."""
    spec = workload_spec(scale_down)
    serial = itertools.count(1)
    sim = SimCluster(now=T0, services=("canary", "stable"), pod_delay=lambda _: 2.0 * next(serial))
    sim.workload_replicas = 4
    sizes: list[int | None] = []
    for _ in range(20):
        sim.reconcile(spec)
        sizes.append(sim.workload_replicas)
        sim.advance(1.0)
    return sizes


def test_never_leaves_the_deployment_alone() -> None:
    assert set(deployment_sizes(None)) == {4}
    assert set(deployment_sizes("never")) == {4}


def test_onsuccess_scales_to_zero_only_once_the_rollout_is_fully_available() -> None:
    sizes = deployment_sizes("onsuccess")
    first_zero = sizes.index(0)
    assert first_zero > 0, "not before the Rollout's pods are available"
    assert set(sizes[:first_zero]) == {4}
    assert set(sizes[first_zero:]) == {0}


def test_progressively_hands_capacity_over_without_a_gap() -> None:
    sizes = deployment_sizes("progressively")
    assert sizes[-1] == 0
    assert all(b is not None and a is not None and b <= a for a, b in itertools.pairwise(sizes))
    assert len({s for s in sizes if s not in (0, 4)}) >= 1, f"expected intermediate sizes, got {sizes}"


def test_progressively_never_goes_below_what_the_rollout_cannot_yet_serve() -> None:
    spec = workload_spec("progressively")
    sim = cluster(delay=100.0)  # the Rollout's pods never become available in this window
    sim.workload_replicas = 4
    for _ in range(5):
        decided = sim.reconcile(spec)
        assert not decided.of_type(ScaleWorkload)
        sim.advance(1.0)
    assert sim.workload_replicas == 4


def test_unknown_mode_is_an_invalid_spec_with_the_field_path() -> None:
    body = rollout(replicas=2)
    body["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "scaleDown": "soon"}
    with pytest.raises(InvalidSpecError, match=r"spec\.workloadRef\.scaleDown"):
        parse_rollout(body, workload_template=TEMPLATE, workload_selector=SELECTOR)
