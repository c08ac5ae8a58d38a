"""The Argo Rollout fields this controller does not implement, refused by path (never ignored).

In drop-in mode Argo's own CRDs are served, and much of them is loose, so the API server accepts these fields; the
parser is then the only validator. Each one present in a Rollout is an ``InvalidSpec`` issue naming its path (the
kopf shell turns it into the ``InvalidSpec`` condition and a Warning Event). With our own CRDs the same fields are
declared and refused by the API server (``tools/crdgen``); ``tests/unit/crds/test_argo_field_walk.py`` checks the two
agree and that every field path of Argo's published Rollout CRD is either implemented or in :data:`REFUSED`.

Paths: ``.``-separated; ``[]`` marks every item of a list, ``*`` every key of a map. The table is the one place to
add a field that a later Argo release brings and we do not implement. See ``docs/argo-fields.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from workflows.errors import Issues

__all__ = ["REFUSED", "refuse_unimplemented", "refused_present"]

_GATEWAY_PLUGIN_ONLY = "the Gateway API plugin's {} (HTTPRoutes named by httpRoute/httpRoutes are supported)"
_GATEWAY_UNSUPPORTED = {
    "grpcRoute": "GRPCRoutes",
    "grpcRoutes": "GRPCRoutes",
    "tcpRoute": "TCPRoutes",
    "tcpRoutes": "TCPRoutes",
    "tlsRoute": "TLSRoutes",
    "tlsRoutes": "TLSRoutes",
    "httpRouteSelector": "route selectors",
    "grpcRouteSelector": "route selectors",
    "tcpRouteSelector": "route selectors",
    "tlsRouteSelector": "route selectors",
    "inProgressLabelKey": "in-progress label",
    "inProgressLabelValue": "in-progress label",
}
_ROUTING = "spec.strategy.canary.trafficRouting"

#: path -> the feature named in the message ("not supported: <feature> (...)").
REFUSED: dict[str, str] = {
    "spec.strategy.canary.replicaProgressThreshold": "replicaProgressThreshold",
    "spec.strategy.canary.steps[].experiment": "experiment steps",
    "spec.strategy.canary.steps[].plugin": "step plugins",
    f"{_ROUTING}.ambassador": "Ambassador traffic routing",
    f"{_ROUTING}.apisix": "APISIX traffic routing",
    f"{_ROUTING}.appMesh": "App Mesh traffic routing",
    f"{_ROUTING}.smi": "SMI traffic routing",
    f"{_ROUTING}.traefik": "Traefik traffic routing",
    f"{_ROUTING}.istio.destinationRule.additionalSubsetNames": "destinationRule.additionalSubsetNames",
    **{f"{_ROUTING}.gatewayAPI.{key}": _GATEWAY_PLUGIN_ONLY.format(what) for key, what in _GATEWAY_UNSUPPORTED.items()},
    **{f"{_ROUTING}.plugins.*.{key}": _GATEWAY_PLUGIN_ONLY.format(what) for key, what in _GATEWAY_UNSUPPORTED.items()},
}


def _present(value: Any, segments: list[str], path: str) -> Iterator[str]:
    if not segments:
        yield path
        return
    head, rest = segments[0], segments[1:]
    if not isinstance(value, Mapping):
        return
    if head == "*":
        for key, item in value.items():
            yield from _present(item, rest, f"{path}.{key}")
        return
    listed = head.endswith("[]")
    key = head[:-2] if listed else head
    if key not in value or value[key] is None:
        return
    child = f"{path}.{key}" if path else key
    if not listed:
        yield from _present(value[key], rest, child)
        return
    items = value[key]
    if isinstance(items, list):
        for index, item in enumerate(items):
            yield from _present(item, rest, f"{child}[{index}]")


def refused_present(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(concrete path, feature)`` for every refused field present in a Rollout ``body``, in table order."""
    return [(path, feature) for pattern, feature in REFUSED.items() for path in _present(body, pattern.split("."), "")]


def refuse_unimplemented(body: Mapping[str, Any], issues: Issues) -> None:
    """Add an issue for every refused field present, unless a more specific check already reported that path."""
    reported = {issue.path for issue in issues.items}
    for path, feature in refused_present(body):
        if path not in reported:
            issues.add(path, f"not supported: {feature} (an Argo Rollouts field, refused rather than ignored)")
