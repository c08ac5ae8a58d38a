"""The client-side request limit: a burst passes at once, then requests queue at the configured rate."""

from __future__ import annotations

import pytest

from workflows.runtime.kube import RequestLimits, TokenBucket


def test_a_burst_passes_without_waiting_and_the_next_request_waits_its_turn() -> None:
    bucket = TokenBucket(qps=1000.0, burst=5)
    for _ in range(5):
        bucket.take()
    assert bucket.waited == 0.0
    bucket.take()
    bucket.take()
    assert bucket.waited > 0.0  # the debt is paid in waiting, about 1 ms per request at 1000 qps


@pytest.mark.parametrize(("qps", "burst"), [(0.0, 1), (-1.0, 5), (10.0, 0)])
def test_a_limit_that_could_never_pass_a_request_is_refused(qps: float, burst: int) -> None:
    with pytest.raises(ValueError, match="qps must be"):
        TokenBucket(qps, burst)


def test_each_api_group_has_its_own_bucket_as_client_go_gives_each_group_client_one() -> None:
    limits = RequestLimits(qps=1000.0, burst=2)
    for path in ("/api/v1/namespaces/ns/events", "/api/v1/pods", "/apis/apps/v1/replicasets"):
        limits.take(path)
    assert limits.waited == 0.0  # two core requests and one apps request: within each group's burst
    assert limits.bucket("/apis/apps/v1/x") is limits.bucket("/apis/apps/v1/namespaces/ns/replicasets/y")
    assert limits.bucket("/api/v1/x") is not limits.bucket("/apis/rollouts.dev/v1alpha1/rollouts")
    limits.take("/api/v1/services")
    assert limits.waited > 0.0  # the third core request waits its turn
