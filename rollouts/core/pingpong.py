"""``canary.pingPong``: which of the two Services is stable right now, the one definition everything else asks.

With ping-pong, a Rollout routes between ``pingService`` and ``pongService`` instead of ``stableService`` and
``canaryService``, and the two swap roles at every promotion: the update runs on the canary side, and when it is
promoted that side simply *becomes* the stable one (``status.canary.stablePingPong`` flips), so no Service selector
has to move while it takes traffic. As in Argo:

- ``stablePingPong: ping`` -> ping is stable, pong is canary; anything else (``pong``, or not recorded) -> pong is
  stable, ping is canary (Argo's ``IsStablePing``);
- the record flips whenever the stable version changes (Argo's ``promoteStable``), so the first deploy, running on
  the canary side of an empty record, ends with ``ping`` stable.

One difference in timing, not in outcome: before any version is stable we record ``ping`` at once, rather than
at the first promotion, so the routers name ping as stable from the first deploy on (Argo deploys the first version
on ping as the canary of an empty record, then flips the record to ``ping``). Both Services select the first
version either way, and both end with ``ping`` stable.

The planner (:func:`rollouts.core.canary.plan_canary`) and the controller (the routers it builds) both resolve the
roles here from the same recorded status, so the Services pointed at hashes and the destinations weighted agree.

Pure: no client, no clock.
"""

from __future__ import annotations

from dataclasses import replace

from rollouts.core.observed import RolloutStatus
from rollouts.core.routing import RoutingSpec
from rollouts.core.spec import CanaryStrategy, PingPong

__all__ = ["PING", "PONG", "next_stable_side", "stable_side", "with_roles"]

PING = "ping"
PONG = "pong"


def stable_side(status: RolloutStatus) -> str:
    """``ping`` or ``pong``: the side serving the stable version now, from the recorded status."""
    if status.stable_ping_pong == PING:
        return PING
    if not status.stable_ping_pong and not status.stable_rs:
        return PING  # nothing is stable yet: the first version lands on ping (see the module note)
    return PONG


def next_stable_side(status: RolloutStatus, *, stable_hash: str) -> str:
    """The side to record after a plan that leaves ``stable_hash`` stable: flipped when the stable version changed."""
    side = stable_side(status)
    if status.stable_rs and stable_hash and stable_hash != status.stable_rs:
        return PONG if side == PING else PING
    return side


def _services(ping_pong: PingPong, side: str) -> tuple[str, str]:
    """(stable, canary) Service names for ``side`` stable."""
    if side == PING:
        return ping_pong.ping_service, ping_pong.pong_service
    return ping_pong.pong_service, ping_pong.ping_service


def with_roles(strategy: CanaryStrategy, status: RolloutStatus) -> CanaryStrategy:
    """``strategy`` with the ping/pong Services in the stable/canary roles ``status`` gives them (the strategy and its
    ``traffic_routing`` alike); unchanged without ``pingPong``."""
    if strategy.ping_pong is None:
        return strategy
    stable, canary = _services(strategy.ping_pong, stable_side(status))
    routing: RoutingSpec | None = strategy.traffic_routing
    if routing is not None:
        routing = replace(routing, stable_service=stable, canary_service=canary)
    return replace(strategy, stable_service=stable, canary_service=canary, traffic_routing=routing)
