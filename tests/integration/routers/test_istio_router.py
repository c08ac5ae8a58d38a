"""The Istio router against the real API server and the PUBLISHED Istio CRDs: corpus examples through a canary."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes import client

from rollouts.core.errors import InvalidSpecError
from rollouts.core.routing import parse_managed_route
from rollouts.routers import Routers, release_destination_rules
from rollouts.routers.apply import _Writer
from tests.support.cluster import Kube, get_custom
from tests.support.corpus import of_kind, rollouts_example
from tests.support.routing import ISTIO, make_router, traffic
from workflows.runtime.kube import Kube as KubeClient
from workflows.runtime.kube import Resource

HASH = "rollouts-pod-template-hash"


def router(kube: Kube, rollout: dict[str, Any]) -> Routers:
    return make_router(kube, rollout)


def split(vs: dict[str, Any], index: int = 0, field: str = "http") -> list[int]:
    return [d.get("weight", 0) for d in vs["spec"][field][index]["route"]]


def vs_of(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return get_custom(kube, namespace, "virtualservices", name, api=ISTIO)


@pytest.fixture
def subset_split(namespace: str, routing_crds: list[str], apply_docs: Any) -> dict[str, Any]:
    docs = rollouts_example("istio-istio-subset-split.yaml")
    apply_docs(*[d for d in docs if d["kind"] != "Rollout"])
    [rollout] = apply_docs(*of_kind(docs, "Rollout"))
    return rollout


def test_subset_split_through_a_canary_and_promote_full(
    kube: Kube, namespace: str, subset_split: dict[str, Any]
) -> None:
    r = router(kube, subset_split)
    r.set_weight(traffic(10, "h2", "h1"))
    rule = get_custom(kube, namespace, "destinationrules", "istio-subset-split-destrule", api=ISTIO)
    vs = vs_of(kube, namespace, "istio-subset-split-vsvc")
    assert {s["name"]: s["labels"][HASH] for s in rule["spec"]["subsets"]} == {"stable": "h1", "canary": "h2"}
    assert {s["name"]: s["labels"]["app"] for s in rule["spec"]["subsets"]} == {
        "stable": "istio-subset-split",
        "canary": "istio-subset-split",
    }
    assert split(vs) == [90, 10]
    # Subsets are written before the weight that relies on them.
    assert int(rule["metadata"]["resourceVersion"]) < int(vs["metadata"]["resourceVersion"])

    writes = r.writes
    r.set_weight(traffic(10, "h2", "h1"))
    assert r.writes == writes  # nothing differs: nothing written

    r.set_weight(traffic(100, "h2", "h1"))
    assert split(vs_of(kube, namespace, "istio-subset-split-vsvc")) == [0, 100]
    # Full promotion: stable becomes h2 (the planner does this only once h2 is fully available), then weight 0.
    r.set_weight(traffic(0, "h2", "h2", finished=True))
    rule = get_custom(kube, namespace, "destinationrules", "istio-subset-split-destrule", api=ISTIO)
    vs = vs_of(kube, namespace, "istio-subset-split-vsvc")
    assert {s["name"]: s["labels"][HASH] for s in rule["spec"]["subsets"]} == {"stable": "h2", "canary": "h2"}
    assert int(rule["metadata"]["resourceVersion"]) < int(vs["metadata"]["resourceVersion"])
    assert split(vs) == [100, 0]


def test_declaring_the_state_again_puts_hand_edits_back(
    kube: Kube, namespace: str, subset_split: dict[str, Any]
) -> None:
    r = router(kube, subset_split)
    r.set_weight(traffic(30, "h2", "h1"))
    custom_api = client.CustomObjectsApi(kube.api_client)
    vs = vs_of(kube, namespace, "istio-subset-split-vsvc")
    vs["spec"]["http"][0]["route"][0]["weight"] = 50
    vs["spec"]["http"][0]["route"][1]["weight"] = 50
    vs["metadata"]["labels"] = {"mesh-team": "yes"}
    custom_api.replace_namespaced_custom_object(*ISTIO, namespace, "virtualservices", "istio-subset-split-vsvc", vs)
    assert r.weights() == (50,)  # read back: what the planner verifies a step's weight against
    r.set_weight(traffic(30, "h2", "h1"))  # the next plan's declared state (unchanged)
    vs = vs_of(kube, namespace, "istio-subset-split-vsvc")
    assert split(vs) == [70, 30]
    assert vs["metadata"]["labels"] == {"mesh-team": "yes"}  # what other tools own is kept
    rule = get_custom(kube, namespace, "destinationrules", "istio-subset-split-destrule", api=ISTIO)
    assert {s["name"]: s["labels"][HASH] for s in rule["spec"]["subsets"]} == {"stable": "h1", "canary": "h2"}
    assert r.weights() == (30,)


def test_mirror_and_header_routes_then_abort(
    kube: Kube, namespace: str, routing_crds: list[str], apply_docs: Any
) -> None:
    docs = rollouts_example("istio-istio-mirror.yaml")
    apply_docs(*[d for d in docs if d["kind"] in {"Service", "VirtualService"}])
    [rollout] = of_kind(docs, "Rollout")
    rollout["spec"]["strategy"]["canary"]["trafficRouting"]["managedRoutes"].insert(0, {"name": "header-route"})
    [rollout] = apply_docs(rollout)
    r = router(kube, rollout)
    mirror_step = next(
        s["setMirrorRoute"] for s in rollout["spec"]["strategy"]["canary"]["steps"] if "setMirrorRoute" in s
    )
    r.set_weight(traffic(20, "h2", "h1"))
    declared = ["header-route", "mirror-route"]
    r.set_managed_route(
        parse_managed_route(kind="setMirrorRoute", name=mirror_step["name"], route=mirror_step, declared=declared)
    )
    header = {"name": "header-route", "match": [{"headerName": "x-canary", "headerValue": {"exact": "yes"}}]}
    r.set_managed_route(
        parse_managed_route(kind="setHeaderRoute", name="header-route", route=header, declared=declared)
    )
    vs = vs_of(kube, namespace, "istio-host-split-vsvc")
    http = vs["spec"]["http"]
    assert [h["name"] for h in http] == ["header-route", "mirror-route", "primary"]
    assert http[0]["route"] == [{"destination": {"host": "istio-host-split-canary"}, "weight": 100}]
    assert http[1]["mirror"] == {"host": "istio-host-split-canary"}
    assert http[1]["mirrorPercentage"] == {"value": 50}
    assert http[1]["match"] == [{"method": {"exact": "POST"}, "uri": {"prefix": "/color"}}]
    assert split(vs, 1) == [80, 20]
    assert vs["spec"]["gateways"] == ["istio-host-split-gateway"]

    r.set_weight(traffic(40, "h2", "h1"))
    vs = vs_of(kube, namespace, "istio-host-split-vsvc")
    assert split(vs, 1) == [60, 40]  # the mirror route follows the split
    assert split(vs, 2) == [60, 40]

    # Abort: 100% to stable in one call, managed routes gone.
    r.set_weight(traffic(0, "h2", "h1", finished=True))
    vs = vs_of(kube, namespace, "istio-host-split-vsvc")
    assert [h["name"] for h in vs["spec"]["http"]] == ["primary"]
    assert split(vs) == [100, 0]


def test_two_virtual_services_with_tls_routes(
    kube: Kube, namespace: str, routing_crds: list[str], apply_docs: Any
) -> None:
    apply_docs(
        *rollouts_example("getting-started-istio-services.yaml"),
        *rollouts_example("getting-started-istio-multipleVirtualsvc.yaml"),
    )
    [rollout] = of_kind(rollouts_example("getting-started-istio-rollout.yaml"), "Rollout")
    rollout["spec"]["strategy"]["canary"]["trafficRouting"]["istio"]["virtualServices"][0]["tlsRoutes"] = [
        {"port": 3000, "sniHosts": ["reviews.bookinfo.com", "localhost"]}
    ]
    [rollout] = apply_docs(rollout)
    r = router(kube, rollout)
    r.set_weight(traffic(5, "h2", "h1"))
    first, second = vs_of(kube, namespace, "rollouts-demo-vsvc1"), vs_of(kube, namespace, "rollouts-demo-vsvc2")
    assert split(first) == [95, 5]
    assert split(first, field="tls") == [95, 5]
    assert split(second) == [95, 5]
    assert split(second, field="tls") == [100, 0]  # not named for the second VirtualService
    assert first["spec"]["http"][0]["route"][0]["destination"]["port"] == {"number": 15372}


def test_missing_objects_and_crds_are_clear_errors(kube: Kube, namespace: str, subset_split: dict[str, Any]) -> None:
    spec = copy.deepcopy(subset_split)
    spec["spec"]["strategy"]["canary"]["trafficRouting"]["istio"]["virtualService"]["name"] = "nope"
    with pytest.raises(InvalidSpecError) as caught:
        router(kube, spec).set_weight(traffic(10, "h2", "h1"))
    assert caught.value.path == "spec.strategy.canary.trafficRouting.istio.virtualService"
    assert caught.value.message == f"VirtualService {namespace}/nope not found"
    with pytest.raises(
        InvalidSpecError, match=r"the VirtualService CRD \(virtualservicez.networking.istio.io/v1\) is not installed"
    ):
        _Writer(KubeClient(kube.api_client)).read(
            Resource("networking.istio.io", "v1", "virtualservicez", "VirtualService"),
            namespace=namespace,
            name="x",
            path="p",
        )
    renamed = copy.deepcopy(subset_split)
    renamed["spec"]["strategy"]["canary"]["trafficRouting"]["istio"]["destinationRule"]["canarySubsetName"] = "preview"
    with pytest.raises(InvalidSpecError, match="no subset named 'preview'"):
        router(kube, renamed).set_weight(traffic(10, "h2", "h1"))


def test_an_older_served_version_is_found_by_discovery(kube: Kube, routing_crds: list[str]) -> None:
    """Argo's e2e suite installs Istio CRDs without v1: the routers use the newest version the cluster serves."""
    client_ = KubeClient(kube.api_client)
    unserved = Resource("networking.istio.io", "v9", "virtualservices", "VirtualService")
    found = client_.served(unserved, "v1beta1", "v1alpha3")
    assert (found.version, found.plural) == ("v1beta1", "virtualservices")
    assert client_.served(unserved) is found  # cached per client and kind
    client_.forget(unserved)
    assert client_.served(unserved) is unserved  # nothing served: returned as asked, and not cached
    missing = Resource("networking.istio.io", "v1", "virtualservicez", "VirtualService")
    assert client_.served(missing, "v1beta1") is missing


def test_a_destination_rule_no_longer_named_is_released(
    kube: Kube, namespace: str, subset_split: dict[str, Any]
) -> None:
    """Argo's TestIstioSubsetSplit: dropping trafficRouting takes our hash labels and annotation off the rule."""
    annotation = "argo-rollouts.argoproj.io/managed-by-rollouts"
    routing = make_router(kube, subset_split).routing
    name = subset_split["metadata"]["name"]
    routers = Routers(KubeClient(kube.api_client), routing, owner={}, managed_by_annotation=annotation)
    routers.set_weight(traffic(10, "h2", "h1"))
    rule = get_custom(kube, namespace, "destinationrules", "istio-subset-split-destrule", api=ISTIO)
    assert rule["metadata"]["annotations"][annotation] == name
    keep = frozenset({(namespace, "istio-subset-split-destrule")})
    client_ = KubeClient(kube.api_client)
    kwargs: dict[str, Any] = {"namespace": namespace, "managed_by_annotation": annotation}
    assert release_destination_rules(client_, rollout=name, keep=keep, **kwargs) == 0  # still named
    assert release_destination_rules(client_, rollout="another", keep=frozenset(), **kwargs) == 0  # not its rule
    assert release_destination_rules(client_, rollout=name, keep=frozenset(), **kwargs) == 1
    rule = get_custom(kube, namespace, "destinationrules", "istio-subset-split-destrule", api=ISTIO)
    assert annotation not in (rule["metadata"].get("annotations") or {})
    assert all(HASH not in (s.get("labels") or {}) for s in rule["spec"]["subsets"])
    assert {s["name"] for s in rule["spec"]["subsets"]} == {"stable", "canary"}
    assert release_destination_rules(client_, rollout=name, keep=frozenset(), **kwargs) == 0


def test_an_unserved_kind_is_not_asked_about_again_for_a_minute(kube: Kube) -> None:
    """No Istio on a cluster: the DestinationRule release after each spec change costs no discovery round."""
    counted: list[tuple[str, str, int]] = []
    client_ = KubeClient(
        kube.api_client, observer=lambda target, status: counted.append((target.kind, target.verb, status))
    )
    missing = Resource("example.invalid", "v1", "widgets", "Widget")
    assert client_.serving(missing, "v1beta1") is None
    asked = len(counted)
    assert asked == 2  # one discovery GET per version
    assert client_.serving(missing, "v1beta1") is None
    assert len(counted) == asked  # remembered
    client_.forget(missing)
    assert client_.serving(missing, "v1beta1") is None
    assert len(counted) == 2 * asked
