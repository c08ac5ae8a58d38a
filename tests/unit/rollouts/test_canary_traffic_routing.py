"""Canary with a traffic router: pods first, then weight; promotion hands traffic over; abort takes it back first."""

from __future__ import annotations

from dataclasses import replace

from rollouts.core import AdoptReplicaSet, SetTrafficWeight, plan
from rollouts.core.simulate import SimCluster
from tests.support.rollouts import canary_spec, deployed, settle

ROUTER = {"nginx": {"stableIngress": "ingress"}}
STEPS = [{"setWeight": 30}, {"pause": {}}, {"setWeight": 60}, {"pause": {}}]


def routed(image: str = "v1", **options: object) -> object:
    return canary_spec(image, steps=STEPS, trafficRouting=ROUTER, **options)


def by_hash(sim: SimCluster) -> dict[str, int]:
    return {rs.pod_hash: rs.replicas for rs in sim.replica_sets.values()}


def test_the_weight_follows_available_canary_pods() -> None:
    sim = deployed(routed(), delay=3)
    spec = routed("v2")
    first = sim.reconcile(spec)
    assert [a.weight for a in first.of_type(SetTrafficWeight)] == [0]  # declared as it is: no canary pod available
    assert first.status["canary"]["weights"]["canary"]["weight"] == 0
    new_hash = first.status["currentPodHash"]
    assert by_hash(sim)[new_hash] == 3
    assert by_hash(sim)[first.status["stableRS"]] == 10  # a routed canary keeps the stable at full size
    moves: list[int] = []  # the weight changes the plans made (every plan declares the weight, changed or not)
    for _ in range(6):
        sim.advance(1)
        before = sim.router_weight
        sim.reconcile(spec)
        if sim.router_weight != before:
            moves.append(sim.router_weight or 0)
    assert moves == [30]
    assert sim.status["phase"] == "Paused"
    assert sim.status["canary"]["weights"]["canary"] == {
        "weight": 30,
        "podTemplateHash": new_hash,
        "serviceName": "canary",
    }
    assert sim.status["canary"]["weights"]["stable"]["weight"] == 70


def test_promotion_moves_all_traffic_then_switches_stable_and_scales_down_after_the_delay() -> None:
    sim = deployed(routed(scaleDownDelaySeconds=30))
    old = sim.status["stableRS"]
    spec = routed("v2", scaleDownDelaySeconds=30)
    settle(sim, spec)
    sim.promote()
    settle(sim, spec)
    sim.promote()
    done = settle(sim, spec)
    new = done.status["currentPodHash"]
    assert done.status["stableRS"] == new
    assert sim.services["stable"] == sim.services["canary"] == new
    assert sim.router_weight == 0  # everything to the stable Service, which now selects the new pods
    assert by_hash(sim)[old] == 10  # still up during scaleDownDelaySeconds
    assert done.status["phase"] == "Healthy"
    sim.advance(31)
    settle(sim, spec)
    assert by_hash(sim)[old] == 0


def test_abort_sets_the_weight_to_zero_before_anything_else_and_keeps_the_canary_for_the_abort_delay() -> None:
    sim = deployed(routed(abortScaleDownDelaySeconds=10))
    stable = sim.status["stableRS"]
    spec = routed("v2", abortScaleDownDelaySeconds=10)
    settle(sim, spec)
    sim.abort()
    aborted = sim.reconcile(spec)
    assert aborted.of_type(SetTrafficWeight)[0].weight == 0
    assert sim.services["canary"] == stable
    new = aborted.status["currentPodHash"]
    assert by_hash(sim)[new] == 3
    sim.advance(11)
    settle(sim, spec)
    assert by_hash(sim)[new] == 0
    assert sim.status["phase"] == "Degraded"


def test_abort_scale_down_delay_zero_leaves_the_canary_up() -> None:
    sim = deployed(routed(abortScaleDownDelaySeconds=0))
    spec = routed("v2", abortScaleDownDelaySeconds=0)
    settle(sim, spec)
    sim.abort()
    settle(sim, spec)
    sim.advance(3600)
    settle(sim, spec)
    assert by_hash(sim)[sim.status["currentPodHash"]] == 3


def test_set_canary_scale_sizes_the_canary_independently_of_the_weight() -> None:
    steps = [
        {"setCanaryScale": {"replicas": 5}},
        {"setWeight": 10},
        {"pause": {}},
        {"setCanaryScale": {"matchTrafficWeight": True}},
        {"pause": {}},
    ]
    sim = deployed(canary_spec(steps=steps, trafficRouting=ROUTER))
    spec = canary_spec("v2", steps=steps, trafficRouting=ROUTER)
    settle(sim, spec)
    assert by_hash(sim)[sim.status["currentPodHash"]] == 5
    assert sim.router_weight == 10
    sim.promote()
    settle(sim, spec)
    assert by_hash(sim)[sim.status["currentPodHash"]] == 1  # matchTrafficWeight: back to 10% of 10


def test_a_weight_above_an_explicit_canary_scale_goes_to_the_pods_the_user_asked_for() -> None:
    """Argo's TestCanarySetCanaryScale: setCanaryScale weight 25 (1 of 4 pods), then setWeight 50. The user has
    decoupled size from weight, so the weight moves once the scaled canary is available, not when 2 pods are."""
    steps = [{"setCanaryScale": {"weight": 25}}, {"setWeight": 50}, {"pause": {}}]
    sim = deployed(canary_spec(replicas=4, steps=steps, trafficRouting=ROUTER))
    spec = canary_spec("v2", replicas=4, steps=steps, trafficRouting=ROUTER)
    settle(sim, spec)
    assert by_hash(sim)[sim.status["currentPodHash"]] == 1
    assert sim.router_weight == 50
    assert sim.status["currentStepIndex"] == 2


def test_dynamic_stable_scale_shrinks_the_stable_only_after_traffic_moved() -> None:
    sim = deployed(routed(dynamicStableScale=True))
    spec = routed("v2", dynamicStableScale=True)
    settle(sim, spec)
    stable = sim.status["stableRS"]
    assert sim.router_weight == 30
    settle(sim, spec, until=lambda p: by_hash(sim)[stable] == 7)
    assert by_hash(sim)[stable] == 7
    sim.abort()
    first = sim.reconcile(spec)
    # 7 stable pods serve at most 70%: the stable grows back first, the weight waits for it.
    assert [a.weight for a in first.of_type(SetTrafficWeight)] == [30]
    assert by_hash(sim)[stable] == 10
    settle(sim, spec, ticks=20)
    assert sim.router_weight == 0
    assert by_hash(sim)[stable] == 10


def test_header_and_mirror_route_steps_go_through_the_router_seam() -> None:
    router = {**ROUTER, "managedRoutes": [{"name": "h"}]}
    steps = [
        {"setHeaderRoute": {"name": "h", "match": [{"headerName": "x", "headerValue": {"exact": "1"}}]}},
        {"pause": {}},
    ]
    sim = deployed(canary_spec(steps=steps, trafficRouting=router))
    spec = canary_spec("v2", steps=steps, trafficRouting=router)
    decided = [sim.reconcile(spec) for _ in range(2)]
    routes = [a for p in decided for a in p.actions if type(a).__name__ == "SetManagedRoute"]
    assert len(routes) == 1
    assert routes[0].route.name == "h"
    assert routes[0].route.kind == "setHeaderRoute"


def test_every_plan_declares_the_routing_state_and_says_when_the_update_is_over() -> None:
    sim = deployed(routed())
    settled = sim.reconcile(routed())
    [declared] = settled.of_type(SetTrafficWeight)
    assert (declared.weight, declared.finished) == (0, True)  # nothing in flight: the routers clean up
    spec = canary_spec("v2", steps=[{"setWeight": 0}, {"pause": {}}], trafficRouting=ROUTER)
    stepping = settle(sim, spec)
    [declared] = stepping.of_type(SetTrafficWeight)
    assert (declared.weight, declared.finished) == (0, False)  # a setWeight: 0 step is not the end of the update
    sim.abort()
    aborted = settle(sim, spec)
    [declared] = aborted.of_type(SetTrafficWeight)
    assert (declared.weight, declared.finished) == (0, True)  # aborted and back at 0: the update is over


def test_a_step_weight_counts_only_once_the_routed_objects_carry_it() -> None:
    """The planner verifies the weight it sent by reading it back (as Argo's VerifyWeight), not by trusting status."""
    sim = deployed(routed())
    spec = routed("v2")
    settle(sim, spec, until=lambda p: sim.router_weight == 30)
    step = sim.status["currentStepIndex"]
    observed = replace(sim.observe(), traffic_weights=(30, 10))  # one VirtualService route was edited by hand
    decided = plan(spec, observed, now=sim.now)
    assert decided.status["currentStepIndex"] == step  # not verified: the step waits
    assert [a.weight for a in decided.of_type(SetTrafficWeight)] == [30]  # and the state is declared again
    verified = plan(spec, replace(sim.observe(), traffic_weights=(30, 30)), now=sim.now)
    assert verified.status["currentStepIndex"] == step + 1


def test_orphan_replica_sets_are_adopted_by_the_plan_first() -> None:
    sim = deployed(routed())
    observed = sim.observe()
    orphan = replace(observed.replica_sets[0], orphan=True)
    decided = plan(routed(), replace(observed, replica_sets=(orphan,)), now=sim.now)
    assert decided.actions[0] == AdoptReplicaSet(name=orphan.name)
