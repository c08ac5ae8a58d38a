"""Leader election on a ``coordination.k8s.io/v1`` Lease, as client-go's ``leaderelection`` package does it.

Several replicas of the controller run; the one holding the Lease reconciles, the others wait to take over. The
record lives in the Lease's spec: ``holderIdentity`` (the pod name), ``leaseDurationSeconds``, ``acquireTime``,
``renewTime`` and ``leaseTransitions``. Every write is guarded by the Lease's ``resourceVersion``, so of two
candidates that try at once exactly one wins (the other gets a 409 and waits).

- **Expiry is judged on the local clock**, never by comparing ``renewTime`` with ours: a candidate notes when it last
  saw the record change, and takes the Lease only when it has not changed for ``lease_duration`` (clock skew between
  nodes cannot make two leaders). A Lease whose holder is empty (released) is free at once.
- **The leader renews** every ``retry_period``; when it has not managed to for ``renew_deadline`` (shorter than the
  lease duration) it has lost the Lease and must stop acting before anyone else can have taken it.
- **Release**: on a graceful stop the leader empties ``holderIdentity`` (and sets a 1 s duration), so another replica
  takes over at its next try instead of waiting for expiry.

:func:`next_move` is the decision (pure; takes the local ``now``); :class:`LeaderElector` runs it on its own thread
with its own API client, so a busy or stuck controller cannot delay a renewal, and it tells the process through
callbacks. The controller gates its own writes on :attr:`LeaderElector.leading` (see ``Kube.write_gate``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from workflows.runtime.kube import ApiError, ConflictError, Kube, Resource

__all__ = ["LEASES", "LeaderElector", "LeaseConfig", "LeaseRecord", "Move", "next_move"]

logger = logging.getLogger(__name__)

LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseConfig:
    """Argo Rollouts' (and client-go's) defaults: 15 s lease, 10 s renew deadline, 2 s between tries."""

    name: str
    namespace: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.identity:
            raise ValueError("a leader-election identity is needed (the pod name)")
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError(
                "leader election needs 0 < retry period < renew deadline < lease duration "
                f"(got {self.retry_period}, {self.renew_deadline}, {self.lease_duration})"
            )


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """The election record a Lease's spec holds."""

    holder: str = ""
    duration: int = 0
    acquire_time: str = ""
    renew_time: str = ""
    transitions: int = 0

    @classmethod
    def of(cls, lease: Mapping[str, Any] | None) -> LeaseRecord | None:
        if lease is None:
            return None
        spec = lease.get("spec") or {}
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            duration=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=str(spec.get("acquireTime") or ""),
            renew_time=str(spec.get("renewTime") or ""),
            transitions=int(spec.get("leaseTransitions") or 0),
        )

    def spec(self) -> dict[str, Any]:
        body: dict[str, Any] = {"holderIdentity": self.holder or None, "leaseDurationSeconds": self.duration}
        body["acquireTime"] = self.acquire_time or None
        body["renewTime"] = self.renew_time or None
        body["leaseTransitions"] = self.transitions
        return {key: value for key, value in body.items() if value is not None}


class Move(Enum):
    """What a candidate does with the Lease it just read."""

    CREATE = "create"  # there is none: create it, held by us
    TAKE = "take"  # free (released) or expired: write ourselves in, one more transition
    RENEW = "renew"  # ours: move renewTime on
    WAIT = "wait"  # someone else holds it and has renewed within the lease duration


def next_move(record: LeaseRecord | None, *, me: str, unchanged_for: float, lease_duration: float) -> Move:
    """The decision of one try. ``unchanged_for``: seconds (on the local clock) since this candidate last saw the
    record change; the holder's own ``renewTime`` is never compared with our clock."""
    if record is None:
        return Move.CREATE
    if record.holder == me:
        return Move.RENEW
    if not record.holder:
        return Move.TAKE
    duration = record.duration or lease_duration
    return Move.TAKE if unchanged_for >= duration else Move.WAIT


def _micro_time(now: dt.datetime) -> str:
    """Kubernetes' MicroTime: RFC 3339 with microseconds, UTC."""
    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """Runs the election for one process on a daemon thread; see the module's docstring.

    ``on_started`` is called (on the elector's thread) when this process becomes the leader, ``on_stopped`` when it
    loses the Lease (not after :meth:`release`). :attr:`leading` is safe to read from any thread.
    """

    def __init__(
        self,
        kube: Kube,
        config: LeaseConfig,
        *,
        on_started: Callable[[], None] = lambda: None,
        on_stopped: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.kube = kube
        self.config = config
        self.on_started, self.on_stopped = on_started, on_stopped  # replaceable until the event happens
        self._clock, self._wall = clock, wall
        self._leading = threading.Event()
        self._stop = threading.Event()
        self._observed: tuple[LeaseRecord | None, str] | None = None  # (record, resourceVersion) last seen
        self._observed_at = 0.0
        self._renewed_at = 0.0
        self._lease: dict[str, Any] | None = None
        self._thread: threading.Thread | None = None
        self.transitions_seen = 0

    @property
    def leading(self) -> bool:
        return self._leading.is_set()

    def has_read(self) -> bool:
        """Whether a try has read the Lease (or found there is none) at least once: the elector is working."""
        return self._observed is not None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="leader-election", daemon=True)
        self._thread.start()

    def wait_leading(self, timeout: float | None = None) -> bool:
        return self._leading.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.config.retry_period + 5)

    def release(self) -> bool:
        """Stop, and hand the Lease back if we hold it: empty holder, 1 s duration. True when released."""
        self.stop()
        if not self._leading.is_set() or self._lease is None:
            return False
        self._leading.clear()
        record = LeaseRecord.of(self._lease) or LeaseRecord()
        now = _micro_time(self._wall())
        released = LeaseRecord(holder="", duration=1, acquire_time=now, renew_time=now, transitions=record.transitions)
        try:
            self.kube.replace(LEASES, {**self._lease, "spec": released.spec()})
        except ApiError as error:
            logger.warning("could not release the Lease %s: %s", self.config.name, error)
            return False
        logger.info("released the Lease %s/%s", self.config.namespace, self.config.name)
        return True

    # -- one try --------------------------------------------------------------------------------------------------
    def try_once(self) -> bool:
        """Read the Lease and make :func:`next_move`'s move; True when we hold the Lease afterwards."""
        cfg = self.config
        lease = self.kube.get(LEASES, cfg.name, cfg.namespace)
        record = LeaseRecord.of(lease)
        version = str(((lease or {}).get("metadata") or {}).get("resourceVersion") or "")
        now = self._clock()
        if self._observed is None or self._observed != (record, version):
            self._observed, self._observed_at = (record, version), now
        move = next_move(
            record, me=cfg.identity, unchanged_for=now - self._observed_at, lease_duration=cfg.lease_duration
        )
        if move is Move.WAIT:
            return False
        stamp = _micro_time(self._wall())
        duration = max(1, round(cfg.lease_duration))
        try:
            if move is Move.CREATE:
                mine = LeaseRecord(cfg.identity, duration, stamp, stamp, 0)
                body: dict[str, Any] = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"}
                body["metadata"] = {"name": cfg.name, "namespace": cfg.namespace}
                self._lease = self.kube.create(LEASES, {**body, "spec": mine.spec()}, cfg.namespace)
            else:
                assert lease is not None
                assert record is not None
                if move is Move.RENEW:
                    mine = LeaseRecord(cfg.identity, duration, record.acquire_time or stamp, stamp, record.transitions)
                else:
                    mine = LeaseRecord(cfg.identity, duration, stamp, stamp, record.transitions + 1)
                self._lease = self.kube.replace(LEASES, {**lease, "spec": mine.spec()})
        except ConflictError:
            return False  # another candidate wrote first: read again next time
        if self._lease is not None:
            written = LeaseRecord.of(self._lease)
            self._observed = (written, str((self._lease.get("metadata") or {}).get("resourceVersion") or ""))
            self._observed_at = now
        return True

    def _holder(self) -> str:
        record = self._observed[0] if self._observed is not None else None
        return record.holder if record is not None else ""

    def _taken(self) -> bool:
        """Another candidate's name is in the Lease we last read: we lost it, whatever the renew deadline says."""
        return self._holder() not in {"", self.config.identity}

    # -- the loop -------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        cfg = self.config
        while not self._stop.is_set():
            try:
                held = self.try_once()
            except Exception as error:  # noqa: BLE001 -- unreachable, a 5xx, a timeout: each is a failed try
                logger.warning("leader election: %s", error)
                held = False
            now = self._clock()
            if held:
                self._renewed_at = now
                if not self._leading.is_set():
                    self._leading.set()
                    self.transitions_seen += 1
                    logger.info("became the leader (Lease %s/%s, as %s)", cfg.namespace, cfg.name, cfg.identity)
                    self.on_started()
            elif self._leading.is_set() and (now - self._renewed_at >= cfg.renew_deadline or self._taken()):
                self._leading.clear()
                logger.error(
                    "lost the Lease %s/%s (not renewed for %.1f s; held by %r now)",
                    cfg.namespace,
                    cfg.name,
                    now - self._renewed_at,
                    self._holder(),
                )
                self.on_stopped()
                return
            self._stop.wait(cfg.retry_period)
