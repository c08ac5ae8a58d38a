"""Properties of the offline validator over our real CRDs: what the schema builds is accepted, what breaks it is
refused at the place it breaks, and nothing makes it raise.

Whether it refuses *exactly* what the API server refuses is the integration tier's question
(tests/integration/crds/test_schema_agreement.py); these hold without a cluster.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.crds import VALID_MANIFESTS
from tests.support.schema_cases import (
    UNDECLARED_KEY,
    Mutant,
    at,
    distinct_mutants,
    instances,
    path_text,
    undeclared_sites,
    without_rules,
)
from workflows.api import API_VERSION
from workflows.model.schema import RULES_NOT_CHECKED, UNDECLARED, validate, validate_object
from workflows.runtime.crds import openapi_schema

KINDS = ("Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Workflow", "WorkflowTemplate")
SLOW = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))


def spec_schema(kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = openapi_schema(kind)["properties"]["spec"]
    return spec


@pytest.mark.parametrize("kind", KINDS)
def test_every_instance_of_the_structure_is_valid(kind: str) -> None:
    structure = without_rules(spec_schema(kind))

    @SLOW
    @given(instances(structure))
    def valid(spec: Any) -> None:
        assert validate(structure, spec, path="spec").items == []

    valid()


@pytest.mark.parametrize("kind", KINDS)
def test_an_undeclared_key_anywhere_is_reported_at_that_path_and_only_there(kind: str) -> None:
    schema = spec_schema(kind)

    @SLOW
    @given(instances(schema, implemented_only=True), st.data())
    def reported(spec: Any, data: st.DataObject) -> None:
        sites = undeclared_sites(schema, spec, ("spec",))
        site = data.draw(st.sampled_from(sites))
        manifest = {"spec": spec}
        at(manifest, site)[UNDECLARED_KEY] = 1
        found = validate(schema, manifest["spec"], path="spec").items
        assert {i.path for i in found if i.message == UNDECLARED} == {path_text((*site, UNDECLARED_KEY))}

    reported()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=15,
)


@pytest.mark.parametrize("kind", KINDS)
def test_a_number_past_64_bits_is_an_issue_not_a_crash(kind: str) -> None:
    # Found by the property below: cel-python raised ValueError("overflow") converting 2**63 for a rule.
    manifest = {"apiVersion": API_VERSION, "kind": kind, "metadata": None, "spec": {"": 2**63}}
    assert all(issue.message for issue in validate_object(openapi_schema(kind), manifest).items)


@pytest.mark.parametrize("kind", KINDS)
def test_any_json_is_judged_without_raising(kind: str) -> None:
    schema = openapi_schema(kind)

    @SLOW
    @given(st.dictionaries(st.sampled_from(["metadata", "spec", "status", "x"]), JSON, max_size=4))
    def judged(body: dict[str, Any]) -> None:
        manifest = {"apiVersion": API_VERSION, "kind": kind, **body}
        for issue in validate_object(schema, manifest).items:
            assert issue.message  # and every path is a string
            assert isinstance(issue.path, str)

    judged()


MUTANTS = distinct_mutants([(name, build()) for name, build in VALID_MANIFESTS.items()], openapi_schema)


@pytest.mark.parametrize(("name", "chosen"), MUTANTS, ids=[name for name, _ in MUTANTS])
def test_every_breakage_is_refused_at_or_under_the_broken_field(name: str, chosen: list[Mutant]) -> None:
    """The agreement test's mutants are real breakages offline too (a ``null`` is only pruned, so it may pass)."""
    for mutant in chosen:
        if mutant.operator == "null":
            continue
        found = validate_object(openapi_schema(mutant.manifest["kind"]), mutant.manifest).items
        where = path_text(mutant.path[:-1] if mutant.operator == "required" else mutant.path)
        # a required field's absence may be noticed by a one-of rule on its parent
        near = [
            i for i in found if i.path.startswith(where) or where.startswith(i.path) or i.message == RULES_NOT_CHECKED
        ]
        assert near, f"{name} {mutant.label}: nothing refused near {where}; found {[str(i) for i in found]}"
