"""Property tests: the step and provider "exactly one" rules and numeric bounds hold for every combination."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.crd_validator import load_crds, validate_object
from tests.support.crds import analysis_template, canary_rollout, routed_canary_rollout

CRDS = load_crds()

STEP_ACTIONS: dict[str, Any] = {
    "setWeight": 10,
    "pause": {"duration": "30s"},
    "setCanaryScale": {"replicas": 1},
    "analysis": {"templates": [{"templateName": "t"}]},
    "experiment": {"templates": []},
    "plugin": {"name": "x"},
}
UNSUPPORTED_STEP_ACTIONS = {"experiment", "plugin"}
PROVIDERS: dict[str, Any] = {
    "prometheus": {"query": "up"},
    "web": {"url": "http://example.invalid"},
    "job": {"spec": {"template": {}}},
    "workflow": {"templateRef": {"name": "smoke"}},
}


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(sorted(STEP_ACTIONS))))
def test_a_step_is_valid_iff_it_has_exactly_one_supported_action(actions: set[str]) -> None:
    manifest = routed_canary_rollout()  # setCanaryScale needs a traffic router
    manifest["spec"]["strategy"]["canary"]["steps"] = [{a: STEP_ACTIONS[a] for a in actions}]
    errors = validate_object(CRDS["Rollout"], manifest)
    assert (errors == []) is (len(actions) == 1 and not actions & UNSUPPORTED_STEP_ACTIONS), errors


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(sorted(PROVIDERS))))
def test_a_metric_is_valid_iff_it_has_exactly_one_provider(providers: set[str]) -> None:
    manifest = analysis_template()
    manifest["spec"]["metrics"][0]["provider"] = {p: PROVIDERS[p] for p in providers}
    errors = validate_object(CRDS["AnalysisTemplate"], manifest)
    assert (errors == []) is (len(providers) == 1), errors


@settings(max_examples=80, deadline=None)
@given(st.integers(min_value=-1000, max_value=1000))
def test_set_weight_is_a_percentage_without_max_traffic_weight(weight: int) -> None:
    manifest = canary_rollout()
    manifest["spec"]["strategy"]["canary"]["steps"] = [{"setWeight": weight}]
    errors = validate_object(CRDS["Rollout"], manifest)
    assert (errors == []) is (0 <= weight <= 100)
    if weight < 0:
        assert {e.path for e in errors} == {"spec.strategy.canary.steps[0].setWeight"}
    elif errors:
        assert {e.path for e in errors} == {"spec.strategy.canary.steps"}


@settings(max_examples=80, deadline=None)
@given(st.integers(min_value=1, max_value=10_000), st.integers(min_value=0, max_value=20_000), st.booleans())
def test_weights_count_in_units_of_max_traffic_weight(total: int, weight: int, scale: bool) -> None:
    """setWeight and setCanaryScale.weight may go up to maxTrafficWeight, never beyond."""
    manifest = routed_canary_rollout()
    canary = manifest["spec"]["strategy"]["canary"]
    canary["trafficRouting"]["maxTrafficWeight"] = total
    canary["steps"] = [{"setCanaryScale": {"weight": weight}} if scale else {"setWeight": weight}]
    errors = validate_object(CRDS["Rollout"], manifest)
    assert (errors == []) is (weight <= total), errors
    if errors:
        assert {e.path for e in errors} == {"spec.strategy.canary.steps"}


@settings(max_examples=80, deadline=None)
@given(
    st.one_of(st.integers(min_value=0, max_value=20), st.integers(min_value=0, max_value=100).map(lambda n: f"{n}%")),
    st.one_of(st.integers(min_value=0, max_value=20), st.integers(min_value=0, max_value=100).map(lambda n: f"{n}%")),
)
def test_surge_and_unavailable_cannot_both_be_zero(surge: int | str, unavailable: int | str) -> None:
    manifest = canary_rollout()
    manifest["spec"]["strategy"]["canary"].update(maxSurge=surge, maxUnavailable=unavailable)
    errors = validate_object(CRDS["Rollout"], manifest)
    both_zero = str(surge).rstrip("%") == "0" and str(unavailable).rstrip("%") == "0"
    assert (errors == []) is (not both_zero), errors
