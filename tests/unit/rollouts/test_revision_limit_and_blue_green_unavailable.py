"""``scaleDownDelayRevisionLimit`` (Argo's ``scaleDownDelayHelper``) and ``blueGreen.maxUnavailable`` (restartAt)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rollouts.core import RestartPod
from rollouts.core.simulate import SimCluster
from tests.support.rollouts import blue_green_spec, canary_spec, deployed, settle
from workflows.model.times import format_time

ROUTER = {"nginx": {"stableIngress": "ingress"}}


def scaled_up(sim: SimCluster) -> list[tuple[int, int]]:
    """(revision, replicas) of every ReplicaSet with pods wanted, oldest first."""
    return sorted((rs.revision, rs.replicas) for rs in sim.replica_sets.values() if rs.replicas > 0)


def three_quick_blue_green_releases(**options: Any) -> SimCluster:
    """v1 -> v2 -> v3 -> v4, each promoted at once, every old version inside its scaleDownDelaySeconds."""
    sim = deployed(blue_green_spec(scaleDownDelaySeconds=600, **options))
    for image in ("v2", "v3", "v4"):
        settle(sim, blue_green_spec(image, scaleDownDelaySeconds=600, **options), ticks=20)
    return sim


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (None, [(1, 10), (2, 10), (3, 10), (4, 10)]),  # every old version waits its delay
        (2, [(2, 10), (3, 10), (4, 10)]),  # the two newest old versions wait; revision 1 goes now
        (1, [(3, 10), (4, 10)]),
        (0, [(4, 10)]),  # no old version waits
    ],
)
def test_blue_green_revision_limit_keeps_only_the_newest_old_versions(
    limit: int | None, expected: list[tuple[int, int]]
) -> None:
    options = {} if limit is None else {"scaleDownDelayRevisionLimit": limit}
    sim = three_quick_blue_green_releases(**options)
    assert scaled_up(sim) == expected


def test_canary_revision_limit_applies_to_routed_old_versions() -> None:
    options = {"trafficRouting": ROUTER, "scaleDownDelaySeconds": 600, "scaleDownDelayRevisionLimit": 1}
    sim = deployed(canary_spec(steps=[], **options))
    for image in ("v2", "v3"):
        settle(sim, canary_spec(image, steps=[], **options), ticks=20)
    assert scaled_up(sim) == [(2, 10), (3, 10)]  # revision 1 is beyond the limit, revision 2 waits its delay
    sim.advance(601)
    settle(sim, canary_spec("v3", steps=[], **options), ticks=5)
    assert scaled_up(sim) == [(3, 10)]


@pytest.mark.parametrize(("max_unavailable", "at_once"), [(None, 2), ("50%", 5), (3, 3), (0, 1), ("100%", 10)])
def test_blue_green_max_unavailable_paces_restart_at(max_unavailable: int | str | None, at_once: int) -> None:
    """Argo evicts ``max(1, maxUnavailable)`` pods at once; blueGreen.maxUnavailable defaults to 25%, rounded down."""
    options = {} if max_unavailable is None else {"maxUnavailable": max_unavailable}
    sim = deployed(blue_green_spec(**options), delay=2)
    sim.advance(10)
    restart_at = sim.now + timedelta(seconds=1)
    spec = blue_green_spec(restartAt=format_time(restart_at), **options)
    sim.advance(2)
    first = sim.reconcile(spec)
    assert len(first.of_type(RestartPod)) == at_once
