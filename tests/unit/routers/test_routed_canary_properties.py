"""The planner and the Istio builders together, over random canaries in the simulated cluster.

Every ``SetTrafficWeight`` the planner emits is applied the way the writer applies it (DestinationRule subsets first,
then the VirtualService), every ``SetManagedRoute`` through the same builders, and between changes the recorded weight
is re-asserted as the controller does on each reconcile. After every single action we look at what the *routed
objects* say — which hash each subset selects and which weight it gets — and check:

- the canary subset never gets more weight than the available pods of the hash it selects can serve, and the stable
  subset likewise (so a subset is never relabelled onto pods that cannot take its weight: full promotion switches
  the stable subset before the weight moves back);
- no ReplicaSet is scaled below what the weight routed to it needs (abort: weight to 0 first, canary down after);
- at the end of an update (Healthy) both subsets select the stable hash with 100/0 and no managed route is left; after
  an abort everything goes to stable (100/0 on the stable hash) and no managed route is left.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollouts.core import SetManagedRoute, SetTrafficWeight, plan
from rollouts.core.replicas import ceil_percent
from rollouts.core.routing import RoutingSpec
from rollouts.core.simulate import SimCluster
from rollouts.core.statuspatch import merge_patch
from rollouts.routers.istio import (
    POD_TEMPLATE_HASH_LABEL,
    desired_destination_rule,
    virtual_service_weights,
    weighted_virtual_service,
    with_managed_route,
    without_managed_routes,
)
from tests.support.rollouts import T0, canary_spec, operate, pod_delays
from tests.support.routing import destination_rule, rollout, routing_of, virtual_service

ROUTING = {
    "managedRoutes": [{"name": "beta"}],
    "istio": {
        "virtualService": {"name": "web-vsvc", "routes": ["primary"]},
        "destinationRule": {"name": "web-destrule", "canarySubsetName": "canary", "stableSubsetName": "stable"},
    },
}
HEADER = {"setHeaderRoute": {"name": "beta", "match": [{"headerName": "x-beta", "headerValue": {"exact": "1"}}]}}
steps = st.lists(
    st.one_of(
        st.builds(lambda w: {"setWeight": w}, st.integers(0, 100)),
        st.just({"pause": {}}),
        st.builds(lambda d: {"pause": {"duration": d}}, st.integers(0, 3)),
        st.just(HEADER),
        st.just({"setHeaderRoute": {"name": "beta"}}),
    ),
    max_size=6,
)
COMMANDS = ("promote", "abort", "retry", "promoteFull", "new-template", "nothing")


def spec_for(replicas: int, canary: dict[str, Any], image: str) -> Any:
    return canary_spec(image, replicas=replicas, **canary)


class RoutedWorld:
    def __init__(self, case: dict[str, Any]) -> None:
        self.case = case
        self.n = case["replicas"]
        delays = case["delays"]
        self.sim = SimCluster(
            now=T0,
            services=("web-canary", "web-stable"),
            pod_delay=pod_delays(delays),
        )
        self.canary = {
            "canaryService": "web-canary",
            "stableService": "web-stable",
            "trafficRouting": ROUTING,
            "steps": case["steps"],
            "abortScaleDownDelaySeconds": case["abort_delay"],
            "dynamicStableScale": case["dynamic"],
        }
        if not case["dynamic"]:  # Argo refuses dynamicStableScale with scaleDownDelaySeconds
            self.canary["scaleDownDelaySeconds"] = case["scale_down_delay"]
        self.images = ["v0"]
        self.spec = spec_for(self.n, self.canary, "v0")
        routing = routing_of(rollout(ROUTING))
        assert routing is not None
        assert routing.istio is not None
        assert routing.istio.destination_rule is not None
        self.routing: RoutingSpec = routing
        self.ref = routing.istio.virtual_services[0]
        self.rule_ref = routing.istio.destination_rule
        self.vs = virtual_service(subsets=True)
        self.dr = destination_rule()

    # -- what the routed objects say ---------------------------------------------------------------------------
    def subset_hash(self, dr: dict[str, Any], name: str) -> str | None:
        subset = next(s for s in dr["spec"]["subsets"] if s["name"] == name)
        return subset["labels"].get(POD_TEMPLATE_HASH_LABEL)

    def weight(self, vs: dict[str, Any]) -> int:
        [(_, canary)] = virtual_service_weights(vs, ref=self.ref, routing=self.routing, rule=self.rule_ref)
        return canary

    def available(self, pod_hash: str | None) -> int:
        return sum(self.sim.available(rs) for rs in self.sim.replica_sets.values() if rs.pod_hash == pod_hash)

    def check_servable(self, vs: dict[str, Any], dr: dict[str, Any], why: Any) -> None:
        if self.n == 0:
            return
        w = self.weight(vs)
        if w > 0:
            assert self.available(self.subset_hash(dr, "canary")) >= ceil_percent(self.n, w), ("canary", w, why)
        if w < 100:
            assert self.available(self.subset_hash(dr, "stable")) >= ceil_percent(self.n, 100 - w), ("stable", w, why)

    # -- applying ------------------------------------------------------------------------------------------------
    def route_traffic(self, traffic: SetTrafficWeight, *, why: Any) -> None:
        """What the Istio router does with the declared state: subsets first, then the weights."""
        dr = desired_destination_rule(
            self.dr, rule=self.rule_ref, canary_hash=traffic.canary_hash, stable_hash=traffic.stable_hash
        )
        if self.subset_hash(self.dr, "canary") is not None:  # before the first weight nothing is routed by hash
            self.check_servable(self.vs, dr, ("relabel", why))
        self.dr = dr
        vs = weighted_virtual_service(
            self.vs, ref=self.ref, routing=self.routing, rule=self.rule_ref, weight=traffic.weight
        )
        if traffic.finished:
            vs = without_managed_routes(vs, routing=self.routing)
        if self.subset_hash(self.dr, "canary") is not None:
            self.check_servable(vs, self.dr, ("weight", why))
        self.vs = vs

    def reconcile(self) -> None:
        sim = self.sim
        decided = plan(self.spec, sim.observe(), now=sim.now)
        if self.subset_hash(self.dr, "stable") is not None:  # once routed by hash, every plan declares the state
            assert decided.of_type(SetTrafficWeight), decided.reasons
        for action in decided.actions:
            if isinstance(action, SetTrafficWeight):
                self.route_traffic(action, why=decided.reasons)
            elif isinstance(action, SetManagedRoute):
                self.vs = with_managed_route(
                    self.vs, ref=self.ref, routing=self.routing, rule=self.rule_ref, route=action.route
                )
            sim.apply_action(action)
            if self.subset_hash(self.dr, "canary") is not None:
                self.check_servable(self.vs, self.dr, ("after", type(action).__name__, decided.reasons))
        sim.status = merge_patch(sim.status, decided.status)

    def command(self, name: str) -> None:
        if not operate(self.sim, name) and name == "new-template":
            self.images.append(f"v{len(self.images)}")
            self.spec = spec_for(self.n, self.canary, self.images[-1])

    def run(self) -> None:
        sim = self.sim
        for _ in range(4):
            self.reconcile()
            sim.advance(1)
        self.command("new-template")
        for tick in range(24):
            for _, name in [c for c in sorted(self.case["commands"]) if c[0] == tick]:
                self.command(name)
            self.reconcile()
            sim.advance(1)
        for _ in range(150):
            if sim.status.get("phase") == "Paused":
                sim.promote()
            self.reconcile()
            if self.settled():
                return
            sim.advance(1)
        raise AssertionError(f"did not settle: {sim.status.get('phase')} {sim.status.get('message')}")

    def settled(self) -> bool:
        sim = self.sim
        stable = sim.status.get("stableRS")
        names = [r.get("name") for r in self.vs["spec"]["http"]]
        if sim.status.get("phase") == "Healthy" and all(
            rs.replicas == 0 for rs in sim.replica_sets.values() if rs.pod_hash != stable
        ):
            if self.subset_hash(self.dr, "canary") is not None:  # something was routed during the scenario
                assert self.weight(self.vs) == 0
                assert self.subset_hash(self.dr, "stable") == stable
                assert "beta" not in names
            return True
        if sim.status.get("phase") == "Degraded" and sim.status.get("abort") and self.weight(self.vs) == 0:
            if self.subset_hash(self.dr, "canary") is not None:
                assert self.subset_hash(self.dr, "stable") == stable
                assert "beta" not in names
            return True
        return False


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.fixed_dictionaries(
        {
            "replicas": st.integers(1, 6),
            "steps": steps,
            "delays": st.lists(st.integers(0, 3), min_size=1, max_size=6),
            "commands": st.lists(st.tuples(st.integers(0, 20), st.sampled_from(COMMANDS)), max_size=4),
            "abort_delay": st.integers(0, 3),
            "scale_down_delay": st.integers(0, 3),
            "dynamic": st.booleans(),
        }
    )
)
def test_routed_objects_never_send_more_than_the_selected_pods_can_serve(case: dict[str, Any]) -> None:
    RoutedWorld(copy.deepcopy(case)).run()


@pytest.mark.parametrize(("weight", "tick", "delay"), [(50, 4, 1), (50, 5, 2), (100, 6, 3), (20, 9, 1)])
def test_a_new_template_mid_update_leaves_the_subsets_alone_until_the_weight_is_back(
    weight: int, tick: int, delay: int
) -> None:
    """The recorded canary hash already names the newest template while the weight still goes to the previous
    canary (the shrunken stable cannot take it back yet): re-asserting must not relabel the canary subset."""
    case = {
        "replicas": 4,
        "steps": [{"setWeight": weight}, {"pause": {}}],
        "delays": [delay],
        "commands": [(tick, "new-template")],
        "abort_delay": 0,
        "scale_down_delay": 0,
        "dynamic": True,
    }
    RoutedWorld(case).run()
