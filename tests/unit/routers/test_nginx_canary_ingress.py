"""The nginx canary Ingress: copied from the stable one (class, TLS, stable rules only), weighted by annotations."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollouts.core.errors import InvalidSpecError
from rollouts.core.routing import HeaderMatch, ManagedRoute, MatchKind, RouteKind, RoutingSpec, StringMatch
from rollouts.routers.nginx import (
    MANAGED_ANNOTATIONS,
    NginxState,
    canary_ingress_name,
    current_state,
    desired_canary_ingress,
    header_for,
    nginx_weight,
)
from tests.support.routing import OWNER, rollout, routing_of, stable_ingress

P = "nginx.ingress.kubernetes.io"


def routing_for(**nginx: Any) -> RoutingSpec:
    routing = routing_of(rollout({"nginx": {"stableIngress": "web", **nginx}}))
    assert routing is not None
    return routing


def build(state: NginxState, *, current: dict[str, Any] | None = None, **nginx: Any) -> dict[str, Any]:
    routing = routing_for(**nginx)
    assert routing.nginx is not None
    return desired_canary_ingress(
        stable=stable_ingress(), current=current, routing=routing, nginx=routing.nginx, state=state, owner=OWNER
    )


def test_the_canary_ingress_copies_class_tls_and_only_the_stable_rules() -> None:
    body = build(NginxState(weight=20))
    assert body["metadata"]["name"] == "demo-web-canary"
    assert body["metadata"]["ownerReferences"] == [OWNER]
    assert body["spec"]["ingressClassName"] == "nginx"
    assert body["spec"]["tls"] == [{"hosts": ["web.example.com"], "secretName": "web-tls"}]
    [rule] = body["spec"]["rules"]  # the rule for other.example.com never pointed at the stable Service
    assert rule["host"] == "web.example.com"
    assert [p["path"] for p in rule["http"]["paths"]] == ["/"]  # /admin goes to another Service
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "web-canary", "port": {"number": 80}}
    annotations = body["metadata"]["annotations"]
    assert annotations[f"{P}/canary"] == "true"
    assert annotations[f"{P}/canary-weight"] == "20"
    assert f"{P}/canary-weight-total" not in annotations
    assert annotations["kubernetes.io/ingress.class"] == "nginx"
    assert "team" not in annotations  # the stable Ingress's own annotations are not the canary's


def test_the_stable_ingress_is_not_modified() -> None:
    stable = stable_ingress()
    routing = routing_for()
    assert routing.nginx is not None
    desired_canary_ingress(
        stable=stable, current=None, routing=routing, nginx=routing.nginx, state=NginxState(), owner=OWNER
    )
    assert stable == stable_ingress()


def test_prefix_additional_and_canary_annotations() -> None:
    body = build(
        NginxState(weight=5),
        annotationPrefix="custom.org",
        additionalIngressAnnotations={"canary-by-cookie": "beta"},
        canaryIngressAnnotations={"example.com/team": "web"},
    )
    annotations = body["metadata"]["annotations"]
    assert annotations["custom.org/canary-weight"] == "5"
    assert annotations["custom.org/canary-by-cookie"] == "beta"
    assert annotations["example.com/team"] == "web"
    assert f"{P}/canary" not in annotations


def test_weight_counts_in_max_traffic_weight_units_and_announces_the_total() -> None:
    """As Argo's nginx router: ``setWeight: 5`` with ``maxTrafficWeight: 1000`` is canary-weight 5 of 1000 (0.5%)."""
    assert nginx_weight(5, 1000) == (5, 1000)
    assert nginx_weight(40, None) == (40, None)
    routing = routing_of(rollout({"maxTrafficWeight": 1000, "nginx": {"stableIngress": "web"}}))
    assert routing is not None
    assert routing.nginx is not None
    body = desired_canary_ingress(
        stable=stable_ingress(),
        current=None,
        routing=routing,
        nginx=routing.nginx,
        state=NginxState(weight=5),
        owner=OWNER,
    )
    assert body["metadata"]["annotations"][f"{P}/canary-weight"] == "5"
    assert body["metadata"]["annotations"][f"{P}/canary-weight-total"] == "1000"
    assert current_state(body, prefix=P, max_traffic_weight=1000).weight == 5


def test_annotations_and_labels_of_other_tools_survive_and_hand_edits_are_put_back() -> None:
    first = build(NginxState(weight=10))
    edited = json.loads(json.dumps(first))
    edited["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/hostname"] = "web.example.com"
    edited["metadata"]["labels"] = {"cost-center": "42"}
    edited["metadata"]["annotations"][f"{P}/canary-weight"] = "90"  # edited by hand
    edited["spec"]["rules"] = []
    again = build(NginxState(weight=10), current=edited)
    assert again["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/hostname"] == "web.example.com"
    assert again["metadata"]["labels"] == {"cost-center": "42"}
    assert again["metadata"]["annotations"][f"{P}/canary-weight"] == "10"
    assert again["spec"] == first["spec"]


def test_annotations_dropped_from_the_spec_are_removed_again() -> None:
    first = build(NginxState(weight=10), additionalIngressAnnotations={"canary-by-cookie": "beta"})
    assert f"{P}/canary-by-cookie" in first["metadata"]["annotations"]
    second = build(NginxState(weight=10), current=first)
    assert f"{P}/canary-by-cookie" not in second["metadata"]["annotations"]
    assert json.loads(second["metadata"]["annotations"][MANAGED_ANNOTATIONS]) == sorted(
        k for k in second["metadata"]["annotations"] if k != MANAGED_ANNOTATIONS
    )


def test_header_route_beyond_argo() -> None:
    exact = HeaderMatch(name="X-Canary", value=StringMatch(kind=MatchKind.EXACT, value="yes"))
    body = build(NginxState(weight=0, header=exact))
    annotations = body["metadata"]["annotations"]
    assert annotations[f"{P}/canary-by-header"] == "X-Canary"
    assert annotations[f"{P}/canary-by-header-value"] == "yes"
    assert current_state(body, prefix=P, max_traffic_weight=None) == NginxState(weight=0, header=exact)
    prefix = HeaderMatch(name="X-Canary", value=StringMatch(kind=MatchKind.PREFIX, value="be.ta"))
    patterned = build(NginxState(weight=0, header=prefix), current=body)
    annotations = patterned["metadata"]["annotations"]
    assert annotations[f"{P}/canary-by-header-pattern"] == r"^be\.ta"
    assert f"{P}/canary-by-header-value" not in annotations
    removed = build(NginxState(weight=0), current=patterned)
    assert not any("canary-by-header" in k for k in removed["metadata"]["annotations"])


def test_nginx_expresses_one_header_and_no_mirror() -> None:
    one = HeaderMatch(name="a", value=StringMatch(kind=MatchKind.EXACT, value="1"))
    assert header_for(ManagedRoute(kind=RouteKind.HEADER, name="r", headers=(one,))) == one
    assert header_for(ManagedRoute(kind=RouteKind.HEADER, name="r")) is None
    with pytest.raises(InvalidSpecError, match="one header"):
        header_for(ManagedRoute(kind=RouteKind.HEADER, name="r", headers=(one, one)))
    with pytest.raises(InvalidSpecError, match="setMirrorRoute"):
        header_for(ManagedRoute(kind=RouteKind.MIRROR, name="r", mirror=()))


def test_a_stable_ingress_without_the_stable_service_is_invalid() -> None:
    stable = stable_ingress()
    for rule in stable["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            path["backend"]["service"]["name"] = "elsewhere"
    routing = routing_for()
    assert routing.nginx is not None
    with pytest.raises(InvalidSpecError, match="no rule whose backend is the stable Service web-stable"):
        desired_canary_ingress(
            stable=stable, current=None, routing=routing, nginx=routing.nginx, state=NginxState(), owner=OWNER
        )


def test_long_names_are_cut_to_a_valid_length() -> None:
    name = canary_ingress_name("r" * 200, "i" * 200)
    assert len(name) == 253
    assert name.endswith("-canary")


headers = st.one_of(
    st.none(),
    st.builds(
        HeaderMatch,
        name=st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True),
        value=st.builds(
            StringMatch,
            kind=st.sampled_from([MatchKind.EXACT, MatchKind.REGEX]),
            value=st.text(min_size=1, max_size=10),
        ),
    ),
)
foreign = st.dictionaries(st.from_regex(r"example\.com/[a-z]{1,8}", fullmatch=True), st.text(max_size=5), max_size=3)


@given(
    weight=st.integers(0, 100),
    header=headers,
    total=st.one_of(st.none(), st.integers(1, 10_000)),
    others=foreign,
    then=st.integers(0, 100),
)
def test_properties_of_the_canary_ingress(
    weight: int, header: HeaderMatch | None, total: int | None, others: dict[str, str], then: int
) -> None:
    """Never more weight than asked; rebuilding is a fixed point; foreign annotations survive every rebuild."""
    routing = routing_of(rollout({"nginx": {"stableIngress": "web"}, **({"maxTrafficWeight": total} if total else {})}))
    assert routing is not None
    assert routing.nginx is not None

    def make(state: NginxState, current: dict[str, Any] | None) -> dict[str, Any]:
        assert routing is not None
        assert routing.nginx is not None
        return desired_canary_ingress(
            stable=stable_ingress(), current=current, routing=routing, nginx=routing.nginx, state=state, owner=OWNER
        )

    body = make(NginxState(weight=weight, header=header), None)
    body["metadata"]["annotations"].update(others)
    annotations = body["metadata"]["annotations"]
    parts = int(annotations[f"{P}/canary-weight"])
    assert parts == weight  # written in the Rollout's own units (maxTrafficWeight), as Argo writes it
    state = current_state(body, prefix=P, max_traffic_weight=total)
    assert state.header == header
    assert make(state, body) == body  # what we read back rebuilds the same object: no write on the next call
    moved = make(NginxState(weight=then, header=state.header), body)
    assert all(moved["metadata"]["annotations"][k] == v for k, v in others.items())
    assert moved["spec"] == body["spec"]
