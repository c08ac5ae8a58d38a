"""The nginx router against the real API server: the corpus getting-started example through a whole canary."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes import client

from rollouts.core.errors import InvalidSpecError
from rollouts.core.routing import parse_managed_route
from rollouts.routers import Routers
from tests.support.cluster import Kube, ingress
from tests.support.corpus import of_kind, rollouts_example
from tests.support.routing import make_router, traffic

P = "nginx.ingress.kubernetes.io"
CANARY = "rollouts-demo-rollouts-demo-stable-canary"


@pytest.fixture
def demo(kube: Kube, namespace: str, crds_installed: list[str], apply_docs: Any) -> dict[str, Any]:
    """The corpus nginx example (Services, stable Ingress, Rollout) applied; returns the Rollout as created."""
    docs = [
        *rollouts_example("getting-started-nginx-services.yaml"),
        *rollouts_example("getting-started-nginx-ingress.yaml"),
    ]
    stable = of_kind(docs, "Ingress")[0]
    stable["metadata"]["annotations"]["example.com/owner"] = "web-team"
    stable["spec"]["tls"] = [{"hosts": ["rollouts-demo.local"], "secretName": "demo-tls"}]
    stable["spec"]["rules"].append(
        {
            "host": "other.local",
            "http": {
                "paths": [
                    {
                        "path": "/",
                        "pathType": "Prefix",
                        "backend": {"service": {"name": "other", "port": {"number": 80}}},
                    }
                ]
            },
        }
    )
    apply_docs(*docs)
    [rollout] = apply_docs(*of_kind(rollouts_example("getting-started-nginx-rollout.yaml"), "Rollout"))
    return rollout


def router(kube: Kube, rollout: dict[str, Any]) -> Routers:
    return make_router(kube, rollout)


def annotations(body: dict[str, Any] | None) -> dict[str, str]:
    assert body is not None
    return dict(body["metadata"].get("annotations") or {})


def test_whole_canary_then_promote_full(kube: Kube, namespace: str, demo: dict[str, Any]) -> None:
    r = router(kube, demo)
    assert ingress(kube, namespace, CANARY) is None

    r.set_weight(traffic(5, "new", "old"))
    canary = ingress(kube, namespace, CANARY)
    assert canary is not None
    assert annotations(canary)[f"{P}/canary"] == "true"
    assert annotations(canary)[f"{P}/canary-weight"] == "5"
    assert annotations(canary)["kubernetes.io/ingress.class"] == "nginx"
    assert canary["metadata"]["ownerReferences"][0]["uid"] == demo["metadata"]["uid"]
    assert canary["spec"]["tls"] == [{"hosts": ["rollouts-demo.local"], "secretName": "demo-tls"}]
    [rule] = canary["spec"]["rules"]
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "rollouts-demo-canary"
    writes = r.writes

    # The same weight again: nothing differs, nothing is written.
    version = canary["metadata"]["resourceVersion"]
    r.set_weight(traffic(5, "new", "old"))
    assert r.writes == writes
    assert ingress(kube, namespace, CANARY)["metadata"]["resourceVersion"] == version  # type: ignore[index]

    for weight in (25, 50, 100):
        r.set_weight(traffic(weight, "new", "old"))
        assert annotations(ingress(kube, namespace, CANARY))[f"{P}/canary-weight"] == str(weight)

    # Full promotion: the planner has switched stable to the new hash, then moves the weight back to 0.
    r.set_weight(traffic(0, "new", "new", finished=True))
    assert ingress(kube, namespace, CANARY) is None
    stable = ingress(kube, namespace, "rollouts-demo-stable")
    assert annotations(stable)["example.com/owner"] == "web-team"  # the stable Ingress is never written
    assert "canary" not in " ".join(annotations(stable))


def test_header_route_hand_edits_and_abort(kube: Kube, namespace: str, demo: dict[str, Any]) -> None:
    api = kube.api_client
    spec = copy.deepcopy(demo)
    routing = spec["spec"]["strategy"]["canary"]["trafficRouting"]
    routing["managedRoutes"] = [{"name": "beta"}]
    routing["nginx"]["additionalIngressAnnotations"] = {"canary-by-cookie": "beta-users"}
    r = router(kube, spec)
    header = {"name": "beta", "match": [{"headerName": "X-Beta", "headerValue": {"regex": "^(yes|true)$"}}]}
    r.set_managed_route(parse_managed_route(kind="setHeaderRoute", name="beta", route=header, declared=["beta"]))
    got = annotations(ingress(kube, namespace, CANARY))
    assert got[f"{P}/canary-weight"] == "0"  # created for the header route before any weight
    assert got[f"{P}/canary-by-header"] == "X-Beta"
    assert got[f"{P}/canary-by-header-pattern"] == "^(yes|true)$"
    assert got[f"{P}/canary-by-cookie"] == "beta-users"
    r.set_weight(traffic(20, "new", "old"))
    assert annotations(ingress(kube, namespace, CANARY))[f"{P}/canary-by-header"] == "X-Beta"  # weight keeps it

    # Someone edits the weight by hand and another tool adds an annotation: the weight read back shows the drift,
    # and the state the next plan declares again (the same SetTrafficWeight) puts it back; the other tool's stays.
    patch = {"metadata": {"annotations": {f"{P}/canary-weight": "90", "external-dns.alpha.kubernetes.io/ttl": "60"}}}
    client.NetworkingV1Api(api).patch_namespaced_ingress(CANARY, namespace, patch)
    assert r.weights() == (90,)
    r.set_weight(traffic(20, "new", "old"))
    got = annotations(ingress(kube, namespace, CANARY))
    assert got[f"{P}/canary-weight"] == "20"
    assert got["external-dns.alpha.kubernetes.io/ttl"] == "60"
    assert r.weights() == (20,)
    writes = r.writes
    r.set_weight(traffic(20, "new", "old"))
    assert r.writes == writes

    # Abort: weight 0 while status.abort is set -> all traffic to stable at once, the canary Ingress goes away.
    r.set_weight(traffic(0, "new", "old", finished=True))
    assert ingress(kube, namespace, CANARY) is None


def test_a_zero_weight_step_keeps_the_canary_ingress_at_zero(kube: Kube, namespace: str, demo: dict[str, Any]) -> None:
    r = router(kube, demo)
    r.set_weight(traffic(30, "new", "old"))
    r.set_weight(traffic(0, "new", "old"))  # e.g. setWeight: 0, not the end
    assert annotations(ingress(kube, namespace, CANARY))[f"{P}/canary-weight"] == "0"


def test_missing_stable_ingress_is_a_clear_error(kube: Kube, namespace: str, demo: dict[str, Any]) -> None:
    spec = copy.deepcopy(demo)
    spec["spec"]["strategy"]["canary"]["trafficRouting"]["nginx"]["stableIngress"] = "nope"
    with pytest.raises(InvalidSpecError) as caught:
        router(kube, spec).set_weight(traffic(10, "new", "old"))
    assert caught.value.path == "spec.strategy.canary.trafficRouting.nginx.stableIngress"
    assert f"Ingress {namespace}/nope not found" in caught.value.message


def test_mirror_on_nginx_is_refused(kube: Kube, demo: dict[str, Any]) -> None:
    spec = copy.deepcopy(demo)
    spec["spec"]["strategy"]["canary"]["trafficRouting"]["managedRoutes"] = [{"name": "m"}]
    mirror = parse_managed_route(kind="setMirrorRoute", name="m", route={"name": "m", "match": [{}]}, declared=["m"])
    with pytest.raises(InvalidSpecError, match="only setHeaderRoute"):
        router(kube, spec).set_managed_route(mirror)
