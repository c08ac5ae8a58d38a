"""``antiAffinity``: the term Argo injects into a new ReplicaSet's pod template (``GenerateReplicaSetAffinity``)."""

from __future__ import annotations

from typing import Any

from rollouts.core import CreateReplicaSet, templates_equal
from rollouts.core.affinity import inject_anti_affinity, injected_term
from rollouts.core.hashing import without_injected_anti_affinity
from rollouts.core.simulate import SimCluster
from rollouts.core.spec import AntiAffinity
from tests.support.rollouts import blue_green_spec, canary_spec, cluster, deployed

PREFERRED = {"preferredDuringSchedulingIgnoredDuringExecution": {"weight": 40}}
REQUIRED = {"requiredDuringSchedulingIgnoredDuringExecution": {}}
USER_TERM = {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}


def created_template(sim: SimCluster, spec: Any) -> dict[str, Any]:
    [created] = sim.reconcile(spec).of_type(CreateReplicaSet)
    return dict(created.template)


def test_preferred_term_against_the_stable_hash_on_the_new_replica_set() -> None:
    sim = deployed(canary_spec(steps=[{"setWeight": 20}, {"pause": {}}], antiAffinity=PREFERRED))
    stable = sim.status["stableRS"]
    template = created_template(
        sim, canary_spec("v2", steps=[{"setWeight": 20}, {"pause": {}}], antiAffinity=PREFERRED)
    )
    preferred = template["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred == [
        {
            "weight": 40,
            "podAffinityTerm": {
                "labelSelector": {
                    "matchExpressions": [{"key": "rollouts-pod-template-hash", "operator": "In", "values": [stable]}]
                },
                "namespaces": ["default"],
                "topologyKey": "kubernetes.io/hostname",
            },
        }
    ]


def test_required_term_on_a_blue_green_preview() -> None:
    sim = deployed(blue_green_spec(antiAffinity=REQUIRED))
    stable = sim.status["stableRS"]
    template = created_template(sim, blue_green_spec("v2", antiAffinity=REQUIRED))
    required = template["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required == [injected_term(stable_hash=stable, namespace="default")]


def test_the_first_revision_gets_no_term() -> None:
    sim = cluster()
    template = created_template(sim, canary_spec(antiAffinity=REQUIRED))
    assert "affinity" not in template["spec"]


def test_the_users_terms_come_first_and_stay() -> None:
    template = {
        "spec": {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [USER_TERM]}}}
    }
    out = inject_anti_affinity(template, AntiAffinity(), stable_hash="s", new_hash="n", namespace="ns")
    terms = out["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms == [USER_TERM, injected_term(stable_hash="s", namespace="ns")]
    assert template["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == [
        USER_TERM
    ]  # the input is not modified
    assert without_injected_anti_affinity(out) == template
    assert inject_anti_affinity(template, None, stable_hash="s", new_hash="n", namespace="ns") == template
    assert inject_anti_affinity(template, AntiAffinity(), stable_hash="n", new_hash="n", namespace="ns") == template


def test_a_replica_set_with_the_injected_term_is_still_the_rollouts_template() -> None:
    base = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "v2"}]}}
    injected = inject_anti_affinity(base, AntiAffinity(weight=1), stable_hash="abc", new_hash="n", namespace="ns")
    assert injected != base
    assert templates_equal(injected, base)
    assert without_injected_anti_affinity(injected) == base


def test_a_reconcile_after_creation_does_not_create_again() -> None:
    steps = [{"setWeight": 20}, {"pause": {}}]
    sim = deployed(canary_spec(steps=steps, antiAffinity=PREFERRED))
    spec = canary_spec("v2", steps=steps, antiAffinity=PREFERRED)
    sim.reconcile(spec)
    for _ in range(3):
        sim.advance(1)
        assert sim.reconcile(spec).of_type(CreateReplicaSet) == []
    assert len(sim.replica_sets) == 2
