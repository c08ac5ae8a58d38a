"""Every field path of Argo's published Rollout CRD (v1.10.1, pinned) is implemented or refused by name.

Walks ``rollout-crd.yaml`` as fetched by ``tools/cluster/crds/fetch.sh`` (through the Go module proxy, cached outside
the repository) and sorts each path into one of:

- **implemented** -- our generated Rollout schema (``tools/crdgen``) declares it and does not refuse it, or it lies
  inside a Kubernetes type we keep whole (the pod template, the selector);
- **refused** -- it (or an ancestor) is in :data:`rollouts.core.refused.REFUSED`: the parser reports it by path
  (``InvalidSpec`` + Warning Event), and our own CRD refuses it too;
- **status not written** -- a status field of an Argo feature we refuse (experiments, ping-pong, step plugins) or of
  AWS target-group verification (``status.alb``/``albs``: ALB routing is implemented, nothing is asked of AWS),
  declared in our CRD so Argo's tools can read the object.

A path in none of these fails the test: a field added by a later Argo release cannot slip through silently.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from rollouts.core.errors import InvalidSpecError
from rollouts.core.refused import REFUSED
from rollouts.core.spec import parse_rollout
from tests.support.argo_crds import ancestors, argo_crd, opaque, refused_by_schema, schema_of, walk, with_field
from tools.crdgen.rollout import rollout_crd

DOC = Path(__file__).resolve().parents[3] / "docs" / "argo-fields.md"


@pytest.fixture(scope="module")
def argo_paths() -> list[str]:
    return [path for path, _ in walk(schema_of(argo_crd("rollout-crd.yaml")))]


@pytest.fixture(scope="module")
def ours() -> dict[str, Mapping[str, Any]]:
    return dict(walk(schema_of(rollout_crd())))


def classify(path: str, ours: Mapping[str, Mapping[str, Any]]) -> str | None:
    """implemented | refused | status-not-written, or None when the path is in no category."""
    chain = list(ancestors(path))
    if any(a in REFUSED for a in chain):
        return "refused"
    for ancestor in chain:
        schema = ours.get(ancestor)
        if schema is None:
            continue
        if refused_by_schema(schema):
            return "status-not-written" if path.startswith("status.") else "refused-by-schema-only"
        if ancestor != path and opaque(schema):
            return "implemented"  # a Kubernetes type kept whole (pod template, selector, ...)
    return "implemented" if path in ours else None


def test_every_argo_rollout_field_is_implemented_or_refused(
    argo_paths: list[str], ours: dict[str, Mapping[str, Any]]
) -> None:
    assert len(argo_paths) > 500  # the whole published schema was read, not an empty shell
    kinds = {path: classify(path, ours) for path in argo_paths}
    unknown = sorted(path for path, kind in kinds.items() if kind is None)
    assert unknown == [], f"Argo fields neither implemented nor refused (add to rollouts.core.refused): {unknown}"
    schema_only = sorted(path for path, kind in kinds.items() if kind == "refused-by-schema-only")
    assert schema_only == [], f"refused by our CRD only (drop-in mode would ignore them): {schema_only}"
    assert "refused" in kinds.values()
    assert kinds["spec.strategy.canary.antiAffinity"] == "implemented"


def test_our_crd_and_the_parser_refuse_the_same_spec_fields(ours: dict[str, Mapping[str, Any]]) -> None:
    by_schema = {path for path, schema in ours.items() if refused_by_schema(schema) and path.startswith("spec.")}
    assert by_schema == set(REFUSED)


# A canary that parses, with every router the refused paths hang under.
_VALID: dict[str, Any] = {
    "metadata": {"name": "app", "namespace": "default"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "x"}},
        "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
        "strategy": {
            "canary": {
                "canaryService": "canary",
                "stableService": "stable",
                "steps": [{"setWeight": 10}],
                "trafficRouting": {
                    "istio": {
                        "virtualService": {"name": "vs"},
                        "destinationRule": {"name": "dr", "canarySubsetName": "c", "stableSubsetName": "s"},
                    },
                    "gatewayAPI": {"httpRoute": "route"},
                },
            }
        },
    },
}


def _with(path: str) -> tuple[dict[str, Any], str]:
    """``_VALID`` with ``path`` set (``[]``: one more item; ``*``: a plugin entry), and the concrete path."""
    body = copy.deepcopy(_VALID)
    if ".plugins.*." in path:
        routing = body["spec"]["strategy"]["canary"]["trafficRouting"]
        del routing["gatewayAPI"]
        routing["plugins"] = {"argoproj-labs/gatewayAPI": {"httpRoute": "route"}}
        path = path.replace("*", "argoproj-labs/gatewayAPI")
    return with_field(body, path)


def test_the_valid_base_parses() -> None:
    parse_rollout(copy.deepcopy(_VALID))


@pytest.mark.parametrize("pattern", sorted(REFUSED))
def test_each_refused_field_is_reported_by_its_path(pattern: str) -> None:
    body, path = _with(pattern)
    with pytest.raises(InvalidSpecError) as caught:
        parse_rollout(body)
    assert path in [issue.path for issue in caught.value.issues]


def test_the_docs_table_lists_every_refused_field() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [pattern for pattern in REFUSED if f"`{pattern}`" not in text]
    assert missing == [], f"docs/argo-fields.md does not list {missing}"
