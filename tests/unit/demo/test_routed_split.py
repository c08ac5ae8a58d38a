"""The demo's gateway: how the HTTPRoute's backendRef weights become each version's share of the requests."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.demo import manifests
from rollouts.demo.app import (
    UNROUTED,
    Backend,
    RouteBackend,
    Split,
    TrafficModel,
    replica_weighted_split,
    route_backend_weights,
    routed_split,
)


def _backends(**ready: int) -> list[Backend]:
    return [Backend(version=v, image=f"demo:{v}", ready_pods=n) for v, n in ready.items()]


def _route(canary: int, *, canary_version: str | None = "b", stable_version: str | None = "a") -> list[RouteBackend]:
    return [
        RouteBackend(service="demo-stable", weight=100 - canary, version=stable_version),
        RouteBackend(service="demo-canary", weight=canary, version=canary_version),
    ]


def test_weights_decide_the_split_not_the_pod_counts() -> None:
    """20% to the canary whether it runs 1 pod or 5 (a replica-weighted canary would give it 1/6 or 1/2)."""
    for canary_pods in (1, 5):
        split = routed_split(_route(20), _backends(a=5, b=canary_pods))
        assert split == Split(served={"a": 0.8, "b": 0.2}, unavailable={})


def test_a_backend_without_ready_pods_is_answered_503() -> None:
    split = routed_split(_route(20), _backends(a=5, b=0))
    assert split.served == {"a": 0.8}
    assert split.unavailable == {"b": 0.2}


def test_weight_zero_sends_nothing_to_a_service_even_without_pods() -> None:
    """The canary Service pinned to a version still starting: no request reaches it, none fails."""
    assert routed_split(_route(0), _backends(a=5)) == Split(served={"a": 1.0})


def test_both_services_on_one_version_after_promotion() -> None:
    split = routed_split(_route(0, canary_version="b", stable_version="b"), _backends(a=0, b=5))
    assert split == Split(served={"b": 1.0})


def test_an_unpinned_service_spreads_over_every_ready_pod() -> None:
    """Before the controller's first reconcile the Services select every pod of the app."""
    route = _route(0, stable_version=None, canary_version=None)
    assert routed_split(route, _backends(a=3, b=1)).served == {"a": 0.75, "b": 0.25}
    assert routed_split(route, _backends(a=0)) == Split(unavailable={UNROUTED: 1.0})


def test_no_weight_at_all_fails_everything() -> None:
    assert routed_split([], _backends(a=5)) == Split(unavailable={UNROUTED: 1.0})
    assert routed_split(_route(0, stable_version="a")[:0], []) == Split(unavailable={UNROUTED: 1.0})
    zero = [RouteBackend(service="s", weight=0, version="a")]
    assert routed_split(zero, _backends(a=5)) == Split(unavailable={UNROUTED: 1.0})


versions = st.sampled_from(["a", "b", "c"])
route_backends = st.lists(
    st.builds(
        RouteBackend,
        service=st.sampled_from(["demo-stable", "demo-canary", "other"]),
        weight=st.integers(min_value=0, max_value=1000),
        version=st.one_of(st.none(), versions),
    ),
    max_size=4,
)
ready_pods = st.dictionaries(versions, st.integers(min_value=0, max_value=6), max_size=3)


@given(route=route_backends, ready=ready_pods)
def test_every_request_is_served_or_refused_exactly_once(route: list[RouteBackend], ready: dict[str, int]) -> None:
    backends = [Backend(version=v, image="demo:1.0", ready_pods=n) for v, n in ready.items()]
    split = routed_split(route, backends)
    assert math.isclose(sum(split.served.values()) + sum(split.unavailable.values()), 1.0)
    assert all(ready.get(version, 0) > 0 for version in split.served), "only Ready pods serve"
    assert all(share > 0 for share in [*split.served.values(), *split.unavailable.values()])


@given(route=route_backends, ready=ready_pods)
def test_a_pinned_backend_gets_exactly_its_weight_share(route: list[RouteBackend], ready: dict[str, int]) -> None:
    """Each version receives (served or refused) precisely the weights of the Services pinned to it, plus its
    replica-weighted part of the unpinned Services' weights."""
    backends = [Backend(version=v, image="demo:1.0", ready_pods=n) for v, n in ready.items()]
    split = routed_split(route, backends)
    total = sum(ref.weight for ref in route)
    if total == 0:
        return
    spread = replica_weighted_split(backends)
    unpinned = sum(ref.weight for ref in route if ref.version is None) / total
    for version in ("a", "b", "c"):
        pinned = sum(ref.weight for ref in route if ref.version == version) / total
        expected = pinned + unpinned * spread.get(version, 0.0)
        received = split.served.get(version, 0.0) + split.unavailable.get(version, 0.0)
        assert math.isclose(received, expected, abs_tol=1e-9)


@given(ready=st.dictionaries(versions, st.integers(min_value=1, max_value=6), min_size=1, max_size=3))
def test_one_unpinned_service_is_the_replica_weighted_canary(ready: dict[str, int]) -> None:
    backends = [Backend(version=v, image="demo:1.0", ready_pods=n) for v, n in ready.items()]
    split = routed_split([RouteBackend(service="app", weight=1, version=None)], backends)
    assert split.unavailable == {}
    assert split.served.keys() == replica_weighted_split(backends).keys()
    for version, share in replica_weighted_split(backends).items():
        assert math.isclose(split.served[version], share)


def test_the_route_weights_are_read_from_the_first_rule_with_services() -> None:
    route = manifests.http_route(namespace="ns")
    assert route_backend_weights(route) == [(manifests.STABLE_SERVICE, 100), (manifests.CANARY_SERVICE, 0)]
    other = {
        "spec": {
            "rules": [
                {"backendRefs": [{"group": "example.com", "kind": "Bucket", "name": "static"}]},
                {"backendRefs": [{"name": "web"}, {"name": "web-canary", "weight": 3}]},
            ]
        }
    }
    assert route_backend_weights(other) == [("web", 1), ("web-canary", 3)]  # Gateway API's default weight is 1
    assert route_backend_weights({"spec": {}}) == []


@pytest.mark.parametrize("seconds", [1, 7])
def test_refused_requests_count_as_503_for_the_version_the_service_selects(seconds: int) -> None:
    model = TrafficModel(requests_per_second=100)
    backends = _backends(a=5, b=0)
    split = routed_split(_route(20), backends)
    for _ in range(seconds):
        model.tick(backends=backends, split=split.served, unavailable=split.unavailable, seconds=1.0)
    text = model.exposition()
    assert f'demo_requests_total{{code="503",version="b"}} {20 * seconds}' in text
    assert 'demo_requests_total{code="503",version="a"} 0' in text
    assert model.totals()["b"] == (0, 20 * seconds)
    assert sum(model.totals()["a"]) == 80 * seconds


def test_a_version_first_seen_through_503s_keeps_them_when_its_pods_appear() -> None:
    """Counters never go down: the 503s counted before the image was known survive learning it."""
    model = TrafficModel(requests_per_second=100)
    model.tick(backends=[], split={}, unavailable={"b": 0.5}, seconds=1.0)
    assert 'demo_version_info{image="demo:b"' not in model.exposition()
    model.tick(backends=_backends(b=1), split={"b": 1.0}, seconds=1.0)
    text = model.exposition()
    assert 'demo_requests_total{code="503",version="b"} 50' in text
    assert 'demo_version_info{image="demo:b",version="b"} 1' in text
