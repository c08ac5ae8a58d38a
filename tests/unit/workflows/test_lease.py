"""Leader election on a Lease: the decision of one try, and two candidates sharing one Lease on a fake clock."""

from __future__ import annotations

import copy
import datetime as dt
import threading
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows.runtime.kube import ConflictError, Kube, NotLeaderError, Resource
from workflows.runtime.lease import LEASES, LeaderElector, LeaseConfig, LeaseRecord, Move, next_move


class LeaseStore:
    """One Lease object with the API server's resourceVersion guard (thread-safe, in memory)."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.lock = threading.Lock()

    def get(self, resource: Resource, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        with self.lock:
            return copy.deepcopy(self.lease)

    def create(self, resource: Resource, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        with self.lock:
            if self.lease is not None:
                raise ConflictError(409, "AlreadyExists", "exists")
            return self._store(body)

    def replace(self, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            assert self.lease is not None
            if body["metadata"]["resourceVersion"] != self.lease["metadata"]["resourceVersion"]:
                raise ConflictError(409, "Conflict", "modified")
            return self._store(body)

    def _store(self, body: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        self.lease = copy.deepcopy(body)
        self.lease["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.lease)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


WALL = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)


def _elector(store: LeaseStore, clock: Clock, me: str, **callbacks: Any) -> LeaderElector:
    config = LeaseConfig(name="rollouts-controller", namespace="rollouts", identity=me)
    return LeaderElector(cast("Any", store), config, clock=clock, wall=lambda: WALL, **callbacks)


def test_one_try_creates_renews_waits_and_takes_over_only_after_the_lease_went_unrenewed() -> None:
    assert next_move(None, me="a", unchanged_for=0, lease_duration=15) is Move.CREATE
    held = LeaseRecord(holder="a", duration=15)
    assert next_move(held, me="a", unchanged_for=99, lease_duration=15) is Move.RENEW
    assert next_move(held, me="b", unchanged_for=14.9, lease_duration=15) is Move.WAIT
    assert next_move(held, me="b", unchanged_for=15, lease_duration=15) is Move.TAKE
    assert next_move(LeaseRecord(holder="", duration=1), me="b", unchanged_for=0, lease_duration=15) is Move.TAKE


@given(st.floats(0, 100), st.integers(1, 60))
def test_a_lease_someone_else_holds_is_never_taken_within_its_duration(unchanged: float, duration: int) -> None:
    move = next_move(LeaseRecord(holder="a", duration=duration), me="b", unchanged_for=unchanged, lease_duration=15)
    assert (move is Move.TAKE) == (unchanged >= duration)


def test_two_candidates_one_leader_then_the_other_after_the_first_stops_renewing() -> None:
    store, clock = LeaseStore(), Clock()
    a, b = _elector(store, clock, "a"), _elector(store, clock, "b")
    assert a.try_once()
    assert not b.try_once()  # held and just renewed
    clock.now += 14
    assert a.try_once()  # renewed: the record changed, so b's wait starts again
    assert not b.try_once()
    clock.now += 14.9
    assert not b.try_once()
    clock.now += 0.2  # a went silent 15.1 s ago (it crashed)
    assert b.try_once()
    assert store.lease is not None
    assert store.lease["spec"]["holderIdentity"] == "b"
    assert store.lease["spec"]["leaseTransitions"] == 1
    assert not a.try_once()  # a comes back: b holds it now


def test_a_released_lease_is_taken_at_the_next_try() -> None:
    store, clock = LeaseStore(), Clock()
    a, b = _elector(store, clock, "a"), _elector(store, clock, "b")
    a.try_once()
    a._leading.set()
    assert a.release()
    assert store.lease is not None
    assert store.lease["spec"].get("holderIdentity") is None
    assert b.try_once()  # no waiting for the 15 s


def test_of_two_candidates_racing_for_an_expired_lease_exactly_one_wins() -> None:
    store, clock = LeaseStore(), Clock()
    _elector(store, clock, "old").try_once()
    stale = store.get(LEASES, "rollouts-controller")

    class StaleRead:
        """c read the Lease before b's write landed, and writes after it."""

        def get(self, *_: Any) -> dict[str, Any] | None:
            return copy.deepcopy(stale)

        def replace(self, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
            return store.replace(resource, body)

    b = _elector(store, clock, "b")
    config = LeaseConfig(name="rollouts-controller", namespace="rollouts", identity="c")
    c = LeaderElector(cast("Any", StaleRead()), config, clock=clock, wall=lambda: WALL)
    assert not b.try_once()
    assert not c.try_once()  # both see "old" holding it, and start counting
    clock.now += 15
    assert b.try_once()
    assert not c.try_once()  # it decided to take the same expired record: the API server's 409 stops it
    assert store.lease is not None
    assert store.lease["spec"]["holderIdentity"] == "b"


def test_the_leader_that_cannot_renew_steps_down_and_says_so() -> None:
    store, clock = LeaseStore(), Clock()
    lost = threading.Event()
    elector = _elector(store, clock, "a", on_stopped=lost.set)
    assert elector.try_once()
    elector._leading.set()
    elector._renewed_at = clock.now
    store.lease = {**store.lease, "spec": {"holderIdentity": "b", "leaseDurationSeconds": 15}}  # type: ignore[dict-item]
    store.lease["metadata"]["resourceVersion"] = "99"
    elector.config = LeaseConfig(name="x", namespace="y", identity="a", retry_period=0.01, renew_deadline=5)
    elector.start()
    assert lost.wait(5)  # it read someone else's name in the Lease: out at once, not after the renew deadline
    assert not elector.leading


def test_a_closed_write_gate_refuses_writes_before_they_are_sent_and_lets_reads_through() -> None:
    sent: list[str] = []

    class Api:
        def param_serialize(self, method: str, *args: Any, **kwargs: Any) -> tuple[str]:
            sent.append(method)
            raise RuntimeError("reached the wire")

    kube = Kube(api=cast("Any", Api()), write_gate=lambda: False)
    with pytest.raises(NotLeaderError, match="does not hold the leader Lease"):
        kube._request("PATCH", "/apis/x")
    with pytest.raises(RuntimeError, match="reached the wire"):
        kube._request("GET", "/apis/x")
    assert sent == ["GET"]


def test_the_durations_must_leave_room_for_a_renewal_before_expiry() -> None:
    with pytest.raises(ValueError, match="retry period < renew deadline < lease duration"):
        LeaseConfig(name="x", namespace="y", identity="a", lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError, match="identity"):
        LeaseConfig(name="x", namespace="y", identity="")
