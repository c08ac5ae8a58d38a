"""The demo's simulated application: who gets the traffic, how many requests fail, and what Prometheus scrapes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.demo.app import (
    BAD,
    HEALTHY,
    LATENCY_BUCKETS,
    Backend,
    TrafficModel,
    profile_for_image,
    replica_weighted_split,
)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("demo:1.0", HEALTHY),
        ("demo:2.0", HEALTHY),
        ("demo:3.0-bad", BAD),
        ("registry.example:5000/team/demo:4.1-bad", BAD),
        ("registry.example:5000/team/demo:4.1", HEALTHY),
        ("demo", HEALTHY),
        ("demo-bad", HEALTHY),  # the tag decides, not the repository name
    ],
)
def test_the_image_tag_chooses_the_profile(image: str, expected: object) -> None:
    assert profile_for_image(image) == expected


def test_the_split_follows_ready_pods_only() -> None:
    backends = [
        Backend(version="stable", image="demo:1.0", ready_pods=4),
        Backend(version="canary", image="demo:2.0", ready_pods=1),
        Backend(version="starting", image="demo:3.0", ready_pods=0),
    ]
    assert replica_weighted_split(backends) == {"stable": 0.8, "canary": 0.2}


def test_nobody_ready_means_no_traffic() -> None:
    assert replica_weighted_split([Backend(version="a", image="demo:1.0", ready_pods=0)]) == {}
    assert replica_weighted_split([]) == {}


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.integers(min_value=0, max_value=50), max_size=6))
def test_shares_are_proportional_and_sum_to_one(ready: dict[str, int]) -> None:
    split = replica_weighted_split([Backend(version=v, image="demo:1.0", ready_pods=n) for v, n in ready.items()])
    total = sum(ready.values())
    if total == 0:
        assert split == {}
        return
    assert math.isclose(sum(split.values()), 1.0)
    assert split == {v: n / total for v, n in ready.items() if n > 0}


def _run(model: TrafficModel, backends: list[Backend], seconds: int) -> None:
    split = replica_weighted_split(backends)
    for _ in range(seconds):
        model.tick(backends=backends, split=split, seconds=1.0)


def test_requests_are_shared_by_weight_and_errors_follow_the_profile() -> None:
    model = TrafficModel(requests_per_second=100)
    backends = [
        Backend(version="good", image="demo:2.0", ready_pods=4),
        Backend(version="bad", image="demo:3.0-bad", ready_pods=1),
    ]
    _run(model, backends, seconds=60)
    good_ok, good_errors = model.totals()["good"]
    bad_ok, bad_errors = model.totals()["bad"]
    assert good_ok + good_errors == 4800
    assert bad_ok + bad_errors == 1200
    assert good_errors == 24  # 0.5%, exactly: errors are accumulated, not drawn
    assert bad_errors == 300  # 25%


@given(
    rate=st.sampled_from([HEALTHY.error_rate, BAD.error_rate]),
    shares=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=40),
)
def test_the_error_count_never_strays_a_whole_request_from_the_profile(rate: float, shares: list[float]) -> None:
    """Whatever the split does second by second, errors stay within one request of ``requests * error_rate``: a
    healthy canary cannot fail its analysis by a burst of bad luck, and a bad one cannot pass by luck."""
    model = TrafficModel(requests_per_second=100)
    image = "demo:3.0-bad" if rate == BAD.error_rate else "demo:2.0"
    backend = Backend(version="v", image=image, ready_pods=1)
    for share in shares:
        model.tick(backends=[backend], split={"v": share}, seconds=1.0)
    ok, errors = model.totals()["v"]
    assert abs(errors - (ok + errors) * rate) < 1.0
    assert abs((ok + errors) - 100 * sum(shares)) < 1.0 + 1e-6  # fractional requests carry over, none are lost


def test_a_version_gets_zero_series_before_its_first_request() -> None:
    """``rate()`` needs the counter's starting point: a canary's series exist at 0 while its pods start."""
    model = TrafficModel()
    model.tick(backends=[Backend(version="new", image="demo:2.0", ready_pods=0)], split={}, seconds=1.0)
    text = model.exposition()
    assert 'demo_requests_total{code="200",version="new"} 0' in text
    assert 'demo_requests_total{code="500",version="new"} 0' in text
    assert 'demo_version_info{image="demo:2.0",version="new"} 1' in text


def _samples(text: str) -> dict[str, float]:
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_the_exposition_is_a_consistent_histogram() -> None:
    model = TrafficModel(seed=3)
    backends = [
        Backend(version="good", image="demo:2.0", ready_pods=1),
        Backend(version="bad", image="demo:3.0-bad", ready_pods=1),
    ]
    _run(model, backends, seconds=20)
    text = model.exposition()
    assert "# TYPE demo_requests_total counter" in text
    assert "# TYPE demo_request_duration_seconds histogram" in text
    samples = _samples(text)
    for version in ("good", "bad"):
        served = (
            samples[f'demo_requests_total{{code="200",version="{version}"}}']
            + samples[f'demo_requests_total{{code="500",version="{version}"}}']
        )
        buckets = [samples[f'demo_request_duration_seconds_bucket{{le="{b!r}",version="{version}"}}'] for b in
                   LATENCY_BUCKETS]  # fmt: skip
        everything = samples[f'demo_request_duration_seconds_bucket{{le="+Inf",version="{version}"}}']
        assert buckets == sorted(buckets), "buckets are cumulative"
        assert everything == served == samples[f'demo_request_duration_seconds_count{{version="{version}"}}']
    good_fast = samples['demo_request_duration_seconds_bucket{le="0.1",version="good"}']
    bad_fast = samples['demo_request_duration_seconds_bucket{le="0.1",version="bad"}']
    assert good_fast > 0.9 * 1000
    assert bad_fast < 0.2 * 1000  # the bad build is slower as well as failing


def test_counters_never_go_down_when_a_version_loses_its_traffic() -> None:
    model = TrafficModel()
    canary = Backend(version="c", image="demo:2.0", ready_pods=1)
    _run(model, [canary], seconds=5)
    before = model.totals()["c"]
    _run(model, [Backend(version="c", image="demo:2.0", ready_pods=0)], seconds=5)
    assert model.totals()["c"] == before
