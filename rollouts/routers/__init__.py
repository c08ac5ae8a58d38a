"""Traffic routers: how a routed canary's weight and header/mirror routes reach nginx, Istio, Gateway API and ALB.

One obvious place per concept:

- ``rollouts.core.routing`` — the routing spec as values, parsed with the Rollout (bad input is an InvalidSpec);
- ``nginx`` / ``istio`` / ``gateway`` / ``alb`` — pure builders: the routed object as it should be, from the one the
  cluster shows (no I/O, property-tested), and readers of the weight an object expresses;
- ``apply`` — the only I/O: :class:`Routers` converges the objects to the planner's ``SetTrafficWeight`` /
  ``SetManagedRoute`` (guarded writes, only on difference) and reads the weights back for verification.

Every plan of a routed canary declares the whole desired routing state, so hand edits are put back and an update's
end is cleaned up by the same path that moves weights. See ``docs/traffic-routing.md``.
"""

from rollouts.routers.apply import (
    AlbRouter,
    GatewayRouter,
    IstioRouter,
    NginxRouter,
    Routers,
    release_destination_rules,
)

__all__ = ["AlbRouter", "GatewayRouter", "IstioRouter", "NginxRouter", "Routers", "release_destination_rules"]
