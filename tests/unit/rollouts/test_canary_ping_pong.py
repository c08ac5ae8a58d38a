"""Canary ``pingPong`` (Argo's TestIstioPingPongUpdate, simulated): the ping and pong Services take turns as stable.

A small controller loop stands in for ``rollouts.controller.rollouts``: before each plan it resolves the stable and
canary Services from the recorded status (:func:`rollouts.core.pingpong.with_roles`, as the controller does when it
builds the routers) and applies the plan's ``SetTrafficWeight`` to a host-level Istio VirtualService with them.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rollouts.core import Plan, RolloutSpec, SetTrafficWeight
from rollouts.core.errors import InvalidSpecError
from rollouts.core.observed import status_from
from rollouts.core.pingpong import with_roles
from rollouts.core.simulate import SimCluster
from rollouts.routers.istio import weighted_virtual_service
from tests.support.rollouts import canary_spec, cluster, settle

ISTIO = {"istio": {"virtualService": {"name": "istio-host-split-vsvc", "routes": ["primary"]}}}
STEPS = [{"setWeight": 25}, {"pause": {}}]
VS: dict[str, Any] = {
    "metadata": {"name": "istio-host-split-vsvc", "namespace": "default"},
    "spec": {
        "hosts": ["istio-host-split"],
        "http": [
            {
                "name": "primary",
                "route": [
                    {"destination": {"host": "ping"}, "weight": 100},
                    {"destination": {"host": "pong"}, "weight": 0},
                ],
            }
        ],
    },
}


def ping_pong(image: str = "v1", **options: Any) -> RolloutSpec:
    fields: dict[str, Any] = {
        "pingPong": {"pingService": "ping", "pongService": "pong"},
        "trafficRouting": ISTIO,
        "stableService": None,
        "canaryService": None,
    }
    return canary_spec(image, steps=STEPS, **(fields | options))


class World:
    """The simulated cluster plus the VirtualService, weighted as the controller would weight it."""

    def __init__(self) -> None:
        self.sim: SimCluster = cluster(services=("ping", "pong"))
        self.vs: dict[str, Any] = copy.deepcopy(VS)

    # settle() drives any object with these three.
    def reconcile(self, spec: RolloutSpec) -> Plan:
        assert spec.canary is not None
        routing = with_roles(spec.canary, status_from(self.sim.status)).traffic_routing
        assert routing is not None
        assert routing.istio is not None
        decided = self.sim.reconcile(spec)
        for action in decided.of_type(SetTrafficWeight):
            self.vs = weighted_virtual_service(
                self.vs, ref=routing.istio.virtual_services[0], routing=routing, rule=None, weight=action.weight
            )
        return decided

    def advance(self, seconds: float) -> None:
        self.sim.advance(seconds)

    def snapshot(self) -> Any:
        return (self.sim.snapshot(), repr(self.vs))

    @property
    def status(self) -> dict[str, Any]:
        return self.sim.status

    def weights(self) -> dict[str, int]:
        """Host -> weight on the VirtualService's primary route."""
        return {d["destination"]["host"]: d["weight"] for d in self.vs["spec"]["http"][0]["route"]}


def deployed() -> World:
    world = World()
    done = settle(world, ping_pong())
    assert done.status["phase"] == "Healthy"
    return world


def update(world: World, image: str) -> Plan:
    """Apply ``image``, wait at the pause after setWeight 25, promote, wait until Healthy."""
    spec = ping_pong(image)
    paused = settle(world, spec)
    assert paused.status["phase"] == "Paused"
    assert paused.status["currentStepIndex"] == 1
    return paused


def test_two_updates_flip_ping_to_pong_and_back() -> None:
    world = deployed()
    first = world.status["stableRS"]
    assert world.status["canary"]["stablePingPong"] == "ping"
    assert world.weights() == {"ping": 100, "pong": 0}
    assert world.sim.services == {"ping": first, "pong": first}

    update(world, "v2")
    v2 = world.status["currentPodHash"]
    assert world.weights() == {"ping": 75, "pong": 25}
    assert world.sim.services == {"ping": first, "pong": v2}  # stable side on stable, canary side on the canary
    world.sim.promote()
    healthy = settle(world, ping_pong("v2"))
    assert healthy.status["phase"] == "Healthy"
    assert world.status["stableRS"] == v2
    assert world.status["canary"]["stablePingPong"] == "pong"  # the roles flipped: pong serves stable now
    assert world.weights() == {"ping": 0, "pong": 100}
    assert world.sim.services["pong"] == v2

    update(world, "v3")
    v3 = world.status["currentPodHash"]
    assert world.weights() == {"ping": 25, "pong": 75}
    assert world.sim.services == {"ping": v3, "pong": v2}
    world.sim.promote()
    healthy = settle(world, ping_pong("v3"))
    assert healthy.status["phase"] == "Healthy"
    assert world.status["canary"]["stablePingPong"] == "ping"
    assert world.weights() == {"ping": 100, "pong": 0}
    assert world.sim.services["ping"] == v3


def test_the_stable_side_keeps_its_role_through_a_promotion_with_no_traffic_moving() -> None:
    """At promotion the canary side already carries all the traffic: flipping the record moves nothing."""
    world = deployed()
    update(world, "v2")
    world.sim.promote()
    seen: list[dict[str, int]] = []

    def healthy(plan: Plan) -> bool:
        seen.append(world.weights())
        return plan.status["phase"] == "Healthy"

    settle(world, ping_pong("v2"), until=healthy)
    at_full = seen.index({"ping": 0, "pong": 100})
    assert all(w == {"ping": 0, "pong": 100} for w in seen[at_full:])  # never back through ping once moved


@pytest.mark.parametrize("flipped", [False, True])
def test_abort_sends_the_traffic_back_to_whichever_side_is_stable(flipped: bool) -> None:
    world = deployed()
    image = "v2"
    if flipped:  # one completed update first: pong is stable
        update(world, "v2")
        world.sim.promote()
        settle(world, ping_pong("v2"))
        image = "v3"
    stable_side = "pong" if flipped else "ping"
    canary_side = "ping" if flipped else "pong"
    stable = world.status["stableRS"]
    update(world, image)
    assert world.weights() == {stable_side: 75, canary_side: 25}
    world.sim.abort()
    aborted = settle(world, ping_pong(image))
    assert aborted.status["phase"] == "Degraded"
    assert world.status["stableRS"] == stable
    assert world.status["canary"]["stablePingPong"] == stable_side  # an abort flips nothing
    assert world.weights() == {stable_side: 100, canary_side: 0}
    assert world.sim.services[stable_side] == stable
    # Retrying runs the update again on the same canary side.
    world.sim.retry()
    update(world, image)
    assert world.weights() == {stable_side: 75, canary_side: 25}


def test_a_rollback_to_the_stable_template_mid_update_flips_nothing() -> None:
    world = deployed()
    update(world, "v2")
    done = settle(world, ping_pong("v1"))
    assert done.status["phase"] == "Healthy"
    assert world.status["canary"]["stablePingPong"] == "ping"
    assert world.weights() == {"ping": 100, "pong": 0}


def test_status_weights_name_no_service_as_argo() -> None:
    """Argo's status.canary.weights carry spec.canaryService/stableService, empty with pingPong."""
    world = deployed()
    update(world, "v2")
    weights = world.status["canary"]["weights"]
    assert weights["canary"]["weight"] == 25
    assert weights["canary"]["serviceName"] == weights["stable"]["serviceName"] == ""


def test_an_empty_record_with_a_stable_version_means_pong_is_stable() -> None:
    """Argo's IsStablePing: only "ping" makes ping stable (a Rollout that gains pingPong, or a record lost)."""
    world = deployed()
    world.sim.status["canary"]["stablePingPong"] = None
    settle(world, ping_pong())
    assert world.status["canary"]["stablePingPong"] == "pong"
    assert world.weights() == {"ping": 0, "pong": 100}


def parse_issues(**canary: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidSpecError) as raised:
        canary_spec(steps=STEPS, **canary)
    return [(issue.path, issue.message) for issue in raised.value.issues]


def test_parse_errors_name_the_field() -> None:
    base = {"stableService": None, "canaryService": None, "trafficRouting": ISTIO}
    missing = parse_issues(pingPong={"pingService": "ping"}, **base)
    assert [path for path, _ in missing] == ["spec.strategy.canary.pingPong.pongService"]
    assert "Ping service and Pong service must to be set" in missing[0][1]
    same = parse_issues(pingPong={"pingService": "a", "pongService": "a"}, **base)
    assert [path for path, _ in same] == ["spec.strategy.canary.pingPong.pingService"]
    assert "same service for the ping and pong" in same[0][1]
    nginx = parse_issues(
        pingPong={"pingService": "ping", "pongService": "pong"},
        **(base | {"trafficRouting": {"nginx": {"stableIngress": "ingress"}}}),
    )
    assert ("spec.strategy.canary.trafficRouting.alb", nginx[0][1]) in nginx
    assert "ALB, Istio, and plugin-based traffic routers only" in nginx[0][1]
    unrouted = parse_issues(pingPong={"pingService": "ping", "pongService": "pong"}, stableService=None)
    paths = [path for path, _ in unrouted]
    assert "spec.strategy.canary.pingPong" in paths
    both = parse_issues(pingPong={"pingService": "ping", "pongService": "pong"}, trafficRouting=ISTIO)
    assert sorted(path for path, _ in both) == [
        "spec.strategy.canary.canaryService",
        "spec.strategy.canary.stableService",
    ]


def test_ping_pong_parses_and_is_no_longer_refused() -> None:
    spec = ping_pong()
    assert spec.canary is not None
    assert spec.canary.ping_pong is not None
    assert (spec.canary.ping_pong.ping_service, spec.canary.ping_pong.pong_service) == ("ping", "pong")
    assert spec.canary.stable_service is None
    assert spec.canary.canary_service is None


@pytest.mark.parametrize(
    "routing",
    [
        {"plugins": {"argoproj-labs/gatewayAPI": {"httpRoute": "web"}}},
        {"gatewayAPI": {"httpRoute": "web"}},
    ],
)
def test_ping_pong_with_a_plugin_router_parses_as_argo(routing: dict[str, Any]) -> None:
    """Argo accepts pingPong with ALB, Istio or a router plugin present (our gatewayAPI is the plugin's spelling)."""
    spec = ping_pong(trafficRouting=routing)
    assert spec.canary is not None
    assert spec.canary.ping_pong is not None


def test_nginx_beside_istio_is_refused_with_ping_pong() -> None:
    """Argo needs stableService/canaryService for nginx; pingPong replaces them here, so the pair is refused."""
    issues = parse_issues(
        pingPong={"pingService": "ping", "pongService": "pong"},
        stableService=None,
        canaryService=None,
        trafficRouting={"istio": {"virtualService": {"name": "v"}}, "nginx": {"stableIngress": "i"}},
    )
    assert [path for path, _ in issues] == ["spec.strategy.canary.trafficRouting.nginx"]


def test_ping_pong_with_alb_needs_the_root_service() -> None:
    """Argo's rule: the ALB action annotation is keyed by rootService, which must not flip with the roles."""
    base = {"stableService": None, "canaryService": None, "pingPong": {"pingService": "ping", "pongService": "pong"}}
    alb = {"alb": {"ingress": "ingress", "servicePort": 80}}
    missing = parse_issues(**base, trafficRouting=alb)
    assert [path for path, _ in missing] == ["spec.strategy.canary.trafficRouting.alb.rootService"]
    assert "Root service field is required" in missing[0][1]
    spec = canary_spec(steps=STEPS, **base, trafficRouting={"alb": {**alb["alb"], "rootService": "root"}})
    assert spec.canary is not None
    assert spec.canary.ping_pong is not None
