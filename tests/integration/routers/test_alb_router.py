"""The ALB router against the real API server: the action annotation on an Ingress shaped like Argo's e2e fixtures
(``kubernetes.io/ingress.class: alb``, a ``use-annotation`` backend), through a whole canary. No AWS anywhere: what is
checked is what the AWS load balancer controller would read."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from kubernetes import client

from rollouts.core.errors import InvalidSpecError
from rollouts.core.routing import parse_managed_route
from rollouts.routers import Routers
from tests.support.cluster import Kube, ingress
from tests.support.corpus import of_kind, rollouts_example
from tests.support.routing import alb_ingress, make_router, traffic

P = "alb.ingress.kubernetes.io"
ACTION = f"{P}/actions.rollouts-demo-root"
MANAGED = "rollouts.argoproj.io/managed-alb-annotations"
PATH = "spec.strategy.canary.trafficRouting.alb"


def _ingress(name: str, *, action_service: str = "rollouts-demo-root") -> dict[str, Any]:
    body = alb_ingress(name=name, action_service=action_service)
    del body["metadata"]["namespace"]  # applied into the test's namespace
    # Another Rollout sharing the Ingress keeps its entry.
    body["metadata"]["annotations"][MANAGED] = '{"other":["alb.ingress.kubernetes.io/actions.other-root"]}'
    return body


@pytest.fixture
def demo(namespace: str, crds_installed: list[str], apply_docs: Any) -> dict[str, Any]:
    """The corpus getting-started Services and Rollout, routed by ALB through Ingress ``demo-alb`` (applied through our
    CRD, so its schema accepts the alb fields)."""
    apply_docs(*rollouts_example("getting-started-nginx-services.yaml"), _ingress("demo-alb"))
    [rollout] = of_kind(rollouts_example("getting-started-nginx-rollout.yaml"), "Rollout")
    rollout["spec"]["strategy"]["canary"]["trafficRouting"] = {
        "managedRoutes": [{"name": "header-route"}],
        "alb": {"ingress": "demo-alb", "rootService": "rollouts-demo-root", "servicePort": 80},
    }
    [created] = apply_docs(rollout)
    return created


def router(kube: Kube, rollout: dict[str, Any]) -> Routers:
    return make_router(kube, rollout)


def annotations(kube: Kube, namespace: str, name: str = "demo-alb") -> dict[str, str]:
    body = ingress(kube, namespace, name)
    assert body is not None
    return dict(body["metadata"].get("annotations") or {})


def split(kube: Kube, namespace: str, name: str = "demo-alb") -> dict[str, int]:
    action = json.loads(annotations(kube, namespace, name)[ACTION])
    return {group["ServiceName"]: group["Weight"] for group in action["ForwardConfig"]["TargetGroups"]}


def backends(kube: Kube, namespace: str) -> list[str]:
    body = ingress(kube, namespace, "demo-alb")
    assert body is not None
    return [path["backend"]["service"]["name"] for path in body["spec"]["rules"][0]["http"]["paths"]]


def test_whole_canary_with_a_header_route_then_promote(kube: Kube, namespace: str, demo: dict[str, Any]) -> None:
    r = router(kube, demo)
    original = ingress(kube, namespace, "demo-alb")
    assert original is not None

    # A healthy Rollout restates weight 0: the action exists before any update, as with Argo.
    r.set_weight(traffic(0, "h1", "h1", finished=True))
    assert split(kube, namespace) == {"rollouts-demo-canary": 0, "rollouts-demo-stable": 100}

    r.set_weight(traffic(20, "h2", "h1"))
    got = annotations(kube, namespace)
    assert got[ACTION] == (
        '{"Type":"forward","ForwardConfig":{"TargetGroups":['
        '{"ServiceName":"rollouts-demo-canary","ServicePort":"80","Weight":20},'
        '{"ServiceName":"rollouts-demo-stable","ServicePort":"80","Weight":80}]}}'
    )
    assert json.loads(got[MANAGED]) == {"rollouts-demo": [ACTION], "other": [f"{P}/actions.other-root"]}
    assert got["kubernetes.io/ingress.class"] == "alb"
    assert got[f"{P}/scheme"] == "internal"
    assert r.weights() == (20,)

    # The same weight again: nothing differs, nothing is written.
    writes = r.writes
    version = ingress(kube, namespace, "demo-alb")["metadata"]["resourceVersion"]  # type: ignore[index]
    r.set_weight(traffic(20, "h2", "h1"))
    assert r.writes == writes
    assert ingress(kube, namespace, "demo-alb")["metadata"]["resourceVersion"] == version  # type: ignore[index]

    # setHeaderRoute: an action and conditions named after the route, and its use-annotation path first.
    header = {"name": "header-route", "match": [{"headerName": "Custom-Header", "headerValue": {"exact": "Mozilla*"}}]}
    declared = ["header-route"]
    r.set_managed_route(
        parse_managed_route(kind="setHeaderRoute", name="header-route", route=header, declared=declared)
    )
    got = annotations(kube, namespace)
    assert json.loads(got[f"{P}/actions.header-route"])["ForwardConfig"]["TargetGroups"] == [
        {"ServiceName": "rollouts-demo-canary", "ServicePort": "80", "Weight": 100}
    ]
    assert json.loads(got[f"{P}/conditions.header-route"]) == [
        {"field": "http-header", "httpHeaderConfig": {"httpHeaderName": "Custom-Header", "values": ["Mozilla*"]}}
    ]
    assert backends(kube, namespace) == ["header-route", "rollouts-demo-root", "static"]
    assert split(kube, namespace) == {"rollouts-demo-canary": 20, "rollouts-demo-stable": 80}  # weights untouched

    # A hand edit of the weight shows in the read-back and is put back by the restated weight; another tool's
    # annotation stays.
    hand_edited = got[ACTION].replace('"Weight":20', '"Weight":90').replace('"Weight":80', '"Weight":10')
    edited = {"metadata": {"annotations": {ACTION: hand_edited}}}
    edited["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/ttl"] = "60"
    client.NetworkingV1Api(kube.api_client).patch_namespaced_ingress("demo-alb", namespace, edited)
    assert r.weights() == (90,)
    r.set_weight(traffic(20, "h2", "h1"))
    assert r.weights() == (20,)
    assert annotations(kube, namespace)["external-dns.alpha.kubernetes.io/ttl"] == "60"

    r.set_weight(traffic(100, "h2", "h1"))
    assert split(kube, namespace) == {"rollouts-demo-canary": 100, "rollouts-demo-stable": 0}

    # Full promotion: the weight goes back to the (new) stable, the managed routes go, the action stays.
    r.set_weight(traffic(0, "h2", "h2", finished=True))
    got = annotations(kube, namespace)
    assert split(kube, namespace) == {"rollouts-demo-canary": 0, "rollouts-demo-stable": 100}
    assert f"{P}/actions.header-route" not in got
    assert f"{P}/conditions.header-route" not in got
    assert json.loads(got[MANAGED]) == {"rollouts-demo": [ACTION], "other": [f"{P}/actions.other-root"]}
    final = ingress(kube, namespace, "demo-alb")
    assert final is not None
    assert final["spec"] == original["spec"]


def test_header_route_removed_by_a_step_without_match(kube: Kube, namespace: str, demo: dict[str, Any]) -> None:
    r = router(kube, demo)
    r.set_weight(traffic(10, "h2", "h1"))
    header = {"name": "header-route", "match": [{"headerName": "X-Beta", "headerValue": {"exact": "1"}}]}
    declared = ["header-route"]
    r.set_managed_route(
        parse_managed_route(kind="setHeaderRoute", name="header-route", route=header, declared=declared)
    )
    assert backends(kube, namespace)[0] == "header-route"
    removal = parse_managed_route(
        kind="setHeaderRoute", name="header-route", route={"name": "header-route"}, declared=declared
    )
    r.set_managed_route(removal)
    assert backends(kube, namespace) == ["rollouts-demo-root", "static"]
    assert f"{P}/actions.header-route" not in annotations(kube, namespace)


def test_several_ingresses_carry_the_same_split(
    kube: Kube, namespace: str, demo: dict[str, Any], apply_docs: Any
) -> None:
    apply_docs(_ingress("second-alb"))
    spec = copy.deepcopy(demo)
    spec["spec"]["strategy"]["canary"]["trafficRouting"]["alb"] = {
        "ingresses": ["demo-alb", "second-alb"],
        "rootService": "rollouts-demo-root",
        "servicePort": 80,
        "stickinessConfig": {"enabled": True, "durationSeconds": 3600},
    }
    r = router(kube, spec)
    r.set_weight(traffic(30, "h2", "h1"))
    assert r.weights() == (30, 30)
    for name in ("demo-alb", "second-alb"):
        action = json.loads(annotations(kube, namespace, name)[ACTION])
        assert action["ForwardConfig"]["TargetGroupStickinessConfig"] == {"Enabled": True, "DurationSeconds": 3600}


def test_an_ingress_without_the_root_service_is_a_clear_error(
    kube: Kube, namespace: str, demo: dict[str, Any], apply_docs: Any
) -> None:
    apply_docs(_ingress("elsewhere", action_service="someone-else"))
    spec = copy.deepcopy(demo)
    spec["spec"]["strategy"]["canary"]["trafficRouting"]["alb"]["ingress"] = "elsewhere"
    with pytest.raises(InvalidSpecError) as caught:
        router(kube, spec).set_weight(traffic(10, "h2", "h1"))
    assert caught.value.path == f"{PATH}.ingress"
    assert caught.value.message == "ingress does not have service `rollouts-demo-root` in rules"
    assert ACTION not in annotations(kube, namespace, "elsewhere")  # nothing written

    spec["spec"]["strategy"]["canary"]["trafficRouting"]["alb"]["ingress"] = "nope"
    with pytest.raises(InvalidSpecError) as caught:
        router(kube, spec).set_weight(traffic(10, "h2", "h1"))
    assert caught.value.path == f"{PATH}.ingress"
    assert f"Ingress {namespace}/nope not found" in caught.value.message
