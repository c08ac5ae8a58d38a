"""Traffic routers: how a routed canary's weight and header/mirror routes reach nginx, Istio and Gateway API.

One obvious place per concept:

- ``base`` — the routing spec as values, :class:`Traffic` (one ``SetTrafficWeight``), managed-route payloads;
- ``nginx`` / ``istio`` / ``gateway`` — pure builders: the routed object as it should be, from the one the cluster
  shows (no I/O, property-tested);
- ``apply`` — the only writer: reads, builds, writes on difference with a guarded update, reports what the user
  must fix as ``InvalidSpecError``.

The controller asks :func:`router_for` for the router of a Rollout, hands it to ``rollouts.act.apply_plan`` and, when
the plan moved no weight, calls its ``reassert(rollout)`` (hand edits are put back, an abort is cleaned up).
See ``docs/traffic-routing.md``.
"""

from rollouts.routers.apply import RefusedRouter, Routers, recorded_traffic, router_for
from rollouts.routers.base import RoutingSpec, Traffic, parse_routing

__all__ = [
    "RefusedRouter",
    "Routers",
    "RoutingSpec",
    "Traffic",
    "parse_routing",
    "recorded_traffic",
    "router_for",
]
